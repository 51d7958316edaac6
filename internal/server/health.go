package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Database is what the handler knows of the database.
type Database interface {
	// Available reports, without asking the database, whether it is
	// reachable and set up; while it is not, operations are refused at once
	// with SERVICE_UNAVAILABLE.
	Available() bool
	// Ping checks that the database answers within ctx's deadline.
	Ping(ctx context.Context) error
	// UpContext is canceled, with cause mongodb.ErrUnavailable, as soon as
	// the database is found unreachable: operations in flight then give up
	// instead of waiting for DB_TIMEOUT.
	UpContext() context.Context
}

// readyTimeout bounds the readiness ping made while the monitor believes
// the database is up. A database known to be down is answered from the
// monitor at once; this bound is for one that stopped answering unnoticed,
// and it is generous so that a far database (a cross-region Atlas cluster,
// 100 ms and more away) is not reported unready while it serves.
const readyTimeout = time.Second

// retryAfterSeconds is what a client refused for want of a database is
// told to wait: the server notices the database's return within a second.
const retryAfterSeconds = 1

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// handleReadyz answers 503 at once while the database is known to be down
// (or not yet set up), and otherwise pings it.
func handleReadyz(db Database, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !db.Available() {
			unready(w)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			logger.WarnContext(r.Context(), "readiness: database not answering", "err", err)
			unready(w)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	})
}

func unready(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"status":"unavailable"}` + "\n"))
}

// handleJWKS publishes the public keys that verify our access tokens, so
// that other services can verify them without sharing a secret.
func handleJWKS(jwks []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(jwks)
	})
}
