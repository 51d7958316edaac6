package feed_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/events"
	"github.com/coursehub/coursehub/internal/feed"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
	"github.com/coursehub/coursehub/internal/purchase"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

// fast polls often, so that the tests need not wait a second per step.
var fast = feed.Config{PollInterval: 50 * time.Millisecond, HotInterval: 10 * time.Millisecond, PublishRetry: 10 * time.Second}

// instance is one feed as a server would run it, with what it delivers
// recorded.
type instance struct {
	*feed.Feed
	invalidated atomic.Int64
	logs        *lockedBuffer

	mu      sync.Mutex
	courses []string // titles of the coursePublished deliveries, in order
	at      []time.Time
	stop    context.CancelFunc
	done    chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newInstance sets a feed up on db (fails the test if it cannot) and, when
// run, runs it and records its coursePublished deliveries.
func newInstance(t testing.TB, db *mongo.Database, cfg feed.Config, run bool) *instance {
	t.Helper()
	in := &instance{logs: &lockedBuffer{}}
	logger := slog.New(slog.NewTextHandler(in.logs, nil))
	in.Feed = feed.New(db, events.NewBus(), func() { in.invalidated.Add(1) }, cfg, logger)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if run {
		in.start(t)
	}
	return in
}

func (in *instance) start(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	in.stop, in.done = cancel, make(chan struct{})
	ch := in.SubscribeCoursePublished(ctx)
	go func() {
		for c := range ch {
			in.mu.Lock()
			in.courses = append(in.courses, c.Title)
			in.at = append(in.at, time.Now())
			in.mu.Unlock()
		}
	}()
	go func() { defer close(in.done); in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-in.done })
}

func (in *instance) got() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.courses...)
}

