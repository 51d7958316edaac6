// Package feed carries events between the instances that share one database:
// every event that subscriptions deliver or caches depend on (a course
// published, updated or unpublished; a purchase; a user's access changed) is
// written to a capped collection, and every instance reads that collection
// and delivers what it reads to its own subscribers and caches. Nothing is
// delivered from memory: an instance sees its own events the way the others
// do, in the same order, once.
//
// # Positions
//
// Each event's _id is its position: a dense sequence number (zero-padded to
// 20 digits, so that a string _id is what FerretDB pushes down to SQLite). A
// publisher claims the number after the highest it knows of with a plain
// insert; the unique _id makes a second claim of one number fail with a
// duplicate-key error, and the loser moves up. A number is tried only once
// every lower one exists, so the sequence has no holes: a reader that misses
// a number below one that exists knows the events in between are gone (the
// capped collection overwrote them, or it was recreated). Nothing depends on
// an atomic update, which the embedded database does not have.
//
// # Reading: polling by position, not an awaitData cursor
//
// The reader asks for the next position by _id, `{_id: "<next>"}`, the one
// filter every backend answers with an index (FerretDB pushes it down to
// SQLite); when it is there it delivers it and asks at once for more, several
// positions in parallel (see drain), so a reader that is behind catches up in
// a round trip per window. When it is not there the reader waits: PollInterval (1 s) while
// idle, HotInterval (50 ms) for HotFor after it last saw an event, and not at
// all after this instance published one (the publisher wakes it). An idle
// instance thus sends one indexed read a second. Every BoundsEvery idle polls
// one of them is instead a read of the newest event, which finds what a poll
// by position cannot: the collection recreated (positions went back) or this
// reader overtaken by the overwrite (its next position is gone, later ones
// exist).
//
// A tailable awaitData cursor was measured first and rejected: FerretDB v1.24
// answers an awaitData getMore by re-running the cursor's whole query every
// 10 ms until maxAwaitTime, decoding the whole collection each time (its
// filters other than an equal string or ObjectID _id are not pushed down).
// One idle cursor with maxAwaitTime 1 s cost the database a third of a CPU
// core at 100 events kept, and 90% of a core at 1,000, while the driver saw
// one cheap getMore a second. Such a cursor must also have returned a
// document before FerretDB can resume it, and is closed at once when its
// first batch is not full. Change streams were not picked either: FerretDB
// has none, and one code path that runs the same on FerretDB, MongoDB and
// Atlas is worth more than the lower latency they would give on the latter
// two. On MongoDB the capped collection bounds itself; FerretDB embedded does
// not trim capped collections on its own (its clean-up timer is off), so on
// FerretDB a publisher deletes the positions more than MaxEvents below the one
// it wrote, every MaxEvents/2 events.
//
// # Failures
//
// Publishing never blocks or fails the caller: its domain write is done. The
// event is queued and written by one goroutine, in order (what queued up
// meanwhile in one ordered insert), retried for
// PublishRetry while the database does not answer (an insert whose outcome is
// unknown is settled by reading its position back). When it still cannot be
// written, it and whatever is queued behind it are dropped, this instance
// flushes (caches dropped, every socket re-checked, a log line), and a flush
// event is owed: it is written before the next event, and every instance that
// reads it flushes too. A stopping instance writes what is still queued, for
// up to shutdownGrace, and logs what it could not. The reader survives the database going away and
// coming back (it resumes after the last position it delivered, and checks
// the bounds first); it never delivers a position twice, and whatever it
// cannot read (overwritten, recreated) is a flush with a log line that says
// so. A reader overtaken by the overwrite goes on with what is still stored,
// from at most half a collection below the end. An instance starting fresh
// begins at the current end.
package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/events"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/purchase"
)

// Collection is the feed's collection.
const Collection = "feed"

// Config tunes a Feed. Zero fields take the defaults below.
type Config struct {
	// MaxEvents and SizeBytes bound the capped collection. A reader that
	// falls more than MaxEvents behind flushes.
	MaxEvents int
	SizeBytes int64
	// PollInterval is how often an idle reader asks for the next event.
	PollInterval time.Duration
	// HotInterval is how often it asks for HotFor after it last saw one.
	HotInterval time.Duration
	HotFor      time.Duration
	// BoundsEvery: one idle poll in this many reads the newest event
	// instead, to notice a recreated collection or an overwritten position.
	BoundsEvery int
	// PublishRetry is how long an event is retried while the database does
	// not answer before it is dropped (and a flush owed).
	PublishRetry time.Duration
	// QueueSize bounds the events waiting to be written.
	QueueSize int
}

