package main

// End-to-end tests of access tokens, sessions, refresh rotation, logout, role
// changes and who may read User.email.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sessSecret is the JWT_SECRET the session tests run with, so that they can
// forge tokens. Random-looking, 48 bytes, no example words.
const sessSecret = "Zq8vN3kT1pW6xR4mY9bC2hF7jL5sD0gA3eU8iO1nK6tQ4wEr"

const (
	sessRefreshMutation = `mutation($t: String!) { refreshToken(refreshToken: $t) { ` + authFields + ` } }`
	sessCreateCourse    = `mutation { createCourse(input: {title: "By role", description: "d", price: 1}) { id } }`
)

// sessStart starts a server with the known JWT secret.
func sessStart(tb testing.TB) *testServer {
	tb.Helper()
	return mustStartServer(tb, map[string]string{"JWT_SECRET": sessSecret})
}

// sessRequest builds POST /graphql for query; edit may add headers or change
// the URL.
func sessRequest(tb testing.TB, s *testServer, query string, edit func(*http.Request)) *http.Request {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(string(body)))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if edit != nil {
		edit(req)
	}
	return req
}

// sessParts returns a token's header and claims without verifying it.
func sessParts(tb testing.TB, token string) (map[string]any, jwt.MapClaims) {
	tb.Helper()
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		tb.Fatalf("decode token: %v", err)
	}
	return tok.Header, claims
}

// sessSID is the session id (sid claim) of a real access token.
func sessSID(tb testing.TB, token string) string {
	tb.Helper()
	_, c := sessParts(tb, token)
	sid, _ := c["sid"].(string)
	if sid == "" {
		tb.Fatalf("token has no sid: %v", c)
	}
	return sid
}

// sessForge signs claims with method and key, with the given kid header.
func sessForge(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign token: %v", err)
	}
	return s
}

func sessRandomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// sessBearer returns an edit that sets Authorization: Bearer token.
func sessBearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// sessMeID returns me.id for the token, failing on any error.
func sessMeID(tb testing.TB, s *testServer, token string) string {
	tb.Helper()
	r := s.post(tb, token, `{ me { id } }`, nil).mustNoErrors(tb)
	var d struct{ Me struct{ ID string } }
	r.decode(tb, &d)
	return d.Me.ID
}

// sessMustUnauthenticated checks that me is refused with UNAUTHENTICATED
// (HTTP 200) for token.
func sessMustUnauthenticated(tb testing.TB, s *testServer, token, what string) {
	tb.Helper()
	r := s.post(tb, token, `{ me { id } }`, nil)
	if r.Status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		tb.Errorf("%s: me: want one UNAUTHENTICATED with 200, got (status %d) %s", what, r.Status, r.Raw)
	}
}

// sessRefresh sends refreshToken(token).
func sessRefresh(tb testing.TB, s *testServer, token string) gqlResponse {
	tb.Helper()
	return s.post(tb, "", sessRefreshMutation, map[string]any{"t": token})
}

// sessMustRefresh refreshes and returns the new pair.
func sessMustRefresh(tb testing.TB, s *testServer, token string) authPayload {
	tb.Helper()
	r := sessRefresh(tb, s, token).mustNoErrors(tb)
	var d struct{ RefreshToken authPayload }
	r.decode(tb, &d)
	return d.RefreshToken
}

// sessMustRefreshRefused checks that a refresh token is dead.
func sessMustRefreshRefused(tb testing.TB, s *testServer, token, what string) {
	tb.Helper()
	r := sessRefresh(tb, s, token)
	if r.Status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		tb.Errorf("%s: refreshToken: want one UNAUTHENTICATED with 200, got (status %d) %s", what, r.Status, r.Raw)
	}
}

