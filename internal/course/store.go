package course

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
	"github.com/coursehub/coursehub/internal/mongodb/memindex"
	"github.com/coursehub/coursehub/internal/pagination"
)

// courseDoc is a document in the courses collection. The _id is an ObjectID,
// so sorting by _id is newest first and a cursor is just the last _id.
type courseDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	Title       string        `bson:"title"`
	Description string        `bson:"description"`
	Price       int64         `bson:"price"`
	ImageLink   *string       `bson:"imageLink,omitempty"`
	Published   bool          `bson:"published"`
	CreatedBy   bson.ObjectID `bson:"createdBy"`
	CreatedAt   time.Time     `bson:"createdAt"`
	UpdatedAt   time.Time     `bson:"updatedAt"`
}

func (d courseDoc) toCourse() Course {
	return Course{
		ID: d.ID.Hex(), Title: d.Title, Description: d.Description, Price: int(d.Price),
		ImageLink: d.ImageLink, Published: d.Published, CreatedByID: d.CreatedBy.Hex(),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
}

// MongoStore is the Store on MongoDB and on the embedded database.
//
// An instructor's courses come from MongoDB's {createdBy, _id} index, or,
// with mongodb.InProcessIndexes, from an in-process index of course ids by
// creator (a course never changes creator and is never deleted), built with
// one scan at start, so that a page costs _id reads only.
type MongoStore struct {
	coll    *mongo.Collection
	lookups mongodb.Lookups
	// byCreator (InProcessIndexes only): creator id -> course ids.
	byCreator *memindex.Index[struct{}]
}

var _ Store = (*MongoStore)(nil)

// NewMongoStore returns a store over db's courses collection; lookups says
// how a batch of ids is read.
func NewMongoStore(db *mongo.Database, lookups mongodb.Lookups) *MongoStore {
	s := &MongoStore{coll: db.Collection("courses"), lookups: lookups}
	if lookups == mongodb.InProcessIndexes {
		s.byCreator = memindex.New[struct{}]()
	}
	return s
}

func (s *MongoStore) indexCreator(c Course) {
	if s.byCreator != nil {
		s.byCreator.Put(c.CreatedByID, memindex.Entry[struct{}]{ID: c.ID, Sort: c.ID})
	}
}

// ListByCreator returns a newest-first page of the courses creatorID
// created, drafts included. Errors: BAD_USER_INPUT (after).
func (s *MongoStore) ListByCreator(ctx context.Context, creatorID string, args pagination.Args) (pagination.Page[Course], error) {
	after, err := mongodb.AfterID(args)
	if err != nil {
		return pagination.Page[Course]{}, err
	}
	creator, err := bson.ObjectIDFromHex(creatorID)
	if err != nil {
		return pagination.Page[Course]{}, nil
	}
	if s.byCreator == nil {
		cs, err := s.find(ctx, mongodb.PageFilter(bson.D{{Key: "createdBy", Value: creator}}, "_id", after), mongodb.PageOptions("_id", args.First))
		if err != nil {
			return pagination.Page[Course]{}, err
		}
		return pagination.NewPage(cs, args, func(c Course) string { return c.ID }), nil
	}
	if err := s.refillCreator(ctx, creator); err != nil {
		return pagination.Page[Course]{}, err
	}
	es, more := s.byCreator.Page(creatorID, args.After, args.First)
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	cs, err := s.ByIDs(ctx, ids)
	if err != nil {
		return pagination.Page[Course]{}, err
	}
	byID := make(map[string]Course, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
	}
	page := pagination.Page[Course]{HasNextPage: more}
	for _, id := range ids {
		if c, ok := byID[id]; ok {
			page.Edges = append(page.Edges, pagination.Edge[Course]{Cursor: pagination.EncodeCursor(id), Node: c})
		}
	}
	return page, nil
}

// CountByCreator counts the courses creatorID created.
func (s *MongoStore) CountByCreator(ctx context.Context, creatorID string) (int, error) {
	creator, err := bson.ObjectIDFromHex(creatorID)
	if err != nil {
		return 0, nil
	}
	if s.byCreator != nil {
		if err := s.refillCreator(ctx, creator); err != nil {
			return 0, err
		}
		return s.byCreator.Len(creatorID), nil
	}
	n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "createdBy", Value: creator}})
	if err != nil {
		return 0, fmt.Errorf("courses: count by creator: %w", err)
	}
	return int(n), nil
}