// Defaults for Config.
const (
	DefaultMaxEvents    = 256
	DefaultSizeBytes    = 16 << 20
	DefaultPollInterval = time.Second
	DefaultHotInterval  = 50 * time.Millisecond
	DefaultHotFor       = 10 * time.Second
	DefaultBoundsEvery  = 30
	DefaultPublishRetry = 30 * time.Second
	DefaultQueueSize    = 10_000
)

func (c Config) withDefaults() Config {
	set := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	if c.SizeBytes <= 0 {
		c.SizeBytes = DefaultSizeBytes
	}
	set(&c.PollInterval, DefaultPollInterval)
	set(&c.HotInterval, DefaultHotInterval)
	set(&c.HotFor, DefaultHotFor)
	set(&c.PublishRetry, DefaultPublishRetry)
	if c.BoundsEvery <= 0 {
		c.BoundsEvery = DefaultBoundsEvery
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// Feed publishes events to the database and delivers what it reads there to
// local subscribers (through hub) and caches (through invalidate). It is
// course.Events, purchase.Events and auth.Events, and the subscription
// source of the GraphQL layer.
type Feed struct {
	coll       *mongo.Collection
	hub        *events.Bus
	invalidate func()
	cfg        Config
	logger     *slog.Logger

	// ready is closed by the first successful Setup, which set last.
	ready     chan struct{}
	readyOnce sync.Once
	ferret    atomic.Bool // the server is FerretDB: the publishers trim

	// last is the reader's position: every event up to it was delivered or
	// flushed. Only the reader writes it.
	last atomic.Int64
	// claimed is the highest position this instance's publisher wrote.
	claimed atomic.Int64
	// lastDrain is how many events the reader's last drain found.
	lastDrain int
	wake      chan struct{}
	queue     chan eventDoc
	// flushOwed: events were dropped; a flush event is written before the
	// next one.
	flushOwed atomic.Bool
	trimming  atomic.Bool
	// trimmedAt is the position written when the last trim began.
	trimmedAt atomic.Int64
}

var (
	_ course.Events   = (*Feed)(nil)
	_ purchase.Events = (*Feed)(nil)
	_ auth.Events     = (*Feed)(nil)
)

// New returns a Feed over db's feed collection. invalidate (may be nil) drops
// the catalogue cache; it is called for every course event and every flush.
func New(db *mongo.Database, hub *events.Bus, invalidate func(), cfg Config, logger *slog.Logger) *Feed {
	cfg = cfg.withDefaults()
	if invalidate == nil {
		invalidate = func() {}
	}
	return &Feed{
		coll: db.Collection(Collection), hub: hub, invalidate: invalidate, cfg: cfg, logger: logger,
		ready: make(chan struct{}), wake: make(chan struct{}, 1), queue: make(chan eventDoc, cfg.QueueSize),
	}
}

// Event kinds, as stored.
const (
	kindCoursePublished = "course.published"
	kindCourseChanged   = "course.changed"
	kindPurchaseMade    = "purchase.made"
	kindAccessChanged   = "access.changed"
	kindFlush           = "flush"
)

// eventDoc is one event of the feed collection.
type eventDoc struct {
	ID    string    `bson:"_id"` // key(Seq)
	Seq   int64     `bson:"seq"`
	Kind  string    `bson:"k"`
	At    time.Time `bson:"at"`
	Nonce string    `bson:"n"` // tells this publisher's insert from another's
	// End is the last position of the insert that wrote this event: a
	// publisher that lost the race for this position moves past it.
	End int64 `bson:"e,omitempty"`
	// The payloads: what a delivery needs, so that it reads nothing else.
	Course   *courseDoc   `bson:"c,omitempty"`
	Purchase *purchaseDoc `bson:"p,omitempty"`
	UserID   string       `bson:"u,omitempty"`
	Reason   string       `bson:"r,omitempty"`
}

type courseDoc struct {
	ID          string    `bson:"id"`
	Title       string    `bson:"title,omitempty"`
	Description string    `bson:"description,omitempty"`
	Price       int       `bson:"price,omitempty"`
	ImageLink   *string   `bson:"imageLink,omitempty"`
	Published   bool      `bson:"published,omitempty"`
	CreatedByID string    `bson:"createdBy,omitempty"`
	CreatedAt   time.Time `bson:"createdAt,omitempty"`
	UpdatedAt   time.Time `bson:"updatedAt,omitempty"`
}

type purchaseDoc struct {
	ID          string     `bson:"id"`
	UserID      string     `bson:"userId"`
	CourseID    string     `bson:"courseId"`
	PricePaid   int        `bson:"pricePaid"`
	PurchasedAt time.Time  `bson:"purchasedAt"`
	Course      *courseDoc `bson:"course,omitempty"`
}

func toCourseDoc(c course.Course) *courseDoc {
	return &courseDoc{
		ID: c.ID, Title: c.Title, Description: c.Description, Price: c.Price, ImageLink: c.ImageLink,
		Published: c.Published, CreatedByID: c.CreatedByID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func (d *courseDoc) course() course.Course {
	return course.Course{
		ID: d.ID, Title: d.Title, Description: d.Description, Price: d.Price, ImageLink: d.ImageLink,
		Published: d.Published, CreatedByID: d.CreatedByID, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
}

// key is the _id of position seq.
func key(seq int64) string { return fmt.Sprintf("%020d", seq) }

// Setup creates the capped collection if it is missing and, the first time
// it succeeds, places the reader at the current end. It is idempotent. It
// must run before the collection is created any other way (an insert would
// create it uncapped).
func (f *Feed) Setup(ctx context.Context) error {
	if err := f.create(ctx); err != nil {
		return err
	}
	var info bson.Raw
	if err := f.coll.Database().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return fmt.Errorf("feed: buildInfo: %w", err)
	}
	_, isFerret := info.Lookup("ferretdbVersion").StringValueOK()
	f.ferret.Store(isFerret)
	select {
	case <-f.ready:
		return nil
	default:
	}
	newest, _, err := f.newest(ctx)
	if err != nil {
		return err
	}
	f.readyOnce.Do(func() {
		f.last.Store(newest)
		close(f.ready)
	})
	return nil
}

// create creates the capped collection unless it exists.
func (f *Feed) create(ctx context.Context) error {
	err := f.coll.Database().CreateCollection(ctx, Collection, options.CreateCollection().
		SetCapped(true).SetSizeInBytes(f.cfg.SizeBytes).SetMaxDocuments(int64(f.cfg.MaxEvents)))
	var ce mongo.CommandError
	if err != nil && !(errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")) {
		return fmt.Errorf("feed: create the collection: %w", err)
	}
	return nil
}

// newest returns the highest position stored (0, false when empty).
func (f *Feed) newest(ctx context.Context) (int64, bool, error) {
	var d struct {
		Seq int64 `bson:"seq"`
	}
	err := f.coll.FindOne(ctx, bson.D{}, options.FindOne().
		SetSort(bson.D{{Key: "$natural", Value: -1}}).
		SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("feed: read the newest event: %w", err)
	}
	return d.Seq, true, nil
}

// probeAhead is how many positions pastWinner reads at once.
const probeAhead = 4

// pastWinner returns a position past the inserts that took seq (0 when it
// cannot tell). It reads seq and the next probeAhead-1 positions in
// parallel, one round trip: under a steady flow from several instances the
// positions after a lost one are usually taken too (this publisher learns
// of the others' events only through them), and trying them one by one
// cost a failed insert and a read each. Every position up to a found
// event's End is claimed (its insert holds it or will), so the answer is
// past the highest End found.
func (f *Feed) pastWinner(ctx context.Context, seq int64) int64 {
	var (
		wg   sync.WaitGroup
		ends [probeAhead]int64
	)
	for i := range probeAhead {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, ok, err := f.get(ctx, seq+int64(i)); err == nil && ok {
				ends[i] = max(d.End, d.Seq) + 1
			}
		}()
	}
	wg.Wait()
	return slices.Max(ends[:])
}

// get reads position seq.
func (f *Feed) get(ctx context.Context, seq int64) (eventDoc, bool, error) {
	var d eventDoc
	err := f.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key(seq)}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return eventDoc{}, false, nil
	}
	if err != nil {
		return eventDoc{}, false, fmt.Errorf("feed: read position %d: %w", seq, err)
	}
	return d, true, nil
}

// Run reads and publishes until ctx ends. It waits for the first
// successful Setup.
func (f *Feed) Run(ctx context.Context) {
	select {
	case <-f.ready:
	default:
		select {
		case <-f.ready:
		case <-ctx.Done():
			return
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.read(ctx) }()
	go func() { defer wg.Done(); f.publishLoop(ctx) }()
	wg.Wait()
}

// Position is the reader's position: every event up to it has been
// delivered or flushed.
func (f *Feed) Position() int64 { return f.last.Load() }

// read is the reader (see the package doc).
func (f *Feed) read(ctx context.Context) {
	var hotUntil time.Time
	misses := 0
	missed := f.hub.Missed()
	boundsDue := false
	failing := false
	for ctx.Err() == nil {
		var err error
		n := 0
		if boundsDue {
			var behind bool
			behind, err = f.checkBounds(ctx)
			if err == nil {
				boundsDue, misses = false, 0
				if behind {
					continue
				}
			}
		} else {
			n, err = f.drain(ctx)
			if n == 0 {
				misses++
			}
			if misses >= f.cfg.BoundsEvery {
				boundsDue = true
			}
		}
		switch {
		case err != nil && ctx.Err() == nil:
			// Whatever happened while it could not read is checked
			// first when it can again.
			boundsDue = true
			if !failing {
				failing = true
				f.logger.WarnContext(ctx, "change feed: reading failed; retrying", "err", err, "position", f.last.Load())
			}
		case err == nil && failing:
			failing = false
			f.logger.InfoContext(ctx, "change feed: reading again", "position", f.last.Load())
		}
		now := time.Now()
		if n > 0 {
			hotUntil = now.Add(f.cfg.HotFor)
			if m := f.hub.Missed(); m > missed {
				f.logger.WarnContext(ctx, "change feed: subscriptions too slow to keep up missed events (their buffers were full)", "missed", m-missed, "total", m)
				missed = m
			}
		}
		wait := f.cfg.PollInterval
		if now.Before(hotUntil) && err == nil {
			wait = f.cfg.HotInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-f.wake:
			hotUntil = time.Now().Add(f.cfg.HotFor)
		}
		t.Stop()
	}
}

// maxWindow bounds how many positions drain asks for at once.
const maxWindow = 16

// drain delivers the events after the reader's position, in order, until
// the next one is not there. Its first window is as many positions as the
// previous drain found (at least one: an idle poll is one read); after a
// window that was all there it asks for one more, then two, four, up to
// maxWindow, in parallel. Under a steady flow a drain thus reads about one
// position per event plus one, and a reader that is behind catches up in a
// round trip per window. On FerretDB every read goes through the whole
// collection, so reads not made count.
func (f *Feed) drain(ctx context.Context) (int, error) {
	n := 0
	window := min(max(1, f.lastDrain), maxWindow)
	defer func() { f.lastDrain = n }()
	for {
		base := f.last.Load()
		docs := make([]eventDoc, window)
		found := make([]bool, window)
		errs := make([]error, window)
		var wg sync.WaitGroup
		for i := range window {
			wg.Add(1)
			go func() {
				defer wg.Done()
				docs[i], found[i], errs[i] = f.get(ctx, base+1+int64(i))
			}()
		}
		wg.Wait()
		for i := range window {
			if errs[i] != nil || !found[i] {
				return n, errs[i]
			}
			f.deliver(ctx, docs[i])
			f.last.Store(base + 1 + int64(i))
			n++
		}
		if n == window {
			window = 1
		} else {
			window = min(2*window, maxWindow)
		}
	}
}

// checkBounds compares the reader's position with the newest event; it
// flushes when the events after the position cannot be read, and goes on
// from the newest (the collection was recreated) or from what is still
// stored (it was overtaken by the overwrite). behind reports that there are
// events to read.
func (f *Feed) checkBounds(ctx context.Context) (behind bool, err error) {
	newest, stored, err := f.newest(ctx)
	if mongodb.IsNotImplemented(err) {
		// FerretDB refuses a $natural sort on a collection that is not
		// capped, a missing one included: the feed was dropped. Create
		// it again before a publish creates it uncapped.
		if err := f.create(ctx); err != nil {
			return false, err
		}
		newest, stored, err = f.newest(ctx)
	}
	if err != nil {
		return false, err
	}
	last := f.last.Load()
	switch {
	case !stored && last == 0, stored && newest == last:
		return false, nil
	case !stored:
		f.jump(ctx, 0, fmt.Sprintf("the feed is empty, but this instance had read up to position %d: the collection was dropped or recreated", last))
		return false, nil
	case newest < last:
		f.jump(ctx, newest, fmt.Sprintf("the newest position is %d, below this instance's %d: the collection was recreated", newest, last))
		return false, nil
	}
	_, ok, err := f.get(ctx, last+1)
	if err != nil {
		return false, err
	}
	if ok {
		return true, nil
	}
	// What is still there is delivered, late rather than never; the
	// reader resumes half a collection below the end, so that the overwrite
	// does not overtake it again at once.
	oldest, err := f.oldest(ctx)
	if err != nil {
		return false, err
	}
	resume := max(oldest-1, newest-int64(f.cfg.MaxEvents/2), last)
	f.jump(ctx, resume, fmt.Sprintf("positions %d to %d are gone (overwritten before this instance read them, or the collection was recreated); reading on from %d", last+1, resume, resume+1))
	return true, nil
}

// oldest returns the lowest position stored (0 when empty).
func (f *Feed) oldest(ctx context.Context) (int64, error) {
	var d struct {
		Seq int64 `bson:"seq"`
	}
	err := f.coll.FindOne(ctx, bson.D{}, options.FindOne().
		SetSort(bson.D{{Key: "$natural", Value: 1}}).
		SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("feed: read the oldest event: %w", err)
	}
	return d.Seq, nil
}

// jump moves the reader to seq past events it cannot deliver, and flushes.
func (f *Feed) jump(ctx context.Context, seq int64, reason string) {
	from := f.last.Load()
	f.last.Store(seq)
	f.flush(ctx, reason, "from", from, "to", seq)
}

// flush drops the caches and re-checks every socket: what an event could
// have told them, they learn by reading afresh.
func (f *Feed) flush(ctx context.Context, reason string, args ...any) {
	f.invalidate()
	f.hub.AccessChangedAll()
	f.logger.WarnContext(ctx, "change feed flushed: catalogue cache dropped and every socket re-checked; events in between were not delivered to subscriptions",
		append([]any{"reason", reason}, args...)...)
}

// deliver hands one event to the local caches and subscribers.
func (f *Feed) deliver(ctx context.Context, d eventDoc) {
	switch d.Kind {
	case kindCoursePublished:
		f.invalidate()
		if d.Course != nil {
			f.hub.CoursePublished(ctx, d.Course.course())
		}
	case kindCourseChanged:
		f.invalidate()
	case kindPurchaseMade:
		if p := d.Purchase; p != nil {
			pu := purchase.Purchase{ID: p.ID, UserID: p.UserID, CourseID: p.CourseID, PricePaid: p.PricePaid, PurchasedAt: p.PurchasedAt.UTC()}
			if p.Course != nil {
				pu = pu.WithPricedCourse(p.Course.course())
			}
			f.hub.PurchaseMade(ctx, pu)
		}
	case kindAccessChanged:
		f.hub.AccessChanged(ctx, d.UserID)
	case kindFlush:
		f.flush(ctx, "another instance could not publish some events: "+d.Reason, "position", d.Seq)
	default:
		// A kind from a newer version: what it changed is unknown.
		f.flush(ctx, "an event of unknown kind "+d.Kind, "position", d.Seq)
	}
}

// CoursePublished announces that a course became published.
func (f *Feed) CoursePublished(ctx context.Context, c course.Course) {
	f.enqueue(ctx, eventDoc{Kind: kindCoursePublished, Course: toCourseDoc(c)})
}

// CourseChanged announces any other course write: caches drop it.
func (f *Feed) CourseChanged(ctx context.Context, c course.Course) {
	f.enqueue(ctx, eventDoc{Kind: kindCourseChanged, Course: &courseDoc{ID: c.ID}})
}

// PurchaseMade announces a new purchase, with its course.
func (f *Feed) PurchaseMade(ctx context.Context, p purchase.Purchase) {
	d := &purchaseDoc{ID: p.ID, UserID: p.UserID, CourseID: p.CourseID, PricePaid: p.PricePaid, PurchasedAt: p.PurchasedAt}
	if c, ok := p.PricedCourse(); ok {
		d.Course = toCourseDoc(c)
	}
	f.enqueue(ctx, eventDoc{Kind: kindPurchaseMade, Purchase: d})
}

// AccessChanged announces that a session of userID ended or their role
// changed. It never blocks.
func (f *Feed) AccessChanged(ctx context.Context, userID string) {
	f.enqueue(ctx, eventDoc{Kind: kindAccessChanged, UserID: userID})
}

// SubscribeCoursePublished streams published courses, as read from the
// feed, until ctx ends.
func (f *Feed) SubscribeCoursePublished(ctx context.Context) <-chan *course.Course {
	return f.hub.SubscribeCoursePublished(ctx)
}

// SubscribePurchaseMade streams new purchases until ctx ends.
func (f *Feed) SubscribePurchaseMade(ctx context.Context) <-chan *purchase.Purchase {
	return f.hub.SubscribePurchaseMade(ctx)
}

// SubscribeAccessChanged signals userID's access changes until ctx ends.
func (f *Feed) SubscribeAccessChanged(ctx context.Context, userID string) <-chan struct{} {
	return f.hub.SubscribeAccessChanged(ctx, userID)
}

func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// enqueue queues an event for the publisher, never blocking: a full queue
// drops it and owes a flush.
func (f *Feed) enqueue(ctx context.Context, d eventDoc) {
	d.At, d.Nonce = time.Now().UTC(), nonce()
	select {
	case f.queue <- d:
	default:
		f.dropped(ctx, 1, errors.New("the publish queue is full"))
	}
}

// dropped records that n events will not reach the feed.
func (f *Feed) dropped(ctx context.Context, n int, err error) {
	f.flushOwed.Store(true)
	f.flush(ctx, fmt.Sprintf("%d events could not be written to the feed: %v", n, err))
}

// maxBatch bounds how many queued events one insert writes.
const maxBatch = 64

// publishLoop writes queued events in order (see the package doc), what has
// queued up meanwhile in one insert.
func (f *Feed) publishLoop(ctx context.Context) {
	for {
		var batch []eventDoc
		select {
		case <-ctx.Done():
			f.publishRest(ctx, nil)
			return
		case d := <-f.queue:
			batch = append(batch, d)
		}
		if ctx.Err() != nil {
			f.publishRest(ctx, batch)
			return
		}
		for more := true; more && len(batch) < maxBatch; {
			select {
			case d := <-f.queue:
				batch = append(batch, d)
			default:
				more = false
			}
		}
		if f.flushOwed.Load() {
			fl := eventDoc{Kind: kindFlush, At: time.Now().UTC(), Nonce: nonce(), Reason: "events were dropped while the database did not answer"}
			if err := f.insert(ctx, &fl); err == nil {
				f.flushOwed.Store(false)
			}
		}
		if n, err := f.insertBatch(ctx, batch); err != nil {
			if ctx.Err() != nil {
				f.publishRest(ctx, batch[len(batch)-n:])
				return
			}
			for more := true; more; {
				select {
				case <-f.queue:
					n++
				default:
					more = false
				}
			}
			f.dropped(ctx, n, err)
		}
	}
}

// shutdownGrace bounds how long a stopping instance spends writing the
// events still queued.
const shutdownGrace = 3 * time.Second

// publishRest writes what is still queued when the feed stops (a course
// published just before a deploy must still reach the other instances),
// for at most shutdownGrace; what it cannot write is logged.
func (f *Feed) publishRest(ctx context.Context, rest []eventDoc) {
	for more := true; more; {
		select {
		case d := <-f.queue:
			rest = append(rest, d)
		default:
			more = false
		}
	}
	if len(rest) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	for len(rest) > 0 {
		n := min(len(rest), maxBatch)
		if left, err := f.insertBatch(wctx, rest[:n]); err != nil {
			f.logger.WarnContext(ctx, "change feed: events queued at shutdown were not written; the other instances will not see them",
				"events", left+len(rest)-n, "err", err)
			return
		}
		rest = rest[n:]
	}
}

// insertBatch writes batch at the next free positions, in order, with one
// ordered insert while nothing goes wrong: an insert stops at the first
// position taken, and the rest moves up past it. After any other error it
// goes on one event at a time (insert), which settles unknown outcomes. It
// returns how many events it could not write.
func (f *Feed) insertBatch(ctx context.Context, batch []eventDoc) (int, error) {
	next := int64(0) // a position known to be taken is below it
	for len(batch) > 0 {
		seq := max(f.last.Load(), f.claimed.Load(), next-1) + 1
		docs := make([]any, len(batch))
		for i := range batch {
			batch[i].Seq, batch[i].ID = seq+int64(i), key(seq+int64(i))
			batch[i].End = seq + int64(len(batch)) - 1
			docs[i] = batch[i]
		}
		_, err := f.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
		if err == nil {
			f.published(ctx, seq+int64(len(batch))-1)
			return 0, nil
		}
		var bwe mongo.BulkWriteException
		if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 && mongodb.IsDuplicateKey(bwe.WriteErrors[0]) {
			i := bwe.WriteErrors[0].Index
			if i > 0 {
				f.published(ctx, seq+int64(i)-1)
			}
			batch, next = batch[i:], seq+int64(i)+1
			next = max(next, f.pastWinner(ctx, seq+int64(i)))
			continue
		}
		for i := range batch {
			if err := f.insert(ctx, &batch[i]); err != nil {
				return len(batch) - i, err
			}
		}
		return 0, nil
	}
	return 0, nil
}

// insert writes d at the next free position, retrying for PublishRetry.
func (f *Feed) insert(ctx context.Context, d *eventDoc) error {
	deadline := time.Now().Add(f.cfg.PublishRetry)
	known := func() int64 { return max(f.last.Load(), f.claimed.Load()) }
	seq := known() + 1
	// uncertain: an insert at seq had an unknown outcome, so seq may hold
	// d already; it is read back before d moves on.
	uncertain := false
	backoff := 50 * time.Millisecond
	for {
		d.Seq, d.ID, d.End = seq, key(seq), seq
		_, err := f.coll.InsertOne(ctx, d)
		if mongodb.IsDuplicateKey(err) && uncertain {
			got, ok, gerr := f.get(ctx, seq)
			switch {
			case gerr != nil:
				err = gerr
			case ok && got.Nonce == d.Nonce:
				err = nil // the earlier attempt went through
			}
		}
		switch {
		case err == nil:
			f.published(ctx, seq)
			return nil
		case mongodb.IsDuplicateKey(err):
			uncertain = false
			taken := seq
			seq = max(taken+1, known()+1, f.pastWinner(ctx, taken))
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return err
		}
		uncertain = true
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// published follows a written event: the reader is woken, and on FerretDB
// the collection is trimmed now and then.
func (f *Feed) published(ctx context.Context, seq int64) {
	for {
		c := f.claimed.Load()
		if c >= seq || f.claimed.CompareAndSwap(c, seq) {
			break
		}
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
	// Trims run one at a time, when the feed moved MaxEvents/2 positions
	// past this instance's last trim: on FerretDB the collection holds
	// about MaxEvents to 1.5 MaxEvents events. A trim reads the whole
	// collection (FerretDB pushes down no range on _id), so fewer, larger
	// trims cost less: at MaxEvents/4, with three instances publishing 100
	// events a second, trimming was 3% of the machine. A delete by
	// position, not compact: FerretDB's compact runs ANALYZE three times
	// under the write lock, which stalled every writer.
	every := int64(max(1, f.cfg.MaxEvents/2))
	if f.ferret.Load() && seq-f.trimmedAt.Load() >= every && f.trimming.CompareAndSwap(false, true) {
		f.trimmedAt.Store(seq)
		go func() {
			defer f.trimming.Store(false)
			below := bson.D{{Key: "_id", Value: bson.D{{Key: "$lte", Value: key(seq - int64(f.cfg.MaxEvents))}}}}
			if _, err := f.coll.DeleteMany(context.WithoutCancel(ctx), below); err != nil {
				f.logger.WarnContext(ctx, "change feed: trimming the collection failed", "err", err)
			}
		}()
	}
}
