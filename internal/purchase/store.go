package purchase

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/memindex"
	"github.com/coursehub/coursehub/internal/pagination"
)

// purchaseDoc is a document in the purchases collection. It is keyed by
// what it is looked up by: _id is "<user id>:<course id>", so the
// idempotent insert (a duplicate _id is the purchase made before) and Find
// are _id operations on every backend, and no unique index is needed. PID
// is the purchase's own id, an ObjectID: its GraphQL id, and its sort key
// (newest first) and cursor in a user's list.
type purchaseDoc struct {
	Key         string        `bson:"_id"`
	PID         bson.ObjectID `bson:"pid"`
	UserID      bson.ObjectID `bson:"userId"`
	CourseID    bson.ObjectID `bson:"courseId"`
	PricePaid   int64         `bson:"pricePaid"`
	PurchasedAt time.Time     `bson:"purchasedAt"`
}

// legacyDoc is the shape before purchases were keyed by user and course:
// an ObjectID _id (now pid) and a unique (userId, courseId) index.
type legacyDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	UserID      bson.ObjectID `bson:"userId"`
	CourseID    bson.ObjectID `bson:"courseId"`
	PricePaid   int64         `bson:"pricePaid"`
	PurchasedAt time.Time     `bson:"purchasedAt"`
}

func docKey(uid, cid bson.ObjectID) string { return uid.Hex() + ":" + cid.Hex() }

func (d purchaseDoc) toPurchase() Purchase {
	return Purchase{
		ID: d.PID.Hex(), UserID: d.UserID.Hex(), CourseID: d.CourseID.Hex(),
		PricePaid: int(d.PricePaid), PurchasedAt: d.PurchasedAt.UTC(),
	}
}

// MongoStore is the Store on MongoDB and on the embedded database.
//
// A user's list and count come from MongoDB's {userId, pid} index, or, with
// mongodb.InProcessIndexes, from an in-process index of every purchase by
// user (purchases are never changed or deleted, so the index can hold them
// whole: a page and a count need no database call at all).
type MongoStore struct {
	db   *mongo.Database
	coll *mongo.Collection
	// byUser is the in-process index (InProcessIndexes only): user id ->
	// that user's purchases, sorted by pid.
	byUser *memindex.Index[Purchase]
	// byCourse is the other in-process index (InProcessIndexes only):
	// course id -> what each purchase of it paid, for a course's sales.
	byCourse *memindex.Index[int64]
}

var _ Store = (*MongoStore)(nil)

// NewMongoStore returns a store over db's purchases collection that answers
// lists as lookups says.
func NewMongoStore(db *mongo.Database, lookups mongodb.Lookups) *MongoStore {
	s := &MongoStore{db: db, coll: db.Collection("purchases")}
	if lookups == mongodb.InProcessIndexes {
		s.byUser = memindex.New[Purchase]()
		s.byCourse = memindex.New[int64]()
	}
	return s
}

// EnsureIndexes migrates purchases of the old shape, creates the index
// behind a user's newest-first list (on MongoDB) and builds the in-process
// index (on the embedded database) with one scan.
func (s *MongoStore) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	if err := mongodb.Migrate(ctx, s.db, "purchases.by-user-course", s.migrate); err != nil {
		return err
	}
	if s.byUser == nil {
		return mongodb.CreateIndexes(ctx, s.coll, logger, mongo.IndexModel{
			Keys:    bson.D{{Key: "userId", Value: 1}, {Key: "pid", Value: -1}},
			Options: options.Index().SetName("user_pid"),
		}, mongo.IndexModel{
			// Covers a course's sales: the sum reads index keys only.
			Keys:    bson.D{{Key: "courseId", Value: 1}, {Key: "pricePaid", Value: 1}},
			Options: options.Index().SetName("course_pricePaid"),
		})
	}
	docs, err := s.findDocs(ctx, bson.D{}, nil)
	if err != nil {
		return err
	}
	for _, d := range docs {
		s.index(d.toPurchase())
	}
	return nil
}

