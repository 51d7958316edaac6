package mongotest

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Filters records the filters of the commands a client sends, so that a
// test can check that a path asks the embedded database only for what it
// serves cheaply: an exact `{_id: value}`.
type Filters struct {
	mu   sync.Mutex
	seen []string
}

// NewRecordingDatabase is NewDatabase through a client of its own whose
// commands f records.
func NewRecordingDatabase(tb testing.TB) (*mongo.Database, *Filters) {
	tb.Helper()
	f := &Filters{}
	client, err := mongo.Connect(options.Client().ApplyURI(URI(tb)).SetTimeout(10 * time.Second).
		SetMonitor(&event.CommandMonitor{Started: f.started}))
	if err != nil {
		tb.Fatal(err)
	}
	db := client.Database(DatabaseName(tb))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	return db, f
}

func (f *Filters) started(_ context.Context, e *event.CommandStartedEvent) {
	var filters []bson.Raw
	switch e.CommandName {
	case "find":
		if v, err := e.Command.LookupErr("filter"); err == nil {
			filters = append(filters, v.Document())
		} else {
			filters = append(filters, bson.Raw(nil))
		}
	case "delete", "update":
		key := map[string]string{"delete": "deletes", "update": "updates"}[e.CommandName]
		if arr, err := e.Command.LookupErr(key); err == nil {
			vals, _ := arr.Array().Values()
			for _, v := range vals {
				filters = append(filters, v.Document().Lookup("q").Document())
			}
		}
	case "aggregate", "count", "distinct", "findAndModify":
		f.mu.Lock()
		f.seen = append(f.seen, e.CommandName+" "+e.Command.String())
		f.mu.Unlock()
		return
	default:
		return
	}
	for _, q := range filters {
		if !byID(q) {
			f.mu.Lock()
			f.seen = append(f.seen, e.CommandName+" "+q.String())
			f.mu.Unlock()
		}
	}
}

// byID reports whether q is exactly {_id: <string or ObjectID>}.
func byID(q bson.Raw) bool {
	els, err := q.Elements()
	if err != nil || len(els) != 1 || els[0].Key() != "_id" {
		return false
	}
	t := els[0].Value().Type
	return t == bson.TypeString || t == bson.TypeObjectID
}

// Reset forgets what was recorded.
func (f *Filters) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = nil
}

// NotByID returns the commands recorded since the last Reset whose filter
// is not exactly `{_id: value}` (and every aggregate or count).
func (f *Filters) NotByID() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}
