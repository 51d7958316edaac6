package main

// End-to-end tests of cookie mode (token delivery in HttpOnly cookies,
// refreshSession, the access cookie), its CSRF defence, CORS, and the
// configuration that guards them. A client here is a browser stand-in: an
// http.Client with a real cookie jar that sends an Origin header.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	// ckOrigin is the browser origin the cookie tests allow (CORS_ORIGINS).
	ckOrigin = "http://app.test"
	// ckEvilOrigin is an origin nobody listed.
	ckEvilOrigin = "http://evil.test"

	ckAuthFields = `accessToken refreshToken expiresAt refreshExpiresAt user { id email }`
	ckSignupQ    = `mutation($in: SignupInput!, $d: TokenDelivery) { signup(input: $in, delivery: $d) { ` + ckAuthFields + ` } }`
	ckLoginQ     = `mutation($in: LoginInput!, $d: TokenDelivery) { login(input: $in, delivery: $d) { ` + ckAuthFields + ` } }`
	ckRefreshQ   = `mutation($t: String!, $d: TokenDelivery) { refreshToken(refreshToken: $t, delivery: $d) { ` + ckAuthFields + ` } }`
	ckRefreshSQ  = `mutation($d: TokenDelivery) { refreshSession(delivery: $d) { ` + ckAuthFields + ` } }`
	ckMeQ        = `{ me { id } }`

	// The defaults the payload's expiry times are checked against.
	ckAccessTTL  = 15 * time.Minute
	ckRefreshTTL = 7 * 24 * time.Hour
)

// ckPayload is AuthPayload with refreshExpiresAt.
type ckPayload struct {
	AccessToken      string    `json:"accessToken"`
	RefreshToken     string    `json:"refreshToken"`
	ExpiresAt        time.Time `json:"expiresAt"`
	RefreshExpiresAt time.Time `json:"refreshExpiresAt"`
	User             struct {
		ID    string  `json:"id"`
		Email *string `json:"email"`
	} `json:"user"`
}

// ckStart starts a server for cookie tests: plain-http cookies (the jar does
// not send Secure cookies over http) and ckOrigin allowed, plus extra.
func ckStart(tb testing.TB, extra map[string]string) *testServer {
	tb.Helper()
	env := map[string]string{"COOKIE_SECURE": "false", "CORS_ORIGINS": ckOrigin}
	for k, v := range extra {
		env[k] = v
	}
	return mustStartServer(tb, env)
}

// ckBrowser is a browser stand-in: a cookie jar, an Origin and a User-Agent.
type ckBrowser struct {
	s      *testServer
	jar    *cookiejar.Jar
	client *http.Client
	// origin is sent as the Origin header unless empty.
	origin string
}

func ckNewBrowser(tb testing.TB, s *testServer, origin string) *ckBrowser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &ckBrowser{s: s, jar: jar, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}, origin: origin}
}

// ckJSONRequest builds a JSON POST /graphql.
func ckJSONRequest(tb testing.TB, s *testServer, query string, vars map[string]any) *http.Request {
	tb.Helper()
	return s.mustPostRequest(tb, "", query, vars)
}

// gql sends query as the browser would: a JSON POST with its Origin and its
// cookies. edit, if not nil, may change the request before it goes.
func (b *ckBrowser) gql(tb testing.TB, query string, vars map[string]any, edit func(*http.Request)) gqlResponse {
	tb.Helper()
	req := ckJSONRequest(tb, b.s, query, vars)
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	if edit != nil {
		edit(req)
	}
	return doWith(tb, b.client, req)
}

