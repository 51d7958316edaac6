// Package events fans events out to the live subscribers of one instance:
// an in-process bus. Between instances events travel through the database
// (internal/feed), which hands each event it reads to this bus.
package events

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/purchase"
)

// buffer is how many events a slow subscriber may lag behind before it
// misses some; a subscriber never slows the publisher down. The feed hands
// events over in bursts (a window of reads at a time), hence room for
// several.
const buffer = 256

// Bus is the in-process publisher and subscription source.
type Bus struct {
	courses   topic[course.Course]
	purchases topic[purchase.Purchase]
	access    signals
	// lagged counts what fan-outs downstream of the bus missed.
	lagged atomic.Int64
}

// Missed counts the events subscribers missed because they lagged more
// than the buffer behind, since the bus was made.
func (b *Bus) Missed() int64 {
	return b.courses.missed.Load() + b.purchases.missed.Load() + b.lagged.Load()
}

// CountMissed records n events that a fan-out downstream of the bus
// (internal/fanout) could not hand to a subscriber that lagged, so that
// Missed, and the change feed's warning, include them.
func (b *Bus) CountMissed(n int64) { b.lagged.Add(n) }

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{} }

// CoursePublished announces that a course became published.
func (b *Bus) CoursePublished(_ context.Context, c course.Course) { b.courses.publish(c) }

// PurchaseMade announces a new purchase.
func (b *Bus) PurchaseMade(_ context.Context, p purchase.Purchase) { b.purchases.publish(p) }

// SubscribeCoursePublished streams published courses until ctx ends.
func (b *Bus) SubscribeCoursePublished(ctx context.Context) <-chan *course.Course {
	return b.courses.subscribe(ctx)
}

// SubscribePurchaseMade streams new purchases until ctx ends.
func (b *Bus) SubscribePurchaseMade(ctx context.Context) <-chan *purchase.Purchase {
	return b.purchases.subscribe(ctx)
}

// AccessChanged announces that a session of userID ended or their role
// changed.
func (b *Bus) AccessChanged(_ context.Context, userID string) { b.access.signal(userID) }

// SubscribeAccessChanged signals each change of userID's access until ctx
// ends, then closes the channel. One pending signal stands for any number of
// changes: a subscriber re-reads the current state, so it needs to know only
// that something changed since it last looked.
func (b *Bus) SubscribeAccessChanged(ctx context.Context, userID string) <-chan struct{} {
	return b.access.subscribe(ctx, userID)
}

// AccessChangedAll signals every access subscriber, for when the changes
// that were missed are unknown (a flush of the change feed).
func (b *Bus) AccessChangedAll() { b.access.signalAll() }

// signals wakes up the subscribers of one key, without payload.
type signals struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func (s *signals) subscribe(ctx context.Context, key string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if s.subs == nil {
		s.subs = map[string]map[chan struct{}]struct{}{}
	}
	if s.subs[key] == nil {
		s.subs[key] = map[chan struct{}]struct{}{}
	}
	s.subs[key][ch] = struct{}{}
	s.mu.Unlock()
	// One goroutine per subscription, as in topic: a subscription kept
	// past its connection shows up in a goroutine count.
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs[key], ch)
		if len(s.subs[key]) == 0 {
			delete(s.subs, key)
		}
		close(ch)
	}()
	return ch
}

func (s *signals) signal(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs[key] {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending: it covers this change too
		}
	}
}

func (s *signals) signalAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, subs := range s.subs {
		for ch := range subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// topic fans one kind of event out to its subscribers.
type topic[T any] struct {
	mu     sync.Mutex
	subs   map[chan *T]struct{}
	missed atomic.Int64
}

func (t *topic[T]) subscribe(ctx context.Context) <-chan *T {
	ch := make(chan *T, buffer)
	t.mu.Lock()
	if t.subs == nil {
		t.subs = map[chan *T]struct{}{}
	}
	t.subs[ch] = struct{}{}
	t.mu.Unlock()
	go func() {
		<-ctx.Done()
		t.mu.Lock()
		delete(t.subs, ch)
		close(ch)
		t.mu.Unlock()
	}()
	return ch
}

func (t *topic[T]) publish(v T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ch := range t.subs {
		e := v
		select {
		case ch <- &e:
		default: // a subscriber that lags this far misses the event
			t.missed.Add(1)
		}
	}
}
