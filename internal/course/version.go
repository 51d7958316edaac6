package course

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// catalogVersionID is the _id of the catalogue's version document: reading
// it is an _id lookup, the one filter every backend answers cheaply.
const catalogVersionID = "courses"

// MongoVersions keeps the catalogue's version in one document of the
// versions collection.
type MongoVersions struct {
	coll *mongo.Collection
}

var _ Versions = (*MongoVersions)(nil)

// NewMongoVersions returns Versions over db's versions collection.
func NewMongoVersions(db *mongo.Database) *MongoVersions {
	return &MongoVersions{coll: db.Collection("versions")}
}

// Current returns the version, "" if it was never bumped.
func (v *MongoVersions) Current(ctx context.Context) (string, error) {
	var d struct {
		V string `bson:"v"`
	}
	err := v.coll.FindOne(ctx, bson.D{{Key: "_id", Value: catalogVersionID}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("versions: read: %w", err)
	}
	return d.V, nil
}

// Bump sets the version to a fresh random value. Concurrent bumps need no
// read-modify-write: whichever lands last, the value differs from every one
// read before.
func (v *MongoVersions) Bump(ctx context.Context) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	filter := bson.D{{Key: "_id", Value: catalogVersionID}}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: hex.EncodeToString(b[:])}}}}
	_, err := v.coll.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if mongodb.IsDuplicateKey(err) {
		// Two first bumps raced to insert the document; it exists now.
		_, err = v.coll.UpdateOne(ctx, filter, update)
	}
	if err != nil {
		return fmt.Errorf("versions: bump: %w", err)
	}
	return nil
}
