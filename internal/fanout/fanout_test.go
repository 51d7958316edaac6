package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/events"
)

// schema stands in for gqlgen's executor: an operation's resolver
// subscribes through the Fanout, and each response "executes the
// selection" on one event, counting executions. Where reads(event) holds,
// the execution asks who is calling (auth.ClientFrom, one of the reads a
// probe sees) and answers with the subscriber's name.
type schema struct {
	f     *Fanout
	execs atomic.Int64
	reads func(title string) bool
	// startReads: the root field's rule asks who is calling.
	startReads bool
}

type whoKey struct{}

func (s *schema) handler(ctx context.Context) graphql.ResponseHandler {
	if s.startReads {
		auth.ClientFrom(ctx)
	}
	events := s.f.SubscribeCoursePublished(ctx)
	return func(ctx context.Context) *graphql.Response {
		select {
		case c := <-events:
			s.execs.Add(1)
			answer := c.Title
			if s.reads != nil && s.reads(c.Title) {
				auth.ClientFrom(ctx)
				who, _ := ctx.Value(whoKey{}).(string)
				answer += " for " + who
			}
			data, _ := json.Marshal(answer)
			return &graphql.Response{Data: data}
		case <-ctx.Done():
			return nil
		}
	}
}

func (s *schema) dispatch(ctx context.Context, _ *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	return s.handler(ctx), ctx
}

type harness struct {
	t      *testing.T
	bus    *events.Bus
	f      *Fanout
	s      *schema
	missed atomic.Int64
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, bus: events.NewBus()}
	h.f = New(h.bus, func(n int64) { h.missed.Add(n) })
	h.s = &schema{f: h.f}
	return h
}

func operation(vars map[string]any) *graphql.OperationContext {
	return &graphql.OperationContext{RawQuery: "subscription { coursePublished { title } }", Variables: vars}
}

// subscribe starts oc for a subscriber named who, until the test ends or
// cancel is called.
func (h *harness) subscribe(who string, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), whoKey{}, who))
	h.t.Cleanup(cancel)
	return h.f.Subscribe(ctx, oc, h.s.handler, h.s.dispatch), ctx, cancel
}

func (h *harness) publish(titles ...string) {
	for _, title := range titles {
		h.bus.CoursePublished(context.Background(), course.Course{ID: title, Title: title})
	}
}

// next is the subscriber's next response's data, failing after 5 s.
func (h *harness) next(handler graphql.ResponseHandler, ctx context.Context) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r := handler(ctx)
	if r == nil {
		h.t.Fatal("no response within 5 s")
	}
	var s string
	if err := json.Unmarshal(r.Data, &s); err != nil {
		h.t.Fatalf("data %s: %v", r.Data, err)
	}
	return s
}

func (h *harness) groups() int {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return len(h.f.groups)
}

func TestSameOperationExecutesOncePerEvent(t *testing.T) {
	h := newHarness(t)
	type sub struct {
		h   graphql.ResponseHandler
		ctx context.Context
	}
	var subs []sub
	for i := range 3 {
		hd, ctx, _ := h.subscribe(fmt.Sprint("s", i), operation(nil))
		subs = append(subs, sub{hd, ctx})
	}
	h.publish("A", "B", "C", "D", "E")
	for i, s := range subs {
		for _, want := range []string{"A", "B", "C", "D", "E"} {
			if got := h.next(s.h, s.ctx); got != want {
				t.Fatalf("subscriber %d got %q, want %q", i, got, want)
			}
		}
	}
	if got := h.s.execs.Load(); got != 5 {
		t.Errorf("%d executions for 5 events and 3 subscribers, want 5", got)
	}
	if h.groups() != 1 {
		t.Errorf("%d groups, want 1", h.groups())
	}
}

