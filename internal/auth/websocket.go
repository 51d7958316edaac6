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

// StillLive checks afresh (not from the connection's memo) that a long-lived
// connection's session is live and its user still exists.
// Errors: UNAUTHENTICATED.
func (s *Service) StillLive(ctx context.Context, v Viewer) error {
	_, err := s.check(ctx, Principal{UserID: v.User.ID, SessionID: v.SessionID})
	return err
}
