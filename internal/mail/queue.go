package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// Queue settings.
const (
	// maxAttempts bounds the tries of one mail.
	maxAttempts = 8
	// maxBackoff caps the wait between two tries.
	maxBackoff = time.Hour
	// claimLease is how long a claimed attempt may run before another
	// instance counts it as failed (its instance died mid-send).
	claimLease = 5 * time.Minute
	// keepClaims is how long the record of an attempt stays: longer than
	// all tries of a mail take.
	keepClaims = 7 * 24 * time.Hour
	// keepDiscarded is how long a discarded mail's record stays.
	keepDiscarded = 24 * time.Hour
	// pollEvery is how often the worker looks for due mails that another
	// instance queued or that wait for a retry.
	pollEvery   = time.Second
	sendTimeout = 30 * time.Second
)

// queueDoc is one waiting mail in the mail_queue collection; a mail leaves
// the collection when it is sent or given up, so that the worker's poll (a
// scan on the embedded database) reads only waiting mails. Only the
// instance holding the claim of an attempt writes the document, so no
// update races another (the embedded database does not make updates
// atomic).
type queueDoc struct {
	ID      string `bson:"_id"`
	To      string `bson:"to"`
	Subject string `bson:"subject"`
	// Sealed is the text, HTML and link, encrypted (see Keys).
	Sealed    string    `bson:"sealed,omitempty"`
	CreatedAt time.Time `bson:"createdAt"`
	// Attempts is the number of finished tries; the next claims _id
	// ID+":"+(Attempts+1) in mail_claims.
	Attempts int       `bson:"attempts"`
	NextAt   time.Time `bson:"nextAt"`
}

// discardedDoc records, in mail_discarded, a mail that was not sent.
type discardedDoc struct {
	ID        string    `bson:"_id"`
	Sealed    string    `bson:"sealed"`
	CreatedAt time.Time `bson:"createdAt"`
	ExpiresAt time.Time `bson:"expiresAt"`
}

// claimDoc claims one attempt of one mail: its unique _id lets exactly one
// instance make that attempt.
type claimDoc struct {
	ID        string    `bson:"_id"`
	At        time.Time `bson:"at"`
	ExpiresAt time.Time `bson:"expiresAt"`
}

// Queue keeps mails in the database until a worker has sent them, so that
// a request never waits on a mail server, a restart loses nothing, and of
// several instances exactly one sends each mail.
type Queue struct {
	queue     *mongo.Collection
	claims    *mongo.Collection
	discarded *mongo.Collection
	sender    Sender
	keys      Keys
	retry     time.Duration
	logger    *slog.Logger
	now       func() time.Time
	wake      chan struct{}
}

// NewQueue returns a queue over db's mail_queue, mail_claims and
// mail_discarded collections, sealing bodies with keys, sending with sender and retrying
// after retry, doubling each time up to an hour.
func NewQueue(db *mongo.Database, sender Sender, keys Keys, retry time.Duration, logger *slog.Logger) *Queue {
	return &Queue{
		queue: db.Collection("mail_queue"), claims: db.Collection("mail_claims"), discarded: db.Collection("mail_discarded"),
		sender: sender, keys: keys, retry: retry, logger: logger, now: time.Now, wake: make(chan struct{}, 1),
	}
}

// EnsureIndexes creates the index of due mails and, where the server has
// them, TTL indexes.
func (q *Queue) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	ttl := mongo.IndexModel{Keys: bson.D{{Key: "expiresAt", Value: 1}}, Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0)}
	if err := mongodb.CreateIndexes(ctx, q.queue, logger,
		mongo.IndexModel{Keys: bson.D{{Key: "nextAt", Value: 1}}, Options: options.Index().SetName("nextAt")}); err != nil {
		return err
	}
	if err := mongodb.CreateIndexes(ctx, q.claims, logger, ttl); err != nil {
		return err
	}
	return mongodb.CreateIndexes(ctx, q.discarded, logger, ttl)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Enqueue stores m for sending and wakes this instance's worker.
func (q *Queue) Enqueue(ctx context.Context, m Message) error {
	now := q.now().UTC()
	d := queueDoc{ID: newID(), To: m.To, Subject: m.Subject, CreatedAt: now, NextAt: now}
	sealed, err := q.keys.seal(d.ID, body{Text: m.Text, HTML: m.HTML, Link: m.Link})
	if err != nil {
		return err
	}
	d.Sealed = sealed
	if _, err := q.queue.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("mail queue: insert: %w", err)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// Discard stores a record of a mail that is not sent, doing the same
// database work as Enqueue: a caller that must not reveal whether it sends
// (a reset for an unknown address) calls one or the other.
func (q *Queue) Discard(ctx context.Context, m Message) error {
	now := q.now().UTC()
	d := discardedDoc{ID: newID(), CreatedAt: now, ExpiresAt: now.Add(keepDiscarded)}
	sealed, err := q.keys.seal(d.ID, body{Text: m.Text, HTML: m.HTML, Link: m.Link})
	if err != nil {
		return err
	}
	d.Sealed = sealed
	if _, err := q.discarded.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("mail queue: insert: %w", err)
	}
	return nil
}

