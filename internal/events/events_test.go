package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/events"
)

func recv(t *testing.T, ch <-chan *course.Course) *course.Course {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return c
	case <-time.After(2 * time.Second):
		t.Fatal("no event")
	}
	return nil
}

// Ensure every subscriber gets every event, a cancelled subscription is
// closed and dropped, and a subscriber that does not read never blocks the
// publisher.
func TestBus(t *testing.T) {
	bus := events.NewBus()
	ctx := context.Background()

	t.Run("OKFanOut", func(t *testing.T) {
		a, b := bus.SubscribeCoursePublished(ctx), bus.SubscribeCoursePublished(ctx)
		bus.CoursePublished(ctx, course.Course{ID: "1", Title: "One"})
		if recv(t, a).Title != "One" || recv(t, b).Title != "One" {
			t.Fatal("a subscriber missed the event")
		}
	})

	t.Run("OKCancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		ch := bus.SubscribeCoursePublished(cctx)
		cancel()
		select {
		case _, ok := <-ch:
			if ok {
				t.Fatal("got an event after cancel")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("the channel was not closed after cancel")
		}
		bus.CoursePublished(ctx, course.Course{ID: "2"}) // must not panic on a closed channel
	})

	t.Run("OKSlowSubscriber", func(t *testing.T) {
		bus := events.NewBus()                    // the only subscriber is the slow one
		slow := bus.SubscribeCoursePublished(ctx) // never read
		done := make(chan struct{})
		go func() {
			for i := 0; i < 1000; i++ {
				bus.CoursePublished(ctx, course.Course{ID: "x"})
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("a subscriber that does not read blocked the publisher")
		}
		if len(slow) == 0 {
			t.Error("the slow subscriber got nothing at all")
		}
		if m := bus.Missed(); m != int64(1000-len(slow)) {
			t.Errorf("Missed = %d, want %d (1000 published, %d buffered)", m, 1000-len(slow), len(slow))
		}
	})
}
