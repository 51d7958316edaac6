package auth

import (
	"context"
	"sync"
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

const stateKey ctxKey = iota

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

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey).(*requestState)
	return st
}

// ClientFrom returns the request's client information.
func ClientFrom(ctx context.Context) ClientInfo {
	if st := stateFrom(ctx); st != nil {
		return st.client
	}
	return ClientInfo{}
}
