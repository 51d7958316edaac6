package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
)

// WebsocketInit authenticates a WebSocket connection from its
// connection_init payload's Authorization value ("Bearer <token>"), or else
// from what the upgrade request carried (the access cookie). With neither
// the connection is anonymous, which public subscriptions allow. It returns
// the connection's context, its viewer (nil when anonymous) and when its
// access token expires.
// Errors: UNAUTHENTICATED (a bad, expired or revoked token, an ended session;
// for an expired one, errors.Is(err, ErrTokenExpired)).
func (s *Service) WebsocketInit(ctx context.Context, authorization string) (context.Context, *Viewer, time.Time, error) {
	st := stateFrom(ctx)
	if st == nil {
		st = &requestState{}
	}
	if authorization != "" {
		h := http.Header{}
		h.Set("Authorization", authorization)
		fresh := &requestState{client: st.client}
		raw, err := bearerToken(h)
		if err == nil {
			var claims Claims
			if claims, err = s.tokens.Verify(raw); err == nil {
				fresh.principal = &Principal{UserID: claims.Subject, SessionID: claims.SessionID, ExpiresAt: claims.ExpiresAt.Time}
			}
		}
		fresh.failure = err
		st = fresh
		ctx = withState(ctx, st)
	}
	if st.principal == nil {
		if st.failure != nil && !errors.Is(st.failure, ErrTokenMissing) {
			// The reason stays wrapped: an expired token (errors.Is
			// ErrTokenExpired) is one a client can replace and retry with.
			return ctx, nil, time.Time{}, &apperr.Error{Code: apperr.Unauthenticated, Message: st.failure.Error(), Err: st.failure}
		}
		return ctx, nil, time.Time{}, nil
	}
	v, err := s.Viewer(ctx)
	if err != nil {
		return ctx, nil, time.Time{}, err
	}
	return ctx, &v, st.principal.ExpiresAt, nil
}

// Recheck checks afresh (not from the connection's memo) that a long-lived
// connection's session is live and its user still exists, and then applies
// each of rules (those of the connection's running subscriptions) to the
// user as stored now. refused[i] is nil when rules[i] still lets the user
// through, else its FORBIDDEN error: the caller ends those subscriptions
// only, the connection and its other subscriptions carry on.
// Errors: UNAUTHENTICATED (the session is over: the whole connection ends).
func (s *Service) Recheck(ctx context.Context, v Viewer, rules []Rule) (refused []error, err error) {
	now, err := s.check(ctx, Principal{UserID: v.User.ID, SessionID: v.SessionID})
	if err != nil {
		return nil, err
	}
	refused = make([]error, len(rules))
	for i, r := range rules {
		// A subscription's root field has no parent object to own.
		refused[i] = r.admits(nil, now, nil)
	}
	return refused, nil
}

// ForOperation gives one operation on a long-lived connection its own
// session check: the connection's verified principal stays, its memo does
// not, so the operation sees the session and the user as they are now,
// exactly as one HTTP request does. A principal whose access token has
// expired meanwhile counts as that token's failure.
func (s *Service) ForOperation(ctx context.Context) context.Context {
	st := stateFrom(ctx)
	if st == nil {
		return ctx
	}
	fresh := &requestState{principal: st.principal, failure: st.failure, client: st.client, cookies: st.cookies}
	if p := fresh.principal; p != nil && !s.now().Before(p.ExpiresAt) {
		fresh.principal, fresh.failure = nil, ErrTokenExpired
	}
	return withState(ctx, fresh)
}