// migrate rewrites every purchase of the old shape (ObjectID _id) into the
// new one: insert the new document (a duplicate means an earlier or
// concurrent run did), then delete the old. Each step is idempotent, and a
// purchase exists in at least one shape at every moment.
func (s *MongoStore) migrate(ctx context.Context) error {
	// The old unique (userId, courseId) index would refuse the new
	// document while the old one exists; the new _id makes it redundant.
	for _, name := range []string{"user_course_unique", "user_id"} {
		if err := mongodb.DropIndex(ctx, s.coll, name); err != nil {
			return err
		}
	}
	cur, err := s.coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$type", Value: "objectId"}}}})
	if err != nil {
		return fmt.Errorf("purchases: migrate: %w", err)
	}
	var old []legacyDoc
	if err := cur.All(ctx, &old); err != nil {
		return fmt.Errorf("purchases: migrate: %w", err)
	}
	for _, o := range old {
		_, err := s.coll.InsertOne(ctx, purchaseDoc{
			Key: docKey(o.UserID, o.CourseID), PID: o.ID, UserID: o.UserID, CourseID: o.CourseID,
			PricePaid: o.PricePaid, PurchasedAt: o.PurchasedAt,
		})
		if err != nil && !mongodb.IsDuplicateKey(err) {
			return fmt.Errorf("purchases: migrate: %w", err)
		}
		if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: o.ID}}); err != nil {
			return fmt.Errorf("purchases: migrate: %w", err)
		}
	}
	return nil
}

func (s *MongoStore) index(p Purchase) {
	if s.byUser != nil {
		s.byUser.Put(p.UserID, memindex.Entry[Purchase]{ID: p.ID, Sort: p.ID, Value: p})
		s.byCourse.Put(p.CourseID, memindex.Entry[int64]{ID: p.ID, Sort: p.ID, Value: int64(p.PricePaid)})
	}
}

