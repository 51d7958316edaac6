package main

// End-to-end tests of the HTTP surface: GET and POST per GraphQL over HTTP,
// content types, malformed and oversized bodies, request and variable errors,
// health endpoints, the IDE, the access log, and a database that goes away.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// cpMarker is a value that must never come back in a response or a log.
const cpMarker = "hunter2-marker"

// cpJWTSecret is a random-looking JWT_SECRET for servers on MONGODB_URI.
const cpJWTSecret = "q7Vx2LmK9pRt4ZwB8nYc3HfJ6sDg1AeU5oIk0MbNvXzQ2lWr"

// cpPost is post that also checks every error's code against the contract.
func (s *testServer) cpPost(tb testing.TB, token, query string, vars map[string]any) gqlResponse {
	tb.Helper()
	r := s.post(tb, token, query, vars)
	r.mustContractCodes(tb)
	return r
}

// cpRawPost posts body with the given Content-Type (none when empty) and
// headers, and checks the codes of the GraphQL response.
func (s *testServer) cpRawPost(tb testing.TB, contentType string, body io.Reader, header http.Header) gqlResponse {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", body)
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	r := s.do(tb, req)
	r.mustContractCodes(tb)
	return r
}

// cpGet sends GET /graphql with params and checks the response's codes.
func (s *testServer) cpGet(tb testing.TB, token string, params url.Values) gqlResponse {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+params.Encode(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r := s.do(tb, req)
	r.mustContractCodes(tb)
	return r
}

// cpMustNotLogin checks that email has no account with password: a request
// that should not have run did not create it.
func (s *testServer) cpMustNotLogin(tb testing.TB, email, password string) {
	tb.Helper()
	s.cpPost(tb, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": email, "password": password}}).mustCode(tb, "UNAUTHENTICATED")
}

// cpSignupDoc is a signup mutation with its input inline, for transports
// where variables are awkward.
func cpSignupDoc(email, password string) string {
	return fmt.Sprintf(`mutation { signup(input: {email: %q, password: %q, name: "Sneaky"}) { accessToken } }`, email, password)
}

// cpMustStatus fails unless r has the HTTP status want and at least one error.
func cpMustStatus(tb testing.TB, r gqlResponse, want int) {
	tb.Helper()
	if r.Status != want {
		tb.Errorf("status = %d, want %d: %s", r.Status, want, r.Raw)
	}
	if len(r.Errors) == 0 {
		tb.Errorf("no errors in a %d response: %s", r.Status, r.Raw)
	}
}

func TestTransportGET(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	s.mustCreateCourse(t, admin, "Public", 100, true)

	t.Run("OKQuery", func(t *testing.T) {
		r := s.cpGet(t, "", url.Values{"query": {`{courses{totalCount}}`}}).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":1}}` {
			t.Errorf("data = %s", r.Data)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
	})

	t.Run("OKVariablesAndOperationName", func(t *testing.T) {
		r := s.cpGet(t, admin, url.Values{
			"query":         {`query A { me { id } } query B($n: Int) { courses(first: $n) { edges { node { title } } } }`},
			"operationName": {"B"},
			"variables":     {`{"n": 1}`},
		}).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"edges":[{"node":{"title":"Public"}}]}}` {
			t.Errorf("data = %s", r.Data)
		}
	})

	t.Run("ErrMutation", func(t *testing.T) {
		email := uniqueEmail(t, 1)
		r := s.cpGet(t, "", url.Values{"query": {cpSignupDoc(email, cpUserPassword)}})
		cpMustStatus(t, r, http.StatusMethodNotAllowed)
		if allow := r.Header.Get("Allow"); allow != http.MethodPost {
			t.Errorf("Allow = %q, want POST", allow)
		}
		if strings.Contains(r.Raw, "accessToken\":\"") || (len(r.Data) > 0 && string(r.Data) != "null") {
			t.Errorf("the mutation ran: %s", r.Raw)
		}
		s.cpMustNotLogin(t, email, cpUserPassword)
	})

	t.Run("ErrMutationWithVariables", func(t *testing.T) {
		before := s.cpCountCourses(t, admin)
		r := s.cpGet(t, admin, url.Values{
			"query":     {`mutation($in: CreateCourseInput!) { createCourse(input: $in) { id } }`},
			"variables": {`{"in": {"title": "Via GET", "description": "", "price": 1, "published": true}}`},
		})
		cpMustStatus(t, r, http.StatusMethodNotAllowed)
		if after := s.cpCountCourses(t, admin); after != before {
			t.Errorf("course count %d -> %d: a GET mutation ran", before, after)
		}
	})

	t.Run("ErrMutationByOperationName", func(t *testing.T) {
		email := uniqueEmail(t, 2)
		r := s.cpGet(t, "", url.Values{
			"query":         {`query Q { courses { totalCount } } ` + strings.Replace(cpSignupDoc(email, cpUserPassword), "mutation", "mutation M", 1)},
			"operationName": {"M"},
		})
		cpMustStatus(t, r, http.StatusMethodNotAllowed)
		s.cpMustNotLogin(t, email, cpUserPassword)
	})

	t.Run("ErrBadVariablesJSON", func(t *testing.T) {
		r := s.cpGet(t, "", url.Values{"query": {`{courses{totalCount}}`}, "variables": {`{"x": "` + cpMarker}})
		cpMustStatus(t, r, http.StatusBadRequest)
		r.mustCode(t, "GRAPHQL_PARSE_FAILED")
		if strings.Contains(r.Raw, cpMarker) {
			t.Errorf("response echoes the variables: %s", r.Raw)
		}
	})
}

func TestTransportContentType(t *testing.T) {
	s := mustStartServer(t, nil)
	for _, tc := range []struct {
		name, contentType string
		body              func(doc string) string
	}{
		{"TextPlain", "text/plain", func(doc string) string { b, _ := json.Marshal(map[string]string{"query": doc}); return string(b) }},
		{"TextPlainCharset", "text/plain;charset=UTF-8", func(doc string) string { b, _ := json.Marshal(map[string]string{"query": doc}); return string(b) }},
		{"FormURLEncoded", "application/x-www-form-urlencoded", func(doc string) string { return url.Values{"query": {doc}}.Encode() }},
		{"Multipart", "multipart/form-data; boundary=xyz", func(doc string) string {
			return "--xyz\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n" + doc + "\r\n--xyz--\r\n"
		}},
		{"Missing", "", func(doc string) string { b, _ := json.Marshal(map[string]string{"query": doc}); return string(b) }},
		{"JSONLookalike", "application/jsonp", func(doc string) string { b, _ := json.Marshal(map[string]string{"query": doc}); return string(b) }},
	} {
		t.Run("Err"+tc.name, func(t *testing.T) {
			email := uniqueEmail(t, 1)
			r := s.cpRawPost(t, tc.contentType, strings.NewReader(tc.body(cpSignupDoc(email, cpUserPassword))), nil)
			cpMustStatus(t, r, http.StatusUnsupportedMediaType)
			if len(r.Errors) != 1 || r.Errors[0].Code() == "" {
				t.Errorf("want one coded error: %s", r.Raw)
			}
			s.cpMustNotLogin(t, email, cpUserPassword)
		})
	}

	t.Run("OKJSONWithCharset", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json; charset=utf-8", strings.NewReader(`{"query":"{courses{totalCount}}"}`), nil).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":0}}` {
			t.Errorf("data = %s", r.Data)
		}
	})
}

func TestTransportMalformedBody(t *testing.T) {
	s := mustStartServer(t, nil)
	for name, body := range map[string]string{
		"Truncated":       `{"query":"mutation($in: LoginInput!) { login(input: $in) { accessToken } }","variables":{"in":{"email":"a@example.com","password":"` + cpMarker,
		"NotJSON":         `password=` + cpMarker,
		"Array":           `["` + cpMarker + `"]`,
		"QueryNotString":  `{"query": {"password": "` + cpMarker + `"}}`,
		"VariablesString": `{"query": "{ courses { totalCount } }", "variables": "` + cpMarker + `"}`,
		"TrailingData":    `{"query": "{ courses { totalCount } }"} {"password": "` + cpMarker + `"}`,
		"BadEscape":       `{"query": "{ courses { totalCount } }\x", "password": "` + cpMarker + `"}`,
	} {
		t.Run("Err"+name, func(t *testing.T) {
			r := s.cpRawPost(t, "application/json", strings.NewReader(body), nil)
			cpMustStatus(t, r, http.StatusBadRequest)
			r.mustCode(t, "GRAPHQL_PARSE_FAILED")
			if strings.Contains(r.Raw, cpMarker) || strings.Contains(r.Raw, "hunter2") {
				t.Errorf("response echoes the body: %s", r.Raw)
			}
		})
	}

	t.Run("ErrEmptyBody", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", strings.NewReader(""), nil)
		cpMustStatus(t, r, http.StatusBadRequest)
		r.mustCode(t, "GRAPHQL_PARSE_FAILED")
	})

	t.Run("ErrNoQuery", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", strings.NewReader(`{}`), nil)
		if len(r.Errors) == 0 {
			t.Errorf("no error for a body without a query: %s", r.Raw)
		}
	})
	// The server keeps serving.
	s.cpPost(t, "", `{ courses { totalCount } }`, nil).mustNoErrors(t)
}

