// Package server assembles coursehub's HTTP handler: routes, middleware, the
// GraphQL handler with its transports and error presenter, and the health
// endpoints. It holds no state of its own beyond caches.
package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/coursehub/coursehub/graph"
)

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps is everything the handler needs.
type Deps struct {
	Logger   *slog.Logger
	Resolver *graph.Resolver
	DB       Pinger
	// JWKS is the JSON Web Key Set published at /.well-known/jwks.json.
	JWKS []byte
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64
	// Introspection enables schema introspection (on in development).
	Introspection bool
}

// New returns the whole HTTP handler.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d)
	var h http.Handler = mux
	h = d.Resolver.Auth.Middleware(h)
	h = limitBody(d.MaxBodyBytes)(h)
	h = cors(d.CORSOrigins)(h)
	h = accessLog(d.Logger)(h)
	h = recoverPanics(d.Logger)(h)
	h = requestID(h)
	return h
}

// addRoutes is the whole HTTP surface in one place.
func addRoutes(mux *http.ServeMux, d Deps) {
	gql := newGraphQLHandler(d)
	mux.Handle("POST /graphql", gql)
	mux.Handle("GET /graphql", gql)
	mux.Handle("GET /{$}", handleIDE("/graphql"))
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.DB, d.Logger))
	mux.Handle("GET /.well-known/jwks.json", handleJWKS(d.JWKS))
}
