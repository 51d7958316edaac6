package purchase_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
	"github.com/coursehub/coursehub/internal/pagination"
	"github.com/coursehub/coursehub/internal/purchase"
)

var lookupModes = []struct {
	name    string
	lookups mongodb.Lookups
}{{"ServerIndexes", mongodb.ServerIndexes}, {"InProcessIndexes", mongodb.InProcessIndexes}}

func mustStore(t *testing.T, db *mongo.Database, lookups mongodb.Lookups) *purchase.MongoStore {
	t.Helper()
	s := purchase.NewMongoStore(db, lookups)
	if err := s.EnsureIndexes(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return s
}

func at(sec int) time.Time { return time.Unix(1_700_000_000+int64(sec), 0).UTC() }

// Ensure the store's contract on both lookup modes: an insert is
// idempotent per user and course, Find reads it, and a user's list pages
// newest first with a total count, other users' purchases apart.
func TestStore(t *testing.T) {
	for _, mode := range lookupModes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			db := mongotest.NewDatabase(t)
			s := mustStore(t, db, mode.lookups)
			user, other := bson.NewObjectID().Hex(), bson.NewObjectID().Hex()
			var courses []string
			for i := range 5 {
				c := bson.NewObjectID().Hex()
				courses = append(courses, c)
				if _, created, err := s.Insert(ctx, purchase.Purchase{UserID: user, CourseID: c, PricePaid: 100 + i, PurchasedAt: at(i)}); err != nil || !created {
					t.Fatalf("Insert %d = %v, created %v", i, err, created)
				}
			}
			if _, _, err := s.Insert(ctx, purchase.Purchase{UserID: other, CourseID: courses[0], PricePaid: 1, PurchasedAt: at(9)}); err != nil {
				t.Fatal(err)
			}
			again, created, err := s.Insert(ctx, purchase.Purchase{UserID: user, CourseID: courses[2], PricePaid: 999, PurchasedAt: at(99)})
			if err != nil || created || again.PricePaid != 102 {
				t.Fatalf("repeat Insert = %+v, created %v, %v; want the first purchase", again, created, err)
			}
			found, err := s.Find(ctx, user, courses[2])
			if err != nil || found.ID != again.ID || found.CourseID != courses[2] {
				t.Fatalf("Find = %+v, %v", found, err)
			}
			if _, err := s.Find(ctx, other, courses[1]); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("Find of a purchase never made = %v, want NOT_FOUND", err)
			}

			var got []string
			args := pagination.Args{First: 2}
			for {
				page, err := s.List(ctx, user, args)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page.Edges {
					got = append(got, e.Node.CourseID)
				}
				if !page.HasNextPage {
					break
				}
				args.After, err = pagination.DecodeCursor(*page.EndCursor())
				if err != nil {
					t.Fatal(err)
				}
			}
			want := []string{courses[4], courses[3], courses[2], courses[1], courses[0]}
			if len(got) != len(want) {
				t.Fatalf("listed %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("listed %v, want newest first %v", got, want)
				}
			}
			if n, err := s.Count(ctx, user); err != nil || n != 5 {
				t.Errorf("Count = %d, %v; want 5", n, err)
			}
			if _, err := s.List(ctx, user, pagination.Args{First: 2, After: "ffffffffffffffffffffffff"[:23] + "g"}); apperr.CodeOf(err) != apperr.BadUserInput {
				t.Errorf("List after a key no store made = %v, want BAD_USER_INPUT", err)
			}

			// A restart builds the same answers from the database.
			s2 := mustStore(t, db, mode.lookups)
			if n, err := s2.Count(ctx, user); err != nil || n != 5 {
				t.Errorf("Count after a restart = %d, %v; want 5", n, err)
			}
		})
	}
}