func TestTransportBodyLimit(t *testing.T) {
	s := mustStartServer(t, nil)
	const limit = 1 << 20
	// A valid request padded with JSON whitespace to size bytes.
	padded := func(size int) []byte {
		head := `{"query":"{ courses { totalCount } }"`
		b := make([]byte, 0, size)
		b = append(b, head...)
		b = append(b, bytes.Repeat([]byte(" "), size-len(head)-1)...)
		return append(b, '}')
	}

	t.Run("OKUnderLimit", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", bytes.NewReader(padded(limit-1024)), nil).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":0}}` {
			t.Errorf("data = %s", r.Data)
		}
	})

	t.Run("ErrOverLimit", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", bytes.NewReader(padded(limit+1)), nil)
		cpMustStatus(t, r, http.StatusRequestEntityTooLarge)
	})

	t.Run("ErrOverLimitChunked", func(t *testing.T) {
		// No Content-Length: the server must stop reading at the limit.
		body := io.MultiReader(bytes.NewReader(padded(2 * limit)))
		r := s.cpRawPost(t, "application/json", struct{ io.Reader }{body}, nil)
		cpMustStatus(t, r, http.StatusRequestEntityTooLarge)
	})

	s.cpPost(t, "", `{ courses { totalCount } }`, nil).mustNoErrors(t)
}

func TestTransportGraphQLErrors(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustLogin(t, adminEmail, adminPassword)

	t.Run("ErrParse", func(t *testing.T) {
		for _, q := range []string{`{ courses { `, `query {`, `}{`, `mutation { signup(input: {email: "a"`} {
			s.cpPost(t, "", q, nil).mustCode(t, "GRAPHQL_PARSE_FAILED")
		}
	})

	t.Run("ErrUnknownField", func(t *testing.T) {
		s.cpPost(t, "", `{ courses { nope } }`, nil).mustCode(t, "GRAPHQL_VALIDATION_FAILED")
		s.cpPost(t, "", `{ nope }`, nil).mustCode(t, "GRAPHQL_VALIDATION_FAILED")
	})

	t.Run("ErrWrongVariableTypes", func(t *testing.T) {
		signup := `mutation($in: SignupInput!) { signup(input: $in) { accessToken } }`
		for name, tc := range map[string]struct {
			token, query string
			vars         map[string]any
		}{
			"PasswordObject": {"", signup, map[string]any{"in": map[string]any{
				"email": "obj@example.com", "password": map[string]any{"secret": cpMarker}, "name": "x"}}},
			"PasswordArray": {"", signup, map[string]any{"in": map[string]any{
				"email": "arr@example.com", "password": []any{cpMarker}, "name": "x"}}},
			"PasswordNumber": {"", signup, map[string]any{"in": map[string]any{
				"email": "num@example.com", "password": 73317331, "name": "x"}}},
			"InputString": {"", signup, map[string]any{"in": cpMarker}},
			"RoleString": {admin.AccessToken, `mutation($id: ID!, $role: Role!) { setRole(userId: $id, role: $role) { id } }`,
				map[string]any{"id": admin.User.ID, "role": "hunter2marker"}},
			"PriceString": {admin.AccessToken, `mutation($in: CreateCourseInput!) { createCourse(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"title": "t", "description": "d", "price": "hunter2marker"}}},
			"FirstString": {"", `query($n: Int) { courses(first: $n) { totalCount } }`, map[string]any{"n": "hunter2marker"}},
			"LoginEmailObject": {"", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
				map[string]any{"in": map[string]any{"email": map[string]any{"$gt": cpMarker}, "password": cpMarker}}},
		} {
			t.Run(name, func(t *testing.T) {
				r := s.cpPost(t, tc.token, tc.query, tc.vars)
				r.mustCode(t, "GRAPHQL_VALIDATION_FAILED")
				for _, m := range []string{cpMarker, "hunter2marker", "hunter2", "73317331"} {
					if strings.Contains(r.Raw, m) {
						t.Errorf("response echoes the submitted value %q: %s", m, r.Raw)
					}
				}
			})
		}
		s.cpMustNotLogin(t, "obj@example.com", cpMarker)
	})

	t.Run("OKStatusForJSON", func(t *testing.T) {
		// application/json clients get 200 for a well-formed request even
		// when the document is invalid (GraphQL over HTTP, legacy media type).
		r := s.cpPost(t, "", `{ nope }`, nil)
		if r.Status != http.StatusOK {
			t.Errorf("status = %d, want 200", r.Status)
		}
	})
}

func TestTransportHeaders(t *testing.T) {
	s := mustStartServer(t, nil)
	body := func(q string) io.Reader {
		b, _ := json.Marshal(map[string]string{"query": q})
		return bytes.NewReader(b)
	}
	gqlResp := "application/graphql-response+json"

	t.Run("OKGraphQLResponseMedia", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", body(`{ courses { totalCount } }`),
			http.Header{"Accept": {gqlResp + ", application/json;q=0.9"}}).mustNoErrors(t)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, gqlResp) {
			t.Errorf("Content-Type = %q, want %s", ct, gqlResp)
		}
	})

	t.Run("OKGraphQLResponseMediaOnError", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", body(`{ courses { `), http.Header{"Accept": {gqlResp}})
		r.mustCode(t, "GRAPHQL_PARSE_FAILED")
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, gqlResp) {
			t.Errorf("Content-Type = %q, want %s", ct, gqlResp)
		}
		if r.Status != http.StatusBadRequest {
			t.Errorf("status = %d, want 400 for %s", r.Status, gqlResp)
		}
	})

	t.Run("OKDefaultMedia", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", body(`{ courses { totalCount } }`), nil).mustNoErrors(t)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
	})

	t.Run("OKRequestID", func(t *testing.T) {
		r := s.cpRawPost(t, "application/json", body(`{ courses { totalCount } }`), nil)
		if r.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id on a GraphQL response")
		}
		r = s.cpRawPost(t, "text/plain", body(`{ courses { totalCount } }`), nil)
		if r.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id on a 415 response")
		}
		_, h, _ := s.httpGet(t, "/healthz")
		if h.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id on /healthz")
		}
		// A sane id from the client is kept; an odd one is replaced.
		r = s.cpRawPost(t, "application/json", body(`{ courses { totalCount } }`), http.Header{"X-Request-Id": {"client-id-123"}})
		if got := r.Header.Get("X-Request-Id"); got != "client-id-123" {
			t.Errorf("X-Request-Id = %q, want the client's client-id-123", got)
		}
		r = s.cpRawPost(t, "application/json", body(`{ courses { totalCount } }`), http.Header{"X-Request-Id": {"<script>" + cpMarker}})
		if got := r.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, "<") || strings.Contains(got, cpMarker) {
			t.Errorf("X-Request-Id = %q, want a fresh id", got)
		}
	})
}