// refillCreator rereads a creator's course ids after an insert of unknown
// outcome (the one scan here, and only then).
func (s *MongoStore) refillCreator(ctx context.Context, creator bson.ObjectID) error {
	mark, stale := s.byCreator.Stale(creator.Hex())
	if !stale {
		return nil
	}
	cs, err := s.find(ctx, bson.D{{Key: "createdBy", Value: creator}}, nil)
	if err != nil {
		return err
	}
	es := make([]memindex.Entry[struct{}], len(cs))
	for i, c := range cs {
		es[i] = memindex.Entry[struct{}]{ID: c.ID, Sort: c.ID}
	}
	s.byCreator.Refill(creator.Hex(), mark, es)
	return nil
}

// EnsureIndexes creates the index behind the public, newest-first listing.
// On the embedded database it builds the by-creator index with one scan.
func (s *MongoStore) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	if s.byCreator != nil {
		cs, err := s.find(ctx, bson.D{}, nil)
		if err != nil {
			return err
		}
		for _, c := range cs {
			s.indexCreator(c)
		}
	}
	return mongodb.CreateIndexes(ctx, s.coll, logger, mongo.IndexModel{
		Keys:    bson.D{{Key: "published", Value: 1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName("published_id"),
	}, mongo.IndexModel{
		Keys:    bson.D{{Key: "createdBy", Value: 1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName("createdBy_id"),
	})
}

// Insert stores a new course under a new ObjectID (so that _id order is
// creation order).
func (s *MongoStore) Insert(ctx context.Context, c Course) (Course, error) {
	creator, err := bson.ObjectIDFromHex(c.CreatedByID)
	if err != nil {
		return Course{}, fmt.Errorf("courses: insert: creator: %w", err)
	}
	id := bson.NewObjectID()
	_, err = s.coll.InsertOne(ctx, courseDoc{
		ID: id, Title: c.Title, Description: c.Description, Price: int64(c.Price),
		ImageLink: c.ImageLink, Published: c.Published, CreatedBy: creator,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	})
	if err != nil {
		if s.byCreator != nil {
			s.byCreator.MarkStale(c.CreatedByID) // it may have been stored
		}
		return Course{}, fmt.Errorf("courses: insert: %w", err)
	}
	c.ID = id.Hex()
	s.indexCreator(c)
	return c, nil
}

// InsertMany stores courses in bulk (seeding and imports), each under a new
// id, and returns them with their ids.
func (s *MongoStore) InsertMany(ctx context.Context, cs []Course) ([]Course, error) {
	docs := make([]any, len(cs))
	out := make([]Course, len(cs))
	for i, c := range cs {
		creator, err := bson.ObjectIDFromHex(c.CreatedByID)
		if err != nil {
			return nil, fmt.Errorf("courses: insert many: creator: %w", err)
		}
		id := bson.NewObjectID()
		docs[i] = courseDoc{
			ID: id, Title: c.Title, Description: c.Description, Price: int64(c.Price),
			ImageLink: c.ImageLink, Published: c.Published, CreatedBy: creator,
			CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		}
		c.ID = id.Hex()
		out[i] = c
	}
	if len(cs) == 0 {
		return out, nil
	}
	if _, err := s.coll.InsertMany(ctx, docs); err != nil {
		for _, c := range out {
			if s.byCreator != nil {
				s.byCreator.MarkStale(c.CreatedByID)
			}
		}
		return nil, fmt.Errorf("courses: insert many: %w", err)
	}
	for _, c := range out {
		s.indexCreator(c)
	}
	return out, nil
}

// ByID finds a course by id (an _id lookup).
// Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND.
func (s *MongoStore) ByID(ctx context.Context, id string) (Course, error) {
	oid, err := mongodb.ParseID("id", id)
	if err != nil {
		return Course{}, err
	}
	var d courseDoc
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return Course{}, errNotFound
	}
	if err != nil {
		return Course{}, fmt.Errorf("courses: by id: %w", err)
	}
	return d.toCourse(), nil
}

// ByIDs finds the courses among ids: one $in query on MongoDB, an _id read
// each (run concurrently) on the embedded database, which would decode
// every course for the $in.
func (s *MongoStore) ByIDs(ctx context.Context, ids []string) ([]Course, error) {
	oids := make([]any, 0, len(ids))
	for _, id := range ids {
		if oid, err := bson.ObjectIDFromHex(id); err == nil {
			oids = append(oids, oid)
		}
	}
	if len(oids) == 0 {
		return nil, nil
	}
	if s.lookups == mongodb.InProcessIndexes {
		docs, err := mongodb.FindEachByID[courseDoc](ctx, s.coll, oids)
		if err != nil {
			return nil, err
		}
		out := make([]Course, len(docs))
		for i, d := range docs {
			out[i] = d.toCourse()
		}
		return out, nil
	}
	return s.find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids}}}}, nil)
}

