package main

// End-to-end tests of issue 9's trust fixes: subscriptions refused over
// plain HTTP, no message quoting what the caller sent, invisible characters
// refused in emails, Int taken only as a whole number, credentialed answers
// kept out of shared caches, and ADMIN_EMAIL promoting an account only with
// its own password.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// trMarker is submitted where a message could quote it back.
const trMarker = "xq7submittedmarker"

// trMustNotEcho fails if the response quotes any of values.
func trMustNotEcho(tb testing.TB, r gqlResponse, values ...string) {
	tb.Helper()
	for _, v := range values {
		if strings.Contains(r.Raw, v) {
			tb.Errorf("response quotes the submitted %.40q: %.500s", v, r.Raw)
		}
	}
}

func TestTrustSubscriptionOverHTTP(t *testing.T) {
	// A long deadline: a server that holds the request until it runs out
	// fails the timing check by far.
	s := mustStartServer(t, map[string]string{"REQUEST_TIMEOUT": "20s"})
	const sub = `subscription { coursePublished { id title } }`
	gqlResp := "application/graphql-response+json"

	for _, tc := range []struct {
		name   string
		send   func() gqlResponse
		status int
	}{
		{"POSTJSON", func() gqlResponse { return s.hlPostJSON(t, "", map[string]any{"query": sub}) }, http.StatusOK},
		{"POSTGraphQLResponse", func() gqlResponse { return s.hlPostJSON(t, gqlResp, map[string]any{"query": sub}) }, http.StatusBadRequest},
		{"GETJSON", func() gqlResponse { return s.hlGet(t, "", url.Values{"query": {sub}}) }, http.StatusOK},
		{"GETGraphQLResponse", func() gqlResponse { return s.hlGet(t, gqlResp, url.Values{"query": {sub}}) }, http.StatusBadRequest},
		{"POSTNamedAmongQueries", func() gqlResponse {
			return s.hlPostJSON(t, "", map[string]any{
				"query":         `query Q { courses { totalCount } } subscription S { coursePublished { id } }`,
				"operationName": "S",
			})
		}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hlTimed(t, 5*time.Second, tc.send)
			e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
			if r.Status != tc.status {
				t.Errorf("status = %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			for _, word := range []string{"WebSocket", "graphql-transport-ws", "/graphql"} {
				if !strings.Contains(e.Message, word) {
					t.Errorf("message %q does not mention %s", e.Message, word)
				}
			}
		})
	}
	// The query of a document that also holds a subscription still runs.
	s.hlPostJSON(t, "", map[string]any{
		"query":         `query Q { courses { totalCount } } subscription S { coursePublished { id } }`,
		"operationName": "Q",
	}).mustNoErrors(t)
}

func TestTrustMessagesQuoteNothing(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustLogin(t, adminEmail, adminPassword)
	huge := strings.Repeat("A", 100<<10) + trMarker
	oneQuery := `query Q { courses { totalCount } }`

	t.Run("UnknownOperationNamePOST", func(t *testing.T) {
		r := s.hlPostJSON(t, "", map[string]any{"query": oneQuery, "operationName": huge})
		e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		trMustNotEcho(t, r, trMarker, "AAAAAAAA")
		if !strings.Contains(e.Message, "operationName") {
			t.Errorf("message %.200q does not mention operationName", e.Message)
		}
		if len(r.Raw) > 1000 {
			t.Errorf("answer to a bad operationName is %d bytes: %.300s", len(r.Raw), r.Raw)
		}
	})

	t.Run("UnknownOperationNameGET", func(t *testing.T) {
		r := s.hlGet(t, "", url.Values{"query": {oneQuery}, "operationName": {"<b>" + trMarker + "</b>"}})
		hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		trMustNotEcho(t, r, trMarker)
	})

	t.Run("NoOperationNameAmongSeveral", func(t *testing.T) {
		r := s.hlPostJSON(t, "", map[string]any{"query": oneQuery + ` query R { courses { totalCount } }`})
		e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		hlMustMention(t, e.Message, "operationName")
	})

	t.Run("EnumLiteralWithSuggestion", func(t *testing.T) {
		// Close enough to ADMIN for a "Did you mean" suggestion.
		r := s.post(t, admin.AccessToken, `mutation { setRole(userId: "`+admin.User.ID+`", role: ADMINZ) { id } }`, nil)
		e := r.mustCode(t, "GRAPHQL_VALIDATION_FAILED")
		trMustNotEcho(t, r, "ADMINZ")
		hlMustMention(t, e.Message, "Role")
	})

	t.Run("HugeNumberAsID", func(t *testing.T) {
		r := s.hlPostRaw(t, "application/json", "", strings.NewReader(
			`{"query":"query($id: ID!) { course(id: $id) { id } }","variables":{"id":7.3317331e300}}`))
		hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		trMustNotEcho(t, r, "73317331", "e+300")
	})
}