func TestTransportHealthAndIDE(t *testing.T) {
	s := mustStartServer(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		status, _, _ := s.httpGet(t, path)
		if status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, status)
		}
	}
	status, h, body := s.httpGet(t, "/")
	if status != http.StatusOK {
		t.Errorf("GET / = %d, want 200", status)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET / Content-Type = %q, want text/html", ct)
	}
	if !strings.Contains(strings.ToLower(body), "<html") || !strings.Contains(body, "/ide/ide.js") {
		t.Errorf("GET / is not the IDE page: %.200s", body)
	}
	if status, _, _ := s.httpGet(t, "/no-such-page"); status != http.StatusNotFound {
		t.Errorf("GET /no-such-page = %d, want 404", status)
	}
}

// cpLogLine is one access-log record.
type cpLogLine struct {
	Msg       string          `json:"msg"`
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Status    int             `json:"status"`
	Duration  json.RawMessage `json:"duration"`
	RequestID string          `json:"request_id"`
	Operation *string         `json:"operation"`
}

func TestAccessLog(t *testing.T) {
	s := mustStartServer(t, nil)
	type sent struct {
		method, path, operation string
		status                  int
	}
	want := map[string]sent{} // by request id
	record := func(t *testing.T, r gqlResponse, method, path, op string) {
		t.Helper()
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			t.Fatalf("no X-Request-Id: %s", r.Raw)
		}
		want[id] = sent{method, path, op, r.Status}
	}
	postOp := func(t *testing.T, token, query, opName string, vars map[string]any) gqlResponse {
		t.Helper()
		payload := map[string]any{"query": query, "variables": vars}
		if opName != "" {
			payload["operationName"] = opName
		}
		b, _ := json.Marshal(payload)
		h := http.Header{}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		return s.cpRawPost(t, "application/json", bytes.NewReader(b), h)
	}

	password := "pw-" + cpMarker + "-7f3a"
	wrongPassword := "wrong-" + cpMarker + "-9c1d"
	email := uniqueEmail(t, 1)
	signupQ := `mutation SignUp($in: SignupInput!) { signup(input: $in) { accessToken refreshToken } }`
	r := postOp(t, "", signupQ, "SignUp", map[string]any{"in": map[string]any{"email": email, "password": password, "name": "Logged"}}).mustNoErrors(t)
	record(t, r, "POST", "/graphql", "SignUp")
	var su struct {
		Signup struct{ AccessToken, RefreshToken string }
	}
	r.decode(t, &su)

	loginQ := `mutation LogIn($in: LoginInput!) { login(input: $in) { accessToken refreshToken } }`
	r = postOp(t, "", loginQ, "LogIn", map[string]any{"in": map[string]any{"email": email, "password": password}}).mustNoErrors(t)
	record(t, r, "POST", "/graphql", "LogIn")
	var li struct {
		Login struct{ AccessToken, RefreshToken string }
	}
	r.decode(t, &li)

	r = postOp(t, "", loginQ, "LogIn", map[string]any{"in": map[string]any{"email": email, "password": wrongPassword}})
	r.mustCode(t, "UNAUTHENTICATED")
	record(t, r, "POST", "/graphql", "LogIn")

	r = postOp(t, "", `query ListCourses { courses { totalCount } }`, "ListCourses", nil).mustNoErrors(t)
	record(t, r, "POST", "/graphql", "ListCourses")

	// The name in the document, without operationName in the body.
	r = postOp(t, li.Login.AccessToken, `query WhoAmI { me { id } }`, "", nil).mustNoErrors(t)
	record(t, r, "POST", "/graphql", "WhoAmI")

	r = postOp(t, "", `mutation Rotate($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }`, "Rotate",
		map[string]any{"t": li.Login.RefreshToken}).mustNoErrors(t)
	record(t, r, "POST", "/graphql", "Rotate")
	var rt struct {
		RefreshToken struct{ AccessToken, RefreshToken string }
	}
	r.decode(t, &rt)

	r = s.cpGet(t, su.Signup.AccessToken, url.Values{"query": {`query ViaGet { courses { totalCount } }`}, "operationName": {"ViaGet"}}).mustNoErrors(t)
	record(t, r, "GET", "/graphql", "ViaGet")

	r = s.cpRawPost(t, "text/plain", strings.NewReader(`{"query":"{ me { id } }"}`), nil)
	record(t, r, "POST", "/graphql", "")

	status, h, _ := s.httpGet(t, "/healthz")
	want[h.Get("X-Request-Id")] = sent{"GET", "/healthz", "", status}

	// The access line is written once the handler returns; wait for all.
	var lines []cpLogLine
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines = lines[:0]
		for _, l := range strings.Split(s.logs.String(), "\n") {
			var rec cpLogLine
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "request" {
				lines = append(lines, rec)
			}
		}
		if len(lines) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(lines) != len(want) {
		t.Errorf("%d access-log lines for %d requests", len(lines), len(want))
	}
	seen := map[string]int{}
	for _, l := range lines {
		seen[l.RequestID]++
		w, ok := want[l.RequestID]
		if !ok {
			t.Errorf("access-log line for an unknown request id: %+v", l)
			continue
		}
		if l.Method != w.method || l.Path != w.path || l.Status != w.status {
			t.Errorf("line %+v, want method %s path %s status %d", l, w.method, w.path, w.status)
		}
		if l.Operation == nil || *l.Operation != w.operation {
			got := "<missing>"
			if l.Operation != nil {
				got = *l.Operation
			}
			t.Errorf("request %s %s: operation = %q, want %q", l.Method, l.Path, got, w.operation)
		}
		if len(l.Duration) == 0 || string(l.Duration) == "null" {
			t.Errorf("line %+v has no duration", l)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("request %s has %d access-log lines, want 1", id, seen[id])
		}
	}

	log := s.logs.String()
	for name, secret := range map[string]string{
		"password": password, "wrong password": wrongPassword, "marker": cpMarker,
		"signup access token": su.Signup.AccessToken, "signup refresh token": su.Signup.RefreshToken,
		"login access token": li.Login.AccessToken, "login refresh token": li.Login.RefreshToken,
		"rotated access token": rt.RefreshToken.AccessToken, "rotated refresh token": rt.RefreshToken.RefreshToken,
	} {
		if secret == "" {
			t.Errorf("%s is empty", name)
			continue
		}
		if strings.Contains(log, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
	// Nor the signature part of a JWT on its own.
	if parts := strings.Split(li.Login.AccessToken, "."); len(parts) == 3 && strings.Contains(log, parts[2]) {
		t.Error("the log contains an access token's signature")
	}
}

func TestDatabaseGoesAway(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	emb, err := mongodb.StartEmbedded(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop) // runs after the server's own clean-up

	dataDir := t.TempDir()
	s := mustStartServer(t, map[string]string{
		"MONGODB_URI": emb.URI(),
		"JWT_SECRET":  cpJWTSecret,
		"DB_TIMEOUT":  "2s",
		"DATA_DIR":    dataDir,
	})
	assertEmptyDataDir := func(t *testing.T) {
		t.Helper()
		entries, err := os.ReadDir(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("DATA_DIR has %v; with MONGODB_URI nothing may be written there", names)
		}
	}

	t.Run("OKWhileUp", func(t *testing.T) {
		admin := s.mustAdminToken(t)
		s.mustCreateCourse(t, admin, "On External", 100, true)
		r := s.cpPost(t, "", `{ courses { totalCount } }`, nil).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":1}}` {
			t.Errorf("data = %s", r.Data)
		}
		if status, _, _ := s.httpGet(t, "/readyz"); status != http.StatusOK {
			t.Errorf("/readyz = %d, want 200", status)
		}
		log := s.logs.String()
		if strings.Contains(log, "using the embedded database") || !strings.Contains(log, "using MONGODB_URI") {
			t.Errorf("the server did not say it uses MONGODB_URI:\n%s", log)
		}
		assertEmptyDataDir(t)
	})

	emb.Stop()

	t.Run("ReadyzUnavailable", func(t *testing.T) {
		start := time.Now()
		for {
			status, _, _ := s.httpGet(t, "/readyz")
			if status == http.StatusServiceUnavailable {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("/readyz = %d for %v after the database stopped, want 503", status, time.Since(start))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("/readyz took %v to notice", d)
		}
	})

	t.Run("ErrUnavailableQuickly", func(t *testing.T) {
		start := time.Now()
		r := s.cpPost(t, "", `{ courses { edges { node { id title } } totalCount } }`, nil)
		r.mustFailUnavailable(t, "courses", time.Since(start), 10*time.Second)

		start = time.Now()
		r = s.cpPost(t, "", `mutation { login(input: {email: "admin@example.com", password: "admin-password-1"}) { accessToken } }`, nil)
		r.mustFailUnavailable(t, "login", time.Since(start), 10*time.Second)
	})

	t.Run("HealthzStillOK", func(t *testing.T) {
		if status, _, _ := s.httpGet(t, "/healthz"); status != http.StatusOK {
			t.Errorf("/healthz = %d, want 200", status)
		}
	})

	s.stop(t)
	assertEmptyDataDir(t)
}