func TestMe(t *testing.T) {
	s := sessStart(t)
	p := s.mustSignup(t, "gina@example.com", "gina-password-1", "Gina")

	t.Run("OK", func(t *testing.T) {
		r := s.post(t, p.AccessToken, `{ me { id name email role createdAt } }`, nil).mustNoErrors(t)
		var d struct {
			Me struct {
				ID, Name, Role string
				Email          *string
				CreatedAt      time.Time
			}
		}
		r.decode(t, &d)
		if d.Me.ID != p.User.ID || d.Me.Name != "Gina" || d.Me.Role != "USER" || d.Me.Email == nil || *d.Me.Email != "gina@example.com" {
			t.Errorf("me = %+v, want Gina's account", d.Me)
		}
		if time.Since(d.Me.CreatedAt) > time.Minute || time.Until(d.Me.CreatedAt) > time.Minute {
			t.Errorf("createdAt = %v, want about now", d.Me.CreatedAt)
		}
	})

	t.Run("ErrNoToken", func(t *testing.T) {
		r := s.post(t, "", `{ me { id } }`, nil)
		if r.Status != http.StatusOK {
			t.Errorf("status %d, want 200", r.Status)
		}
		r.mustCode(t, "UNAUTHENTICATED")
		if string(r.Data) != "null" {
			t.Errorf("data = %s, want null", r.Data)
		}
	})
}

