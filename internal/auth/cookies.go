package auth

import (
	"context"

	"github.com/coursehub/coursehub/internal/apperr"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Delivery says where signup, login and refresh put the tokens.
type Delivery string

// The deliveries. A token delivered by cookie is not repeated in the body
// (the field is an empty string): a script that can read the body could
// otherwise steal what the HttpOnly cookie protects.
const (
	// DeliverBody returns both tokens in the body (mobile and server clients).
	DeliverBody Delivery = "BODY"
	// DeliverRefreshCookie puts the refresh token in an HttpOnly cookie and
	// the access token in the body, to be kept in memory (browsers).
	DeliverRefreshCookie Delivery = "REFRESH_COOKIE"
	// DeliverCookies puts both tokens in HttpOnly cookies.
	DeliverCookies Delivery = "COOKIES"
)

// The cookies. Both are scoped to the API path, so no other page of the
// origin receives them.
const (
	AccessCookie  = "coursehub_at"
	RefreshCookie = "coursehub_rt"
)

// PreflightHeader is the custom header the GraphQL-over-HTTP spec suggests
// for CSRF defence: a browser cannot send it cross-origin without a CORS
// preflight that only allowed origins pass.
const PreflightHeader = "GraphQL-Require-Preflight"

// CookieConfig configures cookie mode.
type CookieConfig struct {
	// Path scopes the cookies (the GraphQL endpoint).
	Path string
	// Secure is on except for plain-http development (COOKIE_SECURE=false).
	Secure   bool
	SameSite http.SameSite
	// Origins are the browser origins allowed to use cookie credentials
	// (CORS_ORIGINS).
	Origins []string
}

// cookieIO gives a request's resolvers the response, to set cookies on it.
// The GraphQL handler writes the body only after every resolver has run, so
// headers set here still go out.
type cookieIO struct {
	w http.ResponseWriter
	// loopback is whether the request was addressed to this machine
	// (localhost, 127.0.0.1, [::1]): only there may COOKIE_SECURE=false apply.
	loopback bool
	// refresh is the refresh cookie, if the request passed the CSRF check.
	refresh string
}

// secure says whether a cookie must be Secure: always, unless COOKIE_SECURE
// is off (development only) and the request went to a loopback host.
func (s *Service) secure(io *cookieIO) bool {
	return s.cfg.Cookies.Secure || !io.loopback
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// csrfCheck reports why cookie credentials may not be used for r, or "" if
// they may: the request must come from an allowed origin and be one that a
// cross-site form or link cannot forge (a non-simple content type, or the
// preflight header).
func csrfCheck(r *http.Request, origins []string) string {
	origin := r.Header.Get("Origin")
	if origin == "" || !slices.Contains(origins, origin) {
		return "cookie credentials are refused from this origin"
	}
	if r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		// A WebSocket handshake cannot carry a custom header from a browser;
		// for it the allowed Origin is the defence (against cross-site
		// WebSocket hijacking).
		return ""
	}
	if r.Header.Get(PreflightHeader) != "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && err == nil && !simpleContentType(mt) {
		return ""
	}
	return "cookie credentials need a JSON request or the " + PreflightHeader + " header"
}

// simpleContentType reports whether a cross-site form could send mt.
func simpleContentType(mt string) bool {
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// checkDelivery refuses a delivery this server cannot honour, before any
// session is started: cookies need CORS_ORIGINS, or no request could ever
// use them.
func (s *Service) checkDelivery(d Delivery) error {
	switch d {
	case "", DeliverBody:
		return nil
	case DeliverRefreshCookie, DeliverCookies:
		if len(s.cfg.Cookies.Origins) == 0 {
			return apperr.Input("delivery", "cookie delivery needs CORS_ORIGINS on the server")
		}
		return nil
	}
	return apperr.Input("delivery", "unknown delivery")
}

// deliver puts the payload's tokens where d says, setting cookies on the
// response and blanking in the body what went into a cookie.
func (s *Service) deliver(ctx context.Context, p *Payload, d Delivery) error {
	if d == "" || d == DeliverBody {
		return nil
	}
	io := cookiesFrom(ctx)
	if io == nil {
		return errNoCookies
	}
	c, secure := s.cfg.Cookies, s.secure(io)
	http.SetCookie(io.w, &http.Cookie{
		Name: RefreshCookie, Value: p.RefreshToken, Path: c.Path, Expires: p.RefreshExpiresAt,
		MaxAge: int(time.Until(p.RefreshExpiresAt).Seconds()), HttpOnly: true, Secure: secure, SameSite: c.SameSite,
	})
	p.RefreshToken = ""
	if d == DeliverCookies {
		http.SetCookie(io.w, &http.Cookie{
			Name: AccessCookie, Value: p.AccessToken, Path: c.Path, Expires: p.ExpiresAt,
			MaxAge: int(time.Until(p.ExpiresAt).Seconds()), HttpOnly: true, Secure: secure, SameSite: c.SameSite,
		})
		p.AccessToken = ""
	}
	return nil
}

// clearCookies removes both cookies from the browser.
func (s *Service) clearCookies(ctx context.Context) {
	io := cookiesFrom(ctx)
	if io == nil {
		return
	}
	c, secure := s.cfg.Cookies, s.secure(io)
	for _, name := range []string{AccessCookie, RefreshCookie} {
		http.SetCookie(io.w, &http.Cookie{
			Name: name, Value: "", Path: c.Path, MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: c.SameSite,
		})
	}
}

func cookiesFrom(ctx context.Context) *cookieIO {
	if st := stateFrom(ctx); st != nil {
		return st.cookies
	}
	return nil
}
