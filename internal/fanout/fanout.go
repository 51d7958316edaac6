// Package fanout runs a subscription's selection once per event for all the
// subscribers of one instance that asked for the same thing, instead of once
// per subscriber.
//
// A thousand sockets subscribed to `coursePublished { title }` used to cost
// a thousand executions of that selection per event: gqlgen's per-socket
// loop reads the event and executes the selection on it. Most subscribers
// send one of a few documents, and what a public event's selection yields
// rarely depends on who asked. So the subscribers of one operation (same
// document, operation name and variables) form a group; the group reads the
// events and executes the selection once, with no caller, and every
// subscriber gets that response.
//
// Whether the result depends on the caller is not guessed from the schema:
// the group's execution runs with auth.WithRequestProbe, which sees every
// read of the viewer (each @auth rule, each resolver that looks at who is
// calling: viewerHasPurchased, progress, an instructor's own drafts). If
// anything read it, that response is thrown away and from then on every
// subscriber of the group executes each event itself, with its own
// credentials, as before. A root field whose rule reads the viewer (an
// admin-only purchaseMade) is found out when the group starts, and such
// operations are not grouped at all. Each subscriber's own start is
// unchanged: its @auth rule is checked for it, its socket tracks the rule,
// its session checks end it.
package fanout

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"

	"github.com/coursehub/coursehub/graph"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/purchase"
)

// buffer is how many responses a subscriber may lag behind its group before
// it misses some (as events.Bus does for a subscriber of its own).
const buffer = 256

// soloLimit bounds the operations remembered as not groupable.
const soloLimit = 1024

// Dispatch starts an operation for a group: the executor's
// DispatchOperation, with whatever the server adds to an operation's
// context (loaders).
type Dispatch func(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context)

// Fanout groups one instance's subscribers. It is the subscription source of
// the resolvers (graph.Events), in front of the real one.
type Fanout struct {
	source graph.Events
	missed func(int64)

	mu     sync.Mutex
	groups map[string]*group
	// solo: operations whose group could not start (the root field read
	// the viewer, or refused a caller-less run).
	solo map[string]struct{}
}

var _ graph.Events = (*Fanout)(nil)

// New returns a Fanout over source. missed (may be nil) is told of the
// events a lagging subscriber missed.
func New(source graph.Events, missed func(int64)) *Fanout {
	if missed == nil {
		missed = func(int64) {}
	}
	return &Fanout{source: source, missed: missed, groups: map[string]*group{}, solo: map[string]struct{}{}}
}

// SubscribeCoursePublished is source's, or the group's when ctx is a
// group's or a grouped subscriber's.
func (f *Fanout) SubscribeCoursePublished(ctx context.Context) <-chan *course.Course {
	return subscribe(ctx, f.source.SubscribeCoursePublished)
}

// SubscribePurchaseMade is source's, or the group's (as above).
func (f *Fanout) SubscribePurchaseMade(ctx context.Context) <-chan *purchase.Purchase {
	return subscribe(ctx, f.source.SubscribePurchaseMade)
}

type roleKey struct{}

// subscribe is where a subscription's resolver gets its events. A group's
// own execution gets a channel the group feeds one event at a time, and the
// group reads source; a grouped subscriber gets a channel the group feeds
// only the events it must execute itself.
func subscribe[T any](ctx context.Context, source func(context.Context) <-chan *T) <-chan *T {
	switch r := ctx.Value(roleKey{}).(type) {
	case *group:
		src := source(ctx)
		lead := make(chan *T, 1)
		r.next = func() (any, bool) {
			v, ok := <-src
			return v, ok
		}
		r.lead = func(v any) { lead <- v.(*T) }
		return lead
	case *member:
		// One more than the member's responses: the event being executed
		// has left the queue of responses but may still be here.
		own := make(chan *T, buffer+1)
		r.give = func(v any) { own <- v.(*T) }
		return own
	}
	return source(ctx)
}

// Subscribe starts a subscription operation for one subscriber. run starts
// it the usual way (gqlgen's next in an operation middleware), dispatch for
// a group. The handler it returns yields the group's responses, or the
// subscriber's own for the events it executes itself, or, when the
// operation is not grouped, is run's.
func (f *Fanout) Subscribe(ctx context.Context, oc *graphql.OperationContext, run graphql.OperationHandler, dispatch Dispatch) graphql.ResponseHandler {
	key, ok := keyOf(oc)
	if !ok {
		return run(ctx)
	}
	g := f.join(key, oc, dispatch)
	if g == nil {
		return run(ctx)
	}
	m := &member{items: make(chan item, buffer)}
	h := run(context.WithValue(ctx, roleKey{}, m))
	if m.give == nil {
		// Its resolver did not run (its rule refused it): h has the
		// errors.
		g.leave(nil)
		return h
	}
	g.add(m)
	context.AfterFunc(ctx, func() { g.leave(m) })
	return func(ctx context.Context) *graphql.Response {
		select {
		case it := <-m.items:
			if it.resp == nil {
				return h(ctx) // the event is in m's own channel
			}
			r := *it.resp
			r.Errors = slices.Clone(r.Errors)
			return &r
		case <-ctx.Done():
			return nil
		}
	}
}

