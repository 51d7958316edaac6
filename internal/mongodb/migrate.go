package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// migrationDoc records, in the migrations collection, that a migration ran
// to its end.
type migrationDoc struct {
	Name string    `bson:"_id"`
	At   time.Time `bson:"at"`
}

// Migrate runs migrate unless db records it as done, then records it. The
// record is written only after migrate returns nil, so a migration cut
// short runs again at the next start: migrations must be idempotent, and
// safe to run on several instances starting at once (they may all run it).
func Migrate(ctx context.Context, db *mongo.Database, name string, migrate func(context.Context) error) error {
	coll := db.Collection("migrations")
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Err()
	if err == nil {
		return nil
	}
	if !IsNoDocuments(err) {
		return fmt.Errorf("mongodb: migration %s: %w", name, err)
	}
	if err := migrate(ctx); err != nil {
		return fmt.Errorf("mongodb: migration %s: %w", name, err)
	}
	_, err = coll.InsertOne(ctx, migrationDoc{Name: name, At: time.Now().UTC()})
	if err != nil && !IsDuplicateKey(err) {
		return fmt.Errorf("mongodb: migration %s: record: %w", name, err)
	}
	return nil
}

// DropIndex drops coll's index name if it exists.
func DropIndex(ctx context.Context, coll *mongo.Collection, name string) error {
	err := coll.Indexes().DropOne(ctx, name)
	var ce mongo.CommandError
	// 27 IndexNotFound; 26 NamespaceNotFound (no collection yet).
	if err == nil || errors.As(err, &ce) && (ce.Code == 27 || ce.Code == 26 || ce.Name == "IndexNotFound") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mongodb: drop index %s on %s: %w", name, coll.Name(), err)
	}
	return nil
}
