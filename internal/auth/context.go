package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coursehub/coursehub/internal/user"
)

// Principal is who a verified access token says the caller is. It is not yet
// proof of a live session: Viewer is.
type Principal struct {
	UserID    string
	SessionID string
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time
}

// Viewer is the caller after the session check: a live session and the user
// as stored now (so a role change counts from the next request).
type Viewer struct {
	User      user.User
	SessionID string
}

// ClientInfo describes where a request came from, recorded on new sessions.
type ClientInfo struct {
	UserAgent string
	IP        string
}

type ctxKey int

const (
	stateKey ctxKey = iota
	probeKey
)

// requestState is what the middleware learns about one request, plus the
// memoised session check, so that it runs at most once per request however
// many @auth fields the operation touches.
type requestState struct {
	principal *Principal
	failure   error // why there is no principal (ErrToken*)
	client    ClientInfo
	cookies   *cookieIO

	once      sync.Once
	viewer    Viewer
	viewerErr error
}

// withState starts the per-request state.
func withState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, stateKey, st)
}

// stateFrom is the one way to what the request says of its caller (the
// viewer, the client, the cookies): a probe set with WithRequestProbe sees
// every read.
func stateFrom(ctx context.Context) *requestState {
	if p, ok := ctx.Value(probeKey).(*atomic.Bool); ok {
		p.Store(true)
	}
	st, _ := ctx.Value(stateKey).(*requestState)
	return st
}

// WithRequestProbe returns ctx such that anything that asks it who is
// calling, or from where, sets read: every rule, every resolver that looks
// at the viewer, the client's address. Work done once on behalf of many
// callers (a subscription's selection rendered once per event for all its
// subscribers, internal/fanout) runs with no caller and this probe: when it
// stays unset, what was computed does not depend on who asked.
func WithRequestProbe(ctx context.Context, read *atomic.Bool) context.Context {
	return context.WithValue(ctx, probeKey, read)
}

// ClientFrom returns the request's client information.
func ClientFrom(ctx context.Context) ClientInfo {
	if st := stateFrom(ctx); st != nil {
		return st.client
	}
	return ClientInfo{}
}