// keyOf is what makes two subscriptions the same: document, operation name
// and variables (json.Marshal sorts map keys).
func keyOf(oc *graphql.OperationContext) (string, bool) {
	vars, err := json.Marshal(oc.Variables)
	if err != nil {
		return "", false
	}
	return oc.RawQuery + "\x00" + oc.OperationName + "\x00" + string(vars), true
}

// join returns key's group with a reference held for the caller, starting
// it if need be; nil when the operation is not grouped.
func (f *Fanout) join(key string, oc *graphql.OperationContext, dispatch Dispatch) *group {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.groups[key]; g != nil {
		g.refs++
		return g
	}
	if _, ok := f.solo[key]; ok {
		return nil
	}
	g := f.start(key, oc, dispatch)
	if g == nil {
		if len(f.solo) >= soloLimit {
			clear(f.solo)
		}
		f.solo[key] = struct{}{}
		return nil
	}
	g.refs = 1
	f.groups[key] = g
	return g
}

// start dispatches the operation for a new group, with no caller: nil when
// that read the viewer or did not reach the resolver.
func (f *Fanout) start(key string, oc *graphql.OperationContext, dispatch Dispatch) *group {
	ctx, cancel := context.WithCancel(context.Background())
	g := &group{f: f, key: key, cancel: cancel, shared: true}
	ctx = auth.WithRequestProbe(context.WithValue(ctx, roleKey{}, g), &g.read)
	h, ctx := dispatch(graphql.WithOperationContext(ctx, oc), oc)
	if g.next == nil || g.read.Load() {
		cancel()
		return nil
	}
	g.respond, g.ctx = h, ctx
	go g.run()
	return g
}

// group is the subscribers of one operation on this instance.
type group struct {
	f      *Fanout
	key    string
	ctx    context.Context
	cancel context.CancelFunc
	// Set by subscribe while start dispatches: next reads the source, lead
	// hands an event to the group's execution, respond executes it.
	next    func() (any, bool)
	lead    func(any)
	respond graphql.ResponseHandler
	// read: something in the group's execution asked who is calling.
	read atomic.Bool
	// shared: responses are rendered once for all (only run touches it).
	shared bool

	mu      sync.Mutex
	members []*member // replaced, never changed in place: run iterates a copy
	refs    int       // members, and callers between join and add or leave
}

type member struct {
	items chan item
	give  func(any) // set by subscribe
}

// item is a response for a member, or nil for an event it executes itself.
type item struct{ resp *graphql.Response }

func (g *group) add(m *member) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members = append(slices.Clip(g.members), m)
}

// leave drops m (nil: a reference that never became a member); the last to
// leave stops the group.
func (g *group) leave(m *member) {
	g.f.mu.Lock()
	defer g.f.mu.Unlock()
	g.mu.Lock()
	if m != nil {
		g.members = slices.DeleteFunc(slices.Clone(g.members), func(x *member) bool { return x == m })
	}
	g.refs--
	last := g.refs == 0
	g.mu.Unlock()
	if last {
		delete(g.f.groups, g.key)
		g.cancel()
	}
}

// run delivers the source's events to the members until the group stops.
func (g *group) run() {
	for {
		v, ok := g.next()
		if !ok {
			return
		}
		g.mu.Lock()
		members := g.members
		g.mu.Unlock()
		if len(members) == 0 {
			continue
		}
		if g.shared {
			if resp := g.render(v); resp != nil {
				g.offer(members, item{resp: resp}, nil)
				continue
			}
			if g.ctx.Err() != nil {
				return
			}
		}
		g.offer(members, item{}, v)
	}
}

// render executes v once for every member: nil when the group stopped, or
// when the execution read the viewer (then nothing is shared any more).
func (g *group) render(v any) *graphql.Response {
	g.lead(v)
	resp := g.respond(g.ctx)
	if resp == nil {
		return nil
	}
	if g.read.Load() {
		g.shared = false
		return nil
	}
	// The generated handler reuses its buffer for the next event.
	resp.Data = bytes.Clone(resp.Data)
	return resp
}

// offer queues it for each member (with v in its own channel when it is to
// execute v itself); a member whose queue is full misses it.
func (g *group) offer(members []*member, it item, v any) {
	missed := int64(0)
	for _, m := range members {
		// Only run sends: a queue with room now still has it below.
		if len(m.items) == cap(m.items) {
			missed++
			continue
		}
		if it.resp == nil {
			m.give(v)
		}
		m.items <- it
	}
	if missed > 0 {
		g.f.missed(missed)
	}
}
