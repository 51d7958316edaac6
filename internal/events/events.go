// Package events carries domain events to live subscribers: an in-process
// bus, enough for one instance. Several instances need a shared broker
// (MongoDB change streams on a replica set, Redis, NATS) behind the same two
// interfaces, course.Events and purchase.Events; see README.md.
package events

import (
	"context"
	"sync"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/purchase"
)

// buffer is how many events a slow subscriber may lag behind before it
// misses some; a subscriber never slows the publisher down.
const buffer = 16

// Bus is the in-process publisher and subscription source.
type Bus struct {
	courses   topic[course.Course]
	purchases topic[purchase.Purchase]
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{} }

var (
	_ course.Events   = (*Bus)(nil)
	_ purchase.Events = (*Bus)(nil)
)

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

// topic fans one kind of event out to its subscribers.
type topic[T any] struct {
	mu   sync.Mutex
	subs map[chan *T]struct{}
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
		}
	}
}