// Every way of presenting a bad access token is UNAUTHENTICATED on @auth
// fields, with HTTP 200, and leaves public fields working as for an anonymous
// caller. The forged tokens impersonate the first admin, so a server that
// accepted one would show the unpublished course.
func TestAccessTokenValidation(t *testing.T) {
	s := sessStart(t)
	admin := s.mustLogin(t, adminEmail, adminPassword)
	s.mustCreateCourse(t, admin.AccessToken, "Published", 100, true)
	hidden := s.mustCreateCourse(t, admin.AccessToken, "Unpublished", 100, false)
	user := s.mustSignup(t, "hank@example.com", "hank-password-1", "Hank")

	header, realClaims := sessParts(t, admin.AccessToken)
	kid, _ := header["kid"].(string)
	if kid == "" {
		t.Fatalf("real token has no kid: %v", header)
	}
	if header["alg"] != "HS256" {
		t.Errorf("real token alg = %v, want HS256", header["alg"])
	}
	for _, c := range []string{"iss", "aud", "sub", "sid", "role", "iat", "exp", "jti"} {
		if _, ok := realClaims[c]; !ok {
			t.Errorf("real token lacks claim %q: %v", c, realClaims)
		}
	}
	adminID := admin.User.ID
	adminSID := sessSID(t, admin.AccessToken)
	userSID := sessSID(t, user.AccessToken)

	// claims are valid claims for the admin's session; each case edits them.
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		now := time.Now()
		c := jwt.MapClaims{
			"iss": "coursehub", "aud": []string{"coursehub-api"},
			"sub": adminID, "sid": adminSID, "role": "ADMIN",
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
			"jti": sessRandomHex(t, 11),
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	key := []byte(sessSecret)
	sign := func(edit func(jwt.MapClaims)) string {
		return sessForge(t, jwt.SigningMethodHS256, key, kid, claims(edit))
	}

	// publicCount is courses.totalCount for a request: 2 for the admin, 1 for
	// anyone else.
	publicCount := func(t *testing.T, edit func(*http.Request)) int {
		t.Helper()
		r := s.do(t, sessRequest(t, s, `{ courses { totalCount } }`, edit))
		r.mustNoErrors(t)
		var d struct{ Courses struct{ TotalCount int } }
		r.decode(t, &d)
		return d.Courses.TotalCount
	}

	t.Run("OK", func(t *testing.T) {
		for name, edit := range map[string]func(*http.Request){
			"Real":   sessBearer(admin.AccessToken),
			"Forged": sessBearer(sign(nil)), // proves the forging below is sound
		} {
			r := s.do(t, sessRequest(t, s, `{ me { id role } }`, edit)).mustNoErrors(t)
			if want := `{"me":{"id":"` + adminID + `","role":"ADMIN"}}`; string(r.Data) != want {
				t.Errorf("%s: data = %s, want %s", name, r.Data, want)
			}
			if n := publicCount(t, edit); n != 2 {
				t.Errorf("%s: admin sees %d courses, want 2", name, n)
			}
		}
	})

	// The tampered token: Hank's real token with the payload swapped for the
	// admin's identity, keeping Hank's signature.
	hankParts := strings.Split(user.AccessToken, ".")
	adminPayload := strings.Split(sign(nil), ".")[1]
	tampered := hankParts[0] + "." + adminPayload + "." + hankParts[2]

	// A correctly signed token of about 10 KB.
	huge := sign(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("A", 10<<10) })

	tests := []struct {
		name string
		edit func(*http.Request)
	}{
		{"ErrNoToken", nil},
		{"ErrMalformed", sessBearer("not-a-jwt")},
		{"ErrMalformedThreeParts", sessBearer("a.b.c")},
		{"ErrEmptyBearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }},
		{"ErrOtherSecret", sessBearer(sessForge(t, jwt.SigningMethodHS256, []byte("Ot7herKeyThatIsLongEnough9mPq2Wx5Zr8Tn4Lv1Bk6"), kid, claims(nil)))},
		{"ErrAlgNone", sessBearer(sessForge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claims(nil)))},
		{"ErrAlgNoneWithoutKid", sessBearer(sessForge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil)))},
		{"ErrAlgNoneRealSignature", sessBearer(func() string {
			// The admin's real header and signature with alg switched to none.
			parts := strings.Split(admin.AccessToken, ".")
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + kid + `","typ":"JWT"}`))
			return h + "." + parts[1] + "." + parts[2]
		}())},
		{"ErrAlgHS384", sessBearer(sessForge(t, jwt.SigningMethodHS384, key, kid, claims(nil)))},
		{"ErrAlgHS512", sessBearer(sessForge(t, jwt.SigningMethodHS512, key, kid, claims(nil)))},
		{"ErrTamperedPayload", sessBearer(tampered)},
		{"ErrExpired", sessBearer(sign(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(-20 * time.Minute).Unix()
			c["exp"] = time.Now().Add(-2 * time.Minute).Unix()
		}))},
		{"ErrExpiredLongAgo", sessBearer(sign(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(-48 * time.Hour).Unix()
			c["exp"] = time.Now().Add(-47 * time.Hour).Unix()
		}))},
		{"ErrNotYetValid", sessBearer(sign(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(10 * time.Minute).Unix() }))},
		{"ErrIssuedInFuture", sessBearer(sign(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			c["exp"] = time.Now().Add(20 * time.Minute).Unix()
		}))},
		{"ErrMissingExp", sessBearer(sign(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"ErrWrongIssuer", sessBearer(sign(func(c jwt.MapClaims) { c["iss"] = "someone-else" }))},
		{"ErrMissingIssuer", sessBearer(sign(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"ErrWrongAudience", sessBearer(sign(func(c jwt.MapClaims) { c["aud"] = []string{"other-api"} }))},
		{"ErrMissingAudience", sessBearer(sign(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"ErrMissingSubject", sessBearer(sign(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"ErrMissingSession", sessBearer(sign(func(c jwt.MapClaims) { delete(c, "sid") }))},
		{"ErrUnknownSession", sessBearer(sign(func(c jwt.MapClaims) { c["sid"] = sessRandomHex(t, 12) }))},
		{"ErrSessionOfAnotherUser", sessBearer(sign(func(c jwt.MapClaims) { c["sid"] = userSID }))},
		{"ErrBasicScheme", func(r *http.Request) { r.Header.Set("Authorization", "Basic xyz") }},
		{"ErrBasicCredentials", func(r *http.Request) {
			r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(adminEmail+":"+adminPassword)))
		}},
		{"ErrNoScheme", func(r *http.Request) { r.Header.Set("Authorization", admin.AccessToken) }},
		{"ErrTokenScheme", func(r *http.Request) { r.Header.Set("Authorization", "Token "+admin.AccessToken) }},
		{"ErrTwoHeaders", func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+admin.AccessToken)
			r.Header.Add("Authorization", "Bearer "+admin.AccessToken)
		}},
		{"ErrTwoTokensInOneHeader", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+admin.AccessToken+" "+admin.AccessToken)
		}},
		{"ErrQueryString", func(r *http.Request) {
			r.URL.RawQuery = url.Values{"access_token": {admin.AccessToken}}.Encode()
		}},
		{"ErrRefreshTokenAsBearer", sessBearer(admin.RefreshToken)},
		{"ErrHugeToken", sessBearer(huge)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, sessRequest(t, s, `{ me { id } }`, tt.edit))
			if r.Status != http.StatusOK {
				t.Errorf("status %d, want 200", r.Status)
			}
			e := r.mustCode(t, "UNAUTHENTICATED")
			if strings.Contains(e.Message, adminID) || strings.Contains(r.Raw, kid) {
				t.Errorf("error reveals token details: %s", r.Raw)
			}
			// Public fields work, as for an anonymous caller.
			if n := publicCount(t, tt.edit); n != 1 {
				t.Errorf("courses.totalCount = %d, want 1 (anonymous view)", n)
			}
			r = s.do(t, sessRequest(t, s, `{ course(id: "`+hidden.ID+`") { id } }`, tt.edit)).mustNoErrors(t)
			if string(r.Data) != `{"course":null}` {
				t.Errorf("unpublished course = %s, want null", r.Data)
			}
			// In one request with an @auth field: only that field fails.
			r = s.do(t, sessRequest(t, s, `{ courses { totalCount } purchasedCourses { totalCount } }`, tt.edit))
			if r.Status != http.StatusOK {
				t.Errorf("mixed request: status %d, want 200", r.Status)
			}
			if len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
				t.Errorf("mixed request: want one UNAUTHENTICATED error, got %s", r.Raw)
			}
			// A mutation guarded by @auth is refused too.
			r = s.do(t, sessRequest(t, s, sessCreateCourse, tt.edit))
			r.mustCode(t, "UNAUTHENTICATED")
		})
	}

	t.Run("ErrQueryStringGET", func(t *testing.T) {
		q := url.Values{"query": {`{ me { id } }`}, "access_token": {admin.AccessToken}}
		req, err := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := s.do(t, req)
		if r.Status != http.StatusOK {
			t.Errorf("status %d, want 200", r.Status)
		}
		r.mustCode(t, "UNAUTHENTICATED")
	})

	// After all of the above, the real tokens still work.
	if id := sessMeID(t, s, admin.AccessToken); id != adminID {
		t.Errorf("admin me.id = %s, want %s", id, adminID)
	}
	if id := sessMeID(t, s, user.AccessToken); id != user.User.ID {
		t.Errorf("user me.id = %s, want %s", id, user.User.ID)
	}
}

