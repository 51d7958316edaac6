// Package server assembles coursehub's HTTP handler: routes, middleware, the
// GraphQL handler with its transports and error presenter, and the health
// endpoints. It holds no state of its own beyond caches.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/coursehub/coursehub/graph"
	"github.com/coursehub/coursehub/internal/server/ide"
)

// Deps is everything the handler needs.
type Deps struct {
	Logger   *slog.Logger
	Resolver *graph.Resolver
	DB       Database
	// JWKS is the JSON Web Key Set published at /.well-known/jwks.json.
	JWKS []byte
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64
	// RequestTimeout is the deadline of one request.
	RequestTimeout time.Duration
	// Limits bound one operation; MaxTokens bounds the parser.
	Limits    Limits
	MaxTokens int
	// Introspection, Suggestions ("Did you mean …") and IDE are the
	// development conveniences production turns off.
	Introspection bool
	Suggestions   bool
	IDE           bool
	// GetMaxAge is how long anonymous GET /graphql answers may be kept by
	// browsers and shared caches (0: not at all).
	GetMaxAge time.Duration
	// APQCacheSize bounds the automatic persisted query cache (0: off).
	APQCacheSize int
	// WebsocketCheckEvery is how often a signed-in subscription socket or
	// HTTP stream (SSE, multipart) rechecks its session.
	WebsocketCheckEvery time.Duration
	// Stopping is closed when the server shuts down: open SSE and
	// multipart streams then end, without their protocol's last frame, so
	// that clients reconnect (to another instance) as after a lost
	// connection.
	Stopping <-chan struct{}
	// TrustedDocuments, when not nil, is the allow-list of documents by
	// sha256 hex; nothing else runs, and APQ is off.
	TrustedDocuments map[string]string
}

// New returns the whole HTTP handler.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d)
	var h http.Handler = mux
	h = checkWebsocketOrigin(d.CORSOrigins)(h)
	h = d.Resolver.Auth.Middleware(h)
	h = deadline(d.RequestTimeout)(h)
	h = limitBody(d.MaxBodyBytes)(h)
	h = cors(d.CORSOrigins)(h)
	h = publicGetCache(d.GetMaxAge)(h)
	h = noSharedCache(h)
	h = accessLog(d.Logger)(h)
	h = recoverPanics(d.Logger)(h)
	h = requestID(h)
	return h
}

// addRoutes is the whole HTTP surface in one place.
func addRoutes(mux *http.ServeMux, d Deps) {
	gql := newGraphQLHandler(d)
	mux.Handle("POST "+graphqlPath, gql)
	mux.Handle("GET "+graphqlPath, gql)
	// GraphQL over SSE's single connection mode: reserve a stream, stop an
	// operation (ssesingle.go).
	mux.Handle("PUT "+graphqlPath, gql)
	mux.Handle("DELETE "+graphqlPath, gql)
	if d.IDE {
		h := ide.Handler()
		mux.Handle("GET /{$}", h)
		mux.Handle("GET /ide/", h)
	}
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.DB, d.Logger))
	mux.Handle("GET /.well-known/jwks.json", handleJWKS(d.JWKS))
}
