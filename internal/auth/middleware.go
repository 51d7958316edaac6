package auth

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxUserAgent caps what is stored of a User-Agent header.
const maxUserAgent = 256

// Middleware reads the Authorization header, verifies the access token and
// records the principal, or the reason there is none, in the request context.
// It never rejects a request: public fields must keep working for anonymous
// callers and for callers with a stale token. The @auth directive decides.
//
// Only "Authorization: Bearer <token>" is read (the scheme is matched
// case-insensitively, as RFC 9110 says). Tokens in the query string are never
// read: they end up in logs and browser history.
func Middleware(tokens *Tokens, proxies Proxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := &requestState{client: clientInfo(r, proxies)}
			raw, err := bearerToken(r.Header)
			if err == nil {
				var claims Claims
				claims, err = tokens.Verify(raw)
				if err == nil {
					st.principal = &Principal{UserID: claims.Subject, SessionID: claims.SessionID}
				}
			}
			st.failure = err
			next.ServeHTTP(w, r.WithContext(withState(r.Context(), st)))
		})
	}
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
