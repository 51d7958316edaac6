package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// tokenPurpose is what a mailed token may do.
type tokenPurpose string

const (
	purposeReset tokenPurpose = "reset"
	// purposeVerify proves the user's current address.
	purposeVerify tokenPurpose = "verify"
	// purposeChange proves a new address and moves the account to it.
	purposeChange tokenPurpose = "change"
	// purposeNone marks the token made for an unknown email: it is stored
	// like the others (the same work) and never accepted.
	purposeNone tokenPurpose = "none"
)

// The account_tokens collection holds three kinds of documents, all keyed
// by _id so that every read is an _id lookup and every race is settled by
// the unique _id:
//
//	"tok:"+hash              a token: purpose, user, address, expiry
//	"latest:"+purpose+":"+user  the newest token's hash ($set, last writer wins)
//	"used:"+hash             inserted on use: only one insert succeeds
//
// A token is accepted when it exists, is unexpired, is its user's latest of
// its purpose (so a newer request voids the older ones), and its "used"
// insert succeeds (so it works once).
type accountTokenDoc struct {
	ID        string    `bson:"_id"`
	Purpose   string    `bson:"purpose,omitempty"`
	UserID    string    `bson:"userId,omitempty"`
	Email     string    `bson:"email,omitempty"`
	Hash      string    `bson:"hash,omitempty"`
	CreatedAt time.Time `bson:"createdAt"`
	ExpiresAt time.Time `bson:"expiresAt"`
}

// accountToken is an accepted token.
type accountToken struct {
	Purpose tokenPurpose
	UserID  string
	Email   string
}

// AccountTokens stores the single-use tokens mailed for password resets
// and email verification, as SHA-256 hashes only.
type AccountTokens struct {
	coll *mongo.Collection
}

// NewAccountTokens returns the store over db's account_tokens collection.
func NewAccountTokens(db *mongo.Database) *AccountTokens {
	return &AccountTokens{coll: db.Collection("account_tokens")}
}

// EnsureIndexes creates a TTL index where the server has them.
func (t *AccountTokens) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	return mongodb.CreateIndexes(ctx, t.coll, logger,
		mongo.IndexModel{Keys: bson.D{{Key: "expiresAt", Value: 1}}, Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0)})
}

// issue stores a new token's hash and makes it the user's latest of its
// purpose, voiding earlier ones.
func (t *AccountTokens) issue(ctx context.Context, hash string, tok accountToken, now time.Time, ttl time.Duration) error {
	exp := now.Add(ttl)
	if _, err := t.coll.InsertOne(ctx, accountTokenDoc{
		ID: "tok:" + hash, Purpose: string(tok.Purpose), UserID: tok.UserID, Email: tok.Email, CreatedAt: now, ExpiresAt: exp,
	}); err != nil {
		return fmt.Errorf("account tokens: insert: %w", err)
	}
	latest := "latest:" + string(tok.Purpose) + ":" + tok.UserID
	if tok.Purpose == purposeNone {
		latest = "latest:none:" + hash
	}
	if _, err := t.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: latest}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "hash", Value: hash}, {Key: "createdAt", Value: now}, {Key: "expiresAt", Value: exp}}}},
		options.UpdateOne().SetUpsert(true)); err != nil {
		return fmt.Errorf("account tokens: set latest: %w", err)
	}
	return nil
}

var errTokenRefused = errors.New("account token refused")

// consume accepts a token once, returning errTokenRefused for an unknown,
// expired, voided or used one alike.
func (t *AccountTokens) consume(ctx context.Context, hash string, now time.Time) (accountToken, error) {
	var d accountTokenDoc
	err := t.coll.FindOne(ctx, bson.D{{Key: "_id", Value: "tok:" + hash}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return accountToken{}, errTokenRefused
	}
	if err != nil {
		return accountToken{}, fmt.Errorf("account tokens: by hash: %w", err)
	}
	p := tokenPurpose(d.Purpose)
	if !now.Before(d.ExpiresAt) || d.UserID == "" || p == purposeNone {
		return accountToken{}, errTokenRefused
	}
	var latest accountTokenDoc
	err = t.coll.FindOne(ctx, bson.D{{Key: "_id", Value: "latest:" + d.Purpose + ":" + d.UserID}}).Decode(&latest)
	if mongodb.IsNoDocuments(err) {
		return accountToken{}, errTokenRefused
	}
	if err != nil {
		return accountToken{}, fmt.Errorf("account tokens: latest: %w", err)
	}
	if latest.Hash != hash {
		return accountToken{}, errTokenRefused
	}
	_, err = t.coll.InsertOne(ctx, accountTokenDoc{ID: "used:" + hash, CreatedAt: now, ExpiresAt: d.ExpiresAt})
	if mongodb.IsDuplicateKey(err) {
		return accountToken{}, errTokenRefused
	}
	if err != nil {
		return accountToken{}, fmt.Errorf("account tokens: use: %w", err)
	}
	return accountToken{Purpose: p, UserID: d.UserID, Email: d.Email}, nil
}

// DeleteExpired removes tokens, latest markers and use records past their
// expiry: an expired token is refused anyway.
func (t *AccountTokens) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	r, err := t.coll.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("account tokens: delete expired: %w", err)
	}
	return r.DeletedCount, nil
}
