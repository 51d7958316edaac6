package auth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// Ensure a limit of N admits exactly the first N of many concurrent
// attempts, every round: attempts that count each other must not all be
// refused (the legitimate first one included), nor may more than N slip in.
func TestLimiterAdmitsExactlyNConcurrent(t *testing.T) {
	ctx := context.Background()
	limiter := NewLimiter(mongotest.NewDatabase(t))
	lim := Limit{Max: 5, Window: time.Hour}
	for round := range 5 {
		key := fmt.Sprintf("burst:%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		admitted, refused := 0, 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := limiter.Take(ctx, key, lim)
				mu.Lock()
				defer mu.Unlock()
				switch e, _ := apperr.As(err); {
				case err == nil:
					admitted++
				case e != nil && e.Code == apperr.RateLimited && e.RetryAfterSeconds >= 1 && e.RetryAfterSeconds <= 3600:
					refused++
				default:
					t.Errorf("Take: %v", err)
				}
			}()
		}
		wg.Wait()
		if admitted != lim.Max || refused != 20-lim.Max {
			t.Errorf("round %d: %d admitted, %d refused; want exactly %d admitted", round, admitted, refused, lim.Max)
		}
	}
}

// Ensure the window slides, a forgotten event frees its place, refused
// events do not extend the lock-out, and events recorded before numbering
// existed (ObjectID ids, no seq) neither break Take nor count.
func TestLimiterWindow(t *testing.T) {
	ctx := context.Background()
	db := mongotest.NewDatabase(t)
	limiter := NewLimiter(db)
	now := time.Now().UTC().Truncate(time.Millisecond)
	limiter.now = func() time.Time { return now }
	lim := Limit{Max: 3, Window: time.Minute}
	if _, err := limiter.coll.InsertOne(ctx, bson.D{
		{Key: "_id", Value: bson.NewObjectID()}, {Key: "key", Value: "k"}, {Key: "at", Value: now}, {Key: "expiresAt", Value: now.Add(time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}

	take := func(want bool) Event {
		t.Helper()
		ev, err := limiter.Take(ctx, "k", lim)
		if got := err == nil; got != want {
			t.Fatalf("Take admitted = %v (err %v), want %v", got, err, want)
		}
		return ev
	}
	first := take(true)
	take(true)
	take(true)
	for range 5 {
		take(false) // refused ones are deleted: they must not count later
	}
	if err := limiter.Forget(ctx, first); err != nil {
		t.Fatal(err)
	}
	take(true)
	take(false)

	limiter.now = func() time.Time { return now.Add(61 * time.Second) }
	for range 3 {
		take(true)
	}
	take(false)
}
