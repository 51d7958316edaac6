package mongodb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"

	"go.mongodb.org/mongo-driver/v2/mongo"
	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend uses
)

// IndexIDs makes `{_id: value}` reads of the given collections index
// lookups on the embedded database (a no-op on any other).
//
// FerretDB 1.24's SQLite backend pushes an `{_id: value}` filter down as
// `WHERE _ferretdb_sjson->'$._id' = ?`, but indexes _id as
// `_ferretdb_sjson->"_id"`; SQLite matches index expressions by their text,
// so every _id read scans the table (measured: 30 ms at 5,000 purchases).
// This adds an index on the very expression the reads use, straight in the
// SQLite file (the database lives in this process; SQLite's own locking
// keeps the two connections apart). The collections are created first, so
// that each has its table; the index is idempotent.
func (db *DB) IndexIDs(ctx context.Context, collections ...string) error {
	if db.embedded == nil {
		return nil
	}
	for _, name := range collections {
		err := db.Database.CreateCollection(ctx, name)
		var ce mongo.CommandError
		if err != nil && !(errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")) {
			return fmt.Errorf("mongodb: create collection %s: %w", name, err)
		}
	}
	return IndexIDsIn(ctx, db.embedded.dir, db.Database.Name(), collections...)
}

// IndexIDsIn adds the index of IndexIDs to the given collections, which
// must exist, of database in the SQLite files of an embedded database
// running in this process on dir. It is for a listener a test runs itself
// (mongotest.Server), whose clients reach it through MONGODB_URI and so do
// not index it themselves: without it, its `_id` reads scan.
func IndexIDsIn(ctx context.Context, dir, database string, collections ...string) error {
	file := filepath.Join(dir, database+".sqlite")
	conn, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("mongodb: open %s: %w", file, err)
	}
	defer conn.Close()
	for _, name := range collections {
		var table string
		err := conn.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, name).Scan(&table)
		if err != nil {
			return fmt.Errorf("mongodb: the table of %s: %w", name, err)
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+"_coursehub_id", table)
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mongodb: index the _id reads of %s: %w", name, err)
		}
	}
	return nil
}