func TestRefreshToken(t *testing.T) {
	s := sessStart(t)

	t.Run("OK", func(t *testing.T) {
		p0 := s.mustSignup(t, "ivy@example.com", "ivy-password-1", "Ivy")
		p1 := sessMustRefresh(t, s, p0.RefreshToken)
		if p1.AccessToken == "" || p1.RefreshToken == "" {
			t.Fatalf("empty tokens: %+v", p1)
		}
		if p1.RefreshToken == p0.RefreshToken || p1.AccessToken == p0.AccessToken {
			t.Errorf("refresh returned an old token")
		}
		if p1.User.ID != p0.User.ID || p1.User.Email == nil || *p1.User.Email != "ivy@example.com" {
			t.Errorf("user = %+v, want Ivy with her email", p1.User)
		}
		if !p1.ExpiresAt.After(time.Now()) {
			t.Errorf("expiresAt = %v, want in the future", p1.ExpiresAt)
		}
		if got, want := sessSID(t, p1.AccessToken), sessSID(t, p0.AccessToken); got != want {
			t.Errorf("refresh changed the session: %s, want %s", got, want)
		}
		if id := sessMeID(t, s, p1.AccessToken); id != p0.User.ID {
			t.Errorf("me.id = %s, want %s", id, p0.User.ID)
		}
		// Rotation continues: each new token works once.
		p2 := sessMustRefresh(t, s, p1.RefreshToken)
		p3 := sessMustRefresh(t, s, p2.RefreshToken)
		if id := sessMeID(t, s, p3.AccessToken); id != p0.User.ID {
			t.Errorf("me.id after three refreshes = %s, want %s", id, p0.User.ID)
		}
	})

	t.Run("ErrReuseEndsSession", func(t *testing.T) {
		p0 := s.mustSignup(t, "jack@example.com", "jack-password-1", "Jack")
		other := s.mustLogin(t, "jack@example.com", "jack-password-1") // a second session
		p1 := sessMustRefresh(t, s, p0.RefreshToken)

		r := sessRefresh(t, s, p0.RefreshToken)
		if r.Status != http.StatusOK {
			t.Errorf("status %d, want 200", r.Status)
		}
		r.mustCode(t, "UNAUTHENTICATED")
		if string(r.Data) != "null" {
			t.Errorf("data = %s, want null", r.Data)
		}

		// The whole session has ended: the new pair is dead as well.
		sessMustRefreshRefused(t, s, p1.RefreshToken, "new refresh token after reuse")
		sessMustUnauthenticated(t, s, p1.AccessToken, "new access token after reuse")
		sessMustUnauthenticated(t, s, p0.AccessToken, "original access token after reuse")
		sessMustRefreshRefused(t, s, p0.RefreshToken, "reused token, third time")

		// The user's other session is untouched, and the user can sign in again.
		if id := sessMeID(t, s, other.AccessToken); id != p0.User.ID {
			t.Errorf("other session me.id = %s, want %s", id, p0.User.ID)
		}
		sessMustRefresh(t, s, other.RefreshToken)
		s.mustLogin(t, "jack@example.com", "jack-password-1")
	})

	t.Run("ErrGarbage", func(t *testing.T) {
		p := s.mustSignup(t, "kate@example.com", "kate-password-1", "Kate")
		unknown := base64.RawURLEncoding.EncodeToString([]byte(sessRandomHex(t, 16)))[:43]
		tests := []struct{ name, token string }{
			{"Empty", ""},
			{"Garbage", "garbage"},
			{"UnknownWellFormed", unknown},
			{"OneCharChanged", map[bool]string{true: "B", false: "A"}[p.RefreshToken[0] == 'A'] + p.RefreshToken[1:]},
			{"WithSpace", " " + p.RefreshToken},
			{"Truncated", p.RefreshToken[:42]},
			{"Extended", p.RefreshToken + "A"},
			{"AccessToken", p.AccessToken},
			{"OperatorShaped", `{"$ne": null}`},
			{"Huge", strings.Repeat("A", 10<<10)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := sessRefresh(t, s, tt.token)
				if r.Status != http.StatusOK {
					t.Errorf("status %d, want 200", r.Status)
				}
				r.mustCode(t, "UNAUTHENTICATED")
			})
		}
		// None of that touched Kate's session.
		sessMustRefresh(t, s, p.RefreshToken)
	})
}

