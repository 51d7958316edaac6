package course_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
	"github.com/coursehub/coursehub/internal/pagination"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

// Ensure the store's contract: ids it makes, malformed ids refused, batches
// read on both lookup modes, newest-first pages and counts, Published for
// the catalogue cache, and updates.
func TestStore(t *testing.T) {
	for _, mode := range []struct {
		name    string
		lookups mongodb.Lookups
	}{{"ServerIndexes", mongodb.ServerIndexes}, {"InProcessIndexes", mongodb.InProcessIndexes}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			db, filters := mongotest.NewRecordingDatabase(t)
			s := course.NewMongoStore(db, mode.lookups)
			if err := s.EnsureIndexes(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				t.Fatal(err)
			}
			creator := bson.NewObjectID().Hex()
			var ids []string
			for i := range 4 {
				c, err := s.Insert(ctx, course.Course{
					Title: "C", Description: "D", Price: i, Published: i != 1, CreatedByID: creator,
					CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
				})
				if err != nil || c.ID == "" {
					t.Fatalf("Insert = %+v, %v", c, err)
				}
				ids = append(ids, c.ID)
			}
			if _, err := s.ByID(ctx, "nope"); apperr.CodeOf(err) != apperr.BadUserInput {
				t.Errorf("ByID of a malformed id = %v, want BAD_USER_INPUT", err)
			}
			if _, err := s.ByID(ctx, bson.NewObjectID().Hex()); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("ByID of an unknown id = %v, want NOT_FOUND", err)
			}
			filters.Reset()
			got, err := s.ByIDs(ctx, []string{ids[0], ids[3], "bad", bson.NewObjectID().Hex()})
			if err != nil || len(got) != 2 {
				t.Errorf("ByIDs = %+v, %v; want two courses", got, err)
			}
			if bad := filters.NotByID(); mode.lookups == mongodb.InProcessIndexes && len(bad) > 0 {
				t.Errorf("ByIDs on the embedded database sent %v, want _id reads only", bad)
			}
			page, err := s.List(ctx, true, pagination.Args{First: 2})
			if err != nil || len(page.Edges) != 2 || !page.HasNextPage || page.Edges[0].Node.ID != ids[3] || page.Edges[1].Node.ID != ids[2] {
				t.Fatalf("List = %+v, %v", page, err)
			}
			after, _ := pagination.DecodeCursor(*page.EndCursor())
			rest, err := s.List(ctx, true, pagination.Args{First: 2, After: after})
			if err != nil || len(rest.Edges) != 1 || rest.Edges[0].Node.ID != ids[0] || rest.HasNextPage {
				t.Errorf("second page = %+v, %v", rest, err)
			}
			if n, err := s.Count(ctx, true); err != nil || n != 3 {
				t.Errorf("Count(published) = %d, %v; want 3", n, err)
			}
			title, empty := "New", ""
			u, err := s.Update(ctx, ids[1], course.UpdateInput{Title: &title, ImageLink: &empty}, time.Now().UTC())
			if err != nil || u.Title != "New" || u.ImageLink != nil {
				t.Errorf("Update = %+v, %v", u, err)
			}
			if _, err := s.Update(ctx, "nope", course.UpdateInput{Title: &title}, time.Now()); apperr.CodeOf(err) != apperr.BadUserInput {
				t.Errorf("Update of a malformed id = %v, want BAD_USER_INPUT", err)
			}
		})
	}
}

// Ensure an instructor's list (drafts included) on both lookup modes:
// newest first, paged, counted, other creators apart, rebuilt on restart,
// and on the embedded database _id reads only.
func TestStoreByCreator(t *testing.T) {
	for _, mode := range []struct {
		name    string
		lookups mongodb.Lookups
	}{{"ServerIndexes", mongodb.ServerIndexes}, {"InProcessIndexes", mongodb.InProcessIndexes}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			db, filters := mongotest.NewRecordingDatabase(t)
			s := course.NewMongoStore(db, mode.lookups)
			if err := s.EnsureIndexes(ctx, logger); err != nil {
				t.Fatal(err)
			}
			a, b := bson.NewObjectID().Hex(), bson.NewObjectID().Hex()
			var mine []string
			for i := range 5 {
				creator := a
				if i == 2 {
					creator = b
				}
				c, err := s.Insert(ctx, course.Course{Title: "C", Description: "D", Published: i%2 == 0, CreatedByID: creator, CreatedAt: time.Now().UTC()})
				if err != nil {
					t.Fatal(err)
				}
				if creator == a {
					mine = append([]string{c.ID}, mine...) // newest first
				}
			}
			restarted := course.NewMongoStore(db, mode.lookups)
			if err := restarted.EnsureIndexes(ctx, logger); err != nil {
				t.Fatal(err)
			}
			for _, st := range []*course.MongoStore{s, restarted} {
				filters.Reset()
				p1, err := st.ListByCreator(ctx, a, pagination.Args{First: 3})
				if err != nil || len(p1.Edges) != 3 || !p1.HasNextPage {
					t.Fatalf("first page = %+v, %v", p1, err)
				}
				after, _ := pagination.DecodeCursor(*p1.EndCursor())
				p2, err := st.ListByCreator(ctx, a, pagination.Args{First: 3, After: after})
				if err != nil || len(p2.Edges) != 1 || p2.HasNextPage {
					t.Fatalf("second page = %+v, %v", p2, err)
				}
				var got []string
				for _, e := range append(p1.Edges, p2.Edges...) {
					got = append(got, e.Node.ID)
				}
				if strings.Join(got, ",") != strings.Join(mine, ",") {
					t.Errorf("ListByCreator = %v, want %v", got, mine)
				}
				if n, err := st.CountByCreator(ctx, a); err != nil || n != 4 {
					t.Errorf("CountByCreator = %d, %v; want 4", n, err)
				}
				if bad := filters.NotByID(); mode.lookups == mongodb.InProcessIndexes && len(bad) > 0 {
					t.Errorf("embedded database: commands other than _id reads: %v", bad)
				}
			}
		})
	}
}
