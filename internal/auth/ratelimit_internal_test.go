package auth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// Ensure a limit of N admits exactly the first N of many concurrent
// attempts, every round: attempts that count each other must not all be
// refused (the legitimate first one included), nor may more than N slip in.
func TestLimiterAdmitsExactlyNConcurrent(t *testing.T) {
	forEachLookups(t, testLimiterAdmitsExactlyNConcurrent)
}

// forEachLookups runs test with the limiter on MongoDB's indexes and on
// the embedded database's in-process index.
func forEachLookups(t *testing.T, test func(t *testing.T, lookups mongodb.Lookups)) {
	for _, tt := range []struct {
		name    string
		lookups mongodb.Lookups
	}{{"ServerIndexes", mongodb.ServerIndexes}, {"InProcessIndexes", mongodb.InProcessIndexes}} {
		t.Run(tt.name, func(t *testing.T) { test(t, tt.lookups) })
	}
}

// newLimiter returns a limiter over db, set up as at start.
func newLimiter(t *testing.T, db *mongo.Database, lookups mongodb.Lookups) *Limiter {
	t.Helper()
	l := NewLimiter(db, lookups)
	if err := l.EnsureIndexes(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return l
}

func testLimiterAdmitsExactlyNConcurrent(t *testing.T, lookups mongodb.Lookups) {
	ctx := context.Background()
	limiter := newLimiter(t, mongotest.NewDatabase(t), lookups)
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
func TestLimiterWindow(t *testing.T) { forEachLookups(t, testLimiterWindow) }

func testLimiterWindow(t *testing.T, lookups mongodb.Lookups) {
	ctx := context.Background()
	db := mongotest.NewDatabase(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	lim := Limit{Max: 3, Window: time.Minute}
	if _, err := db.Collection("rate_events").InsertOne(ctx, bson.D{
		{Key: "_id", Value: bson.NewObjectID()}, {Key: "key", Value: "k"}, {Key: "at", Value: now}, {Key: "expiresAt", Value: now.Add(time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	limiter := newLimiter(t, db, lookups)
	limiter.now = func() time.Time { return now }

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

// Ensure the counts survive a restart: a limiter started over the same
// database (the in-process index rebuilt from the stored events) refuses
// what the first one would have, and numbers on from where it stopped.
func TestLimiterCountsSurviveRestart(t *testing.T) {
	forEachLookups(t, testLimiterCountsSurviveRestart)
}

func testLimiterCountsSurviveRestart(t *testing.T, lookups mongodb.Lookups) {
	ctx := context.Background()
	db := mongotest.NewDatabase(t)
	lim := Limit{Max: 3, Window: time.Hour}
	first := newLimiter(t, db, lookups)
	for range 2 {
		if _, err := first.Take(ctx, "k", lim); err != nil {
			t.Fatal(err)
		}
	}
	again := newLimiter(t, db, lookups)
	if _, err := again.Take(ctx, "k", lim); err != nil {
		t.Fatalf("third attempt after the restart: %v", err)
	}
	if _, err := again.Take(ctx, "k", lim); apperr.CodeOf(err) != apperr.RateLimited {
		t.Fatalf("fourth attempt after the restart = %v, want RATE_LIMITED", err)
	}
	if n, err := db.Collection("rate_events").CountDocuments(ctx, bson.D{{Key: "_id", Value: "k#3"}}); err != nil || n != 1 {
		t.Errorf("event k#3 stored %d times (%v), want once: numbering must go on after a restart", n, err)
	}
}

// Ensure a limiter started again on the same database (a restart) counts
// the events recorded before it, and numbers new ones after them: the
// in-process index once loaded nothing at start, so the numbering began at
// 1 again, ran into the stored numbers and failed every attempt.
func TestLimiterRestart(t *testing.T) {
	forEachLookups(t, func(t *testing.T, lookups mongodb.Lookups) {
		ctx := context.Background()
		db := mongotest.NewDatabase(t)
		lim := Limit{Max: 7, Window: time.Hour}
		first := newLimiter(t, db, lookups)
		var evs []Event
		for i := range 6 {
			ev, err := first.Take(ctx, "restart", lim)
			if err != nil {
				t.Fatalf("take %d before the restart: %v", i+1, err)
			}
			evs = append(evs, ev)
		}
		// A forgotten event (a successful login's) leaves a hole below
		// the highest number.
		if err := first.Forget(ctx, evs[1]); err != nil {
			t.Fatal(err)
		}

		again := newLimiter(t, db, lookups)
		for i := range 2 {
			if _, err := again.Take(ctx, "restart", lim); err != nil {
				t.Fatalf("take %d after the restart: %v", i+1, err)
			}
		}
		// 5 from before and 2 after: the next is over the limit.
		if _, err := again.Take(ctx, "restart", lim); !apperr.IsCode(err, apperr.RateLimited) {
			t.Fatalf("third take after the restart = %v, want RATE_LIMITED", err)
		}
	})
}