// Once an execution asks who is calling, that response and every later one
// are each subscriber's own.
func TestViewerReadEndsSharing(t *testing.T) {
	h := newHarness(t)
	h.s.reads = func(title string) bool { return title == "B" }
	h1, ctx1, _ := h.subscribe("ann", operation(nil))
	h2, ctx2, _ := h.subscribe("bob", operation(nil))
	h.publish("A", "B", "C")
	for _, c := range []struct {
		h    graphql.ResponseHandler
		ctx  context.Context
		want []string
	}{
		{h1, ctx1, []string{"A", "B for ann", "C"}},
		{h2, ctx2, []string{"A", "B for bob", "C"}},
	} {
		for _, want := range c.want {
			if got := h.next(c.h, c.ctx); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
	// A: once; B: once for the group (thrown away), once each; C: once each.
	if got := h.s.execs.Load(); got != 1+3+2 {
		t.Errorf("%d executions, want 6", got)
	}
}

// An operation whose root field asks who is calling is not grouped: each
// subscriber reads the source itself.
func TestRootThatReadsViewerIsNotGrouped(t *testing.T) {
	h := newHarness(t)
	h.s.startReads = true
	h.s.reads = func(string) bool { return true }
	h1, ctx1, _ := h.subscribe("ann", operation(nil))
	h2, ctx2, _ := h.subscribe("bob", operation(nil))
	if h.groups() != 0 {
		t.Fatalf("%d groups, want 0", h.groups())
	}
	h.publish("A")
	if got := h.next(h1, ctx1); got != "A for ann" {
		t.Errorf("ann got %q", got)
	}
	if got := h.next(h2, ctx2); got != "A for bob" {
		t.Errorf("bob got %q", got)
	}
	if got := h.s.execs.Load(); got != 2 {
		t.Errorf("%d executions, want 2", got)
	}
}

func TestDifferentVariablesAreDifferentGroups(t *testing.T) {
	h := newHarness(t)
	h1, ctx1, _ := h.subscribe("ann", operation(map[string]any{"n": 1}))
	h2, ctx2, _ := h.subscribe("bob", operation(map[string]any{"n": 2}))
	h3, ctx3, _ := h.subscribe("cat", operation(map[string]any{"n": 2}))
	if h.groups() != 2 {
		t.Fatalf("%d groups, want 2", h.groups())
	}
	h.publish("A")
	for _, c := range []struct {
		h   graphql.ResponseHandler
		ctx context.Context
	}{{h1, ctx1}, {h2, ctx2}, {h3, ctx3}} {
		if got := h.next(c.h, c.ctx); got != "A" {
			t.Errorf("got %q", got)
		}
	}
	if got := h.s.execs.Load(); got != 2 {
		t.Errorf("%d executions, want 2 (one a group)", got)
	}
}

// A subscriber its rule refuses gets its own errors, and leaves no group
// behind.
func TestRefusedSubscriberGetsItsErrors(t *testing.T) {
	h := newHarness(t)
	refused := &graphql.Response{Errors: gqlerror.List{{Message: "refused"}}}
	run := func(context.Context) graphql.ResponseHandler { return graphql.OneShot(refused) }
	hd := h.f.Subscribe(context.Background(), operation(nil), run, h.s.dispatch)
	if r := hd(context.Background()); r != refused {
		t.Fatalf("got %+v, want the refusal", r)
	}
	if h.groups() != 0 {
		t.Errorf("%d groups left, want 0", h.groups())
	}
}

// The last subscriber to leave stops the group; a later one starts anew.
func TestLastToLeaveStopsTheGroup(t *testing.T) {
	h := newHarness(t)
	_, _, cancel1 := h.subscribe("ann", operation(nil))
	_, _, cancel2 := h.subscribe("bob", operation(nil))
	cancel1()
	waitFor(t, "ann to leave", func() bool {
		h.f.mu.Lock()
		defer h.f.mu.Unlock()
		for _, g := range h.f.groups {
			return g.refs == 1
		}
		return false
	})
	cancel2()
	waitFor(t, "the group to stop", func() bool { return h.groups() == 0 })
	h3, ctx3, _ := h.subscribe("cat", operation(nil))
	h.publish("A")
	if got := h.next(h3, ctx3); got != "A" {
		t.Errorf("got %q", got)
	}
}

// A subscriber that does not keep up misses what overflows its queue (and
// the count says so); the others get everything.
func TestLaggingSubscriberMisses(t *testing.T) {
	h := newHarness(t)
	_, _, _ = h.subscribe("slow", operation(nil))
	fast, ctx, _ := h.subscribe("fast", operation(nil))
	const n = buffer + 5
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if got, want := h.next(fast, ctx), fmt.Sprint(i); got != want {
				done <- fmt.Errorf("got %q, want %q", got, want)
				return
			}
		}
		done <- nil
	}()
	for i := range n {
		h.publish(fmt.Sprint(i))
		if i%64 == 0 {
			// The bus's own buffer for the group is as deep as a
			// member's: let the group keep up with it.
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "5 missed", func() bool { return h.missed.Load() == 5 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
