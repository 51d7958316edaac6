package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/memindex"
)

// Limit allows Max events per Window; Max 0 switches the limit off.
type Limit struct {
	Max    int
	Window time.Duration
}

// Off reports whether the limit is switched off.
func (l Limit) Off() bool { return l.Max <= 0 }

func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s", l.Max, l.Window)
}

// ParseLimit reads "N/duration" (e.g. "30/1h"), or "off" (also "0").
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Limit{}, nil
	}
	n, d, ok := strings.Cut(s, "/")
	max, err1 := strconv.Atoi(n)
	window, err2 := time.ParseDuration(d)
	if !ok || err1 != nil || err2 != nil || max < 1 || window < time.Second || window > 24*time.Hour {
		return Limit{}, errors.New(`must be "N/duration" like "30/1h" (N >= 1, 1s to 24h), or "off"`)
	}
	return Limit{Max: max, Window: window}, nil
}

// RateLimits are the brute-force limits on signup, login and refresh. Each
// operation counts once per call, so ten aliased login fields in one
// document, or ten operations in a batch, count ten times.
//
// Failed logins are counted twice. The strict limit is per email AND client
// address: one address guessing at one account is stopped early, while the
// account's owner, signing in from anywhere else, is not locked out by it.
// The looser per-email limit (NIST SP 800-63B's cap of 100) stops guessing
// spread over many addresses; only such a spread attack can lock the owner
// out, and only for the rest of its window.
type RateLimits struct {
	// LoginAccountAddress counts failed logins per email and client address.
	LoginAccountAddress Limit
	// LoginAccount counts failed logins per email from anywhere (known or
	// not, so that lock-outs do not reveal which accounts exist).
	LoginAccount Limit
	// LoginAddress counts login attempts per client address.
	LoginAddress Limit
	// SignupAccount counts signup attempts per email.
	SignupAccount Limit
	// SignupAddress counts signup attempts per client address.
	SignupAddress Limit
	// RefreshSession counts refreshes per session.
	RefreshSession Limit
	// RefreshAddress counts refresh attempts per client address.
	RefreshAddress Limit
	// MailRecipient counts mails asked for (reset, verification, email
	// change) per recipient address.
	MailRecipient Limit
	// MailAddress counts mails asked for per client address.
	MailAddress Limit
}

// DefaultRateLimits follow the established numbers (security-bar.md): 10
// failures per account and address in 15 minutes, and NIST's (and ASVS's)
// 100 failures per account in an hour.
var DefaultRateLimits = RateLimits{
	LoginAccountAddress: Limit{Max: 10, Window: 15 * time.Minute},
	LoginAccount:        Limit{Max: 100, Window: time.Hour},
	LoginAddress:        Limit{Max: 100, Window: time.Minute},
	SignupAccount:       Limit{Max: 5, Window: time.Hour},
	SignupAddress:       Limit{Max: 30, Window: 10 * time.Minute},
	RefreshSession:      Limit{Max: 30, Window: time.Minute},
	RefreshAddress:      Limit{Max: 300, Window: time.Minute},
	MailRecipient:       Limit{Max: 1, Window: time.Minute},
	MailAddress:         Limit{Max: 30, Window: time.Hour},
}

// rateEventDoc is one counted event in the rate_events collection. Events
// of one key are numbered 1, 2, 3, … and the number is part of _id, so two
// concurrent callers can never take the same number: the unique _id settles
// the race, as every race here is settled (the embedded database does not
// make updates atomic, and loses concurrent $inc updates).
type rateEventDoc struct {
	ID        string    `bson:"_id"` // key + "#" + seq
	Key       string    `bson:"key"`
	Seq       int64     `bson:"seq"`
	At        time.Time `bson:"at"`
	ExpiresAt time.Time `bson:"expiresAt"`
}

// maxSeqTries bounds how many numbers one Take tries before it reads the
// highest number again: under contention each failed insert means another
// caller got that number first.
const maxSeqTries = 4

