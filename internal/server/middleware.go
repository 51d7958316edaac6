package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	logInfoKey
)

// requestIDFrom returns the request's id.
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes a sane X-Request-Id from the client (or a proxy) or makes
// one, and echoes it in the response so a client can quote it.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// logInfo is filled in by inner layers (the GraphQL handler knows the
// operation name) and read by the access log.
type logInfo struct {
	mu        sync.Mutex
	operation string
}

func setOperationName(ctx context.Context, name string) {
	if li, ok := ctx.Value(logInfoKey).(*logInfo); ok {
		li.mu.Lock()
		li.operation = name
		li.mu.Unlock()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog writes one line per request. It never logs headers or bodies, so
// tokens and passwords cannot end up in the log.
func accessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			li := &logInfo{}
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), logInfoKey, li)))
			li.mu.Lock()
			op := li.operation
			li.mu.Unlock()
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", requestIDFrom(r.Context())),
				slog.String("operation", op),
				slog.Int("bytes", rec.bytes),
			)
		})
	}
}

// recoverPanics turns a panic outside the GraphQL executor (which has its own
// recover func) into a 500 and a log line with the stack.
func recoverPanics(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
						panic(v)
					}
					logger.ErrorContext(r.Context(), "panic", "panic", v, "request_id", requestIDFrom(r.Context()), "stack", string(debug.Stack()))
					writeError(w, http.StatusInternalServerError, mediaJSON, apperr.Internal, "internal server error")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// limitBody caps request bodies; the transport answers 413 past the cap.
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				writeError(w, http.StatusRequestEntityTooLarge, mediaJSON, apperr.GraphQLParseFailed, "request body is too large")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

// cors answers CORS preflights and marks responses readable by the allowed
// origins, with credentials (cookies). Origins are matched exactly; there is
// no wildcard, so credentials never go to an origin nobody listed.
func cors(origins []string) func(http.Handler) http.Handler {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			ok := origin != "" && allowed[origin]
			if ok {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Expose-Headers", "X-Request-Id")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				if !ok {
					w.WriteHeader(http.StatusForbidden)
					return
				}
				// PUT and DELETE and the token header are GraphQL over
				// SSE's single connection mode.
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, GraphQL-Require-Preflight, X-Request-Id, X-GraphQL-Event-Stream-Token")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// deadline bounds a request, so that a slow resolver or database cannot hold
// a connection forever: every database call runs under the request context.
func deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || isStreamRequest(r) {
				// A subscription socket or stream lives as long as its
				// session; the streamer bounds a stream's other operations.
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// graphqlPath is where the API answers.
const graphqlPath = "/graphql"

// noSharedCache keeps GraphQL answers out of shared caches: every answer
// varies on the credentials, and one to a request that carried any (an
// Authorization header or one of our auth cookies, valid or not) is
// private, no-store, so a proxy or CDN never hands one caller's answer to
// another and no browser keeps it on disk. Anonymous answers get no max-age.
func noSharedCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == graphqlPath {
			h := w.Header()
			h.Add("Vary", "Authorization, Cookie")
			if carriesCredentials(r) {
				h.Set("Cache-Control", "private, no-store")
			}
		}
		next.ServeHTTP(w, r)
	})
}

// carriesCredentials reports whether r has an Authorization header or an
// auth cookie, whatever their values.
func carriesCredentials(r *http.Request) bool {
	if len(r.Header.Values("Authorization")) > 0 {
		return true
	}
	for _, name := range []string{auth.AccessCookie, auth.RefreshCookie} {
		if _, err := r.Cookie(name); err == nil {
			return true
		}
	}
	return false
}
