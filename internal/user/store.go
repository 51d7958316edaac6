package user

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
)

// userDoc is the shape of a document in the users collection.
type userDoc struct {
	ID           bson.ObjectID `bson:"_id"`
	Email        string        `bson:"email"` // trimmed, lower-cased; unique index
	Name         string        `bson:"name"`
	PasswordHash string        `bson:"passwordHash"`
	Role         string        `bson:"role"`
	CreatedAt    time.Time     `bson:"createdAt"`
	UpdatedAt    time.Time     `bson:"updatedAt"`
	// PasswordSetBy is the session that set passwordHash, if a session did.
	PasswordSetBy string `bson:"passwordSetBy,omitempty"`
	// VerifiedEmail is the last address a mailed link proved. The email is
	// verified while it equals Email: a change of Email unverifies it with
	// no read-modify-write.
	VerifiedEmail string `bson:"verifiedEmail,omitempty"`
}

func (d userDoc) toUser() User {
	return User{
		ID: d.ID.Hex(), Name: d.Name, Email: d.Email, Role: Role(d.Role),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		PasswordVersion: PasswordVersion(d.PasswordHash), PasswordSetBy: d.PasswordSetBy,
		EmailVerified: d.VerifiedEmail != "" && d.VerifiedEmail == d.Email,
	}
}

// PasswordVersion derives a password's version from its hash: bcrypt salts
// every hash afresh, so setting even the same password again changes it.
// Only a digest is handed around, never the hash itself.
func PasswordVersion(hash string) string {
	if hash == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(sum[:12])
}

// MongoStore is the Store on MongoDB.
type MongoStore struct {
	coll *mongo.Collection
}

var _ Store = (*MongoStore)(nil)

// NewMongoStore returns a store over db's users collection.
func NewMongoStore(db *mongo.Database) *MongoStore {
	return &MongoStore{coll: db.Collection("users")}
}

// EnsureIndexes creates the unique email index that makes one account per
// email hold under concurrent signups.
func (s *MongoStore) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	return mongodb.CreateIndexes(ctx, s.coll, logger, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("email_unique"),
	})
}

// Insert stores a new user. Errors: CONFLICT when the email is taken.
func (s *MongoStore) Insert(ctx context.Context, u User, passwordHash string) error {
	id, err := bson.ObjectIDFromHex(u.ID)
	if err != nil {
		return fmt.Errorf("users: insert: %w", err)
	}
	_, err = s.coll.InsertOne(ctx, userDoc{
		ID: id, Email: u.Email, Name: u.Name, PasswordHash: passwordHash,
		Role: string(u.Role), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	})
	if mongodb.IsDuplicateKey(err) {
		return apperr.New(apperr.Conflict, "an account with this email already exists")
	}
	if err != nil {
		return fmt.Errorf("users: insert: %w", err)
	}
	return nil
}

// ByID finds a user by id (an _id lookup). Errors: NOT_FOUND, also for a
// malformed id.
func (s *MongoStore) ByID(ctx context.Context, id string) (User, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return User{}, errNotFound
	}
	var d userDoc
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return User{}, errNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("users: by id: %w", err)
	}
	return d.toUser(), nil
}

// ByIDs finds the users among ids in one query; unknown and malformed ids are
// skipped.
func (s *MongoStore) ByIDs(ctx context.Context, ids []string) ([]User, error) {
	oids := make([]bson.ObjectID, 0, len(ids))
	for _, id := range ids {
		if oid, err := bson.ObjectIDFromHex(id); err == nil {
			oids = append(oids, oid)
		}
	}
	if len(oids) == 0 {
		return nil, nil
	}
	cur, err := s.coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids}}}},
		options.Find().SetProjection(bson.D{{Key: "passwordHash", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("users: by ids: %w", err)
	}
	var docs []userDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("users: by ids: %w", err)
	}
	out := make([]User, len(docs))
	for i, d := range docs {
		out[i] = d.toUser()
	}
	return out, nil
}

// ByEmail finds a user and their password hash by normalised email.
// Errors: NOT_FOUND.
func (s *MongoStore) ByEmail(ctx context.Context, email string) (User, string, error) {
	var d userDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "email", Value: email}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return User{}, "", errNotFound
	}
	if err != nil {
		return User{}, "", fmt.Errorf("users: by email: %w", err)
	}
	return d.toUser(), d.PasswordHash, nil
}

// SetRole sets a user's role and returns the updated user.
// Errors: BAD_USER_INPUT (malformed id), NOT_FOUND.
func (s *MongoStore) SetRole(ctx context.Context, id string, role Role, now time.Time) (User, error) {
	oid, err := mongodb.ParseID("userId", id)
	if err != nil {
		return User{}, err
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: string(role)}, {Key: "updatedAt", Value: now}}}})
	if err != nil {
		return User{}, fmt.Errorf("users: set role: %w", err)
	}
	if res.MatchedCount == 0 {
		return User{}, errNotFound
	}
	return s.ByID(ctx, id)
}

// PasswordHash returns a user's password hash. Errors: NOT_FOUND.
func (s *MongoStore) PasswordHash(ctx context.Context, id string) (string, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return "", errNotFound
	}
	var d userDoc
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return "", errNotFound
	}
	if err != nil {
		return "", fmt.Errorf("users: password hash: %w", err)
	}
	return d.PasswordHash, nil
}

// SetPasswordHash stores a new password hash set by session bySession, in
// one single-document update. Errors: NOT_FOUND.
func (s *MongoStore) SetPasswordHash(ctx context.Context, id, hash, bySession string, now time.Time) error {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return errNotFound
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "passwordHash", Value: hash}, {Key: "passwordSetBy", Value: bySession}, {Key: "updatedAt", Value: now},
		}}})
	if err != nil {
		return fmt.Errorf("users: set password: %w", err)
	}
	if res.MatchedCount == 0 {
		return errNotFound
	}
	return nil
}

// SetEmailVerified records email as proved. Errors: NOT_FOUND.
func (s *MongoStore) SetEmailVerified(ctx context.Context, id, email string, now time.Time) error {
	return s.setByID(ctx, id, "set verified email", bson.D{{Key: "verifiedEmail", Value: email}, {Key: "updatedAt", Value: now}})
}

// SetEmail changes the email to a proved address; the unique email index
// decides a race for one address. Errors: NOT_FOUND, CONFLICT.
func (s *MongoStore) SetEmail(ctx context.Context, id, email string, now time.Time) error {
	err := s.setByID(ctx, id, "set email", bson.D{{Key: "email", Value: email}, {Key: "verifiedEmail", Value: email}, {Key: "updatedAt", Value: now}})
	if mongodb.IsDuplicateKey(err) {
		return apperr.New(apperr.Conflict, "an account with this email already exists")
	}
	return err
}

func (s *MongoStore) setByID(ctx context.Context, id, what string, set bson.D) error {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return errNotFound
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("users: %s: %w", what, err)
	}
	if res.MatchedCount == 0 {
		return errNotFound
	}
	return nil
}

var errNotFound = apperr.New(apperr.NotFound, "user not found")