// Sales counts a course's purchases and sums what they paid. On MongoDB
// it is a count and a sum over the {courseId, pricePaid} index (they read
// one index key per purchase of the course, no documents); on the embedded
// database it adds up the in-process index (no database call; the same
// work in memory). Purchases are insert-only, so neither needs a counter,
// which the embedded database could not $inc atomically anyway. For very
// large courses a per-course running total (insert-only records per
// period, summed) would bound the work; not needed at this scale.
func (s *MongoStore) Sales(ctx context.Context, courseID string) (Sales, error) {
	cid, err := bson.ObjectIDFromHex(courseID)
	if err != nil {
		return Sales{}, nil
	}
	if s.byCourse != nil {
		if err := s.refillCourse(ctx, cid); err != nil {
			return Sales{}, err
		}
		var out Sales
		for _, e := range s.byCourse.Entries(courseID) {
			out.Purchases++
			out.Revenue += int(e.Value)
		}
		return out, nil
	}
	// Two commands, not one $group with two accumulators: FerretDB 1.24
	// answers 0 for every accumulator of a $group but the first (found by
	// TestStoreSalesAndBought), and the tests run on it.
	n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "courseId", Value: cid}})
	if err != nil {
		return Sales{}, fmt.Errorf("purchases: sales: %w", err)
	}
	if n == 0 {
		return Sales{}, nil
	}
	cur, err := s.coll.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "courseId", Value: cid}}}},
		{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: nil},
			{Key: "revenue", Value: bson.D{{Key: "$sum", Value: "$pricePaid"}}},
		}}},
	})
	if err != nil {
		return Sales{}, fmt.Errorf("purchases: sales: %w", err)
	}
	var rows []struct {
		Revenue int64 `bson:"revenue"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return Sales{}, fmt.Errorf("purchases: sales: %w", err)
	}
	out := Sales{Purchases: int(n)}
	if len(rows) > 0 {
		out.Revenue = int(rows[0].Revenue)
	}
	return out, nil
}

// refillCourse rereads a stale course's purchases (after an insert of
// unknown outcome whose fate could not be learnt: the one scan, then only).
func (s *MongoStore) refillCourse(ctx context.Context, cid bson.ObjectID) error {
	mark, stale := s.byCourse.Stale(cid.Hex())
	if !stale {
		return nil
	}
	docs, err := s.findDocs(ctx, bson.D{{Key: "courseId", Value: cid}}, nil)
	if err != nil {
		return err
	}
	es := make([]memindex.Entry[int64], len(docs))
	for i, d := range docs {
		es[i] = memindex.Entry[int64]{ID: d.PID.Hex(), Sort: d.PID.Hex(), Value: d.PricePaid}
	}
	s.byCourse.Refill(cid.Hex(), mark, es)
	return nil
}

// settleDelay is how long after an insert of unknown outcome its fate is
// read: long enough for an insert the database had already taken to land.
const settleDelay = 500 * time.Millisecond

// settle learns whether an insert of unknown outcome was applied, by one
// _id read of its key a moment later, and indexes the purchase if it was.
// Only if that read fails too (the database still away) is the user's
// index entry marked stale, so that its next reader refills it: on the
// embedded database a refill decodes the whole collection, and under load
// (every request cut off when a client goes away) refills would pile up.
func (s *MongoStore) settle(key, userID, courseID string) {
	time.AfterFunc(settleDelay, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := s.find(ctx, key)
		switch {
		case err == nil:
			s.index(p)
		case errors.Is(err, errNotFound):
			// Not applied: nothing to learn.
		default:
			s.byUser.MarkStale(userID)
			s.byCourse.MarkStale(courseID)
		}
	})
}

// Insert stores p under a new id, or returns the purchase that holds its
// _id (the user's earlier purchase of the course).
func (s *MongoStore) Insert(ctx context.Context, p Purchase) (Purchase, bool, error) {
	uid, err1 := bson.ObjectIDFromHex(p.UserID)
	cid, err2 := bson.ObjectIDFromHex(p.CourseID)
	if err1 != nil || err2 != nil {
		return Purchase{}, false, fmt.Errorf("purchases: insert: malformed user or course id")
	}
	key := docKey(uid, cid)
	if s.byUser != nil {
		// The embedded database answers a duplicate-key insert several
		// times slower than an _id read (measured: about 30 ms against
		// 4 ms for the whole purchase), so a repeat is answered from a
		// read first. The insert below still settles every race.
		if existing, err := s.find(ctx, key); err == nil {
			return existing, false, nil
		}
	}
	pid := bson.NewObjectID()
	p.ID = pid.Hex()
	d := purchaseDoc{
		Key: key, PID: pid, UserID: uid, CourseID: cid,
		PricePaid: int64(p.PricePaid), PurchasedAt: p.PurchasedAt,
	}
	_, err := s.coll.InsertOne(ctx, d)
	if err == nil {
		s.index(p)
		return p, true, nil
	}
	if !mongodb.IsDuplicateKey(err) {
		// Past its deadline, or cut off by the database's loss, the insert
		// may still have been applied.
		if mongodb.IsUnavailable(err) || ctx.Err() != nil {
			if s.byUser != nil {
				s.settle(key, p.UserID, p.CourseID)
			}
			return Purchase{}, false, outcomeUnknown(err)
		}
		return Purchase{}, false, fmt.Errorf("purchases: insert: %w", err)
	}
	existing, err := s.find(ctx, d.Key)
	if err != nil {
		if mongodb.IsUnavailable(err) {
			// Recorded, by a concurrent call, but we cannot say so.
			return Purchase{}, false, outcomeUnknown(err)
		}
		return Purchase{}, false, fmt.Errorf("purchases: read the existing purchase: %w", err)
	}
	return existing, false, nil
}

// InsertMany stores purchases in bulk (seeding and imports), each under a
// new id; none may exist yet. The in-process index learns them once the
// whole batch is stored.
func (s *MongoStore) InsertMany(ctx context.Context, ps []Purchase) ([]Purchase, error) {
	docs := make([]any, len(ps))
	out := make([]Purchase, len(ps))
	for i, p := range ps {
		uid, err1 := bson.ObjectIDFromHex(p.UserID)
		cid, err2 := bson.ObjectIDFromHex(p.CourseID)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("purchases: insert many: malformed user or course id")
		}
		pid := bson.NewObjectID()
		docs[i] = purchaseDoc{
			Key: docKey(uid, cid), PID: pid, UserID: uid, CourseID: cid,
			PricePaid: int64(p.PricePaid), PurchasedAt: p.PurchasedAt,
		}
		p.ID = pid.Hex()
		out[i] = p
	}
	if len(ps) == 0 {
		return out, nil
	}
	if _, err := s.coll.InsertMany(ctx, docs); err != nil {
		return nil, fmt.Errorf("purchases: insert many: %w", err)
	}
	for _, p := range out {
		s.index(p)
	}
	return out, nil
}

// ErrOutcomeUnknown answers an insert whose outcome is unknown: the database
// may have stored the purchase before it went away or timed out. Retrying
// is safe because a purchase is idempotent.
var ErrOutcomeUnknown = apperr.Unavailable("the database is unavailable and the purchase may have been recorded; "+
	"retrying is safe: purchaseCourse is idempotent and never records a purchase twice", 1, nil)

func outcomeUnknown(cause error) error {
	return fmt.Errorf("purchases: insert: %w (%w)", ErrOutcomeUnknown, cause)
}

// Find returns a user's purchase of a course (an _id read). Errors: NOT_FOUND.
func (s *MongoStore) Find(ctx context.Context, userID, courseID string) (Purchase, error) {
	uid, err1 := bson.ObjectIDFromHex(userID)
	cid, err2 := bson.ObjectIDFromHex(courseID)
	if err1 != nil || err2 != nil {
		return Purchase{}, errNotFound
	}
	return s.find(ctx, docKey(uid, cid))
}

// Bought returns which of courseIDs userID bought: one _id read per course
// on the embedded database (run concurrently), one {_id: {$in}} query on
// MongoDB. Never a scan; malformed ids are not bought.
func (s *MongoStore) Bought(ctx context.Context, userID string, courseIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(courseIDs))
	uid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		return out, nil
	}
	keys := make([]any, 0, len(courseIDs))
	for _, id := range courseIDs {
		if cid, err := bson.ObjectIDFromHex(id); err == nil {
			keys = append(keys, docKey(uid, cid))
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	var docs []purchaseDoc
	if s.byUser != nil {
		docs, err = mongodb.FindEachByID[purchaseDoc](ctx, s.coll, keys)
	} else {
		docs, err = s.findDocs(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}, nil)
	}
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		out[d.CourseID.Hex()] = true
	}
	return out, nil
}

func (s *MongoStore) find(ctx context.Context, key string) (Purchase, error) {
	var d purchaseDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return Purchase{}, errNotFound
	}
	if err != nil {
		return Purchase{}, fmt.Errorf("purchases: find: %w", err)
	}
	return d.toPurchase(), nil
}

var errNotFound = apperr.New(apperr.NotFound, "purchase not found")

func (s *MongoStore) findDocs(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]purchaseDoc, error) {
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("purchases: find: %w", err)
	}
	var docs []purchaseDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("purchases: find: %w", err)
	}
	return docs, nil
}

func userFilter(userID string) (bson.D, error) {
	uid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		return nil, fmt.Errorf("purchases: malformed user id: %w", err)
	}
	return bson.D{{Key: "userId", Value: uid}}, nil
}

// refill reads a stale user's purchases from the database into the index
// (the one query here that filters on more than _id, and only after a write
// of unknown outcome).
func (s *MongoStore) refill(ctx context.Context, userID string) error {
	mark, stale := s.byUser.Stale(userID)
	if !stale {
		return nil
	}
	f, err := userFilter(userID)
	if err != nil {
		return err
	}
	docs, err := s.findDocs(ctx, f, nil)
	if err != nil {
		return err
	}
	es := make([]memindex.Entry[Purchase], len(docs))
	for i, d := range docs {
		p := d.toPurchase()
		es[i] = memindex.Entry[Purchase]{ID: p.ID, Sort: p.ID, Value: p}
	}
	s.byUser.Refill(userID, mark, es)
	return nil
}

// List returns one newest-first page of a user's purchases: one query, or
// none from the in-process index. Errors: BAD_USER_INPUT (after).
func (s *MongoStore) List(ctx context.Context, userID string, args pagination.Args) (pagination.Page[Purchase], error) {
	after, err := mongodb.AfterID(args)
	if err != nil {
		return pagination.Page[Purchase]{}, err
	}
	if s.byUser != nil {
		if err := s.refill(ctx, userID); err != nil {
			return pagination.Page[Purchase]{}, err
		}
		es, more := s.byUser.Page(userID, args.After, args.First)
		page := pagination.Page[Purchase]{HasNextPage: more, Edges: make([]pagination.Edge[Purchase], len(es))}
		for i, e := range es {
			page.Edges[i] = pagination.Edge[Purchase]{Cursor: pagination.EncodeCursor(e.ID), Node: e.Value}
		}
		return page, nil
	}
	f, err := userFilter(userID)
	if err != nil {
		return pagination.Page[Purchase]{}, err
	}
	docs, err := s.findDocs(ctx, mongodb.PageFilter(f, "pid", after), mongodb.PageOptions("pid", args.First))
	if err != nil {
		return pagination.Page[Purchase]{}, err
	}
	page := pagination.NewPage(docs, args, func(d purchaseDoc) string { return d.PID.Hex() })
	return pagination.Map(page, purchaseDoc.toPurchase), nil
}

// Count counts a user's purchases.
func (s *MongoStore) Count(ctx context.Context, userID string) (int, error) {
	if s.byUser != nil {
		if err := s.refill(ctx, userID); err != nil {
			return 0, err
		}
		return s.byUser.Len(userID), nil
	}
	f, err := userFilter(userID)
	if err != nil {
		return 0, err
	}
	n, err := s.coll.CountDocuments(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("purchases: count: %w", err)
	}
	return int(n), nil
}