func TestTrustInvisibleCharactersInEmail(t *testing.T) {
	s := mustStartServer(t, nil)
	const password = "trust-password-1"
	owner := s.mustSignup(t, "alice@example.com", password, "Alice")

	for _, tc := range []struct{ name, email string }{
		{"ZeroWidthSpace", "ali\u200bce@example.com"},
		{"ZeroWidthJoinerAtEnd", "alice@example.com\u200d"},
		{"ByteOrderMarkAtStart", "\ufeffalice@example.com"},
		{"SoftHyphen", "al\u00adice@example.com"},
		{"RightToLeftOverride", "alice\u202e@example.com"},
		{"HangulFiller", "alice\u3164@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := accSignup(t, s, tc.email, password, "Mallory").mustCode(t, "BAD_USER_INPUT")
			if f, _ := e.Extensions["field"].(string); f != "email" {
				t.Errorf("field = %q, want email", f)
			}
			// Never the look-alike account's way in, nor an account of its own.
			accLogin(t, s, tc.email, password).mustCode(t, "BAD_USER_INPUT")
		})
	}

	t.Run("FullWidthIsTheSameAccount", func(t *testing.T) {
		accSignup(t, s, "\uff41lice@example.com", password, "Mallory").mustCode(t, "CONFLICT")
		if p := s.mustLogin(t, "\uff41lice@example.com", password); p.User.ID != owner.User.ID {
			t.Errorf("full-width login reached %s, want %s", p.User.ID, owner.User.ID)
		}
	})
}

func TestTrustStrictInt(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	s.mustCreateCourse(t, admin, "One", 100, true)
	s.mustCreateCourse(t, admin, "Two", 200, true)
	const list = `query($n: Int) { courses(first: $n) { edges { node { id } } } }`
	const create = `mutation($in: CreateCourseInput!) { createCourse(input: $in) { id } }`

	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
	}{
		{"FirstNumericStringVariable", "", list, map[string]any{"n": "1"}},
		{"FirstNumericStringLiteral", "", `{ courses(first: "1") { totalCount } }`, nil},
		{"FirstOver32BitsVariable", "", list, map[string]any{"n": int64(1) << 31}},
		{"FirstOver32BitsLiteral", "", `{ courses(first: 2147483648) { totalCount } }`, nil},
		{"FirstUnder32BitsLiteral", "", `{ courses(first: -2147483649) { totalCount } }`, nil},
		{"PriceNumericStringInInput", admin, create, map[string]any{"in": map[string]any{
			"title": "Sneaky", "description": "d", "price": "12"}}},
		{"PriceNumericStringInUpdate", admin, `mutation($p: Int) { updateCourse(id: "000000000000000000000000", input: {price: $p}) { id } }`,
			map[string]any{"p": "12"}},
		{"PublishedStringInInput", admin, create, map[string]any{"in": map[string]any{
			"title": "Sneaky", "description": "d", "price": 12, "published": "true"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.cpPost(t, tc.token, tc.query, tc.vars)
			r.mustCode(t, "GRAPHQL_VALIDATION_FAILED")
			if strings.Contains(r.Raw, `"node"`) {
				t.Errorf("the operation ran: %s", r.Raw)
			}
		})
	}

	// Whole numbers still work, as literals and as variables.
	var d struct {
		Courses struct{ Edges []any }
	}
	s.post(t, "", list, map[string]any{"n": 1}).mustNoErrors(t).decode(t, &d)
	if len(d.Courses.Edges) != 1 {
		t.Errorf("first: 1 gave %d courses, want 1", len(d.Courses.Edges))
	}
	if n := s.cpCountCourses(t, admin); n != 2 {
		t.Errorf("%d courses after the refused creations, want 2", n)
	}
}

// trCacheHeaders fails unless r varies on Authorization and Cookie and, when
// private, is private and no-store (and otherwise has no max-age).
func trCacheHeaders(tb testing.TB, what string, r gqlResponse, private bool) {
	tb.Helper()
	vary := map[string]bool{}
	for _, v := range r.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			vary[strings.ToLower(strings.TrimSpace(f))] = true
		}
	}
	if !vary["authorization"] || !vary["cookie"] {
		tb.Errorf("%s: Vary = %q, want Authorization and Cookie", what, r.Header.Values("Vary"))
	}
	cc := strings.ToLower(strings.Join(r.Header.Values("Cache-Control"), ","))
	if private && (!strings.Contains(cc, "private") || !strings.Contains(cc, "no-store")) {
		tb.Errorf("%s: Cache-Control = %q, want private, no-store", what, cc)
	}
	if strings.Contains(cc, "max-age") || strings.Contains(cc, "public") {
		tb.Errorf("%s: Cache-Control = %q, want no max-age and nothing public", what, cc)
	}
}