// Limiter is the RateLimiter on MongoDB: it counts events in the database,
// so that every instance shares the counts. It only inserts, counts and
// deletes.
//
// An event is admitted when fewer than Max events of its key that came
// BEFORE it (lower numbers) are in the window. A number is only ever taken
// after every lower one was (a caller starts above the highest it can see,
// and moves up past each number it finds taken), so a call always sees
// all of its predecessors: a limit of N admits exactly the first N attempts
// of a window however the calls interleave, on one instance or many. (Had
// every call counted all events, concurrent callers would count each other
// and could all be refused, the legitimate first one too.) A refused event
// is deleted again, so that a flood does not extend its own lock-out.
//
// On the embedded database (mongodb.InProcessIndexes) the highest number and
// the count come from an in-process index of each key's events instead of
// queries that would decode the whole collection: the number is taken, the
// predecessors counted and the event recorded in the index in one step
// under its lock (so again a call sees all of its predecessors), and the
// event is then inserted under its unique _id, which keeps the counts
// across restarts (the index is rebuilt from them at start). A refused
// event is never recorded. An event whose insert failed is removed again;
// one whose insert had an unknown outcome stays counted, which can only
// refuse early, never admit more than N.
type Limiter struct {
	coll *mongo.Collection
	now  func() time.Time
	// events is the in-process index (nil on MongoDB): key -> its events,
	// highest number first.
	events *memindex.Index[rateMark]
}

// rateMark is an indexed event's time and expiry.
type rateMark struct{ At, ExpiresAt time.Time }

var _ RateLimiter = (*Limiter)(nil)

// NewLimiter returns a Limiter over db's rate_events collection that counts
// as lookups says.
func NewLimiter(db *mongo.Database, lookups mongodb.Lookups) *Limiter {
	l := &Limiter{coll: db.Collection("rate_events"), now: time.Now}
	if lookups == mongodb.InProcessIndexes {
		l.events = memindex.New[rateMark]()
	}
	return l
}

// EnsureIndexes creates the indexes that find a key's highest number and
// count its window, and, where supported, a TTL index; on the embedded
// database it builds the in-process index from the stored events instead.
func (l *Limiter) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	if l.events != nil {
		cur, err := l.coll.Find(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("rate limit: index: %w", err)
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			return fmt.Errorf("rate limit: index: %w", err)
		}
		for _, raw := range docs {
			// Events from before numbering (ObjectID ids, no seq) never
			// count. The _id is checked before the document is decoded
			// into rateEventDoc, whose string _id an ObjectID cannot fill.
			if _, ok := raw.Lookup("_id").StringValueOK(); !ok {
				continue
			}
			var d rateEventDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("rate limit: index: %w", err)
			}
			if d.Seq > 0 {
				l.events.Put(d.Key, rateEntry(d))
			}
		}
		return nil
	}
	return mongodb.CreateIndexes(ctx, l.coll, logger,
		mongo.IndexModel{Keys: bson.D{{Key: "key", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("key_seq")},
		mongo.IndexModel{Keys: bson.D{{Key: "key", Value: 1}, {Key: "at", Value: 1}}, Options: options.Index().SetName("key_at")},
		mongo.IndexModel{Keys: bson.D{{Key: "expiresAt", Value: 1}}, Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0)},
	)
}

func rateEntry(d rateEventDoc) memindex.Entry[rateMark] {
	return memindex.Entry[rateMark]{ID: d.ID, Sort: fmt.Sprintf("%019d", d.Seq), Value: rateMark{At: d.At, ExpiresAt: d.ExpiresAt}}
}

// Event is a counted event; Forget uncounts it.
type Event struct{ id, key string }

// Take counts one event under key. Past the limit it returns RATE_LIMITED
// with the seconds until the oldest counted event ages out.
func (l *Limiter) Take(ctx context.Context, key string, lim Limit) (Event, error) {
	if lim.Off() {
		return Event{}, nil
	}
	now := l.now().UTC()
	if l.events != nil {
		return l.takeIndexed(ctx, key, lim, now)
	}
	ev, err := l.record(ctx, key, now, lim.Window)
	if err != nil {
		return Event{}, err
	}
	inWindow := bson.D{{Key: "key", Value: key}, {Key: "at", Value: bson.D{{Key: "$gt", Value: now.Add(-lim.Window)}}}}
	before := append(inWindow, bson.E{Key: "seq", Value: bson.D{{Key: "$lt", Value: ev.Seq}}})
	n, err := l.coll.CountDocuments(ctx, before)
	if err != nil {
		return Event{}, fmt.Errorf("rate limit: count: %w", err)
	}
	if int(n) < lim.Max {
		return Event{id: ev.ID, key: key}, nil
	}
	if err := l.Forget(ctx, Event{id: ev.ID, key: key}); err != nil {
		return Event{}, err
	}
	var oldest rateEventDoc
	err = l.coll.FindOne(ctx, inWindow, options.FindOne().SetSort(bson.D{{Key: "at", Value: 1}}).
		SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "at", Value: 1}})).Decode(&oldest)
	if err != nil {
		oldest.At = now
	}
	return Event{}, limited(oldest.At, now, lim)
}

