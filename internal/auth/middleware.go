package auth

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxUserAgent caps what is stored of a User-Agent header.
const maxUserAgent = 256

// Middleware reads the access token (the Authorization header, or else the
// access cookie), verifies it and records the principal, or the reason there
// is none, in the request context. It never rejects a request: public fields
// must keep working for anonymous callers and for callers with a stale
// token. The @auth directive decides.
//
// Only "Authorization: Bearer <token>" is read (the scheme is matched
// case-insensitively, as RFC 9110 says); a header always wins over a cookie.
// Cookies count only for requests that pass the CSRF check (csrfCheck).
// Tokens in the query string are never read: they end up in logs and
// browser history.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{client: clientInfo(r, s.cfg.Proxies), cookies: &cookieIO{w: w, loopback: loopbackHost(r.Host)}}
		raw, err := bearerToken(r.Header)
		if errors.Is(err, ErrTokenMissing) {
			if c, cerr := r.Cookie(AccessCookie); cerr == nil && c.Value != "" {
				if reason := csrfCheck(r, s.cfg.Cookies.Origins); reason != "" {
					err = errors.New(reason)
				} else {
					raw, err = c.Value, nil
				}
			}
		}
		if err == nil {
			var claims Claims
			claims, err = s.tokens.Verify(raw)
			if err == nil {
				st.principal = &Principal{UserID: claims.Subject, SessionID: claims.SessionID, ExpiresAt: claims.ExpiresAt.Time}
			}
		}
		st.failure = err
		if c, cerr := r.Cookie(RefreshCookie); cerr == nil && c.Value != "" && csrfCheck(r, s.cfg.Cookies.Origins) == "" {
			st.cookies.refresh = c.Value
		}
		next.ServeHTTP(w, r.WithContext(withState(r.Context(), st)))
	})
}

// bearerToken extracts the token from exactly one Authorization header.
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", ErrTokenMissing
	case 1:
	default:
		return "", ErrTokenMalformed
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrTokenMalformed
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", ErrTokenMalformed
	}
	return token, nil
}

func clientInfo(r *http.Request, proxies Proxies) ClientInfo {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
		for !utf8.ValidString(ua) {
			ua = ua[:len(ua)-1]
		}
	}
	return ClientInfo{UserAgent: ua, IP: ClientAddress(r, proxies)}
}
