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
// Errors: UNAUTHENTICATED (a bad, expired or revoked token, an ended session).
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
			return ctx, nil, time.Time{}, apperr.New(apperr.Unauthenticated, st.failure.Error())
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
// connection's session is live, its user still exists, and each of rules
// (those of the connection's running subscriptions) still lets the user, as
// stored now, through.
// Errors: UNAUTHENTICATED, FORBIDDEN.
func (s *Service) Recheck(ctx context.Context, v Viewer, rules []Rule) error {
	now, err := s.check(ctx, Principal{UserID: v.User.ID, SessionID: v.SessionID})
	if err != nil {
		return err
	}
	for _, r := range rules {
		// A subscription's root field has no parent object to own.
		if err := r.admits(nil, subject{}, now, nil); err != nil {
			return err
		}
	}
	return nil
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