func (s *MongoStore) find(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]Course, error) {
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("courses: find: %w", err)
	}
	var docs []courseDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("courses: find: %w", err)
	}
	out := make([]Course, len(docs))
	for i, d := range docs {
		out[i] = d.toCourse()
	}
	return out, nil
}

// Update sets the given fields. An empty ImageLink removes the link.
// Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND.
func (s *MongoStore) Update(ctx context.Context, id string, in UpdateInput, now time.Time) (Course, error) {
	oid, err := mongodb.ParseID("id", id)
	if err != nil {
		return Course{}, err
	}
	set := bson.D{{Key: "updatedAt", Value: now}}
	var unset bson.D
	if in.Title != nil {
		set = append(set, bson.E{Key: "title", Value: *in.Title})
	}
	if in.Description != nil {
		set = append(set, bson.E{Key: "description", Value: *in.Description})
	}
	if in.Price != nil {
		set = append(set, bson.E{Key: "price", Value: int64(*in.Price)})
	}
	if in.Published != nil {
		set = append(set, bson.E{Key: "published", Value: *in.Published})
	}
	if in.ImageLink != nil {
		if *in.ImageLink == "" {
			unset = bson.D{{Key: "imageLink", Value: ""}}
		} else {
			set = append(set, bson.E{Key: "imageLink", Value: *in.ImageLink})
		}
	}
	update := bson.D{{Key: "$set", Value: set}}
	if unset != nil {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, update)
	if err != nil {
		return Course{}, fmt.Errorf("courses: update: %w", err)
	}
	if res.MatchedCount == 0 {
		return Course{}, errNotFound
	}
	return s.ByID(ctx, id)
}

func listFilter(publishedOnly bool) bson.D {
	if publishedOnly {
		return bson.D{{Key: "published", Value: true}}
	}
	return bson.D{}
}

// List returns one newest-first page: one query, fetching one extra document
// to learn whether there is a next page. Errors: BAD_USER_INPUT (after).
func (s *MongoStore) List(ctx context.Context, publishedOnly bool, args pagination.Args) (pagination.Page[Course], error) {
	after, err := mongodb.AfterID(args)
	if err != nil {
		return pagination.Page[Course]{}, err
	}
	courses, err := s.find(ctx, mongodb.PageFilter(listFilter(publishedOnly), "_id", after), mongodb.PageOptions("_id", args.First))
	if err != nil {
		return pagination.Page[Course]{}, err
	}
	return pagination.NewPage(courses, args, func(c Course) string { return c.ID }), nil
}

// Count counts courses.
func (s *MongoStore) Count(ctx context.Context, publishedOnly bool) (int, error) {
	n, err := s.coll.CountDocuments(ctx, listFilter(publishedOnly))
	if err != nil {
		return 0, fmt.Errorf("courses: count: %w", err)
	}
	return int(n), nil
}

var errNotFound = apperr.New(apperr.NotFound, "course not found")
