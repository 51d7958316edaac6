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
	Email        string        `bson:"email"` // normalised; user_emails holds the lookup
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

// emailDoc is a document in the user_emails collection: the lookup of a
// user by normalised email, keyed by that email. Its _id makes one account
// per email hold under concurrent signups on every backend, and makes a
// login's lookup an _id read (the embedded database decodes the whole users
// collection for a filter on email).
type emailDoc struct {
	Email  string        `bson:"_id"`
	UserID bson.ObjectID `bson:"userId"`
}

// MongoStore is the Store on MongoDB and on the embedded database.
type MongoStore struct {
	db      *mongo.Database
	coll    *mongo.Collection
	emails  *mongo.Collection
	lookups mongodb.Lookups
}

var _ Store = (*MongoStore)(nil)

// NewMongoStore returns a store over db's users and user_emails
// collections; lookups says how a batch of ids is read.
func NewMongoStore(db *mongo.Database, lookups mongodb.Lookups) *MongoStore {
	return &MongoStore{db: db, coll: db.Collection("users"), emails: db.Collection("user_emails"), lookups: lookups}
}

// EnsureIndexes migrates a database from before user_emails: it gives every
// user their email document and drops the unique email index, whose job
// the email documents' _id does now. Nothing else needs an index: every
// read is by _id.
func (s *MongoStore) EnsureIndexes(ctx context.Context, _ *slog.Logger) error {
	return mongodb.Migrate(ctx, s.db, "users.emails", func(ctx context.Context) error {
		if err := mongodb.DropIndex(ctx, s.coll, "email_unique"); err != nil {
			return err
		}
		cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "email", Value: 1}}))
		if err != nil {
			return fmt.Errorf("users: migrate: %w", err)
		}
		var docs []userDoc
		if err := cur.All(ctx, &docs); err != nil {
			return fmt.Errorf("users: migrate: %w", err)
		}
		for _, d := range docs {
			_, err := s.emails.InsertOne(ctx, emailDoc{Email: d.Email, UserID: d.ID})
			if err != nil && !mongodb.IsDuplicateKey(err) {
				return fmt.Errorf("users: migrate: %w", err)
			}
		}
		return nil
	})
}

// Insert stores a new user, then claims the email with an _id insert. The
// loser of two signups with one email deletes its user document again. A
// user document whose claim never got written (the database went away in
// between) has no email anyone can sign in with: it is inert, and the
// email stays free.
// Errors: CONFLICT when the email is taken.
func (s *MongoStore) Insert(ctx context.Context, u User, passwordHash string) (User, error) {
	id := bson.NewObjectID()
	_, err := s.coll.InsertOne(ctx, userDoc{
		ID: id, Email: u.Email, Name: u.Name, PasswordHash: passwordHash,
		Role: string(u.Role), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	})
	if err != nil {
		return User{}, fmt.Errorf("users: insert: %w", err)
	}
	_, err = s.emails.InsertOne(ctx, emailDoc{Email: u.Email, UserID: id})
	if mongodb.IsDuplicateKey(err) {
		if _, derr := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); derr != nil {
			return User{}, fmt.Errorf("users: insert: remove the loser of an email race: %w", derr)
		}
		return User{}, errEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("users: insert: claim the email: %w", err)
	}
	u.ID = id.Hex()
	return u, nil
}

// InsertMany stores users in bulk (seeding and imports; not for signups,
// which must settle each email race): each gets a new id and its email
// document. They must be new and their emails free. It returns them with
// their ids.
func (s *MongoStore) InsertMany(ctx context.Context, us []User, passwordHash string) ([]User, error) {
	docs, emails := make([]any, len(us)), make([]any, len(us))
	out := make([]User, len(us))
	for i, u := range us {
		id := bson.NewObjectID()
		docs[i] = userDoc{
			ID: id, Email: u.Email, Name: u.Name, PasswordHash: passwordHash,
			Role: string(u.Role), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		}
		emails[i] = emailDoc{Email: u.Email, UserID: id}
		u.ID, u.PasswordVersion = id.Hex(), PasswordVersion(passwordHash)
		out[i] = u
	}
	if len(us) == 0 {
		return out, nil
	}
	if _, err := s.coll.InsertMany(ctx, docs); err != nil {
		return nil, fmt.Errorf("users: insert many: %w", err)
	}
	if _, err := s.emails.InsertMany(ctx, emails); err != nil {
		return nil, fmt.Errorf("users: insert many: emails: %w", err)
	}
	return out, nil
}

