package mongotest

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"testing"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// Server is an embedded database of one test's own, which the test stops
// and starts again, on the same address and data directory, to stage an
// outage under a running program.
type Server struct {
	tb   testing.TB
	dir  string
	addr string
	uri  string

	mu  sync.Mutex
	emb *mongodb.Embedded
}

// StartServer starts a Server on a free loopback port; it is stopped in
// Cleanup (register it before what uses it, so that it stops last).
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, dir: tb.TempDir(), addr: "127.0.0.1:0"}
	s.Start()
	u, err := url.Parse(s.uri)
	if err != nil || u.Host == "" {
		tb.Fatalf("mongotest: embedded database URI %q: %v", s.uri, err)
	}
	s.addr = u.Host
	tb.Cleanup(s.Stop)
	return s
}

// IndexIDs gives the named collections of database, which must exist, the
// `_id` index the server adds itself in embedded mode (mongodb.IndexIDs),
// so that a test of servers reaching this listener through MONGODB_URI
// measures index lookups, as on MongoDB, not FerretDB's table scans.
func (s *Server) IndexIDs(database string, collections ...string) {
	s.tb.Helper()
	if err := mongodb.IndexIDsIn(context.Background(), s.dir, database, collections...); err != nil {
		s.tb.Fatalf("mongotest: %v", err)
	}
}

// URI is the server's connection string; it stays the same across restarts.
func (s *Server) URI() string { return s.uri }

// Start starts the server again where it listened before. It fails the
// test if the server runs already or cannot start.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.emb != nil {
		s.tb.Fatal("mongotest: Start of a running server")
	}
	emb, err := mongodb.StartEmbeddedOn(context.Background(), s.dir, s.addr,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		s.tb.Fatalf("mongotest: start the embedded database on %s: %v", s.addr, err)
	}
	s.emb, s.uri = emb, emb.URI()
}

// Stop stops the server and closes every connection to it, as a crash
// would; it is a no-op on a stopped server.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.emb != nil {
		s.emb.Stop()
		s.emb = nil
	}
}
