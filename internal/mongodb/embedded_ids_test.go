package mongodb_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// Ensure that after IndexIDs the embedded database answers `{_id: value}`
// from an index: SQLite's plan for the query FerretDB sends is an index
// search, not a scan of the table.
func TestIndexIDs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := mongodb.Open(ctx, mongodb.Options{DataDir: dir, Database: "app", Timeout: 10 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Database.Collection("things").InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.IndexIDs(ctx, "things", "not_yet_created"); err != nil {
		t.Fatalf("IndexIDs: %v", err)
	}
	if err := db.IndexIDs(ctx, "things"); err != nil {
		t.Fatalf("IndexIDs again: %v", err)
	}
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, coll := range []string{"things", "not_yet_created"} {
		var table string
		if err := conn.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "`+table+`" WHERE _ferretdb_sjson->'$._id' = ?`, `"a"`)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX") {
			t.Errorf("%s: plan of an _id read is %q, want an index search", coll, p)
		}
	}
	if err := db.Database.Collection("things").FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Err(); err != nil {
		t.Errorf("read by _id after IndexIDs: %v", err)
	}
}