// limited is RATE_LIMITED until the oldest counted event ages out.
// Concurrent events may be newer than this call's now: never more than one
// window.
func limited(oldest, now time.Time, lim Limit) error {
	retry := min(oldest.Add(lim.Window).Sub(now), lim.Window)
	return &apperr.Error{
		Code:              apperr.RateLimited,
		Message:           "too many attempts; try again later",
		RetryAfterSeconds: max(1, int(math.Ceil(retry.Seconds()))),
	}
}

// takeIndexed is Take on the in-process index (see Limiter).
func (l *Limiter) takeIndexed(ctx context.Context, key string, lim Limit, now time.Time) (Event, error) {
	for range maxSeqTries {
		var ev rateEventDoc
		admitted, oldest := false, now
		l.events.Update(key, func(es []memindex.Entry[rateMark]) []memindex.Entry[rateMark] {
			var seq int64
			if len(es) > 0 {
				seq, _ = strconv.ParseInt(es[0].Sort, 10, 64)
			}
			// Events past every window go, but the highest stays: it
			// carries the numbering.
			if len(es) > 1 {
				es = append(es[:1], slices.DeleteFunc(es[1:], func(e memindex.Entry[rateMark]) bool { return !e.Value.ExpiresAt.After(now) })...)
			}
			n := 0
			for _, e := range es {
				if e.Value.At.After(now.Add(-lim.Window)) {
					n++
					if e.Value.At.Before(oldest) {
						oldest = e.Value.At
					}
				}
			}
			if n >= lim.Max {
				return es
			}
			admitted = true
			ev = rateEventDoc{
				ID: key + "#" + strconv.FormatInt(seq+1, 10), Key: key, Seq: seq + 1,
				At: now, ExpiresAt: now.Add(lim.Window),
			}
			return memindex.Insert(es, rateEntry(ev))
		})
		if !admitted {
			return Event{}, limited(oldest, now, lim)
		}
		_, err := l.coll.InsertOne(ctx, ev)
		switch {
		case err == nil:
			return Event{id: ev.ID, key: key}, nil
		case mongodb.IsDuplicateKey(err):
			// A number taken by an insert the index missed (one of
			// unknown outcome that went through): that event stands,
			// counted under the entry just made; take the next number.
			continue
		case mongodb.IsUnavailable(err) || ctx.Err() != nil:
			return Event{}, fmt.Errorf("rate limit: record: %w", err)
		default:
			l.events.Delete(key, ev.ID)
			return Event{}, fmt.Errorf("rate limit: record: %w", err)
		}
	}
	return Event{}, fmt.Errorf("rate limit: record: %d numbers of %s were taken unseen", maxSeqTries, key)
}

// record inserts the event under the next free number of key.
func (l *Limiter) record(ctx context.Context, key string, now time.Time, window time.Duration) (rateEventDoc, error) {
	for {
		var last rateEventDoc
		err := l.coll.FindOne(ctx, bson.D{{Key: "key", Value: key}},
			options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "seq", Value: 1}})).Decode(&last)
		if err != nil && !mongodb.IsNoDocuments(err) {
			return rateEventDoc{}, fmt.Errorf("rate limit: last number: %w", err)
		}
		for seq := last.Seq + 1; seq <= last.Seq+maxSeqTries; seq++ {
			ev := rateEventDoc{
				ID: key + "#" + strconv.FormatInt(seq, 10), Key: key, Seq: seq,
				At: now, ExpiresAt: now.Add(window),
			}
			_, err := l.coll.InsertOne(ctx, ev)
			if err == nil {
				return ev, nil
			}
			if !mongodb.IsDuplicateKey(err) {
				return rateEventDoc{}, fmt.Errorf("rate limit: record: %w", err)
			}
		}
		if err := ctx.Err(); err != nil {
			return rateEventDoc{}, fmt.Errorf("rate limit: record: %w", err)
		}
	}
}

// Forget uncounts events (a login that turned out to succeed, say).
func (l *Limiter) Forget(ctx context.Context, evs ...Event) error {
	for _, ev := range evs {
		if ev.id == "" {
			continue
		}
		if _, err := l.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: ev.id}}); err != nil {
			return fmt.Errorf("rate limit: forget: %w", err)
		}
		if l.events != nil {
			l.events.Delete(ev.key, ev.id)
		}
	}
	return nil
}

// DeleteExpired removes events that no window counts any more.
func (l *Limiter) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	r, err := l.coll.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("rate limit: delete expired: %w", err)
	}
	if l.events != nil {
		// The numbering restarts for a key with no events left, as it
		// does on MongoDB: the database has none of its numbers either.
		l.events.DeleteFunc(func(_ string, e memindex.Entry[rateMark]) bool { return e.Value.ExpiresAt.Before(now) })
	}
	return r.DeletedCount, nil
}
