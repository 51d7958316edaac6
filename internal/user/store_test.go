package user_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
	"github.com/coursehub/coursehub/internal/user"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

func mustStore(t *testing.T, db *mongo.Database, lookups mongodb.Lookups) *user.MongoStore {
	t.Helper()
	s := user.NewMongoStore(db, lookups)
	if err := s.EnsureIndexes(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return s
}

func newUser(email string) user.User {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return user.User{Email: email, Name: "N", Role: user.RoleUser, CreatedAt: now, UpdatedAt: now}
}

// Ensure one account per email under concurrent signups (the loser's user
// document is removed again), and the reads by id, ids and email.
func TestStore(t *testing.T) {
	for _, mode := range []mongodb.Lookups{mongodb.ServerIndexes, mongodb.InProcessIndexes} {
		t.Run(map[mongodb.Lookups]string{mongodb.ServerIndexes: "ServerIndexes", mongodb.InProcessIndexes: "InProcessIndexes"}[mode], func(t *testing.T) {
			ctx := context.Background()
			db := mongotest.NewDatabase(t)
			s := mustStore(t, db, mode)
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, lost := 0, 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.Insert(ctx, newUser("race@example.com"), "hash")
					mu.Lock()
					defer mu.Unlock()
					switch apperr.CodeOf(err) {
					case "":
						won++
					case apperr.Conflict:
						lost++
					default:
						t.Errorf("Insert: %v", err)
					}
				}()
			}
			wg.Wait()
			if won != 1 || lost != 7 {
				t.Fatalf("%d signups won, %d lost; want exactly one", won, lost)
			}
			if n, _ := db.Collection("users").CountDocuments(ctx, bson.D{}); n != 1 {
				t.Errorf("%d user documents, want 1 (losers remove theirs)", n)
			}
			u, hash, err := s.ByEmail(ctx, "race@example.com")
			if err != nil || hash != "hash" || u.PasswordVersion != user.PasswordVersion("hash") {
				t.Fatalf("ByEmail = %+v, %q, %v", u, hash, err)
			}
			if _, _, err := s.ByEmail(ctx, "nobody@example.com"); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("ByEmail of an unknown email = %v, want NOT_FOUND", err)
			}
			if got, err := s.ByID(ctx, u.ID); err != nil || got.Email != u.Email {
				t.Errorf("ByID = %+v, %v", got, err)
			}
			if _, err := s.ByID(ctx, "not-an-id"); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("ByID of a malformed id = %v, want NOT_FOUND", err)
			}
			other, err := s.Insert(ctx, newUser("other@example.com"), "h2")
			if err != nil {
				t.Fatal(err)
			}
			us, err := s.ByIDs(ctx, []string{u.ID, other.ID, bson.NewObjectID().Hex(), "bad"})
			if err != nil || len(us) != 2 {
				t.Errorf("ByIDs = %+v, %v; want the two users", us, err)
			}
		})
	}
}

// Ensure a database from before user_emails is migrated: every user can be
// found by email, the old unique index no longer stands in the way, and
// emails stay unique.
func TestStoreMigratesEmails(t *testing.T) {
	ctx := context.Background()
	db := mongotest.NewDatabase(t)
	users := db.Collection("users")
	if _, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique"),
	}); err != nil {
		t.Fatal(err)
	}
	id := bson.NewObjectID()
	if _, err := users.InsertOne(ctx, bson.D{
		{Key: "_id", Value: id}, {Key: "email", Value: "old@example.com"}, {Key: "name", Value: "Old"},
		{Key: "passwordHash", Value: "h"}, {Key: "role", Value: "USER"},
	}); err != nil {
		t.Fatal(err)
	}
	s := mustStore(t, db, mongodb.InProcessIndexes)
	u, _, err := s.ByEmail(ctx, "old@example.com")
	if err != nil || u.ID != id.Hex() {
		t.Fatalf("ByEmail of a user from before = %+v, %v", u, err)
	}
	if _, err := s.Insert(ctx, newUser("old@example.com"), "h"); apperr.CodeOf(err) != apperr.Conflict {
		t.Errorf("signup with a migrated email = %v, want CONFLICT", err)
	}
	mustStore(t, db, mongodb.InProcessIndexes) // a second start: nothing to do
}

// Ensure login's and the per-request check's reads are `{_id: value}`.
func TestStoreHotPathsAreIDReads(t *testing.T) {
	ctx := context.Background()
	db, filters := mongotest.NewRecordingDatabase(t)
	s := mustStore(t, db, mongodb.InProcessIndexes)
	u, err := s.Insert(ctx, newUser("hot@example.com"), "h")
	if err != nil {
		t.Fatal(err)
	}
	filters.Reset()
	if _, _, err := s.ByEmail(ctx, "hot@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ByIDs(ctx, []string{u.ID}); err != nil {
		t.Fatal(err)
	}
	if bad := filters.NotByID(); len(bad) > 0 {
		t.Errorf("commands that the embedded database answers by decoding the collection:\n%v", bad)
	}
}
