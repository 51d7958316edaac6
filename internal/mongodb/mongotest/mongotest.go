// Package mongotest gives each test binary one embedded database server and
// each test a fresh database on it, dropped when the test ends.
//
//	func TestMain(m *testing.M) { mongotest.Main(m) }
//	func TestX(t *testing.T) { db := mongotest.NewDatabase(t) ... }
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// server is the one embedded server of this test binary. It is package state
// because TestMain has no other way to hand it to the tests.
var server struct {
	uri    string
	client *mongo.Client
}

// Main starts an embedded server in a temporary directory, runs the tests,
// stops the server and removes the directory.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "coursehub-mongotest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongotest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	emb, err := mongodb.StartEmbedded(ctx, dir, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongotest:", err)
		return 1
	}
	defer emb.Stop()
	client, err := mongodb.Connect(ctx, emb.URI(), 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongotest:", err)
		return 1
	}
	defer client.Disconnect(ctx)
	server.uri, server.client = emb.URI(), client
	return m.Run()
}

// URI is the connection string of the test binary's embedded server.
func URI(tb testing.TB) string {
	tb.Helper()
	if server.uri == "" {
		tb.Fatal("mongotest: call mongotest.Main(m) from TestMain")
	}
	return server.uri
}

// NewDatabase returns a fresh database named after the test, dropped in
// Cleanup.
func NewDatabase(tb testing.TB) *mongo.Database {
	tb.Helper()
	URI(tb)
	db := server.client.Database(DatabaseName(tb))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
	})
	return db
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_]+`)

// DatabaseName is a unique database name derived from the test's name.
func DatabaseName(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(unsafeName.ReplaceAllString(tb.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	return "t_" + name + "_" + hex.EncodeToString(b[:])
}