// waitFor waits up to 10 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func titles(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func publish(in *instance, ts ...string) {
	for _, title := range ts {
		in.CoursePublished(context.Background(), course.Course{ID: title, Title: title, Published: true})
	}
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// storedSeqs returns the positions stored, in _id order.
func storedSeqs(t *testing.T, db *mongo.Database) []int64 {
	t.Helper()
	cur, err := db.Collection(feed.Collection).Find(context.Background(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Seq int64 `bson:"seq"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(docs))
	for i, d := range docs {
		out[i] = d.Seq
	}
	return out
}

// Ensure every instance, the publisher's own included, gets every event
// once, in the order published, with its payload; a purchase brings its
// course, and an access change reaches that user's subscribers only.
func TestFeedDelivery(t *testing.T) {
	db := mongotest.NewDatabase(t)
	a, b := newInstance(t, db, fast, true), newInstance(t, db, fast, true)
	want := titles("c", 30)
	publish(a, want...)
	waitFor(t, "30 events on both", func() bool { return len(a.got()) >= 30 && len(b.got()) >= 30 })
	time.Sleep(200 * time.Millisecond) // a duplicate would arrive by now
	for name, in := range map[string]*instance{"A (publisher)": a, "B": b} {
		if got := in.got(); !equal(got, want) {
			t.Errorf("%s got %v, want %v", name, got, want)
		}
		if n := in.invalidated.Load(); n < 30 {
			t.Errorf("%s: cache invalidated %d times for 30 course events", name, n)
		}
	}

	t.Run("OKPurchaseWithCourse", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := b.SubscribePurchaseMade(ctx)
		c := course.Course{ID: "course-1", Title: "Priced", Price: 1200, Published: true}
		a.PurchaseMade(ctx, purchase.Purchase{ID: "p1", UserID: "u1", CourseID: c.ID, PricePaid: 1200}.WithPricedCourse(c))
		select {
		case p := <-ch:
			pc, ok := p.PricedCourse()
			if p.ID != "p1" || p.UserID != "u1" || p.PricePaid != 1200 || !ok || pc.Title != "Priced" {
				t.Errorf("delivered %+v with course %+v (%v)", p, pc, ok)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no purchase delivered on B")
		}
	})

	t.Run("OKAccessChanged", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		mine, other := b.SubscribeAccessChanged(ctx, "u1"), b.SubscribeAccessChanged(ctx, "u2")
		a.AccessChanged(ctx, "u1")
		select {
		case <-mine:
		case <-time.After(5 * time.Second):
			t.Fatal("the access change did not reach B")
		}
		time.Sleep(100 * time.Millisecond)
		select {
		case <-other:
			t.Error("another user's subscriber was signalled")
		default:
		}
	})

	t.Run("OKCourseChangedInvalidates", func(t *testing.T) {
		before := b.invalidated.Load()
		a.CourseChanged(context.Background(), course.Course{ID: "x"})
		waitFor(t, "B's cache invalidated", func() bool { return b.invalidated.Load() > before })
	})
}

// Ensure an instance that starts later begins at the current end: nothing
// published before it started is delivered to it.
func TestFeedFreshStartAtEnd(t *testing.T) {
	db := mongotest.NewDatabase(t)
	a := newInstance(t, db, fast, true)
	publish(a, titles("old", 5)...)
	waitFor(t, "the old events on A", func() bool { return len(a.got()) == 5 })
	late := newInstance(t, db, fast, true)
	if p := late.Position(); p != 5 {
		t.Errorf("a fresh instance starts at %d, want 5 (the end)", p)
	}
	publish(a, "new")
	waitFor(t, "the new event on the late instance", func() bool { return len(late.got()) == 1 })
	time.Sleep(200 * time.Millisecond)
	if got := late.got(); !equal(got, []string{"new"}) {
		t.Errorf("the late instance got %v, want only [new]", got)
	}
}

// Ensure feeds that publish at the same time leave one dense sequence, one
// position per event, and every instance delivers all of them in one and
// the same order.
func TestFeedConcurrentPublishers(t *testing.T) {
	db := mongotest.NewDatabase(t)
	ins := []*instance{newInstance(t, db, fast, true), newInstance(t, db, fast, true), newInstance(t, db, fast, true)}
	const each = 40
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				publish(in, fmt.Sprintf("i%d-%d", i, j))
			}
		}()
	}
	wg.Wait()
	total := each * len(ins)
	for i, in := range ins {
		waitFor(t, fmt.Sprintf("%d events on instance %d", total, i), func() bool { return len(in.got()) >= total })
	}
	time.Sleep(200 * time.Millisecond)
	first := ins[0].got()
	seen := map[string]bool{}
	for _, title := range first {
		if seen[title] {
			t.Errorf("%s delivered twice", title)
		}
		seen[title] = true
	}
	if len(first) != total {
		t.Errorf("%d deliveries, want %d", len(first), total)
	}
	for i, in := range ins[1:] {
		if !equal(in.got(), first) {
			t.Errorf("instance %d delivered another order than instance 0", i+1)
		}
	}
	seqs := storedSeqs(t, db)
	if len(seqs) != total {
		t.Fatalf("%d stored events, want %d", len(seqs), total)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("stored positions %v are not 1..%d", seqs, total)
		}
	}
}

// Ensure the reader survives the database stopping and starting: events
// published while it was down (retried) and after are delivered once each,
// in order.
func TestFeedResumeAfterRestart(t *testing.T) {
	srv := mongotest.StartServer(t)
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetTimeout(2 * time.Second).SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database("feed_resume")
	a, b := newInstance(t, db, fast, true), newInstance(t, db, fast, true)
	publish(a, "before")
	waitFor(t, "the first event on B", func() bool { return len(b.got()) == 1 })

	srv.Stop()
	time.Sleep(300 * time.Millisecond) // the readers fail a few polls
	publish(a, "during")               // retried until the database is back
	time.Sleep(300 * time.Millisecond)
	srv.Start()
	publish(a, "after")
	publish(b, "after-b")
	// B's event may land before A's retried ones; A's stay in A's order.
	for name, in := range map[string]*instance{"A": a, "B": b} {
		waitFor(t, "every event on "+name, func() bool { return len(in.got()) >= 4 })
	}
	time.Sleep(300 * time.Millisecond)
	for name, in := range map[string]*instance{"A": a, "B": b} {
		got := in.got()
		var fromA []string
		for _, title := range got {
			if title != "after-b" {
				fromA = append(fromA, title)
			}
		}
		if len(got) != 4 || !equal(fromA, []string{"before", "during", "after"}) {
			t.Errorf("%s got %v, want before, during, after once each and in that order, and after-b once", name, got)
		}
		if !equal(got, b.got()) {
			t.Errorf("%s got %v, B got %v: not the same order", name, got, b.got())
		}
		if strings.Contains(in.logs.String(), "flushed") {
			t.Errorf("%s flushed, though nothing was lost:\n%s", name, in.logs.String())
		}
	}
}

// Ensure a reader that cannot read what came after its position flushes,
// with a log line that says so, and goes on from the end: when the capped
// collection overwrote events it had not read, and when the collection was
// recreated.
func TestFeedGapFlushes(t *testing.T) {
	mustFlush := func(t *testing.T, in *instance, before int64, want string) {
		t.Helper()
		waitFor(t, "a flush", func() bool { return strings.Contains(in.logs.String(), "flushed") })
		if in.invalidated.Load() == before {
			t.Error("the flush did not drop the cache")
		}
		if !strings.Contains(in.logs.String(), want) {
			t.Errorf("the flush's log line does not say %q:\n%s", want, in.logs.String())
		}
	}

	t.Run("ErrOverwritten", func(t *testing.T) {
		db := mongotest.NewDatabase(t)
		cfg := fast
		cfg.MaxEvents, cfg.BoundsEvery = 10, 1
		a := newInstance(t, db, cfg, true)
		lagging := newInstance(t, db, cfg, false) // placed at the end, not reading yet
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		access := lagging.SubscribeAccessChanged(ctx, "anyone")
		// In rounds smaller than the collection, so that A reads them all.
		for round := range 5 {
			publish(a, titles(fmt.Sprintf("r%d-", round), 8)...)
			waitFor(t, "a round on A", func() bool { return len(a.got()) >= 8*(round+1) })
		}
		// A trim runs one at a time, after the writes that trigger it.
		waitFor(t, "the collection trimmed", func() bool {
			publish(a, "more")
			time.Sleep(20 * time.Millisecond)
			return len(storedSeqs(t, db)) <= 15
		})
		lagging.start(t)
		mustFlush(t, lagging, 0, "are gone")
		select {
		case <-access:
		case <-time.After(5 * time.Second):
			t.Error("the flush did not signal the access subscribers")
		}
		publish(a, "next")
		waitFor(t, "the next event on the lagging instance", func() bool {
			got := lagging.got()
			return len(got) > 0 && got[len(got)-1] == "next"
		})
		// What was overwritten is not delivered; what was still stored (at
		// most half a collection before "next") is, once, in order: the
		// end of what A delivered.
		waitFor(t, "next on A", func() bool { got := a.got(); return got[len(got)-1] == "next" })
		got, all := lagging.got(), a.got()
		if len(got) > len(all) || !equal(all[len(all)-len(got):], got) {
			t.Errorf("after the flush the lagging instance got %v, not the end of A's %v", got, all)
		}
		if len(got) > 1+cfg.MaxEvents/2 {
			t.Errorf("after the flush the lagging instance got %d events, want at most %d", len(got), 1+cfg.MaxEvents/2)
		}
	})

	t.Run("ErrRecreated", func(t *testing.T) {
		db := mongotest.NewDatabase(t)
		cfg := fast
		cfg.BoundsEvery = 1
		a := newInstance(t, db, cfg, true)
		publish(a, titles("e", 5)...)
		waitFor(t, "5 events", func() bool { return len(a.got()) == 5 })
		if err := db.Collection(feed.Collection).Drop(context.Background()); err != nil {
			t.Fatal(err)
		}
		before := a.invalidated.Load()
		mustFlush(t, a, before, "recreated")
	})
}

// Ensure a publish that cannot be written within PublishRetry flushes its
// own instance, and that the flush it owes reaches the others once the
// database is back.
func TestFeedPublishFailureFlushes(t *testing.T) {
	srv := mongotest.StartServer(t)
	connect := func() *mongo.Database {
		client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetTimeout(time.Second).SetServerSelectionTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
		return client.Database("feed_failure")
	}
	cfg := fast
	cfg.PublishRetry = time.Second
	a, b := newInstance(t, connect(), cfg, true), newInstance(t, connect(), cfg, true)
	srv.Stop()
	publish(a, "lost")
	waitFor(t, "A flushes after its publish failed", func() bool { return strings.Contains(a.logs.String(), "could not be written") })
	srv.Start()
	publish(a, "after")
	waitFor(t, "B flushes on the owed flush", func() bool { return strings.Contains(b.logs.String(), "another instance could not publish") })
	waitFor(t, "the next event on B", func() bool { return len(b.got()) == 1 })
	if got := b.got(); !equal(got, []string{"after"}) {
		t.Errorf("B got %v, want [after]", got)
	}
}

// Ensure events still queued when an instance stops are written before it
// goes: the others get them.
func TestFeedShutdownWritesQueued(t *testing.T) {
	db := mongotest.NewDatabase(t)
	b := newInstance(t, db, fast, true)
	stopping := newInstance(t, db, fast, false)
	publish(stopping, "last-1", "last-2", "last-3")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopping.Run(ctx) // stopped at once: only the queue is written
	waitFor(t, "the queued events on B", func() bool { return len(b.got()) >= 3 })
	if got := b.got(); !equal(got, []string{"last-1", "last-2", "last-3"}) {
		t.Errorf("B got %v", got)
	}
}

// Measure what an idle feed sends the database: with the default 1 s poll,
// at most one query a second.
func TestFeedIdleCost(t *testing.T) {
	var mu sync.Mutex
	cmds := map[string]int{}
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		cmds[e.CommandName]++
		mu.Unlock()
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(mongotest.URI(t)).SetMonitor(mon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(mongotest.DatabaseName(t))
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	in := newInstance(t, db, feed.Config{}, true)
	time.Sleep(200 * time.Millisecond) // past the first poll
	mu.Lock()
	clear(cmds)
	mu.Unlock()
	const window = 5 * time.Second
	time.Sleep(window)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range cmds {
		total += n
	}
	t.Logf("idle for %v: %v (%.2f commands/s)", window, cmds, float64(total)/window.Seconds())
	if total > int(window.Seconds())+1 {
		t.Errorf("%d commands in %v idle, want at most one a second", total, window)
	}
	_ = in
}
