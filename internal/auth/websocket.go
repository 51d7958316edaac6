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
// from what the upgrade request carried: the access cookie, or, when that
// is missing or expired, the refresh cookie (refreshCookiePrincipal). With
// none the connection is anonymous, which public subscriptions allow. It
// returns the connection's context, its viewer (nil when anonymous) and
// when its credentials expire: the access token's exp, or for a refresh
// cookie one access-token lifetime from now at most.
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
	if authorization == "" && st.principal == nil && st.cookies != nil && st.cookies.refresh != "" &&
		(st.failure == nil || errors.Is(st.failure, ErrTokenMissing) || errors.Is(st.failure, ErrTokenExpired)) {
		p, err := s.refreshCookiePrincipal(ctx, st.cookies.refresh)
		if err != nil {
			return ctx, nil, time.Time{}, err
		}
		if p != nil {
			st = &requestState{principal: p, client: st.client, cookies: st.cookies}
			ctx = withState(ctx, st)
		}
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

// refreshCookiePrincipal lets a browser's refresh cookie authenticate a
// socket whose upgrade carried no live access cookie, so that cookie-mode
// apps keep their subscriptions across access-token expiry with no code:
// the socket closes when the access token would have (4419), the client
// reconnects, and the upgrade carries the cookie jar's refresh token again.
//
// The token is read, never rotated (a 101 response cannot reliably hand
// the browser a new cookie, and tabs would race): it must be unexpired, its
// session's newest (a rotated one counts for nothing: the browser holds
// its successor, so it is stale or stolen) and its session live. The
// principal lasts one access-token lifetime at most, and never past the
// token or the session; the session watcher ends it with the session. The
// cookie only gets this far past the CSRF check: the upgrade's Origin is
// one of CORS_ORIGINS. A token that does not qualify leaves the socket
// anonymous (nil, nil): a stale cookie must not break public subscriptions.
func (s *Service) refreshCookiePrincipal(ctx context.Context, raw string) (*Principal, error) {
	if !looksLikeToken(raw) {
		return nil, nil
	}
	now := s.now().UTC()
	tok, err := s.store.refreshByHash(ctx, hashToken(raw))
	if errors.Is(err, errNoRow) || (err == nil && !now.Before(tok.ExpiresAt)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rotated, err := s.store.refreshRotated(ctx, tok)
	if err != nil || rotated {
		return nil, err
	}
	ss, err := s.store.sessionByID(ctx, tok.SessionID)
	if errors.Is(err, errNoRow) || (err == nil && !ss.live(now)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	expires := now.Add(s.tokens.TTL())
	for _, t := range []time.Time{tok.ExpiresAt, ss.ExpiresAt} {
		if t.Before(expires) {
			expires = t
		}
	}
	return &Principal{UserID: ss.UserID, SessionID: ss.ID, ExpiresAt: expires}, nil
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
		refused[i] = r.admits(nil, subject{}, now, nil)
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