// Run sends due mails until ctx ends: at once after an Enqueue on this
// instance, and every second for the rest.
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	failing := false
	for {
		err := q.drain(ctx)
		// Logged when reading starts and stops failing, not every second
		// of a database outage.
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			q.logger.WarnContext(ctx, "mail queue: reading due mails failed; retrying every second", "err", err)
		case err == nil && failing:
			q.logger.InfoContext(ctx, "mail queue: reading due mails works again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-q.wake:
		}
	}
}

// drain makes one attempt at each due mail.
func (q *Queue) drain(ctx context.Context) error {
	now := q.now().UTC()
	cur, err := q.queue.Find(ctx, bson.D{
		{Key: "nextAt", Value: bson.D{{Key: "$lte", Value: now}}},
	}, options.Find().SetSort(bson.D{{Key: "nextAt", Value: 1}}).SetLimit(100))
	if err != nil {
		return fmt.Errorf("mail queue: due mails: %w", err)
	}
	var due []queueDoc
	if err := cur.All(ctx, &due); err != nil {
		return fmt.Errorf("mail queue: due mails: %w", err)
	}
	for _, d := range due {
		if ctx.Err() != nil {
			return nil
		}
		q.attempt(ctx, d)
	}
	return nil
}

// attempt claims the next attempt of d and, if it won the claim, sends.
func (q *Queue) attempt(ctx context.Context, d queueDoc) {
	now := q.now().UTC()
	n := d.Attempts + 1
	claim := claimDoc{ID: d.ID + ":" + strconv.Itoa(n), At: now, ExpiresAt: now.Add(keepClaims)}
	_, err := q.claims.InsertOne(ctx, claim)
	if mongodb.IsDuplicateKey(err) {
		q.takeOver(ctx, d, claim.ID, now)
		return
	}
	if err != nil {
		q.logger.WarnContext(ctx, "mail queue: claim failed", "mail", d.ID, "err", err)
		return
	}
	b, err := q.keys.open(d.ID, d.Sealed)
	if err != nil {
		q.finish(ctx, d.ID)
		q.logger.ErrorContext(ctx, "mail not sent; its body cannot be opened", "mail", d.ID, "err", err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	err = q.sender.Send(sctx, Message{To: d.To, Subject: d.Subject, Text: b.Text, HTML: b.HTML, Link: b.Link})
	cancel()
	if err == nil {
		q.finish(ctx, d.ID)
		q.logger.InfoContext(ctx, "mail sent", "mail", d.ID, "attempt", n)
		return
	}
	if ctx.Err() != nil {
		// Shutting down: the claim stands and the lease hands the
		// attempt on.
		return
	}
	q.failed(ctx, d.ID, n, now, err)
}

// failed records a failed attempt n: a retry later, or the end.
func (q *Queue) failed(ctx context.Context, id string, n int, now time.Time, cause error) {
	if n >= maxAttempts {
		q.finish(ctx, id)
		q.logger.ErrorContext(ctx, "mail not sent; giving up", "mail", id, "attempts", n, "err", cause)
		return
	}
	wait := min(q.retry<<(n-1), maxBackoff)
	if _, err := q.queue.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "attempts", Value: n}, {Key: "nextAt", Value: now.Add(wait)},
	}}}); err != nil {
		q.logger.WarnContext(ctx, "mail queue: recording a failed attempt failed", "mail", id, "err", err)
	}
	q.logger.WarnContext(ctx, "mail attempt failed; will retry", "mail", id, "attempt", n, "retryIn", wait.String(), "err", cause)
}

// takeOver handles an attempt another instance claimed: if its lease ran
// out (the instance died while sending), the attempt counts as failed, so
// that the next one can be claimed. Whether that mail went out is then
// unknown: it may arrive twice, never zero times.
func (q *Queue) takeOver(ctx context.Context, d queueDoc, claimID string, now time.Time) {
	var c claimDoc
	if err := q.claims.FindOne(ctx, bson.D{{Key: "_id", Value: claimID}}).Decode(&c); err != nil {
		return
	}
	if now.Sub(c.At) < claimLease {
		return
	}
	q.failed(ctx, d.ID, d.Attempts+1, now, fmt.Errorf("attempt claimed at %s never finished", c.At.Format(time.RFC3339)))
}

// finish takes a sent or abandoned mail, and its link, out of the queue.
// Should the delete fail, the claim of the attempt made stands: the mail
// comes up again only after the lease (see takeOver).
func (q *Queue) finish(ctx context.Context, id string) {
	if _, err := q.queue.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		q.logger.WarnContext(ctx, "mail queue: removing a finished mail failed", "mail", id, "err", err)
	}
}

// DeleteExpired removes old claims and records of discarded mails.
func (q *Queue) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	filter := bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}}
	r1, err := q.discarded.DeleteMany(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("mail discarded: delete expired: %w", err)
	}
	r2, err := q.claims.DeleteMany(ctx, filter)
	if err != nil {
		return r1.DeletedCount, fmt.Errorf("mail claims: delete expired: %w", err)
	}
	return r1.DeletedCount + r2.DeletedCount, nil
}