var errEmailTaken = apperr.New(apperr.Conflict, "an account with this email already exists")

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

// ByIDs finds the users among ids: one $in query on MongoDB, an _id read
// each on the embedded database. Unknown and malformed ids are skipped.
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
	noHash := bson.D{{Key: "passwordHash", Value: 0}}
	var docs []userDoc
	if s.lookups == mongodb.InProcessIndexes {
		ids := make([]any, len(oids))
		for i, o := range oids {
			ids[i] = o
		}
		var err error
		if docs, err = mongodb.FindEachByID[userDoc](ctx, s.coll, ids, options.FindOne().SetProjection(noHash)); err != nil {
			return nil, err
		}
	} else {
		cur, err := s.coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids}}}},
			options.Find().SetProjection(noHash))
		if err != nil {
			return nil, fmt.Errorf("users: by ids: %w", err)
		}
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("users: by ids: %w", err)
		}
	}
	out := make([]User, len(docs))
	for i, d := range docs {
		out[i] = d.toUser()
	}
	return out, nil
}

// ByEmail finds a user and their password hash by normalised email: two _id
// reads, the email document and then the user. Errors: NOT_FOUND.
func (s *MongoStore) ByEmail(ctx context.Context, email string) (User, string, error) {
	var e emailDoc
	err := s.emails.FindOne(ctx, bson.D{{Key: "_id", Value: email}}).Decode(&e)
	if mongodb.IsNoDocuments(err) {
		return User{}, "", errNotFound
	}
	if err != nil {
		return User{}, "", fmt.Errorf("users: by email: %w", err)
	}
	d, err := s.doc(ctx, e.UserID)
	if err != nil {
		return User{}, "", err
	}
	if d.Email != email {
		// A claim left by an email change cut short (see SetEmail).
		return User{}, "", errNotFound
	}
	return d.toUser(), d.PasswordHash, nil
}

// doc reads a user document by _id. Errors: NOT_FOUND.
func (s *MongoStore) doc(ctx context.Context, id bson.ObjectID) (userDoc, error) {
	var d userDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return userDoc{}, errNotFound
	}
	if err != nil {
		return userDoc{}, fmt.Errorf("users: by id: %w", err)
	}
	return d, nil
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
//
// The new address is claimed first, with an _id insert into user_emails: of
// two accounts changing to one address only one insert succeeds, and the
// other gets CONFLICT. Then the user document takes the address, and the
// old address's claim is released. A change cut short after the claim
// leaves the new address claimed by this user, and the next try goes on
// from there; ByEmail ignores a claim its user document does not match.
func (s *MongoStore) SetEmail(ctx context.Context, id, email string, now time.Time) error {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return errNotFound
	}
	d, err := s.doc(ctx, oid)
	if err != nil {
		return err
	}
	if d.Email == email {
		return s.setByID(ctx, id, "set email", bson.D{{Key: "verifiedEmail", Value: email}, {Key: "updatedAt", Value: now}})
	}
	if _, err := s.emails.InsertOne(ctx, emailDoc{Email: email, UserID: oid}); mongodb.IsDuplicateKey(err) {
		var holder emailDoc
		if ferr := s.emails.FindOne(ctx, bson.D{{Key: "_id", Value: email}}).Decode(&holder); ferr != nil || holder.UserID != oid {
			return errEmailTaken
		}
	} else if err != nil {
		return fmt.Errorf("users: set email: claim the address: %w", err)
	}
	if err := s.setByID(ctx, id, "set email", bson.D{{Key: "email", Value: email}, {Key: "verifiedEmail", Value: email}, {Key: "updatedAt", Value: now}}); err != nil {
		return err
	}
	if _, err := s.emails.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.Email}, {Key: "userId", Value: oid}}); err != nil {
		return fmt.Errorf("users: set email: release the old address: %w", err)
	}
	return nil
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
