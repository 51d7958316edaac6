package mongodb

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/pagination"
)

// AfterID is the ObjectID a page resumes after (zero from the start).
// Errors: BAD_USER_INPUT (after) for a key that is not an ObjectID.
func AfterID(a pagination.Args) (bson.ObjectID, error) {
	if a.After == "" {
		return bson.ObjectID{}, nil
	}
	id, err := bson.ObjectIDFromHex(a.After)
	if err != nil || id.IsZero() {
		return bson.ObjectID{}, pagination.ErrBadCursor
	}
	return id, nil
}

// PageFilter adds "after the cursor" on field to a newest-first query.
func PageFilter(f bson.D, field string, after bson.ObjectID) bson.D {
	if after.IsZero() {
		return f
	}
	return append(f, bson.E{Key: field, Value: bson.D{{Key: "$lt", Value: after}}})
}

// PageOptions sorts newest first on field and fetches one document more
// than the page holds, to learn whether there is a next page without a
// second query.
func PageOptions(field string, first int) *options.FindOptionsBuilder {
	return options.Find().SetSort(bson.D{{Key: field, Value: -1}}).SetLimit(int64(first + 1))
}

// maxParallelReads bounds the _id reads FindEachByID runs at once: enough to
// hide a round trip, few enough not to crowd out other requests.
const maxParallelReads = 8

// FindEachByID reads the documents with the given _ids, one `{_id: id}`
// read each, run concurrently, and returns those that exist in the order of
// ids. It is how the embedded database is asked for a batch: it pushes down
// only an exact `{_id: value}`, so `{_id: {$in: ...}}` would decode the
// whole collection.
func FindEachByID[T any](ctx context.Context, coll *mongo.Collection, ids []any, opts ...options.Lister[options.FindOneOptions]) ([]T, error) {
	docs := make([]*T, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, maxParallelReads)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var d T
			err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts...).Decode(&d)
			switch {
			case IsNoDocuments(err):
			case err != nil:
				errs[i] = err
			default:
				docs[i] = &d
			}
		}()
	}
	wg.Wait()
	out := make([]T, 0, len(ids))
	for i, d := range docs {
		if errs[i] != nil {
			return nil, fmt.Errorf("%s: by id: %w", coll.Name(), errs[i])
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}