func TestLogout(t *testing.T) {
	s := sessStart(t)
	const logout = `mutation { logout }`

	t.Run("OK", func(t *testing.T) {
		a := s.mustSignup(t, "liam@example.com", "liam-password-1", "Liam")
		b := s.mustLogin(t, "liam@example.com", "liam-password-1")
		r := s.post(t, a.AccessToken, logout, nil).mustNoErrors(t)
		if string(r.Data) != `{"logout":true}` {
			t.Errorf("data = %s, want logout true", r.Data)
		}
		sessMustUnauthenticated(t, s, a.AccessToken, "access token after logout")
		sessMustRefreshRefused(t, s, a.RefreshToken, "refresh token after logout")
		s.post(t, a.AccessToken, logout, nil).mustCode(t, "UNAUTHENTICATED")
		// Public fields still work with the stale token.
		s.post(t, a.AccessToken, `{ courses { totalCount } }`, nil).mustNoErrors(t)

		// The second session keeps working.
		if id := sessMeID(t, s, b.AccessToken); id != a.User.ID {
			t.Errorf("other session me.id = %s, want %s", id, a.User.ID)
		}
		b2 := sessMustRefresh(t, s, b.RefreshToken)
		if id := sessMeID(t, s, b2.AccessToken); id != a.User.ID {
			t.Errorf("other session after refresh me.id = %s, want %s", id, a.User.ID)
		}
	})

	t.Run("OKWithOwnRefreshToken", func(t *testing.T) {
		a := s.mustSignup(t, "mia@example.com", "mia-password-1", "Mia")
		s.post(t, a.AccessToken, `mutation($t: String) { logout(refreshToken: $t) }`,
			map[string]any{"t": a.RefreshToken}).mustNoErrors(t)
		sessMustUnauthenticated(t, s, a.AccessToken, "access token after logout")
		sessMustRefreshRefused(t, s, a.RefreshToken, "refresh token after logout")
	})

	t.Run("ErrRefreshedAccessTokenAfterLogout", func(t *testing.T) {
		// Logging out with the access token of a refreshed pair ends the
		// session that all the pair's predecessors belong to.
		a := s.mustSignup(t, "nora@example.com", "nora-password-1", "Nora")
		a1 := sessMustRefresh(t, s, a.RefreshToken)
		s.post(t, a1.AccessToken, logout, nil).mustNoErrors(t)
		sessMustUnauthenticated(t, s, a.AccessToken, "first access token")
		sessMustUnauthenticated(t, s, a1.AccessToken, "refreshed access token")
		sessMustRefreshRefused(t, s, a1.RefreshToken, "refreshed refresh token")
	})

	t.Run("OtherUsersRefreshTokenIgnored", func(t *testing.T) {
		a := s.mustSignup(t, "oscar@example.com", "oscar-password-1", "Oscar")
		victim := s.mustSignup(t, "pia@example.com", "pia-password-1", "Pia")
		s.post(t, a.AccessToken, `mutation($t: String) { logout(refreshToken: $t) }`,
			map[string]any{"t": victim.RefreshToken}).mustNoErrors(t)
		sessMustUnauthenticated(t, s, a.AccessToken, "logged-out access token")
		if id := sessMeID(t, s, victim.AccessToken); id != victim.User.ID {
			t.Errorf("victim me.id = %s, want %s", id, victim.User.ID)
		}
		sessMustRefresh(t, s, victim.RefreshToken)
	})

	t.Run("ErrNoToken", func(t *testing.T) {
		r := s.post(t, "", logout, nil)
		if r.Status != http.StatusOK {
			t.Errorf("status %d, want 200", r.Status)
		}
		r.mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("ErrOnlyRefreshToken", func(t *testing.T) {
		a := s.mustSignup(t, "quinn@example.com", "quinn-password-1", "Quinn")
		s.post(t, "", `mutation($t: String) { logout(refreshToken: $t) }`,
			map[string]any{"t": a.RefreshToken}).mustCode(t, "UNAUTHENTICATED")
		// Nothing was ended.
		sessMeID(t, s, a.AccessToken)
		sessMustRefresh(t, s, a.RefreshToken)
	})
}

func TestSetRole(t *testing.T) {
	s := sessStart(t)
	admin := s.mustLogin(t, adminEmail, adminPassword)
	const setRole = `mutation($id: ID!, $role: Role!) { setRole(userId: $id, role: $role) { id role email } }`
	set := func(t *testing.T, token, id, role string) gqlResponse {
		t.Helper()
		return s.post(t, token, setRole, map[string]any{"id": id, "role": role})
	}
	meRole := func(t *testing.T, token string) string {
		t.Helper()
		r := s.post(t, token, `{ me { role } }`, nil).mustNoErrors(t)
		var d struct{ Me struct{ Role string } }
		r.decode(t, &d)
		return d.Me.Role
	}

	t.Run("OKPromoteAndDemote", func(t *testing.T) {
		u := s.mustSignup(t, "rita@example.com", "rita-password-1", "Rita")
		s.post(t, u.AccessToken, sessCreateCourse, nil).mustCode(t, "FORBIDDEN")

		r := set(t, admin.AccessToken, u.User.ID, "ADMIN").mustNoErrors(t)
		want := `{"setRole":{"id":"` + u.User.ID + `","role":"ADMIN","email":"rita@example.com"}}`
		if string(r.Data) != want {
			t.Errorf("setRole = %s, want %s", r.Data, want)
		}
		// The same, old access token: the new role applies at once.
		if role := meRole(t, u.AccessToken); role != "ADMIN" {
			t.Errorf("me.role after promotion = %s, want ADMIN", role)
		}
		s.post(t, u.AccessToken, sessCreateCourse, nil).mustNoErrors(t)
		r = s.post(t, u.AccessToken, `{ courses { totalCount } }`, nil).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":1}}` {
			t.Errorf("promoted user's courses = %s, want the unpublished course counted", r.Data)
		}

		set(t, admin.AccessToken, u.User.ID, "USER").mustNoErrors(t)
		if role := meRole(t, u.AccessToken); role != "USER" {
			t.Errorf("me.role after demotion = %s, want USER", role)
		}
		s.post(t, u.AccessToken, sessCreateCourse, nil).mustCode(t, "FORBIDDEN")
		r = s.post(t, u.AccessToken, `{ courses { totalCount } }`, nil).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":0}}` {
			t.Errorf("demoted user's courses = %s, want unpublished hidden", r.Data)
		}
		// A refresh issues tokens for the current role too.
		p := sessMustRefresh(t, s, u.RefreshToken)
		if p.User.Role != "USER" {
			t.Errorf("refresh payload role = %s, want USER", p.User.Role)
		}
		s.post(t, p.AccessToken, sessCreateCourse, nil).mustCode(t, "FORBIDDEN")
	})

	t.Run("ErrNotAdmin", func(t *testing.T) {
		u := s.mustSignup(t, "sam@example.com", "sam-password-1", "Sam")
		set(t, u.AccessToken, u.User.ID, "ADMIN").mustCode(t, "FORBIDDEN")
		set(t, u.AccessToken, admin.User.ID, "USER").mustCode(t, "FORBIDDEN")
		if role := meRole(t, u.AccessToken); role != "USER" {
			t.Errorf("role = %s after a refused self-promotion, want USER", role)
		}
		if role := meRole(t, admin.AccessToken); role != "ADMIN" {
			t.Errorf("admin role = %s after a refused demotion, want ADMIN", role)
		}
	})

	t.Run("ErrAnonymous", func(t *testing.T) {
		set(t, "", admin.User.ID, "USER").mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("ErrOwnRole", func(t *testing.T) {
		set(t, admin.AccessToken, admin.User.ID, "USER").mustCode(t, "BAD_USER_INPUT")
		set(t, admin.AccessToken, admin.User.ID, "ADMIN").mustCode(t, "BAD_USER_INPUT")
		if role := meRole(t, admin.AccessToken); role != "ADMIN" {
			t.Errorf("admin role = %s, want ADMIN", role)
		}
	})

	t.Run("ErrUnknownUser", func(t *testing.T) {
		r := set(t, admin.AccessToken, "0123456789abcdef01234567", "ADMIN")
		r.mustCode(t, "NOT_FOUND")
		if string(r.Data) != "null" {
			t.Errorf("data = %s, want null", r.Data)
		}
	})

	t.Run("ErrMalformedID", func(t *testing.T) {
		for _, id := range []string{"nope", "", "0123456789abcdef0123456", "0123456789abcdef0123456z", `{"$ne":null}`} {
			r := set(t, admin.AccessToken, id, "ADMIN")
			r.mustCode(t, "BAD_USER_INPUT")
		}
	})
}

// User.email: the user themself and admins see it; anyone else gets null and
// FORBIDDEN on that field while the rest of the object resolves.
func TestUserEmailVisibility(t *testing.T) {
	s := sessStart(t)
	admin := s.mustLogin(t, adminEmail, adminPassword)
	author := s.mustSignup(t, "tara@example.com", "tara-password-1", "Tara")
	other := s.mustSignup(t, "uma@example.com", "uma-password-1", "Uma")
	// Tara becomes an admin long enough to write a course, then is demoted,
	// so that she is an ordinary user who owns a createdBy.
	s.post(t, admin.AccessToken, `mutation($id: ID!) { setRole(userId: $id, role: ADMIN) { id } }`,
		map[string]any{"id": author.User.ID}).mustNoErrors(t)
	s.mustCreateCourse(t, author.AccessToken, "Tara's course", 300, true)
	s.post(t, admin.AccessToken, `mutation($id: ID!) { setRole(userId: $id, role: USER) { id } }`,
		map[string]any{"id": author.User.ID}).mustNoErrors(t)

	const q = `{ courses { edges { node { title createdBy { id name role email } } } } }`
	type node struct {
		Title     string
		CreatedBy struct {
			ID, Name, Role string
			Email          *string
		}
	}
	get := func(t *testing.T, token string) (gqlResponse, node) {
		t.Helper()
		r := s.post(t, token, q, nil)
		var d struct {
			Courses struct{ Edges []struct{ Node node } }
		}
		r.decode(t, &d)
		if len(d.Courses.Edges) != 1 {
			t.Fatalf("want one course, got %s", r.Raw)
		}
		return r, d.Courses.Edges[0].Node
	}

	t.Run("OKOwner", func(t *testing.T) {
		r, n := get(t, author.AccessToken)
		r.mustNoErrors(t)
		if n.CreatedBy.Email == nil || *n.CreatedBy.Email != "tara@example.com" {
			t.Errorf("owner sees email %v, want tara@example.com", accStr(n.CreatedBy.Email))
		}
	})

	t.Run("OKAdmin", func(t *testing.T) {
		r, n := get(t, admin.AccessToken)
		r.mustNoErrors(t)
		if n.CreatedBy.Email == nil || *n.CreatedBy.Email != "tara@example.com" {
			t.Errorf("admin sees email %v, want tara@example.com", accStr(n.CreatedBy.Email))
		}
	})

	t.Run("OKMe", func(t *testing.T) {
		r := s.post(t, other.AccessToken, `{ me { email } }`, nil).mustNoErrors(t)
		if string(r.Data) != `{"me":{"email":"uma@example.com"}}` {
			t.Errorf("me = %s, want Uma's email", r.Data)
		}
	})

	for _, tt := range []struct{ name, token string }{
		{"ErrOtherUser", other.AccessToken},
		{"ErrAnonymous", ""},
		{"ErrBadToken", "not-a-jwt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, n := get(t, tt.token)
			if r.Status != http.StatusOK {
				t.Errorf("status %d, want 200", r.Status)
			}
			e := r.mustCode(t, "FORBIDDEN")
			if len(e.Path) == 0 || e.Path[len(e.Path)-1] != "email" {
				t.Errorf("error path = %v, want one ending in email", e.Path)
			}
			if n.CreatedBy.Email != nil {
				t.Errorf("email = %q, want null", *n.CreatedBy.Email)
			}
			if n.Title != "Tara's course" || n.CreatedBy.ID != author.User.ID || n.CreatedBy.Name != "Tara" || n.CreatedBy.Role != "USER" {
				t.Errorf("node = %+v, want the other fields resolved", n)
			}
			if strings.Contains(r.Raw, "tara@example.com") {
				t.Errorf("response contains the email: %s", r.Raw)
			}
		})
	}

	t.Run("OKAuthPayload", func(t *testing.T) {
		// signup and login return the caller's own email, with no token sent.
		p := s.mustSignup(t, "vera@example.com", "vera-password-1", "Vera")
		if p.User.Email == nil || *p.User.Email != "vera@example.com" {
			t.Errorf("signup user.email = %v, want vera@example.com", accStr(p.User.Email))
		}
		l := s.mustLogin(t, "VERA@example.com", "vera-password-1")
		if l.User.Email == nil || *l.User.Email != "vera@example.com" {
			t.Errorf("login user.email = %v, want vera@example.com", accStr(l.User.Email))
		}
		// With someone else's token on the request, the payload is still the
		// caller's own.
		r := s.post(t, other.AccessToken, accLoginMutation,
			map[string]any{"in": map[string]any{"email": "vera@example.com", "password": "vera-password-1"}}).mustNoErrors(t)
		if !strings.Contains(string(r.Data), `"email":"vera@example.com"`) {
			t.Errorf("login with another token: %s, want Vera's email", r.Data)
		}
	})
}
