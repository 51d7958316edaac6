package events

import (
	"context"
	"testing"
	"time"
)

// listening reports how many subscriptions userID has and how many users
// have any, as the bus holds them.
func listening(b *Bus, userID string) (subs, users int) {
	b.access.mu.Lock()
	defer b.access.mu.Unlock()
	return len(b.access.subs[userID]), len(b.access.subs)
}

func mustSignal(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("channel closed instead of signalled")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no signal")
	}
}

func mustQuiet(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("signalled for a change that is not this user's")
	default:
	}
}

// Ensure an access change reaches every subscriber of that user and no one
// else, a cancelled subscription is closed and leaves no entry behind, and
// subscribers that do not read never block the publisher.
func TestAccessChanged(t *testing.T) {
	ctx := context.Background()

	t.Run("OKFanOut", func(t *testing.T) {
		b := NewBus()
		a1, a2 := b.SubscribeAccessChanged(ctx, "a"), b.SubscribeAccessChanged(ctx, "a")
		other := b.SubscribeAccessChanged(ctx, "b")
		b.AccessChanged(ctx, "a")
		mustSignal(t, a1)
		mustSignal(t, a2)
		mustQuiet(t, other)
	})

	t.Run("OKCoalesce", func(t *testing.T) {
		b := NewBus()
		ch := b.SubscribeAccessChanged(ctx, "a")
		b.AccessChanged(ctx, "a")
		b.AccessChanged(ctx, "a")
		mustSignal(t, ch)
		mustQuiet(t, ch) // the second change is covered by the pending first
		b.AccessChanged(ctx, "a")
		mustSignal(t, ch) // a change after the subscriber looked signals again
	})

	t.Run("OKReleaseOnCancel", func(t *testing.T) {
		b := NewBus()
		cctx, cancel := context.WithCancel(ctx)
		ch := b.SubscribeAccessChanged(cctx, "a")
		keep := b.SubscribeAccessChanged(ctx, "a")
		if n, _ := listening(b, "a"); n != 2 {
			t.Fatalf("%d subscriptions, want 2", n)
		}
		cancel()
		select {
		case _, ok := <-ch:
			if ok {
				t.Fatal("signalled after cancel")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("the channel was not closed after cancel")
		}
		if n, _ := listening(b, "a"); n != 1 {
			t.Fatalf("%d subscriptions after one was cancelled, want 1", n)
		}
		b.AccessChanged(ctx, "a") // must not send on the closed channel
		mustSignal(t, keep)

		last, cancelLast := context.WithCancel(ctx)
		lch := b.SubscribeAccessChanged(last, "z")
		cancelLast()
		for range lch {
		}
		if n, users := listening(b, "z"); n != 0 || users != 1 {
			t.Fatalf("after the last subscription of a user ended: %d entries for it, %d users; want 0 and 1", n, users)
		}
	})

	t.Run("OKAll", func(t *testing.T) {
		b := NewBus()
		a, z := b.SubscribeAccessChanged(ctx, "a"), b.SubscribeAccessChanged(ctx, "z")
		b.AccessChangedAll()
		mustSignal(t, a)
		mustSignal(t, z)
	})

	t.Run("OKNeverBlocks", func(t *testing.T) {
		b := NewBus()
		for i := 0; i < 100; i++ {
			b.SubscribeAccessChanged(ctx, "a") // never read
		}
		done := make(chan struct{})
		go func() {
			for i := 0; i < 1000; i++ {
				b.AccessChanged(ctx, "a")
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("subscribers that do not read blocked the publisher")
		}
	})
}
