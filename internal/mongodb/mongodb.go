// Package mongodb connects coursehub to its database: an external MongoDB
// (MONGODB_URI, e.g. Atlas) or an embedded MongoDB-compatible server (FerretDB
// on SQLite) that it starts itself, always through the real mongo driver.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Options says where the database is and how long calls may take.
type Options struct {
	// URI of an external server; empty starts the embedded one in DataDir.
	URI      string
	DataDir  string
	Database string
	// Timeout bounds every operation (the driver's client-side timeout), so a
	// dead database yields a fast error instead of a hang.
	Timeout time.Duration
}

// DB is an open database connection, and the embedded server behind it if any.
type DB struct {
	Client   *mongo.Client
	Database *mongo.Database
	// Monitor says whether the database is reachable right now.
	Monitor  *Monitor
	embedded *Embedded
	// stopProbe ends the monitor's probing; probed is closed when it has.
	stopProbe context.CancelFunc
	probed    chan struct{}
}

// Open connects to the configured database. With no URI it starts the
// embedded server and checks that it answers, since nothing else could
// start it later. An external server need not answer yet: the client
// connects in the background and Monitor says when it is reachable. Only a
// malformed URI (or an embedded server that cannot start) is an error.
func Open(ctx context.Context, opts Options, logger *slog.Logger) (*DB, error) {
	uri := opts.URI
	var emb *Embedded
	if uri == "" {
		var err error
		emb, err = StartEmbedded(ctx, opts.DataDir, logger)
		if err != nil {
			return nil, err
		}
		uri = emb.URI()
	}
	monitor := NewMonitor(logger)
	copts, err := clientOptions(uri, opts.Timeout)
	if err != nil {
		return nil, err
	}
	monitor.ClientOptions(copts)
	client, err := mongo.Connect(copts)
	if err != nil {
		if emb != nil {
			emb.Stop()
		}
		return nil, fmt.Errorf("mongodb: connect: %w", err)
	}
	if emb != nil {
		pctx, cancel := context.WithTimeout(ctx, *copts.ServerSelectionTimeout)
		err := client.Ping(pctx, readpref.Primary())
		cancel()
		if err != nil {
			_ = client.Disconnect(context.Background())
			emb.Stop()
			return nil, fmt.Errorf("mongodb: ping the embedded database: %w", err)
		}
		monitor.pinged(nil)
	}
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	db := &DB{
		Client: client, Database: client.Database(opts.Database), Monitor: monitor, embedded: emb,
		stopProbe: stop, probed: make(chan struct{}),
	}
	go func() {
		defer close(db.probed)
		monitor.probe(pctx, db.Ping)
	}()
	return db, nil
}

// Embedded reports whether this connection runs its own embedded server.
func (db *DB) Embedded() bool { return db.embedded != nil }

// Lookups says how stores answer the lookups that are not by _id.
type Lookups int

const (
	// ServerIndexes leaves them to the database's own indexes (MongoDB).
	ServerIndexes Lookups = iota
	// InProcessIndexes answers them from indexes the stores keep in memory,
	// turning each into _id reads: the embedded database (FerretDB on
	// SQLite) pushes nothing but an exact `{_id: value}` filter down, and
	// decodes a whole collection for any other. It is safe only because the
	// embedded database lives in this one process, so every write to it
	// passes through the stores that keep the indexes.
	InProcessIndexes
)

// Lookups is InProcessIndexes for the embedded database, ServerIndexes
// otherwise.
func (db *DB) Lookups() Lookups {
	if db.Embedded() {
		return InProcessIndexes
	}
	return ServerIndexes
}

// Close disconnects and stops the embedded server, if any.
func (db *DB) Close(ctx context.Context) error {
	db.Monitor.close()
	db.stopProbe()
	<-db.probed
	err := db.Client.Disconnect(ctx)
	if db.embedded != nil {
		db.embedded.Stop()
	}
	return err
}

// Available reports whether the database is believed reachable, without
// asking it.
func (db *DB) Available() bool { return db.Monitor.Up() }

// UpContext is Monitor.UpContext.
func (db *DB) UpContext() context.Context { return db.Monitor.UpContext() }

// Ping checks that the database answers within ctx's deadline.
func (db *DB) Ping(ctx context.Context) error {
	return db.Client.Ping(ctx, readpref.Primary())
}

// Connect opens a client for uri and pings it. Server selection and connection
// set-up are bounded so that a missing server fails in seconds, not after the
// driver's default 30 s.
func Connect(ctx context.Context, uri string, timeout time.Duration) (*mongo.Client, error) {
	copts, err := clientOptions(uri, timeout)
	if err != nil {
		return nil, err
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, *copts.ServerSelectionTimeout)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongodb: ping: %w", err)
	}
	return client, nil
}

// clientOptions are the driver options for uri: every operation, server
// selection and connection set-up bounded by timeout (5 s if not positive).
func clientOptions(uri string, timeout time.Duration) (*options.ClientOptions, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	copts := options.Client().
		ApplyURI(uri).
		SetAppName("coursehub").
		SetTimeout(timeout).
		SetServerSelectionTimeout(timeout).
		SetConnectTimeout(timeout)
	if err := copts.Validate(); err != nil {
		return nil, fmt.Errorf("mongodb: invalid connection string: %w", err)
	}
	return copts, nil
}

// IsDuplicateKey reports whether err is a unique-index violation (E11000),
// which is how every race in coursehub is settled. FerretDB v1 on SQLite
// answers an insert with E11000 but an update that breaks a unique index
// with an InternalError quoting SQLite's "UNIQUE constraint failed".
func IsDuplicateKey(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var ce mongo.CommandError
	return errors.As(err, &ce) && strings.Contains(ce.Message, "UNIQUE constraint failed")
}

// IsNoDocuments reports whether err means "no document matched".
func IsNoDocuments(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }

// IsNotImplemented reports whether the server refused a command or option it
// does not implement (FerretDB v1 answers TTL indexes this way, code 238).
func IsNotImplemented(err error) bool {
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return ce.Code == 238 || ce.Name == "NotImplemented"
	}
	return false
}

// CreateIndexes creates indexes idempotently. Those the server does not
// implement (only TTL indexes on the embedded database) are skipped with a
// debug line: expiry is always also enforced by queries and a clean-up.
func CreateIndexes(ctx context.Context, coll *mongo.Collection, logger *slog.Logger, models ...mongo.IndexModel) error {
	for _, m := range models {
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			if IsNotImplemented(err) {
				logger.Debug("index not supported by this server; relying on queries", "collection", coll.Name())
				continue
			}
			return fmt.Errorf("mongodb: create index on %s: %w", coll.Name(), err)
		}
	}
	return nil
}

// ParseID turns a client-supplied id into an ObjectID; a malformed one is
// BAD_USER_INPUT naming field.
func ParseID(field, id string) (bson.ObjectID, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return bson.ObjectID{}, apperr.Input(field, "malformed id")
	}
	return oid, nil
}