func TestTrustCacheControl(t *testing.T) {
	s := ckStart(t, nil)
	const me = `{ me { id } }`
	user := s.mustSignup(t, "cache@example.com", "cache-password-1", "Cache")
	withHeader := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }

	t.Run("AnonymousGET", func(t *testing.T) {
		// Public, with max-age and an ETag (e2e_cache_test.go).
		chMustPublic(t, "anonymous GET", s.cpGet(t, "", url.Values{"query": {`{ courses { totalCount } }`}}).mustNoErrors(t).Header)
	})
	t.Run("AnonymousPOST", func(t *testing.T) {
		trCacheHeaders(t, "anonymous POST", s.cpPost(t, "", `{ courses { totalCount } }`, nil).mustNoErrors(t), false)
	})
	t.Run("BearerGET", func(t *testing.T) {
		r := s.cpGet(t, user.AccessToken, url.Values{"query": {me}})
		if ckMeID(t, r) != user.User.ID {
			t.Fatalf("me = %s, want %s", r.Data, user.User.ID)
		}
		trCacheHeaders(t, "bearer GET", r, true)
	})
	t.Run("BearerPOST", func(t *testing.T) {
		trCacheHeaders(t, "bearer POST", s.cpPost(t, user.AccessToken, me, nil).mustNoErrors(t), true)
	})
	t.Run("InvalidBearerGET", func(t *testing.T) {
		trCacheHeaders(t, "invalid bearer GET", s.cpGet(t, "not-a-token", url.Values{"query": {`{ courses { totalCount } }`}}), true)
	})
	t.Run("AccessCookieGET", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		p, _ := b.mustAuth(t, "login", "cache@example.com", "cache-password-1", "COOKIES")
		r := b.get(t, me, withHeader("GraphQL-Require-Preflight", "1"))
		if ckMeID(t, r) != p.User.ID {
			t.Fatalf("me over a cookie GET = %s, want %s", r.Data, p.User.ID)
		}
		trCacheHeaders(t, "cookie GET", r, true)
	})
	t.Run("StaleRefreshCookieGET", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.setCookie(t, "coursehub_rt", "stale")
		trCacheHeaders(t, "refresh cookie GET", b.get(t, `{ courses { totalCount } }`, nil), true)
	})
	t.Run("StaleAccessCookiePOST", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.setCookie(t, "coursehub_at", "stale")
		trCacheHeaders(t, "access cookie POST", b.gql(t, `{ courses { totalCount } }`, nil, nil), true)
	})
}

func TestTrustAdminEmailExistingAccount(t *testing.T) {
	const bossEmail = "boss@example.com"
	const squatterPassword = "squatter-password-1"
	const envPassword = "boss-env-password-1"

	t.Run("ErrOtherPassword", func(t *testing.T) {
		dir := t.TempDir()
		s1 := mustStartServer(t, map[string]string{"DATA_DIR": dir, "ADMIN_EMAIL": "", "ADMIN_PASSWORD": ""})
		squatter := s1.mustSignup(t, bossEmail, squatterPassword, "Squatter")
		s1.stop(t)

		err := mustFailToStart(t, map[string]string{"DATA_DIR": dir, "ADMIN_EMAIL": bossEmail, "ADMIN_PASSWORD": envPassword})
		msg := err.Error()
		for _, want := range []string{"ADMIN_EMAIL", "ADMIN_PASSWORD", "exist", "change its password"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
		for _, secret := range []string{envPassword, squatterPassword} {
			if strings.Contains(msg, secret) {
				t.Errorf("error %q quotes a password", msg)
			}
		}

		s2 := mustStartServer(t, map[string]string{"DATA_DIR": dir, "ADMIN_EMAIL": "", "ADMIN_PASSWORD": ""})
		if p := s2.mustLogin(t, bossEmail, squatterPassword); p.User.ID != squatter.User.ID || p.User.Role != "USER" {
			t.Errorf("squatter after the refused start = %+v, want %s as USER", p.User, squatter.User.ID)
		}
	})

	t.Run("OKAdminChangedPassword", func(t *testing.T) {
		// The admin made at the first start changes their password; later
		// starts with the same ADMIN_PASSWORD must keep working.
		dir := t.TempDir()
		s1 := mustStartServer(t, map[string]string{"DATA_DIR": dir})
		tok := s1.mustAdminToken(t)
		s1.post(t, tok, `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`,
			map[string]any{"c": adminPassword, "n": "admin-password-changed"}).mustNoErrors(t)
		s1.stop(t)

		s2 := mustStartServer(t, map[string]string{"DATA_DIR": dir})
		if p := s2.mustLogin(t, adminEmail, "admin-password-changed"); p.User.Role != "ADMIN" {
			t.Errorf("role after restart = %q, want ADMIN", p.User.Role)
		}
		accLogin(t, s2, adminEmail, adminPassword).mustCode(t, "UNAUTHENTICATED")
	})
}