// get sends GET /graphql?query=... with the browser's Origin and cookies.
func (b *ckBrowser) get(tb testing.TB, query string, edit func(*http.Request)) gqlResponse {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, b.s.URL+"/graphql?"+url.Values{"query": {query}}.Encode(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	if edit != nil {
		edit(req)
	}
	return doWith(tb, b.client, req)
}

func (b *ckBrowser) apiURL(tb testing.TB) *url.URL {
	tb.Helper()
	u, err := url.Parse(b.s.URL + "/graphql")
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// cookie is the value the jar would send to /graphql for name, or "".
func (b *ckBrowser) cookie(tb testing.TB, name string) string {
	tb.Helper()
	for _, c := range b.jar.Cookies(b.apiURL(tb)) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie into the jar, as if the server had set it.
func (b *ckBrowser) setCookie(tb testing.TB, name, value string) {
	tb.Helper()
	b.jar.SetCookies(b.apiURL(tb), []*http.Cookie{{Name: name, Value: value, Path: "/graphql"}})
}

// mustAuth runs signup or login (op) with delivery (BODY when empty means
// the argument is left out) and returns the payload and the response.
func (b *ckBrowser) mustAuth(tb testing.TB, op, email, password, delivery string) (ckPayload, gqlResponse) {
	tb.Helper()
	in := map[string]any{"email": email, "password": password}
	q := ckLoginQ
	if op == "signup" {
		in["name"] = "Cookie Tester"
		q = ckSignupQ
	}
	vars := map[string]any{"in": in}
	if delivery != "" {
		vars["d"] = delivery
	}
	r := b.gql(tb, q, vars, nil).mustNoErrors(tb)
	var d map[string]ckPayload
	r.decode(tb, &d)
	return d[op], r
}

// mustRefreshSession calls refreshSession with delivery ("" leaves it out).
func (b *ckBrowser) mustRefreshSession(tb testing.TB, delivery string) (ckPayload, gqlResponse) {
	tb.Helper()
	vars := map[string]any{}
	if delivery != "" {
		vars["d"] = delivery
	}
	r := b.gql(tb, ckRefreshSQ, vars, nil).mustNoErrors(tb)
	var d struct{ RefreshSession ckPayload }
	r.decode(tb, &d)
	return d.RefreshSession, r
}

// ckMeID decodes me.id from a response that must have no errors.
func ckMeID(tb testing.TB, r gqlResponse) string {
	tb.Helper()
	r.mustNoErrors(tb)
	var d struct{ Me struct{ ID string } }
	r.decode(tb, &d)
	return d.Me.ID
}

// ckMustUnauth checks that r is one UNAUTHENTICATED error with no data and
// sets no cookie.
func ckMustUnauth(tb testing.TB, r gqlResponse, what string) {
	tb.Helper()
	if r.Status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		tb.Errorf("%s: want one UNAUTHENTICATED with 200, got (status %d) %s", what, r.Status, r.Raw)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
		tb.Errorf("%s: refused request set cookies: %q", what, sc)
	}
}

// ckSetCookies parses the response's Set-Cookie headers by name.
func ckSetCookies(tb testing.TB, h http.Header) map[string]*http.Cookie {
	tb.Helper()
	out := map[string]*http.Cookie{}
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			tb.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if _, dup := out[c.Name]; dup {
			tb.Errorf("cookie %s set twice in one response: %q", c.Name, h.Values("Set-Cookie"))
		}
		out[c.Name] = c
	}
	return out
}

// ckCheckCookie checks one token cookie's attributes: value, HttpOnly,
// Secure as wanted, SameSite, Path=/graphql, and a lifetime that ends at
// expires (±2 s) and is about ttl long.
func ckCheckCookie(tb testing.TB, c *http.Cookie, secure bool, sameSite http.SameSite, expires time.Time, ttl time.Duration) {
	tb.Helper()
	if c == nil {
		tb.Fatal("cookie not set")
	}
	if c.Value == "" {
		tb.Errorf("%s: empty value", c.Name)
	}
	if !c.HttpOnly {
		tb.Errorf("%s: not HttpOnly: %s", c.Name, c.Raw)
	}
	if c.Secure != secure {
		tb.Errorf("%s: Secure = %v, want %v: %s", c.Name, c.Secure, secure, c.Raw)
	}
	if c.SameSite != sameSite {
		tb.Errorf("%s: SameSite = %v, want %v: %s", c.Name, c.SameSite, sameSite, c.Raw)
	}
	if c.Path != "/graphql" {
		tb.Errorf("%s: Path = %q, want /graphql: %s", c.Name, c.Path, c.Raw)
	}
	if c.Domain != "" {
		tb.Errorf("%s: Domain = %q, want a host-only cookie: %s", c.Name, c.Domain, c.Raw)
	}
	if d := c.Expires.Sub(expires); d < -2*time.Second || d > 2*time.Second {
		tb.Errorf("%s: Expires = %v, want %v (the payload's expiry)", c.Name, c.Expires, expires)
	}
	if age := time.Duration(c.MaxAge) * time.Second; age > ttl || age < ttl-time.Minute {
		tb.Errorf("%s: Max-Age = %d s, want about %v", c.Name, c.MaxAge, ttl)
	}
}

// ckMustCleared checks that the response deletes both token cookies.
func ckMustCleared(tb testing.TB, h http.Header, what string) {
	tb.Helper()
	set := ckSetCookies(tb, h)
	for _, name := range []string{"coursehub_at", "coursehub_rt"} {
		c := set[name]
		if c == nil {
			tb.Errorf("%s: %s not cleared; Set-Cookie: %q", what, name, h.Values("Set-Cookie"))
			continue
		}
		if c.MaxAge >= 0 || c.Value != "" || c.Path != "/graphql" || !c.HttpOnly {
			tb.Errorf("%s: %s not deleted properly: %s", what, name, c.Raw)
		}
	}
}

// ckNear checks that got is within ±tol of want.
func ckNear(tb testing.TB, what string, got, want time.Time, tol time.Duration) {
	tb.Helper()
	if d := got.Sub(want); d < -tol || d > tol {
		tb.Errorf("%s = %v, want %v ± %v", what, got, want, tol)
	}
}

func TestCookieDelivery(t *testing.T) {
	s := ckStart(t, nil)
	const pw = "cookie-password-1"
	email := uniqueEmail(t, 1)
	s.mustSignup(t, email, pw, "Carla")

	t.Run("OKBodyByDefault", func(t *testing.T) {
		for _, delivery := range []string{"", "BODY"} {
			b := ckNewBrowser(t, s, ckOrigin)
			start := time.Now()
			p, r := b.mustAuth(t, "login", email, pw, delivery)
			if p.AccessToken == "" || p.RefreshToken == "" {
				t.Errorf("delivery %q: want both tokens in the body, got %s", delivery, r.Raw)
			}
			if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("delivery %q: body delivery set cookies: %q", delivery, sc)
			}
			ckNear(t, "refreshExpiresAt", p.RefreshExpiresAt, start.Add(ckRefreshTTL), 5*time.Second)
			ckNear(t, "expiresAt", p.ExpiresAt, start.Add(ckAccessTTL), 5*time.Second)
			if got := ckMeID(t, s.post(t, p.AccessToken, ckMeQ, nil)); got != p.User.ID {
				t.Errorf("me = %s, want %s", got, p.User.ID)
			}
		}
	})

	t.Run("OKRefreshCookie", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		p, r := b.mustAuth(t, "login", email, pw, "REFRESH_COOKIE")
		if p.AccessToken == "" {
			t.Fatalf("want the access token in the body: %s", r.Raw)
		}
		if p.RefreshToken != "" {
			t.Errorf("refresh token delivered by cookie must be empty in the body, got %q", p.RefreshToken)
		}
		set := ckSetCookies(t, r.Header)
		ckCheckCookie(t, set["coursehub_rt"], false, http.SameSiteStrictMode, p.RefreshExpiresAt, ckRefreshTTL)
		if set["coursehub_at"] != nil {
			t.Errorf("REFRESH_COOKIE set the access cookie: %s", set["coursehub_at"].Raw)
		}
		if strings.Contains(r.Raw, set["coursehub_rt"].Value) {
			t.Error("the refresh cookie's value appears in the body")
		}
		if set["coursehub_rt"].Value == p.AccessToken {
			t.Error("the refresh cookie holds the access token")
		}
		if got := ckMeID(t, s.post(t, p.AccessToken, ckMeQ, nil)); got != p.User.ID {
			t.Errorf("me = %s, want %s", got, p.User.ID)
		}
		// The cookie's value is a real refresh token of this session.
		r = s.post(t, "", ckRefreshQ, map[string]any{"t": b.cookie(t, "coursehub_rt")}).mustNoErrors(t)
		var d struct{ RefreshToken ckPayload }
		r.decode(t, &d)
		if d.RefreshToken.User.ID != p.User.ID || d.RefreshToken.RefreshToken == "" {
			t.Errorf("refreshing with the cookie's value: %s", r.Raw)
		}
	})

	t.Run("OKCookies", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		p, r := b.mustAuth(t, "login", email, pw, "COOKIES")
		if p.AccessToken != "" || p.RefreshToken != "" {
			t.Errorf("tokens delivered by cookie must be empty in the body: %s", r.Raw)
		}
		if p.User.ID == "" || p.ExpiresAt.IsZero() || p.RefreshExpiresAt.IsZero() {
			t.Errorf("payload lacks user or expiry: %s", r.Raw)
		}
		set := ckSetCookies(t, r.Header)
		ckCheckCookie(t, set["coursehub_rt"], false, http.SameSiteStrictMode, p.RefreshExpiresAt, ckRefreshTTL)
		ckCheckCookie(t, set["coursehub_at"], false, http.SameSiteStrictMode, p.ExpiresAt, ckAccessTTL)
		if set["coursehub_at"] != nil && set["coursehub_rt"] != nil && set["coursehub_at"].Value == set["coursehub_rt"].Value {
			t.Error("both cookies hold the same value")
		}
		if got := ckMeID(t, b.gql(t, ckMeQ, nil, nil)); got != p.User.ID {
			t.Errorf("me by cookie = %s, want %s", got, p.User.ID)
		}
	})

	t.Run("OKSignupCookies", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		p, r := b.mustAuth(t, "signup", uniqueEmail(t, 2), pw, "COOKIES")
		if p.AccessToken != "" || p.RefreshToken != "" {
			t.Errorf("tokens delivered by cookie must be empty in the body: %s", r.Raw)
		}
		if b.cookie(t, "coursehub_at") == "" || b.cookie(t, "coursehub_rt") == "" {
			t.Fatalf("signup set no cookies: %q", r.Header.Values("Set-Cookie"))
		}
		if got := ckMeID(t, b.gql(t, ckMeQ, nil, nil)); got != p.User.ID {
			t.Errorf("me by cookie = %s, want %s", got, p.User.ID)
		}
	})

	t.Run("OKRefreshTokenIntoCookies", func(t *testing.T) {
		body := s.mustLogin(t, email, pw)
		b := ckNewBrowser(t, s, ckOrigin)
		r := b.gql(t, ckRefreshQ, map[string]any{"t": body.RefreshToken, "d": "COOKIES"}, nil).mustNoErrors(t)
		var d struct{ RefreshToken ckPayload }
		r.decode(t, &d)
		if d.RefreshToken.AccessToken != "" || d.RefreshToken.RefreshToken != "" {
			t.Errorf("tokens delivered by cookie must be empty in the body: %s", r.Raw)
		}
		set := ckSetCookies(t, r.Header)
		ckCheckCookie(t, set["coursehub_rt"], false, http.SameSiteStrictMode, d.RefreshToken.RefreshExpiresAt, ckRefreshTTL)
		ckCheckCookie(t, set["coursehub_at"], false, http.SameSiteStrictMode, d.RefreshToken.ExpiresAt, ckAccessTTL)
		if got := ckMeID(t, b.gql(t, ckMeQ, nil, nil)); got != body.User.ID {
			t.Errorf("me by cookie = %s, want %s", got, body.User.ID)
		}
		// It rotated: the token given in the body is spent.
		ckMustUnauth(t, s.post(t, "", ckRefreshQ, map[string]any{"t": body.RefreshToken}), "reused refresh token")
	})

	t.Run("ErrUnknownDelivery", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		r := b.gql(t, `mutation($in: LoginInput!) { login(input: $in, delivery: EVERYWHERE) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": email, "password": pw}}, nil)
		r.mustCode(t, "GRAPHQL_VALIDATION_FAILED")
		if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
			t.Errorf("invalid document set cookies: %q", sc)
		}
	})

	t.Run("ErrWrongPasswordSetsNoCookie", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		r := b.gql(t, ckLoginQ, map[string]any{"in": map[string]any{"email": email, "password": "not-the-password"}, "d": "COOKIES"}, nil)
		ckMustUnauth(t, r, "login with a wrong password")
	})
}

// TestCookieAttributes reads the raw Set-Cookie headers under each cookie
// configuration; Secure is on unless COOKIE_SECURE=false.
func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		secure   bool
		sameSite http.SameSite
	}{
		{"OKSecureStrictByDefault", map[string]string{"CORS_ORIGINS": ckOrigin}, true, http.SameSiteStrictMode},
		{"OKLax", map[string]string{"CORS_ORIGINS": ckOrigin, "COOKIE_SAMESITE": "lax"}, true, http.SameSiteLaxMode},
		{"OKNone", map[string]string{"CORS_ORIGINS": ckOrigin, "COOKIE_SAMESITE": "None"}, true, http.SameSiteNoneMode},
		{"OKExplicitSecure", map[string]string{"CORS_ORIGINS": ckOrigin, "COOKIE_SECURE": "true"}, true, http.SameSiteStrictMode},
		{"OKInsecureInDevelopment", map[string]string{"CORS_ORIGINS": ckOrigin, "COOKIE_SECURE": "false"}, false, http.SameSiteStrictMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustStartServer(t, tt.env)
			const pw = "cookie-password-1"
			email := uniqueEmail(t, 1)
			s.mustSignup(t, email, pw, "Attr")
			r := s.post(t, "", ckLoginQ, map[string]any{"in": map[string]any{"email": email, "password": pw}, "d": "COOKIES"}).mustNoErrors(t)
			var d struct{ Login ckPayload }
			r.decode(t, &d)
			raw := r.Header.Values("Set-Cookie")
			if len(raw) != 2 {
				t.Fatalf("want 2 Set-Cookie headers, got %q", raw)
			}
			for _, line := range raw {
				hasSecure := false
				for _, attr := range strings.Split(line, ";") {
					if strings.EqualFold(strings.TrimSpace(attr), "Secure") {
						hasSecure = true
					}
				}
				if hasSecure != tt.secure {
					t.Errorf("Secure attribute present = %v, want %v: %s", hasSecure, tt.secure, line)
				}
				if !strings.Contains(line, "HttpOnly") {
					t.Errorf("no HttpOnly: %s", line)
				}
			}
			set := ckSetCookies(t, r.Header)
			ckCheckCookie(t, set["coursehub_rt"], tt.secure, tt.sameSite, d.Login.RefreshExpiresAt, ckRefreshTTL)
			ckCheckCookie(t, set["coursehub_at"], tt.secure, tt.sameSite, d.Login.ExpiresAt, ckAccessTTL)

			// Logging out deletes the cookies with the same attributes.
			access := set["coursehub_at"].Value
			lo := s.post(t, access, `mutation { logout }`, nil).mustNoErrors(t)
			ckMustCleared(t, lo.Header, "logout")
			for name, c := range ckSetCookies(t, lo.Header) {
				if c.Secure != tt.secure || c.SameSite != tt.sameSite {
					t.Errorf("clearing %s: Secure=%v SameSite=%v, want %v %v: %s", name, c.Secure, c.SameSite, tt.secure, tt.sameSite, c.Raw)
				}
			}
		})
	}

	// COOKIE_SECURE=false relaxes Secure only for requests addressed to a
	// loopback host (plain-http local development), never for a real host.
	t.Run("OKInsecureOnlyOnLoopback", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"CORS_ORIGINS": ckOrigin, "COOKIE_SECURE": "false"})
		const pw = "cookie-password-1"
		email := uniqueEmail(t, 2)
		s.mustSignup(t, email, pw, "Attr")
		body, _ := json.Marshal(map[string]any{"query": ckLoginQ, "variables": map[string]any{"in": map[string]any{"email": email, "password": pw}, "d": "COOKIES"}})
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Host = "api.example.com"
		r := s.do(t, req).mustNoErrors(t)
		raw := r.Header.Values("Set-Cookie")
		if len(raw) != 2 {
			t.Fatalf("want 2 Set-Cookie headers, got %q", raw)
		}
		for _, line := range raw {
			if !strings.Contains(line, "; Secure") {
				t.Errorf("cookie for a non-loopback host lacks Secure: %s", line)
			}
		}
	})
}

// TestCookieAccessToken checks where the access token is read from: the
// Authorization header, else the access cookie; a header always wins.
func TestCookieAccessToken(t *testing.T) {
	s := ckStart(t, nil)
	const pw = "cookie-password-1"
	emailA, emailB := uniqueEmail(t, 1), uniqueEmail(t, 2)
	a := s.mustSignup(t, emailA, pw, "Anna")
	bob := s.mustSignup(t, emailB, pw, "Bob")
	browserA := ckNewBrowser(t, s, ckOrigin)
	browserA.mustAuth(t, "login", emailA, pw, "COOKIES")

	t.Run("OKCookie", func(t *testing.T) {
		if got := ckMeID(t, browserA.gql(t, ckMeQ, nil, nil)); got != a.User.ID {
			t.Errorf("me = %s, want A %s", got, a.User.ID)
		}
	})

	t.Run("OKHeaderWinsOverCookie", func(t *testing.T) {
		r := browserA.gql(t, ckMeQ, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+bob.AccessToken) })
		if got := ckMeID(t, r); got != bob.User.ID {
			t.Errorf("me = %s, want B %s (the header's user)", got, bob.User.ID)
		}
	})

	t.Run("ErrBadHeaderGoodCookie", func(t *testing.T) {
		for name, value := range map[string]string{
			"garbage bearer":  "Bearer not-a-jwt",
			"revoked session": "Bearer " + s.ckEndedAccessToken(t, emailB, pw),
			"basic scheme":    "Basic YTpi",
			"empty bearer":    "Bearer ",
		} {
			r := browserA.gql(t, ckMeQ, nil, func(r *http.Request) { r.Header.Set("Authorization", value) })
			ckMustUnauth(t, r, name)
		}
	})

	t.Run("ErrRefreshCookieIsNotAnAccessToken", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.mustAuth(t, "login", emailA, pw, "REFRESH_COOKIE")
		ckMustUnauth(t, b.gql(t, ckMeQ, nil, nil), "me with only the refresh cookie")
		// The refresh token in the access cookie is no access token either.
		b.setCookie(t, "coursehub_at", b.cookie(t, "coursehub_rt"))
		ckMustUnauth(t, b.gql(t, ckMeQ, nil, nil), "refresh token in the access cookie")
	})

	t.Run("ErrForgedAccessCookie", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.setCookie(t, "coursehub_at", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
		ckMustUnauth(t, b.gql(t, ckMeQ, nil, nil), "forged access cookie")
	})

	t.Run("OKPublicFieldWithRefusedCookie", func(t *testing.T) {
		evil := ckNewBrowser(t, s, ckEvilOrigin)
		evil.jar = browserA.jar
		evil.client.Jar = browserA.jar
		r := evil.gql(t, `{ courses(first: 1) { totalCount } }`, nil, nil)
		r.mustNoErrors(t)
	})
}

// ckEndedAccessToken logs in and out and returns the dead access token.
func (s *testServer) ckEndedAccessToken(tb testing.TB, email, password string) string {
	tb.Helper()
	p := s.mustLogin(tb, email, password)
	s.post(tb, p.AccessToken, `mutation { logout }`, nil).mustNoErrors(tb)
	return p.AccessToken
}

// TestCookieCSRF checks that cookies count only for requests a cross-site
// page cannot forge: from an allowed Origin, and JSON or with the
// GraphQL-Require-Preflight header.
func TestCookieCSRF(t *testing.T) {
	s := ckStart(t, nil)
	const pw = "cookie-password-1"
	email := uniqueEmail(t, 1)
	u := s.mustSignup(t, email, pw, "Csrf")
	b := ckNewBrowser(t, s, ckOrigin)
	b.mustAuth(t, "login", email, pw, "COOKIES")
	withOrigin := func(origin string) func(*http.Request) {
		return func(r *http.Request) {
			if origin == "" {
				r.Header.Del("Origin")
			} else {
				r.Header.Set("Origin", origin)
			}
		}
	}

	t.Run("OKAllowedOriginJSON", func(t *testing.T) {
		if got := ckMeID(t, b.gql(t, ckMeQ, nil, nil)); got != u.User.ID {
			t.Errorf("me = %s, want %s", got, u.User.ID)
		}
	})

	t.Run("OKJSONWithCharset", func(t *testing.T) {
		r := b.gql(t, ckMeQ, nil, func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") })
		if got := ckMeID(t, r); got != u.User.ID {
			t.Errorf("me = %s, want %s", got, u.User.ID)
		}
	})

	t.Run("ErrNoOrigin", func(t *testing.T) {
		ckMustUnauth(t, b.gql(t, ckMeQ, nil, withOrigin("")), "no Origin")
	})

	t.Run("ErrUnlistedOrigin", func(t *testing.T) {
		for _, o := range []string{ckEvilOrigin, "null", "http://app.test.evil.test", "https://app.test",
			"http://app.test:8080", "http://APP.TEST.", "http://sub.app.test", "http://app.test, http://evil.test"} {
			ckMustUnauth(t, b.gql(t, ckMeQ, nil, withOrigin(o)), "Origin "+o)
		}
	})

	t.Run("ErrSimpleContentType", func(t *testing.T) {
		rtBefore, atBefore := b.cookie(t, "coursehub_rt"), b.cookie(t, "coursehub_at")
		for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			for _, q := range []string{ckMeQ, `mutation { refreshSession(delivery: COOKIES) { user { id } } }`, `mutation { logoutAll }`} {
				r := b.gql(t, q, nil, func(r *http.Request) { r.Header.Set("Content-Type", ct) })
				if r.Status != http.StatusUnsupportedMediaType {
					t.Errorf("%s: status %d, want 415: %s", ct, r.Status, r.Raw)
				}
				if len(r.Data) > 0 && string(r.Data) != "null" {
					t.Errorf("%s: a simple request got data: %s", ct, r.Raw)
				}
				if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
					t.Errorf("%s: a simple request set cookies: %q", ct, sc)
				}
			}
		}
		if b.cookie(t, "coursehub_rt") != rtBefore || b.cookie(t, "coursehub_at") != atBefore {
			t.Fatal("the cookies changed after refused requests")
		}
		// Nothing was rotated or ended: the session and its refresh cookie
		// still work from the allowed origin.
		if got := ckMeID(t, b.gql(t, ckMeQ, nil, nil)); got != u.User.ID {
			t.Errorf("me = %s, want %s", got, u.User.ID)
		}
		b.mustRefreshSession(t, "COOKIES")
	})

	t.Run("ErrGetWithoutPreflightHeader", func(t *testing.T) {
		ckMustUnauth(t, b.get(t, ckMeQ, nil), "GET with cookie, no preflight header")
	})

	t.Run("OKGetWithPreflightHeader", func(t *testing.T) {
		r := b.get(t, ckMeQ, func(r *http.Request) { r.Header.Set("GraphQL-Require-Preflight", "1") })
		if got := ckMeID(t, r); got != u.User.ID {
			t.Errorf("me = %s, want %s", got, u.User.ID)
		}
	})

	t.Run("ErrGetWithPreflightHeaderBadOrigin", func(t *testing.T) {
		for _, o := range []string{"", ckEvilOrigin} {
			r := b.get(t, ckMeQ, func(r *http.Request) {
				r.Header.Set("GraphQL-Require-Preflight", "1")
				withOrigin(o)(r)
			})
			ckMustUnauth(t, r, "GET with preflight header from Origin "+o)
		}
	})

	t.Run("ErrRefreshSessionFromRefusedOrigin", func(t *testing.T) {
		rtBefore := b.cookie(t, "coursehub_rt")
		for _, o := range []string{"", ckEvilOrigin} {
			r := b.gql(t, ckRefreshSQ, map[string]any{"d": "COOKIES"}, withOrigin(o))
			ckMustUnauth(t, r, "refreshSession from Origin "+o)
		}
		if got := b.cookie(t, "coursehub_rt"); got != rtBefore {
			t.Fatal("the refresh cookie changed")
		}
		// Not rotated: still good from the allowed origin.
		b.mustRefreshSession(t, "COOKIES")
		if b.cookie(t, "coursehub_rt") == rtBefore {
			t.Error("refreshSession from the allowed origin did not rotate the cookie")
		}
	})

	t.Run("ErrLogoutFromRefusedOrigin", func(t *testing.T) {
		for _, o := range []string{"", ckEvilOrigin} {
			ckMustUnauth(t, b.gql(t, `mutation { logoutAll }`, nil, withOrigin(o)), "logoutAll from Origin "+o)
		}
		if got := ckMeID(t, b.gql(t, ckMeQ, nil, nil)); got != u.User.ID {
			t.Errorf("session ended by refused requests: me = %s", got)
		}
	})
}

// TestCookieRefreshSession checks refreshSession, which reads the refresh
// token from the cookie.
func TestCookieRefreshSession(t *testing.T) {
	s := ckStart(t, nil)
	const pw = "cookie-password-1"
	email := uniqueEmail(t, 1)
	u := s.mustSignup(t, email, pw, "Rita")

	t.Run("OK", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.mustAuth(t, "login", email, pw, "REFRESH_COOKIE")
		rt0 := b.cookie(t, "coursehub_rt")
		start := time.Now()
		p, r := b.mustRefreshSession(t, "")
		if p.AccessToken == "" || p.RefreshToken != "" {
			t.Errorf("default delivery is REFRESH_COOKIE: want access token only in the body: %s", r.Raw)
		}
		set := ckSetCookies(t, r.Header)
		ckCheckCookie(t, set["coursehub_rt"], false, http.SameSiteStrictMode, p.RefreshExpiresAt, ckRefreshTTL)
		if set["coursehub_at"] != nil {
			t.Errorf("REFRESH_COOKIE set the access cookie: %s", set["coursehub_at"].Raw)
		}
		ckNear(t, "refreshExpiresAt", p.RefreshExpiresAt, start.Add(ckRefreshTTL), 5*time.Second)
		rt1 := b.cookie(t, "coursehub_rt")
		if rt1 == "" || rt1 == rt0 {
			t.Fatalf("refresh cookie not rotated")
		}
		if got := ckMeID(t, s.post(t, p.AccessToken, ckMeQ, nil)); got != u.User.ID {
			t.Errorf("me = %s, want %s", got, u.User.ID)
		}
		// The new cookie refreshes again.
		b.mustRefreshSession(t, "")
	})

	t.Run("OKCookiesDelivery", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.mustAuth(t, "login", email, pw, "REFRESH_COOKIE")
		p, r := b.mustRefreshSession(t, "COOKIES")
		if p.AccessToken != "" || p.RefreshToken != "" {
			t.Errorf("tokens delivered by cookie must be empty in the body: %s", r.Raw)
		}
		set := ckSetCookies(t, r.Header)
		ckCheckCookie(t, set["coursehub_at"], false, http.SameSiteStrictMode, p.ExpiresAt, ckAccessTTL)
		if got := ckMeID(t, b.gql(t, ckMeQ, nil, nil)); got != u.User.ID {
			t.Errorf("me by cookie = %s, want %s", got, u.User.ID)
		}
	})

	t.Run("ErrBodyDelivery", func(t *testing.T) {
		// refreshSession only delivers by cookie: a BODY delivery would leave
		// the rotated token in the browser's cookie, and the next
		// refreshSession would present it again and end the session.
		b := ckNewBrowser(t, s, ckOrigin)
		b.mustAuth(t, "login", email, pw, "COOKIES")
		r := b.gql(t, `mutation { refreshSession(delivery: BODY) { accessToken refreshToken } }`, nil, nil)
		if e := r.mustCode(t, "BAD_USER_INPUT"); e.Extensions["field"] != "delivery" {
			t.Errorf("field = %v, want delivery", e.Extensions["field"])
		}
		if len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("a refused refreshSession set cookies: %v", r.Header.Values("Set-Cookie"))
		}
		// The cookie was not rotated: it still refreshes.
		b.mustRefreshSession(t, "REFRESH_COOKIE")
	})

	t.Run("ErrNoCookie", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), "refreshSession without a cookie")
		b.setCookie(t, "coursehub_rt", "garbage")
		ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), "refreshSession with a garbage cookie")
	})

	t.Run("ErrBodyTokenIsNotACookie", func(t *testing.T) {
		// A refresh token sent any other way than the cookie is not read.
		body := s.mustLogin(t, email, pw)
		b := ckNewBrowser(t, s, ckOrigin)
		r := b.gql(t, ckRefreshSQ, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+body.RefreshToken) })
		ckMustUnauth(t, r, "refresh token in the Authorization header")
		b.setCookie(t, "coursehub_at", body.RefreshToken)
		ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), "refresh token in the access cookie")
		s.post(t, "", ckRefreshQ, map[string]any{"t": body.RefreshToken}).mustNoErrors(t)
	})

	t.Run("ErrRefusedOrigin", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.mustAuth(t, "login", email, pw, "REFRESH_COOKIE")
		rt := b.cookie(t, "coursehub_rt")
		for _, o := range []string{"", ckEvilOrigin, "http://app.test:1"} {
			r := b.gql(t, ckRefreshSQ, nil, func(r *http.Request) {
				if o == "" {
					r.Header.Del("Origin")
				} else {
					r.Header.Set("Origin", o)
				}
			})
			ckMustUnauth(t, r, "refreshSession from Origin "+o)
		}
		if b.cookie(t, "coursehub_rt") != rt {
			t.Fatal("the refresh cookie changed")
		}
		b.mustRefreshSession(t, "")
	})

	t.Run("ErrReusedCookieEndsSession", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.mustAuth(t, "login", email, pw, "COOKIES")
		rt0 := b.cookie(t, "coursehub_rt")
		b.mustRefreshSession(t, "COOKIES")
		rt1, at1 := b.cookie(t, "coursehub_rt"), b.cookie(t, "coursehub_at")
		b.setCookie(t, "coursehub_rt", rt0)
		ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), "reused refresh cookie")
		// The whole session ended: the newest refresh and access tokens too.
		b.setCookie(t, "coursehub_rt", rt1)
		ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), "refresh cookie of an ended session")
		ckMustUnauth(t, s.post(t, at1, ckMeQ, nil), "access token of an ended session")
	})

	t.Run("ErrAfterLogout", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		p, _ := b.mustAuth(t, "login", email, pw, "REFRESH_COOKIE")
		rt := b.cookie(t, "coursehub_rt")
		r := b.gql(t, `mutation { logout }`, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+p.AccessToken) }).mustNoErrors(t)
		ckMustCleared(t, r.Header, "logout")
		if b.cookie(t, "coursehub_rt") != "" {
			t.Error("the jar still holds the refresh cookie after logout")
		}
		b.setCookie(t, "coursehub_rt", rt)
		ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), "refresh cookie after logout")
	})
}

// TestCookieLogout checks that logout and logoutAll in cookie mode clear
// both cookies and end the sessions.
func TestCookieLogout(t *testing.T) {
	s := ckStart(t, nil)
	const pw = "cookie-password-1"
	email := uniqueEmail(t, 1)
	s.mustSignup(t, email, pw, "Lou")

	for _, op := range []string{"logout", "logoutAll"} {
		t.Run("OK"+strings.ToUpper(op[:1])+op[1:], func(t *testing.T) {
			b := ckNewBrowser(t, s, ckOrigin)
			b.mustAuth(t, "login", email, pw, "COOKIES")
			other := s.mustLogin(t, email, pw)
			at, rt := b.cookie(t, "coursehub_at"), b.cookie(t, "coursehub_rt")
			r := b.gql(t, `mutation { `+op+` }`, nil, nil).mustNoErrors(t)
			ckMustCleared(t, r.Header, op)
			if b.cookie(t, "coursehub_at") != "" || b.cookie(t, "coursehub_rt") != "" {
				t.Error("the jar still holds cookies")
			}
			// Replayed cookies are dead.
			b.setCookie(t, "coursehub_at", at)
			ckMustUnauth(t, b.gql(t, ckMeQ, nil, nil), op+": replayed access cookie")
			b.setCookie(t, "coursehub_rt", rt)
			ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), op+": replayed refresh cookie")
			// logout ends this session only, logoutAll every one.
			r = s.post(t, other.AccessToken, ckMeQ, nil)
			if op == "logout" {
				r.mustNoErrors(t)
			} else {
				ckMustUnauth(t, r, op+": other session")
			}
		})
	}
}

// ckPreflight sends OPTIONS /graphql as a browser's CORS preflight and
// returns the status and headers.
func ckPreflight(tb testing.TB, s *testServer, origin string) (int, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodOptions, s.URL+"/graphql", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,graphql-require-preflight")
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatalf("OPTIONS: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// ckHeaderList splits a comma-separated header into lower-case items.
func ckHeaderList(h http.Header, name string) map[string]bool {
	out := map[string]bool{}
	for _, v := range h.Values(name) {
		for _, item := range strings.Split(v, ",") {
			if item = strings.ToLower(strings.TrimSpace(item)); item != "" {
				out[item] = true
			}
		}
	}
	return out
}

func TestCORS(t *testing.T) {
	const second = "https://second.test:8443"
	// A trailing slash in the configuration is the same origin.
	s := mustStartServer(t, map[string]string{"CORS_ORIGINS": ckOrigin + ", " + second + "/", "COOKIE_SECURE": "false"})

	t.Run("OKPreflight", func(t *testing.T) {
		for _, origin := range []string{ckOrigin, second} {
			status, h := ckPreflight(t, s, origin)
			if status != http.StatusNoContent {
				t.Errorf("%s: status %d, want 204", origin, status)
			}
			if got := h.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
				t.Errorf("%s: Access-Control-Allow-Origin = %q, want exactly the origin", origin, got)
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("%s: Access-Control-Allow-Credentials = %q, want true", origin, got)
			}
			allowed := ckHeaderList(h, "Access-Control-Allow-Headers")
			for _, want := range []string{"authorization", "content-type", "graphql-require-preflight"} {
				if !allowed[want] {
					t.Errorf("%s: Access-Control-Allow-Headers lacks %s: %q", origin, want, h.Values("Access-Control-Allow-Headers"))
				}
			}
			if methods := ckHeaderList(h, "Access-Control-Allow-Methods"); !methods["post"] {
				t.Errorf("%s: Access-Control-Allow-Methods lacks POST: %q", origin, h.Values("Access-Control-Allow-Methods"))
			}
			if !ckHeaderList(h, "Vary")["origin"] {
				t.Errorf("%s: no Vary: Origin: %q", origin, h.Values("Vary"))
			}
		}
	})

	t.Run("ErrPreflightUnlistedOrigin", func(t *testing.T) {
		for _, origin := range []string{ckEvilOrigin, "null", "http://app.test.evil.test", "https://app.test",
			"http://app.test:80", "https://second.test", "*"} {
			status, h := ckPreflight(t, s, origin)
			if status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", origin, status)
			}
			for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers"} {
				if v := h.Values(name); len(v) > 0 {
					t.Errorf("%s: %s = %q, want none", origin, name, v)
				}
			}
		}
		if _, h := ckPreflight(t, s, ""); h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("no Origin: Access-Control-Allow-Origin = %q", h.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("OKResponseToAllowedOrigin", func(t *testing.T) {
		for _, origin := range []string{ckOrigin, second} {
			b := ckNewBrowser(t, s, origin)
			r := b.gql(t, `{ __typename }`, nil, nil).mustNoErrors(t)
			if got := r.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
				t.Errorf("%s: Access-Control-Allow-Origin = %q, want exactly the origin", origin, got)
			}
			if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("%s: Access-Control-Allow-Credentials = %q, want true", origin, got)
			}
			if !ckHeaderList(r.Header, "Vary")["origin"] {
				t.Errorf("%s: no Vary: Origin: %q", origin, r.Header.Values("Vary"))
			}
		}
	})

	t.Run("ErrResponseToUnlistedOrigin", func(t *testing.T) {
		for _, origin := range []string{"", ckEvilOrigin, "null"} {
			b := ckNewBrowser(t, s, origin)
			r := b.gql(t, `{ __typename }`, nil, nil)
			for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"} {
				if v := r.Header.Values(name); len(v) > 0 {
					t.Errorf("Origin %q: %s = %q, want none", origin, name, v)
				}
			}
			if !ckHeaderList(r.Header, "Vary")["origin"] {
				t.Errorf("Origin %q: no Vary: Origin (a cache could serve another origin's answer): %q", origin, r.Header.Values("Vary"))
			}
		}
	})

	t.Run("ErrNoOriginsConfigured", func(t *testing.T) {
		s2 := mustStartServer(t, map[string]string{"COOKIE_SECURE": "false"})
		status, h := ckPreflight(t, s2, ckOrigin)
		if status != http.StatusForbidden || h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight: status %d, ACAO %q; want 403 and none", status, h.Get("Access-Control-Allow-Origin"))
		}
		// Without allowed origins no cookie could ever count, so cookie
		// delivery is refused before a session starts, and a cookie that a
		// client makes up is not read.
		email := uniqueEmail(t, 1)
		p := s2.mustSignup(t, email, "cookie-password-1", "NoCors")
		b := ckNewBrowser(t, s2, ckOrigin)
		for _, d := range []string{"REFRESH_COOKIE", "COOKIES"} {
			r := b.gql(t, ckLoginQ, map[string]any{"in": map[string]any{"email": email, "password": "cookie-password-1"}, "d": d}, nil)
			if e := r.mustCode(t, "BAD_USER_INPUT"); e.Extensions["field"] != "delivery" {
				t.Errorf("%s: field = %v, want delivery", d, e.Extensions["field"])
			}
			if len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%s: cookies set with no CORS_ORIGINS", d)
			}
		}
		b.setCookie(t, "coursehub_at", p.AccessToken)
		b.setCookie(t, "coursehub_rt", p.RefreshToken)
		ckMustUnauth(t, b.gql(t, ckMeQ, nil, nil), "me by cookie with no CORS_ORIGINS")
		ckMustUnauth(t, b.gql(t, ckRefreshSQ, nil, nil), "refreshSession with no CORS_ORIGINS")
	})
}

// TestCookieConfig checks that unsafe cookie and CORS settings stop the
// server at start, with an error naming the variable.
func TestCookieConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"ErrCORSWildcard", map[string]string{"CORS_ORIGINS": "*"}, "CORS_ORIGINS"},
		{"ErrCORSWildcardInList", map[string]string{"CORS_ORIGINS": ckOrigin + ",*"}, "CORS_ORIGINS"},
		{"ErrCORSWildcardSubdomain", map[string]string{"CORS_ORIGINS": "https://*.app.test"}, "CORS_ORIGINS"},
		{"ErrCORSNoScheme", map[string]string{"CORS_ORIGINS": "app.test"}, "CORS_ORIGINS"},
		{"ErrCORSPath", map[string]string{"CORS_ORIGINS": "http://app.test/app"}, "CORS_ORIGINS"},
		{"ErrCORSNull", map[string]string{"CORS_ORIGINS": "null"}, "CORS_ORIGINS"},
		{"ErrInsecureCookiesInProduction", map[string]string{"APP_ENV": "production", "COOKIE_SECURE": "false", "JWT_SECRET": "Zq8vN3kT1pW6xR4mY9bC2hF7jL5sD0gA3eU8iO1nK6tQ4wEr"}, "COOKIE_SECURE"},
		{"ErrCookieSecureUnknown", map[string]string{"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE"},
		{"ErrSameSiteNoneInsecure", map[string]string{"COOKIE_SECURE": "false", "COOKIE_SAMESITE": "none"}, "COOKIE_SAMESITE"},
		{"ErrSameSiteUnknown", map[string]string{"COOKIE_SAMESITE": "relaxed"}, "COOKIE_SAMESITE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mustFailToStart(t, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
