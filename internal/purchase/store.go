package purchase

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/pagination"
)

// purchaseDoc is a document in the purchases collection.
type purchaseDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	UserID      bson.ObjectID `bson:"userId"`
	CourseID    bson.ObjectID `bson:"courseId"`
	PricePaid   int64         `bson:"pricePaid"`
	PurchasedAt time.Time     `bson:"purchasedAt"`
}

func (d purchaseDoc) toPurchase() Purchase {
	return Purchase{
		ID: d.ID.Hex(), UserID: d.UserID.Hex(), CourseID: d.CourseID.Hex(),
		PricePaid: int(d.PricePaid), PurchasedAt: d.PurchasedAt.UTC(),
	}
}

// MongoStore is the Store on MongoDB.
type MongoStore struct {
	coll *mongo.Collection
}

var _ Store = (*MongoStore)(nil)

// NewMongoStore returns a store over db's purchases collection.
func NewMongoStore(db *mongo.Database) *MongoStore {
	return &MongoStore{coll: db.Collection("purchases")}
}

// EnsureIndexes creates the unique (user, course) index that makes a purchase
// idempotent, and the index behind a user's newest-first list.
func (s *MongoStore) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	return mongodb.CreateIndexes(ctx, s.coll, logger,
		mongo.IndexModel{
			Keys:    bson.D{{Key: "userId", Value: 1}, {Key: "courseId", Value: 1}},
			Options: options.Index().SetUnique(true).SetName("user_course_unique"),
		},
		mongo.IndexModel{
			Keys:    bson.D{{Key: "userId", Value: 1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("user_id"),
		},
	)
}

// Insert stores p, or returns the purchase that won the unique index.
func (s *MongoStore) Insert(ctx context.Context, p Purchase) (Purchase, bool, error) {
	p.ID = bson.NewObjectID().Hex()
	d, err := toDoc(p)
	if err != nil {
		return Purchase{}, false, err
	}
	_, err = s.coll.InsertOne(ctx, d)
	if err == nil {
		return p, true, nil
	}
	if !mongodb.IsDuplicateKey(err) {
		// Past its deadline, or cut off by the database's loss, the insert
		// may still have been applied.
		if mongodb.IsUnavailable(err) || ctx.Err() != nil {
			return Purchase{}, false, outcomeUnknown(err)
		}
		return Purchase{}, false, fmt.Errorf("purchases: insert: %w", err)
	}
	existing, err := s.find(ctx, d.UserID, d.CourseID)
	if err != nil {
		if mongodb.IsUnavailable(err) {
			// Recorded, by a concurrent call, but we cannot say so.
			return Purchase{}, false, outcomeUnknown(err)
		}
		return Purchase{}, false, fmt.Errorf("purchases: read the existing purchase: %w", err)
	}
	return existing, false, nil
}

// ErrOutcomeUnknown answers an insert whose outcome is unknown: the database
// may have stored the purchase before it went away or timed out. Retrying
// is safe because a purchase is idempotent.
var ErrOutcomeUnknown = apperr.Unavailable("the database is unavailable and the purchase may have been recorded; "+
	"retrying is safe: purchaseCourse is idempotent and never records a purchase twice", 1, nil)

func outcomeUnknown(cause error) error {
	return fmt.Errorf("purchases: insert: %w (%w)", ErrOutcomeUnknown, cause)
}

// Find returns a user's purchase of a course. Errors: NOT_FOUND.
func (s *MongoStore) Find(ctx context.Context, userID, courseID string) (Purchase, error) {
	uid, err1 := bson.ObjectIDFromHex(userID)
	cid, err2 := bson.ObjectIDFromHex(courseID)
	if err1 != nil || err2 != nil {
		return Purchase{}, errNotFound
	}
	return s.find(ctx, uid, cid)
}

func (s *MongoStore) find(ctx context.Context, uid, cid bson.ObjectID) (Purchase, error) {
	var d purchaseDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "userId", Value: uid}, {Key: "courseId", Value: cid}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return Purchase{}, errNotFound
	}
	if err != nil {
		return Purchase{}, fmt.Errorf("purchases: find: %w", err)
	}
	return d.toPurchase(), nil
}

var errNotFound = apperr.New(apperr.NotFound, "purchase not found")

func toDoc(p Purchase) (purchaseDoc, error) {
	id, err1 := bson.ObjectIDFromHex(p.ID)
	uid, err2 := bson.ObjectIDFromHex(p.UserID)
	cid, err3 := bson.ObjectIDFromHex(p.CourseID)
	if err1 != nil || err2 != nil || err3 != nil {
		return purchaseDoc{}, fmt.Errorf("purchases: malformed ids in %+v", p)
	}
	return purchaseDoc{ID: id, UserID: uid, CourseID: cid, PricePaid: int64(p.PricePaid), PurchasedAt: p.PurchasedAt}, nil
}

func userFilter(userID string) (bson.D, error) {
	uid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		return nil, fmt.Errorf("purchases: malformed user id: %w", err)
	}
	return bson.D{{Key: "userId", Value: uid}}, nil
}

// List returns one newest-first page of a user's purchases in one query.
func (s *MongoStore) List(ctx context.Context, userID string, args pagination.Args) (pagination.Page[Purchase], error) {
	f, err := userFilter(userID)
	if err != nil {
		return pagination.Page[Purchase]{}, err
	}
	after, err := mongodb.AfterID(args)
	if err != nil {
		return pagination.Page[Purchase]{}, err
	}
	cur, err := s.coll.Find(ctx, mongodb.PageFilter(f, "_id", after), mongodb.PageOptions("_id", args.First))
	if err != nil {
		return pagination.Page[Purchase]{}, fmt.Errorf("purchases: list: %w", err)
	}
	var docs []purchaseDoc
	if err := cur.All(ctx, &docs); err != nil {
		return pagination.Page[Purchase]{}, fmt.Errorf("purchases: list: %w", err)
	}
	page := pagination.NewPage(docs, args, func(d purchaseDoc) string { return d.ID.Hex() })
	out := pagination.Page[Purchase]{HasNextPage: page.HasNextPage, Edges: make([]pagination.Edge[Purchase], len(page.Edges))}
	for i, e := range page.Edges {
		out.Edges[i] = pagination.Edge[Purchase]{Cursor: e.Cursor, Node: e.Node.toPurchase()}
	}
	return out, nil
}

// Count counts a user's purchases.
func (s *MongoStore) Count(ctx context.Context, userID string) (int, error) {
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