// Ensure the hot paths send the embedded database nothing but exact
// `{_id: value}` filters: the purchase (its read and its idempotent
// insert), Find, a user's page and its count.
func TestStoreHotPathsAreIDReads(t *testing.T) {
	ctx := context.Background()
	db, filters := mongotest.NewRecordingDatabase(t)
	s := mustStore(t, db, mongodb.InProcessIndexes)
	user, c := bson.NewObjectID().Hex(), bson.NewObjectID().Hex()
	filters.Reset()
	for range 2 {
		if _, _, err := s.Insert(ctx, purchase.Purchase{UserID: user, CourseID: c, PricePaid: 1, PurchasedAt: at(0)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Find(ctx, user, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, user, pagination.Args{First: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Count(ctx, user); err != nil {
		t.Fatal(err)
	}
	if bad := filters.NotByID(); len(bad) > 0 {
		t.Errorf("commands that the embedded database answers by decoding the collection:\n%v", bad)
	}
}

// Ensure an insert of unknown outcome (cut off by its deadline, as when a
// client goes away) is settled by an _id read, not by refilling the user's
// index with a filter the embedded database answers by decoding the whole
// collection: under load such refills piled up and starved the server.
func TestStoreUnknownOutcomeSettledByID(t *testing.T) {
	db, filters := mongotest.NewRecordingDatabase(t)
	s := mustStore(t, db, mongodb.InProcessIndexes)
	user := bson.NewObjectID().Hex()
	cut, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, _, err := s.Insert(cut, purchase.Purchase{UserID: user, CourseID: bson.NewObjectID().Hex(), PricePaid: 1, PurchasedAt: at(0)}); apperr.CodeOf(err) != "SERVICE_UNAVAILABLE" {
		t.Fatalf("Insert past its deadline = %v, want SERVICE_UNAVAILABLE", err)
	}
	kept := purchase.Purchase{UserID: user, CourseID: bson.NewObjectID().Hex(), PricePaid: 2, PurchasedAt: at(1)}
	if _, _, err := s.Insert(context.Background(), kept); err != nil {
		t.Fatal(err)
	}
	filters.Reset()
	for _, when := range []string{"before the settling read", "after it"} {
		page, err := s.List(context.Background(), user, pagination.Args{First: 10})
		if err != nil || len(page.Edges) != 1 || page.Edges[0].Node.PricePaid != 2 {
			t.Errorf("%s: List = %+v, %v; want the one recorded purchase", when, page, err)
		}
		if n, err := s.Count(context.Background(), user); err != nil || n != 1 {
			t.Errorf("%s: Count = %d, %v; want 1", when, n, err)
		}
		if bad := filters.NotByID(); len(bad) > 0 {
			t.Errorf("%s: commands the embedded database answers by decoding the collection:\n%v", when, bad)
		}
		time.Sleep(800 * time.Millisecond) // past settleDelay
	}
}

// Ensure purchases of the old shape (ObjectID _id, unique (userId,
// courseId) index) are migrated at start, keeping their ids, and that the
// migration may run again (or on two instances at once) harmlessly.
func TestStoreMigratesObjectIDPurchases(t *testing.T) {
	for _, mode := range lookupModes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			db := mongotest.NewDatabase(t)
			coll := db.Collection("purchases")
			if err := mongodb.CreateIndexes(ctx, coll, slog.New(slog.NewTextHandler(io.Discard, nil)), mongo.IndexModel{
				Keys:    bson.D{{Key: "userId", Value: 1}, {Key: "courseId", Value: 1}},
				Options: options.Index().SetUnique(true).SetName("user_course_unique"),
			}); err != nil {
				t.Fatal(err)
			}
			user, c1, c2 := bson.NewObjectID(), bson.NewObjectID(), bson.NewObjectID()
			old1, old2 := bson.NewObjectID(), bson.NewObjectID()
			for _, d := range []bson.D{
				{{Key: "_id", Value: old1}, {Key: "userId", Value: user}, {Key: "courseId", Value: c1}, {Key: "pricePaid", Value: int64(10)}, {Key: "purchasedAt", Value: at(1)}},
				{{Key: "_id", Value: old2}, {Key: "userId", Value: user}, {Key: "courseId", Value: c2}, {Key: "pricePaid", Value: int64(20)}, {Key: "purchasedAt", Value: at(2)}},
			} {
				if _, err := coll.InsertOne(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			s := mustStore(t, db, mode.lookups)
			p, err := s.Find(ctx, user.Hex(), c1.Hex())
			if err != nil || p.ID != old1.Hex() || p.PricePaid != 10 {
				t.Fatalf("Find of a migrated purchase = %+v, %v; want id %s", p, err, old1.Hex())
			}
			if _, created, err := s.Insert(ctx, purchase.Purchase{UserID: user.Hex(), CourseID: c2.Hex(), PricePaid: 99, PurchasedAt: at(3)}); err != nil || created {
				t.Errorf("buying a migrated purchase again: created %v, %v; want the old one", created, err)
			}
			page, err := s.List(ctx, user.Hex(), pagination.Args{First: 10})
			if err != nil || len(page.Edges) != 2 || page.Edges[0].Node.ID != old2.Hex() {
				t.Errorf("List after migration = %+v, %v", page, err)
			}
			if n, _ := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$type", Value: "objectId"}}}}); n != 0 {
				t.Errorf("%d purchases of the old shape left", n)
			}
			// Run again, as a second instance would, with its record removed.
			if _, err := db.Collection("migrations").DeleteMany(ctx, bson.D{}); err != nil {
				t.Fatal(err)
			}
			mustStore(t, db, mode.lookups)
			if n, _ := coll.CountDocuments(ctx, bson.D{}); n != 2 {
				t.Errorf("%d purchases after a second migration, want 2", n)
			}
		})
	}
}

// Ensure a course's sales and a user's "bought these?" on both lookup
// modes: counts and revenue from pricePaid, other courses apart, a restart
// rebuilds them, and on the embedded database they are _id reads only.
func TestStoreSalesAndBought(t *testing.T) {
	for _, mode := range lookupModes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			db, filters := mongotest.NewRecordingDatabase(t)
			s := mustStore(t, db, mode.lookups)
			c, other := bson.NewObjectID().Hex(), bson.NewObjectID().Hex()
			u1, u2 := bson.NewObjectID().Hex(), bson.NewObjectID().Hex()
			for i, p := range []purchase.Purchase{
				{UserID: u1, CourseID: c, PricePaid: 1000}, {UserID: u2, CourseID: c, PricePaid: 700},
				{UserID: u1, CourseID: c, PricePaid: 5}, // a repeat: not a sale
				{UserID: u1, CourseID: other, PricePaid: 3},
			} {
				p.PurchasedAt = at(i)
				if _, _, err := s.Insert(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			filters.Reset()
			for _, st := range []*purchase.MongoStore{s, mustStore(t, db, mode.lookups)} {
				filters.Reset()
				got, err := st.Sales(ctx, c)
				if err != nil || got != (purchase.Sales{Purchases: 2, Revenue: 1700}) {
					t.Errorf("Sales = %+v, %v; want 2 purchases, 1700", got, err)
				}
				b, err := st.Bought(ctx, u2, []string{c, other, "bad"})
				if err != nil || !b[c] || b[other] || len(b) != 1 {
					t.Errorf("Bought = %v, %v", b, err)
				}
				if bad := filters.NotByID(); mode.lookups == mongodb.InProcessIndexes && len(bad) > 0 {
					t.Errorf("embedded database: commands other than _id reads: %v", bad)
				}
			}
			if got, err := s.Sales(ctx, bson.NewObjectID().Hex()); err != nil || got != (purchase.Sales{}) {
				t.Errorf("Sales of an unsold course = %+v, %v", got, err)
			}
		})
	}
}
