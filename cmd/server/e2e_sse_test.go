package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// Subscriptions over plain HTTP: GraphQL over Server-Sent Events (the
// graphql-sse protocol, distinct connections mode) and Apollo's multipart
// subscriptions, spoken here frame by frame. scripts/stream-clients-test.sh
// runs the real graphql-sse client against the server too.

// streamFrame is one SSE event (Event "next" or "complete") or one
// multipart part (Event "part"), with its data.
type streamFrame struct {
	Event string
	Data  string
}

// httpStream is an open streaming response read frame by frame.
type httpStream struct {
	Status int
	Header http.Header
	frames chan streamFrame // closed at the end of the body
	// comments counts SSE comment lines (":"), the keep-alives.
	comments atomic.Int64
	// opened is closed when the first bytes (the opening frame) arrive.
	opened chan struct{}
	cancel context.CancelFunc
}

const (
	acceptSSE       = "text/event-stream"
	acceptMultipart = `multipart/mixed;subscriptionSpec="1.0", application/json`
)

// openStream sends req and reads its body as SSE, or as multipart when the
// answer says so. The stream is closed in Cleanup. No client timeout: the
// stream is meant to outlive one.
func openStream(tb testing.TB, req *http.Request) *httpStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	resp, err := (&http.Client{}).Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	st := &httpStream{Status: resp.StatusCode, Header: resp.Header, frames: make(chan streamFrame, 64),
		opened: make(chan struct{}), cancel: cancel}
	multipart := strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/mixed")
	go func() {
		defer resp.Body.Close()
		defer close(st.frames)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev streamFrame
		first := true
		inHeaders := false
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			if first {
				first = false
				close(st.opened)
			}
			if multipart {
				switch {
				case line == "--graphql--":
					st.frames <- streamFrame{Event: "end"}
				case line == "--graphql":
					inHeaders = true
				case inHeaders && line == "":
					inHeaders = false
				case inHeaders:
				case line != "":
					st.frames <- streamFrame{Event: "part", Data: line}
				}
				continue
			}
			switch {
			case strings.HasPrefix(line, ":"):
				st.comments.Add(1)
			case strings.HasPrefix(line, "event:"):
				ev.Event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				ev.Data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			case line == "" && ev.Event != "":
				st.frames <- ev
				ev = streamFrame{}
			}
		}
		if first {
			close(st.opened)
		}
	}()
	return st
}

// streamRequest builds a streaming request: POST with a JSON body, or GET
// with the operation in the query string (as EventSource sends it).
func (s *testServer) streamRequest(tb testing.TB, method, accept, token, query string, vars map[string]any) *http.Request {
	tb.Helper()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		q := url.Values{"query": {query}}
		if vars != nil {
			b, _ := json.Marshal(vars)
			q.Set("variables", string(b))
		}
		req, err = http.NewRequest(http.MethodGet, s.URL+"/graphql?"+q.Encode(), nil)
	} else {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, err = http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// mustSSE opens a GraphQL-over-SSE POST stream and waits until it is up
// (the subscription, if any, registered).
func (s *testServer) mustSSE(tb testing.TB, token, query string, vars map[string]any) *httpStream {
	tb.Helper()
	st := openStream(tb, s.streamRequest(tb, http.MethodPost, acceptSSE, token, query, vars))
	st.mustOpen(tb, acceptSSE)
	return st
}

// mustOpen checks the stream's status and media type and waits for its
// first bytes.
func (st *httpStream) mustOpen(tb testing.TB, media string) {
	tb.Helper()
	if st.Status != http.StatusOK || !strings.HasPrefix(st.Header.Get("Content-Type"), strings.Split(media, ";")[0]) {
		tb.Fatalf("stream answered %d %s, want 200 %s", st.Status, st.Header.Get("Content-Type"), media)
	}
	select {
	case <-st.opened:
	case <-time.After(5 * time.Second):
		tb.Fatal("the stream sent nothing within 5s")
	}
}

// next returns the next frame; ok is false when the stream has ended. It
// fails the test after wait.
func (st *httpStream) next(tb testing.TB, wait time.Duration) (f streamFrame, ok bool) {
	tb.Helper()
	select {
	case f, ok = <-st.frames:
		return f, ok
	case <-time.After(wait):
		tb.Fatalf("no frame within %v", wait)
	}
	return f, false
}

// mustResult reads a `next` event and decodes its execution result.
func (st *httpStream) mustResult(tb testing.TB, wait time.Duration) gqlResponse {
	tb.Helper()
	f, ok := st.next(tb, wait)
	if !ok || f.Event != "next" {
		tb.Fatalf("want a next event, got %+v (stream open: %v)", f, ok)
	}
	out := gqlResponse{Status: http.StatusOK, Raw: f.Data}
	if err := json.Unmarshal([]byte(f.Data), &out); err != nil {
		tb.Fatalf("next data is not JSON: %q", f.Data)
	}
	return out
}

// mustComplete reads `complete`, then the end of the body.
func (st *httpStream) mustComplete(tb testing.TB, wait time.Duration) {
	tb.Helper()
	if f, ok := st.next(tb, wait); !ok || f.Event != "complete" {
		tb.Fatalf("want complete, got %+v (stream open: %v)", f, ok)
	}
	if f, ok := st.next(tb, wait); ok {
		tb.Fatalf("a frame after complete: %+v", f)
	}
}

// mustRefused reads a refusal: one next event with code, then complete.
func (st *httpStream) mustRefused(tb testing.TB, code string) gqlError {
	tb.Helper()
	return st.mustRefusedWithin(tb, code, 5*time.Second)
}

// mustRefusedWithin is mustRefused waiting up to wait for the refusal.
func (st *httpStream) mustRefusedWithin(tb testing.TB, code string, wait time.Duration) gqlError {
	tb.Helper()
	r := st.mustResult(tb, wait)
	if len(r.Data) > 0 && string(r.Data) != "null" {
		tb.Fatalf("a refusal with data: %s", r.Raw)
	}
	e := r.mustCode(tb, code)
	st.mustComplete(tb, 5*time.Second)
	return e
}

// mustNoFrame checks that nothing arrives for wait.
func (st *httpStream) mustNoFrame(tb testing.TB, wait time.Duration) {
	tb.Helper()
	select {
	case f, ok := <-st.frames:
		tb.Fatalf("want nothing, got %+v (stream open: %v)", f, ok)
	case <-time.After(wait):
	}
}

// mustLiveSSEPurchaseMade buys fresh courses as buyer until purchaseMade on
// st delivers the latest, so no earlier event is still on its way.
func mustLiveSSEPurchaseMade(t *testing.T, s *testServer, st *httpStream, adminToken, buyerToken string) {
	t.Helper()
	course := s.mustCreateCourse(t, adminToken, "Warm-up "+time.Now().Format(time.RFC3339Nano), 100, true)
	s.post(t, buyerToken, wsPurchase, map[string]any{"id": course.ID}).mustNoErrors(t)
	r := st.mustResult(t, 5*time.Second).mustNoErrors(t)
	if !strings.Contains(r.Raw, course.ID) {
		t.Fatalf("want the purchase of %s, got %s", course.ID, r.Raw)
	}
}

const (
	// sseTooManyAliases is valid, with 3 aliases (GRAPHQL_MAX_ALIASES is 1
	// in TestSSE).
	sseTooManyAliases  = `subscription { coursePublished { a: id b: title c: price } }`
	sseCoursePublished = `subscription { coursePublished { id title published } }`
	ssePurchaseMade    = `subscription { purchaseMade { id pricePaid course { id title } } }`
)

// Ensure GraphQL over SSE delivers events, obeys @auth and the limits, and
// reports every refusal inside an accepted stream, as the protocol says.
func TestSSE(t *testing.T) {
	s := mustStartServer(t, subEnv(map[string]string{"REQUEST_TIMEOUT": "1s", "GRAPHQL_MAX_ALIASES": "1", "GRAPHQL_MAX_QUERY_BYTES": "400"}))
	admin := s.mustLogin(t, adminEmail, adminPassword)
	buyer := s.mustSignup(t, "sse-buyer@example.com", "buyer-password-1", "Buyer")

	t.Run("OKCoursePublishedAnonymous", func(t *testing.T) {
		st := s.mustSSE(t, "", sseCoursePublished, nil)
		if cc := st.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		draft := s.mustCreateCourse(t, admin.AccessToken, "SSE Draft", 100, false)
		s.mustCreateCourse(t, admin.AccessToken, "SSE Direct", 100, true)
		s.post(t, admin.AccessToken, `mutation($id: ID!) { updateCourse(id: $id, input: {published: true}) { id } }`,
			map[string]any{"id": draft.ID}).mustNoErrors(t)
		var got []string
		for range 2 {
			var d struct{ CoursePublished courseRef }
			st.mustResult(t, 5*time.Second).mustNoErrors(t).decode(t, &d)
			if !d.CoursePublished.Published {
				t.Errorf("event of an unpublished course: %+v", d.CoursePublished)
			}
			got = append(got, d.CoursePublished.Title)
		}
		if got[0] != "SSE Direct" || got[1] != "SSE Draft" {
			t.Errorf("events = %v, want the direct publication, then the draft's", got)
		}
	})

	t.Run("OKOutlivesRequestTimeout", func(t *testing.T) {
		// REQUEST_TIMEOUT is 1s here: a stream is not a request to bound.
		st := s.mustSSE(t, "", sseCoursePublished, nil)
		time.Sleep(2500 * time.Millisecond)
		s.mustCreateCourse(t, admin.AccessToken, "SSE Late", 100, true)
		if r := st.mustResult(t, 5*time.Second).mustNoErrors(t); !strings.Contains(r.Raw, "SSE Late") {
			t.Fatalf("want the late course, got %s", r.Raw)
		}
	})

	t.Run("OKPurchaseMadeAdmin", func(t *testing.T) {
		st := s.mustSSE(t, admin.AccessToken, ssePurchaseMade, nil)
		course := s.mustCreateCourse(t, admin.AccessToken, "SSE Sold", 4200, true)
		s.post(t, buyer.AccessToken, wsPurchase, map[string]any{"id": course.ID}).mustNoErrors(t)
		// Buying again is the same purchase: no second event.
		s.post(t, buyer.AccessToken, wsPurchase, map[string]any{"id": course.ID}).mustNoErrors(t)
		r := st.mustResult(t, 5*time.Second).mustNoErrors(t)
		if !strings.Contains(r.Raw, `"pricePaid":4200`) || !strings.Contains(r.Raw, "SSE Sold") {
			t.Fatalf("want the purchase, got %s", r.Raw)
		}
		st.mustNoFrame(t, 500*time.Millisecond)
	})

	t.Run("OKCookieAuth", func(t *testing.T) {
		// A browser's graphql-sse client on the app's origin, cookie mode.
		req := s.streamRequest(t, http.MethodPost, acceptSSE, "", ssePurchaseMade, nil)
		req.Header.Set("Origin", subOrigin)
		req.AddCookie(&http.Cookie{Name: auth.AccessCookie, Value: admin.AccessToken})
		st := openStream(t, req)
		st.mustOpen(t, acceptSSE)
		course := s.mustCreateCourse(t, admin.AccessToken, "SSE Cookie Sold", 100, true)
		s.post(t, buyer.AccessToken, wsPurchase, map[string]any{"id": course.ID}).mustNoErrors(t)
		if r := st.mustResult(t, 5*time.Second).mustNoErrors(t); !strings.Contains(r.Raw, course.ID) {
			t.Fatalf("want the purchase, got %s", r.Raw)
		}
	})

	t.Run("OKRefreshCookieOnly", func(t *testing.T) {
		// A cookie-mode browser whose access cookie has expired still has
		// its refresh cookie: it signs the stream in, as it does a socket.
		req := s.mustPostRequest(t, "", `mutation($in: LoginInput!) { login(input: $in, delivery: COOKIES) { user { id } } }`,
			map[string]any{"in": map[string]any{"email": adminEmail, "password": adminPassword}})
		req.Header.Set("Origin", subOrigin)
		login := s.do(t, req).mustNoErrors(t)
		var refresh string
		for _, c := range (&http.Response{Header: login.Header}).Cookies() {
			if c.Name == auth.RefreshCookie {
				refresh = c.Value
			}
		}
		if refresh == "" {
			t.Fatalf("no refresh cookie: %q", login.Header.Values("Set-Cookie"))
		}
		sreq := s.streamRequest(t, http.MethodPost, acceptSSE, "", ssePurchaseMade, nil)
		sreq.Header.Set("Origin", subOrigin)
		sreq.AddCookie(&http.Cookie{Name: auth.RefreshCookie, Value: refresh})
		st := openStream(t, sreq)
		st.mustOpen(t, acceptSSE)
		course := s.mustCreateCourse(t, admin.AccessToken, "SSE Refresh Cookie Sold", 100, true)
		s.post(t, buyer.AccessToken, wsPurchase, map[string]any{"id": course.ID}).mustNoErrors(t)
		if r := st.mustResult(t, 5*time.Second).mustNoErrors(t); !strings.Contains(r.Raw, course.ID) {
			t.Fatalf("want the purchase, got %s", r.Raw)
		}
	})

	t.Run("OKGetEventSource", func(t *testing.T) {
		// EventSource can only GET; a subscription is no side effect.
		st := openStream(t, s.streamRequest(t, http.MethodGet, acceptSSE, "", sseCoursePublished, nil))
		st.mustOpen(t, acceptSSE)
		s.mustCreateCourse(t, admin.AccessToken, "SSE Over GET", 100, true)
		if r := st.mustResult(t, 5*time.Second).mustNoErrors(t); !strings.Contains(r.Raw, "SSE Over GET") {
			t.Fatalf("want the course, got %s", r.Raw)
		}
	})

	t.Run("OKQuery", func(t *testing.T) {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			st := openStream(t, s.streamRequest(t, method, acceptSSE, "", `{ courses(first: 1) { totalCount } }`, nil))
			st.mustOpen(t, acceptSSE)
			if r := st.mustResult(t, 5*time.Second).mustNoErrors(t); !strings.Contains(r.Raw, `"totalCount":`) {
				t.Fatalf("%s: want the count, got %s", method, r.Raw)
			}
			st.mustComplete(t, 5*time.Second)
		}
	})

	t.Run("OKMutationSetsCookies", func(t *testing.T) {
		// A query or mutation runs before the stream's headers go out, so
		// what it sets on the response arrives.
		req := s.streamRequest(t, http.MethodPost, acceptSSE, "",
			`mutation($in: LoginInput!) { login(input: $in, delivery: COOKIES) { user { id } } }`,
			map[string]any{"in": map[string]any{"email": adminEmail, "password": adminPassword}})
		req.Header.Set("Origin", subOrigin)
		st := openStream(t, req)
		st.mustOpen(t, acceptSSE)
		st.mustResult(t, 5*time.Second).mustNoErrors(t)
		st.mustComplete(t, 5*time.Second)
		if !strings.Contains(strings.Join(st.Header.Values("Set-Cookie"), "\n"), auth.AccessCookie+"=") {
			t.Errorf("no access cookie set: %q", st.Header.Values("Set-Cookie"))
		}
	})

	refusals := []struct {
		name, method, token, query, code string
		// message, when set, is part of the error's message.
		message string
	}{
		{"ErrPurchaseMadeUser", http.MethodPost, buyer.AccessToken, ssePurchaseMade, "FORBIDDEN", ""},
		{"ErrPurchaseMadeAnonymous", http.MethodPost, "", ssePurchaseMade, "UNAUTHENTICATED", ""},
		{"ErrPurchaseMadeUserGet", http.MethodGet, buyer.AccessToken, ssePurchaseMade, "FORBIDDEN", ""},
		// Credentials that do not hold refuse the stream, even for a public
		// subscription: it must not outlive them.
		{"ErrBadToken", http.MethodPost, "garbage", sseCoursePublished, "UNAUTHENTICATED", ""},
		{"ErrRefreshTokenAsAccess", http.MethodPost, buyer.RefreshToken, sseCoursePublished, "UNAUTHENTICATED", ""},
		{"ErrMutationOverGet", http.MethodGet, admin.AccessToken,
			`mutation { createCourse(input: {title: "By GET", description: "x", price: 1}) { id } }`, "GRAPHQL_VALIDATION_FAILED", ""},
		{"ErrTooManyAliases", http.MethodPost, "", sseTooManyAliases, "GRAPHQL_VALIDATION_FAILED", "aliases"},
		{"ErrTooManyAliasesGet", http.MethodGet, "", sseTooManyAliases, "GRAPHQL_VALIDATION_FAILED", "aliases"},
		{"ErrTooLong", http.MethodPost, "", "subscription { coursePublished { id " + strings.Repeat("title ", 70) + "} }", "GRAPHQL_PARSE_FAILED", "bytes"},
		{"ErrTooLongGet", http.MethodGet, "", "subscription { coursePublished { id " + strings.Repeat("title ", 70) + "} }", "GRAPHQL_PARSE_FAILED", "bytes"},
		{"ErrInvalid", http.MethodPost, "", `subscription { noSuchField }`, "GRAPHQL_VALIDATION_FAILED", ""},
		{"ErrSyntax", http.MethodPost, "", `subscription {`, "GRAPHQL_PARSE_FAILED", ""},
		{"ErrNoQuery", http.MethodPost, "", ``, "GRAPHQL_PARSE_FAILED", ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			st := openStream(t, s.streamRequest(t, tt.method, acceptSSE, tt.token, tt.query, nil))
			st.mustOpen(t, acceptSSE)
			e := st.mustRefused(t, tt.code)
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q, want it to contain %q", e.Message, tt.message)
			}
		})
	}

	t.Run("ErrNotJSON", func(t *testing.T) {
		req := s.streamRequest(t, http.MethodPost, acceptSSE, "", sseCoursePublished, nil)
		req.Header.Set("Content-Type", "text/plain")
		st := openStream(t, req)
		st.mustOpen(t, acceptSSE)
		st.mustRefused(t, "GRAPHQL_PARSE_FAILED")
	})

	t.Run("OKEventFieldRefused", func(t *testing.T) {
		// A field refused inside an event is an error in that event; the
		// stream goes on.
		st := s.mustSSE(t, "", `subscription { coursePublished { title createdBy { name email } } }`, nil)
		for _, title := range []string{"SSE Email 1", "SSE Email 2"} {
			s.mustCreateCourse(t, admin.AccessToken, title, 100, true)
			r := st.mustResult(t, 5*time.Second)
			if !strings.Contains(r.Raw, title) {
				t.Fatalf("want %s, got %s", title, r.Raw)
			}
			r.mustCode(t, "FORBIDDEN")
		}
	})
}

// Ensure a stream ends, with a last next event carrying the reason and
// complete, within a second of its session ending or its user's demotion.
// The periodic check is an hour here: the announcement is what ends it.
func TestSSESessionRules(t *testing.T) {
	s := mustStartServer(t, wsPrivEnv())
	admin := s.mustAdminToken(t)
	buyer := s.mustSignup(t, "sse-rules-buyer@example.com", "buyer-password-1", "Buyer")

	t.Run("ErrLogout", func(t *testing.T) {
		other := s.mustLogin(t, adminEmail, adminPassword)
		st := s.mustSSE(t, other.AccessToken, ssePurchaseMade, nil)
		mustLiveSSEPurchaseMade(t, s, st, admin, buyer.AccessToken)
		// A public subscription on the same session ends too.
		pub := s.mustSSE(t, other.AccessToken, sseCoursePublished, nil)
		ended := time.Now()
		s.post(t, other.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
		for _, x := range []*httpStream{st, pub} {
			x.mustRefused(t, "UNAUTHENTICATED")
		}
		if took := time.Since(ended); took > time.Second {
			t.Errorf("ended %v after the logout, want within 1s", took)
		}
	})

	t.Run("ErrRevokedElsewhere", func(t *testing.T) {
		user := s.mustSignup(t, "sse-revoked@example.com", "user-password-1", "Revoked")
		st := s.mustSSE(t, user.AccessToken, sseCoursePublished, nil)
		other := s.mustLogin(t, "sse-revoked@example.com", "user-password-1")
		ended := time.Now()
		s.post(t, other.AccessToken, `mutation { logoutAll }`, nil).mustNoErrors(t)
		st.mustRefused(t, "UNAUTHENTICATED")
		if took := time.Since(ended); took > time.Second {
			t.Errorf("ended %v after logoutAll, want within 1s", took)
		}
	})

	t.Run("ErrDemoted", func(t *testing.T) {
		second := s.mustSignup(t, "sse-second-admin@example.com", "second-password-1", "Second")
		s.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "ADMIN"}).mustNoErrors(t)
		sales := s.mustSSE(t, second.AccessToken, ssePurchaseMade, nil)
		mustLiveSSEPurchaseMade(t, s, sales, admin, buyer.AccessToken)
		// The same session's public stream is still allowed after the
		// demotion, and stays.
		pub := s.mustSSE(t, second.AccessToken, sseCoursePublished, nil)
		demoted := time.Now()
		s.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "USER"}).mustNoErrors(t)
		sales.mustRefused(t, "FORBIDDEN")
		if took := time.Since(demoted); took > time.Second {
			t.Errorf("ended %v after the demotion, want within 1s", took)
		}
		s.mustCreateCourse(t, admin, "SSE After Demotion", 100, true)
		if r := pub.mustResult(t, 5*time.Second).mustNoErrors(t); !strings.Contains(r.Raw, "SSE After Demotion") {
			t.Fatalf("the public stream: %s", r.Raw)
		}
	})
}

// Ensure the periodic check (WS_SESSION_CHECK_INTERVAL) ends a stream whose
// session ended without an announcement reaching it, and that a stream ends
// when its access token expires.
func TestSSEPeriodicCheckAndExpiry(t *testing.T) {
	t.Run("OKTokenExpiryIsRetryable", func(t *testing.T) {
		// As a socket's 4419: at the token's expiry an SSE stream ends
		// without complete, which graphql-sse takes for a lost connection
		// and retries, calling its headers function for a fresh token.
		// Multipart clients do not retry: they get the reason.
		s := mustStartServer(t, subEnv(map[string]string{"ACCESS_TOKEN_TTL": "10s", "WS_SESSION_CHECK_INTERVAL": "1h"}))
		login := s.mustLogin(t, adminEmail, adminPassword)
		st := s.mustSSE(t, login.AccessToken, sseCoursePublished, nil)
		mp := s.mustMultipart(t, login.AccessToken, sseCoursePublished)
		if f, ok := st.next(t, 15*time.Second); ok {
			t.Fatalf("want the stream to end without a frame at the expiry, got %+v", f)
		}
		if late := time.Since(login.ExpiresAt); late > 2*time.Second || late < -time.Second {
			t.Errorf("ended %v after the token's expiry", late)
		}
		p, raw := mp.mustPayload(t, 5*time.Second)
		if p.Payload != nil || len(p.Errors) != 1 || p.Errors[0].Code() != "UNAUTHENTICATED" || !strings.Contains(p.Errors[0].Message, "expired") {
			t.Fatalf(`multipart: want {"payload": null, "errors": [UNAUTHENTICATED expired]}, got %s`, raw)
		}
		mp.mustEnd(t, 5*time.Second)

		// A retry with the token it already had: dropped at once again.
		again := s.mustSSE(t, login.AccessToken, sseCoursePublished, nil)
		if f, ok := again.next(t, 5*time.Second); ok {
			t.Fatalf("an expired token's stream delivered %+v", f)
		}
		s.do(t, s.streamRequest(t, http.MethodPost, acceptMultipart, login.AccessToken, sseCoursePublished, nil)).mustCode(t, "UNAUTHENTICATED")
		// With a fresh token the stream runs.
		fresh := s.mustSSE(t, s.mustLogin(t, adminEmail, adminPassword).AccessToken, sseCoursePublished, nil)
		s.mustCreateCourse(t, s.mustLogin(t, adminEmail, adminPassword).AccessToken, "After Expiry", 100, true)
		if r := fresh.mustResult(t, 5*time.Second).mustNoErrors(t); !strings.Contains(r.Raw, "After Expiry") {
			t.Fatalf("want the course, got %s", r.Raw)
		}
	})
	t.Run("ErrSessionEndedOnAnotherInstance", func(t *testing.T) {
		// Two instances on one database: a logout through B ends the
		// stream on A by A's periodic check (300ms), whether or not the
		// change is also announced across instances.
		db := mongotest.StartServer(t)
		env := outageEnv(db)
		env["WS_SESSION_CHECK_INTERVAL"] = "300ms"
		a := mustStartServer(t, env)
		b := mustStartServer(t, env)
		login := a.mustLogin(t, adminEmail, adminPassword)
		st := a.mustSSE(t, login.AccessToken, sseCoursePublished, nil)
		ended := time.Now()
		b.post(t, login.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
		st.mustRefused(t, "UNAUTHENTICATED")
		if took := time.Since(ended); took > 1500*time.Millisecond {
			t.Errorf("ended %v after the logout on the other instance, want within the check interval and a margin", took)
		}
	})
}

// multipartPart is one part of a multipart subscription.
type multipartPart struct {
	Payload *gqlResponse `json:"payload"`
	Errors  []gqlError   `json:"errors"`
}

// mustPart reads the next part; heartbeats ({}) are returned too.
func (st *httpStream) mustPart(tb testing.TB, wait time.Duration) (multipartPart, string) {
	tb.Helper()
	f, ok := st.next(tb, wait)
	if !ok || f.Event != "part" {
		tb.Fatalf("want a part, got %+v (stream open: %v)", f, ok)
	}
	var p multipartPart
	if err := json.Unmarshal([]byte(f.Data), &p); err != nil {
		tb.Fatalf("part is not JSON: %q", f.Data)
	}
	return p, f.Data
}

// mustPayload skips heartbeats and returns the next payload part.
func (st *httpStream) mustPayload(tb testing.TB, wait time.Duration) (multipartPart, string) {
	tb.Helper()
	for {
		p, raw := st.mustPart(tb, wait)
		if raw != "{}" {
			return p, raw
		}
	}
}

// mustEnd reads the closing delimiter, then the end of the body.
func (st *httpStream) mustEnd(tb testing.TB, wait time.Duration) {
	tb.Helper()
	if f, ok := st.next(tb, wait); !ok || f.Event != "end" {
		tb.Fatalf("want the closing delimiter, got %+v (stream open: %v)", f, ok)
	}
	if f, ok := st.next(tb, wait); ok {
		tb.Fatalf("a frame after the closing delimiter: %+v", f)
	}
}

// mustMultipart opens a multipart subscription and reads its first
// heartbeat, sent once the subscription is registered.
func (s *testServer) mustMultipart(tb testing.TB, token, query string) *httpStream {
	tb.Helper()
	st := openStream(tb, s.streamRequest(tb, http.MethodPost, acceptMultipart, token, query, nil))
	st.mustOpen(tb, "multipart/mixed")
	if ct := st.Header.Get("Content-Type"); !strings.Contains(ct, `boundary="graphql"`) {
		tb.Fatalf("Content-Type %q lacks the graphql boundary", ct)
	}
	if _, raw := st.mustPart(tb, 5*time.Second); raw != "{}" {
		tb.Fatalf("first part %s, want the heartbeat {}", raw)
	}
	return st
}

// Ensure Apollo's multipart subscriptions deliver events as payload parts,
// send heartbeats every 5 s, refuse as the spec's routers do, and end on the
// session rules like every other subscription transport.
func TestMultipartSubscriptions(t *testing.T) {
	s := mustStartServer(t, wsPrivEnv())
	admin := s.mustAdminToken(t)
	buyer := s.mustSignup(t, "mp-buyer@example.com", "buyer-password-1", "Buyer")

	t.Run("OKCoursePublishedAnonymous", func(t *testing.T) {
		st := s.mustMultipart(t, "", sseCoursePublished)
		s.mustCreateCourse(t, admin, "Multipart Live", 100, true)
		p, raw := st.mustPayload(t, 5*time.Second)
		if p.Payload == nil || len(p.Payload.Errors) > 0 || !strings.Contains(raw, "Multipart Live") {
			t.Fatalf("want the course's payload, got %s", raw)
		}
	})

	t.Run("OKPartClosedAtOnce", func(t *testing.T) {
		// Clients split on the delimiter (Apollo Client on CRLF
		// "--graphql"): an event must be followed by it at once, or the
		// client sees it only with the next heartbeat.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req := s.streamRequest(t, http.MethodPost, acceptMultipart, "", sseCoursePublished, nil).WithContext(ctx)
		resp, err := (&http.Client{}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		chunks := make(chan string, 16)
		go func() {
			defer close(chunks)
			b := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(b)
				if n > 0 {
					chunks <- string(b[:n])
				}
				if err != nil {
					return
				}
			}
		}()
		var got string
		next := func() {
			select {
			case c, ok := <-chunks:
				if !ok {
					t.Fatalf("the stream ended: %q", got)
				}
				got += c
			case <-time.After(3 * time.Second):
				t.Fatalf("no bytes within 3s after %q", got)
			}
		}
		for !strings.HasSuffix(got, "{}\r\n--graphql") {
			next()
		}
		s.mustCreateCourse(t, admin, "Multipart Prompt", 100, true)
		for !strings.Contains(got, "Multipart Prompt") {
			next()
		}
		for !strings.HasSuffix(got, "}}}\r\n--graphql") {
			next() // within 3s, well before the next heartbeat
		}
	})

	t.Run("OKHeartbeat", func(t *testing.T) {
		st := s.mustMultipart(t, "", sseCoursePublished)
		start := time.Now()
		if _, raw := st.mustPart(t, 7*time.Second); raw != "{}" {
			t.Fatalf("want a heartbeat, got %s", raw)
		}
		if took := time.Since(start); took < 4*time.Second {
			t.Errorf("heartbeat after %v, want about 5s", took)
		}
	})

	t.Run("OKQueryIsPlainJSON", func(t *testing.T) {
		r := s.do(t, s.streamRequest(t, http.MethodPost, acceptMultipart, "", `{ courses(first: 1) { totalCount } }`, nil)).mustNoErrors(t)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("Content-Type = %q, want application/json", r.Header.Get("Content-Type"))
		}
	})

	t.Run("ErrPurchaseMadeUser", func(t *testing.T) {
		st := s.mustMultipart(t, buyer.AccessToken, ssePurchaseMade)
		p, raw := st.mustPayload(t, 5*time.Second)
		if p.Payload == nil {
			t.Fatalf("want a payload with the refusal, got %s", raw)
		}
		p.Payload.mustCode(t, "FORBIDDEN")
		st.mustEnd(t, 5*time.Second)
	})

	t.Run("ErrBadTokenBeforeTheStream", func(t *testing.T) {
		r := s.do(t, s.streamRequest(t, http.MethodPost, acceptMultipart, "garbage", sseCoursePublished, nil))
		r.mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("ErrTooLong", func(t *testing.T) {
		r := s.do(t, s.streamRequest(t, http.MethodPost, acceptMultipart, "", "subscription { coursePublished { id "+strings.Repeat("title ", 3000)+"} }", nil))
		r.mustCode(t, "GRAPHQL_PARSE_FAILED")
	})

	t.Run("ErrDemoted", func(t *testing.T) {
		second := s.mustSignup(t, "mp-second-admin@example.com", "second-password-1", "Second")
		s.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "ADMIN"}).mustNoErrors(t)
		st := s.mustMultipart(t, second.AccessToken, ssePurchaseMade)
		course := s.mustCreateCourse(t, admin, "Multipart Sold", 100, true)
		s.post(t, buyer.AccessToken, wsPurchase, map[string]any{"id": course.ID}).mustNoErrors(t)
		if _, raw := st.mustPayload(t, 5*time.Second); !strings.Contains(raw, course.ID) {
			t.Fatalf("want the purchase, got %s", raw)
		}
		demoted := time.Now()
		s.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "USER"}).mustNoErrors(t)
		p, raw := st.mustPayload(t, 5*time.Second)
		if p.Payload != nil || len(p.Errors) != 1 || p.Errors[0].Code() != "FORBIDDEN" {
			t.Fatalf(`want {"payload": null, "errors": [FORBIDDEN]}, got %s`, raw)
		}
		st.mustEnd(t, 5*time.Second)
		if took := time.Since(demoted); took > time.Second {
			t.Errorf("ended %v after the demotion, want within 1s", took)
		}
	})

	t.Run("ErrLogout", func(t *testing.T) {
		login := s.mustLogin(t, adminEmail, adminPassword)
		st := s.mustMultipart(t, login.AccessToken, sseCoursePublished)
		ended := time.Now()
		s.post(t, login.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
		p, raw := st.mustPayload(t, 5*time.Second)
		if p.Payload != nil || len(p.Errors) != 1 || p.Errors[0].Code() != "UNAUTHENTICATED" {
			t.Fatalf(`want {"payload": null, "errors": [UNAUTHENTICATED]}, got %s`, raw)
		}
		st.mustEnd(t, 5*time.Second)
		if took := time.Since(ended); took > time.Second {
			t.Errorf("ended %v after the logout, want within 1s", took)
		}
	})
}

// singleFrame is a single-connection-mode event's data.
type singleFrame struct {
	ID      string       `json:"id"`
	Payload *gqlResponse `json:"payload"`
}

// mustSingleFrame reads the next event and decodes its {id, payload}.
func (st *httpStream) mustSingleFrame(tb testing.TB, wait time.Duration) (string, singleFrame) {
	tb.Helper()
	f, ok := st.next(tb, wait)
	if !ok {
		tb.Fatal("the stream ended")
	}
	var raw struct {
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(f.Data), &raw); err != nil {
		tb.Fatalf("%s data is not JSON: %q", f.Event, f.Data)
	}
	d := singleFrame{ID: raw.ID}
	if len(raw.Payload) > 0 {
		d.Payload = &gqlResponse{Status: http.StatusOK, Raw: string(raw.Payload)}
		if err := json.Unmarshal(raw.Payload, d.Payload); err != nil {
			tb.Fatalf("payload is not a result: %s", raw.Payload)
		}
	}
	return f.Event, d
}

// reserveStream makes a single-connection reservation and returns its token.
func (s *testServer) reserveStream(tb testing.TB) string {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.URL+"/graphql", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusCreated || b.Len() < 32 {
		tb.Fatalf("PUT /graphql = %d %q, want 201 and a token", resp.StatusCode, b.String())
	}
	return b.String()
}

// openSingle opens the stream of reservation token.
func (s *testServer) openSingle(tb testing.TB, token string) *httpStream {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql", nil)
	req.Header.Set("Accept", acceptSSE)
	req.Header.Set("X-GraphQL-Event-Stream-Token", token)
	return openStream(tb, req)
}

// singleOperation POSTs an operation for the stream of token.
func (s *testServer) singleOperation(tb testing.TB, token, bearer, id, query string) gqlResponse {
	tb.Helper()
	ext := map[string]any{}
	if id != "" {
		ext["operationId"] = id
	}
	b, _ := json.Marshal(map[string]any{"query": query, "extensions": ext})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GraphQL-Event-Stream-Token", token)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	out := gqlResponse{Status: resp.StatusCode, Header: resp.Header, Raw: body.String()}
	if body.Len() > 0 {
		_ = json.Unmarshal(body.Bytes(), &out)
	}
	return out
}

// Ensure GraphQL over SSE's single connection mode: a reservation is
// fulfilled by one stream only, operations started by POST deliver on it
// under their own ids and credentials, DELETE stops one, and the session
// rules end one operation without the others.
func TestSSESingleConnection(t *testing.T) {
	s := mustStartServer(t, wsPrivEnv())
	admin := s.mustAdminToken(t)
	buyer := s.mustSignup(t, "single-buyer@example.com", "buyer-password-1", "Buyer")
	token := s.reserveStream(t)
	st := s.openSingle(t, token)
	st.mustOpen(t, acceptSSE)

	t.Run("ErrSecondStream", func(t *testing.T) {
		again := s.openSingle(t, token)
		if again.Status != http.StatusConflict {
			t.Errorf("a second stream for one reservation = %d, want 409", again.Status)
		}
	})
	t.Run("ErrUnknownToken", func(t *testing.T) {
		if other := s.openSingle(t, "no-such-token"); other.Status != http.StatusNotFound {
			t.Errorf("stream of an unknown token = %d, want 404", other.Status)
		}
		if r := s.singleOperation(t, "no-such-token", "", "x", sseCoursePublished); r.Status != http.StatusNotFound {
			t.Errorf("operation for an unknown token = %d, want 404", r.Status)
		}
	})
	t.Run("ErrNoOperationID", func(t *testing.T) {
		r := s.singleOperation(t, token, "", "", sseCoursePublished)
		if r.Status != http.StatusBadRequest {
			t.Errorf("no operationId = %d, want 400", r.Status)
		}
		r.mustCode(t, "GRAPHQL_PARSE_FAILED")
	})
	t.Run("ErrInvalidOverHTTP", func(t *testing.T) {
		// Request problems are answered as any POST, not on the stream.
		s.singleOperation(t, token, "", "bad", `subscription { noSuchField }`).mustCode(t, "GRAPHQL_VALIDATION_FAILED")
		s.singleOperation(t, token, "garbage", "bad", sseCoursePublished).mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("OKOperations", func(t *testing.T) {
		if r := s.singleOperation(t, token, "", "pub", sseCoursePublished); r.Status != http.StatusAccepted {
			t.Fatalf("subscribe = %d %s, want 202", r.Status, r.Raw)
		}
		if r := s.singleOperation(t, token, "", "pub", sseCoursePublished); r.Status != http.StatusConflict {
			t.Errorf("the same operationId again = %d, want 409", r.Status)
		}
		if r := s.singleOperation(t, token, buyer.AccessToken, "forbidden", ssePurchaseMade); r.Status != http.StatusAccepted {
			t.Fatalf("subscribe = %d %s, want 202", r.Status, r.Raw)
		}
		ev, f := st.mustSingleFrame(t, 5*time.Second)
		if ev != "next" || f.ID != "forbidden" || f.Payload == nil {
			t.Fatalf("want the refusal of forbidden, got %s %+v", ev, f)
		}
		f.Payload.mustCode(t, "FORBIDDEN")
		if ev, f := st.mustSingleFrame(t, 5*time.Second); ev != "complete" || f.ID != "forbidden" {
			t.Fatalf("want complete for forbidden, got %s %+v", ev, f)
		}
		s.mustCreateCourse(t, admin, "Single Live", 100, true)
		ev, f = st.mustSingleFrame(t, 5*time.Second)
		if ev != "next" || f.ID != "pub" || !strings.Contains(f.Payload.Raw, "Single Live") {
			t.Fatalf("want the course on pub, got %s %+v", ev, f)
		}
		f.Payload.mustNoErrors(t)

		req, _ := http.NewRequest(http.MethodDelete, s.URL+"/graphql?operationId=pub", nil)
		req.Header.Set("X-GraphQL-Event-Stream-Token", token)
		resp, err := s.client.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE = %v %v, want 200", resp, err)
		}
		resp.Body.Close()
		s.mustCreateCourse(t, admin, "Single After Stop", 100, true)
		st.mustNoFrame(t, 500*time.Millisecond)
	})

	t.Run("OKQueryOnTheStream", func(t *testing.T) {
		if r := s.singleOperation(t, token, "", "count", `{ courses(first: 1) { totalCount } }`); r.Status != http.StatusAccepted {
			t.Fatalf("query = %d %s, want 202", r.Status, r.Raw)
		}
		ev, f := st.mustSingleFrame(t, 5*time.Second)
		if ev != "next" || f.ID != "count" || f.Payload == nil || !strings.Contains(f.Payload.Raw, "totalCount") {
			t.Fatalf("want the count, got %s %+v", ev, f)
		}
		f.Payload.mustNoErrors(t)
		if ev, f := st.mustSingleFrame(t, 5*time.Second); ev != "complete" || f.ID != "count" {
			t.Fatalf("want complete for count, got %s %+v", ev, f)
		}
	})

	t.Run("ErrLogoutEndsItsOperationOnly", func(t *testing.T) {
		login := s.mustLogin(t, adminEmail, adminPassword)
		if r := s.singleOperation(t, token, login.AccessToken, "sales", ssePurchaseMade); r.Status != http.StatusAccepted {
			t.Fatalf("subscribe = %d %s", r.Status, r.Raw)
		}
		if r := s.singleOperation(t, token, "", "public", sseCoursePublished); r.Status != http.StatusAccepted {
			t.Fatalf("subscribe = %d %s", r.Status, r.Raw)
		}
		ended := time.Now()
		s.post(t, login.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
		ev, f := st.mustSingleFrame(t, 5*time.Second)
		if ev != "next" || f.ID != "sales" || f.Payload == nil {
			t.Fatalf("want the end of sales, got %s %+v", ev, f)
		}
		f.Payload.mustCode(t, "UNAUTHENTICATED")
		if ev, f := st.mustSingleFrame(t, 5*time.Second); ev != "complete" || f.ID != "sales" {
			t.Fatalf("want complete for sales, got %s %+v", ev, f)
		}
		if took := time.Since(ended); took > time.Second {
			t.Errorf("ended %v after the logout, want within 1s", took)
		}
		s.mustCreateCourse(t, admin, "Single Still Public", 100, true)
		if ev, f := st.mustSingleFrame(t, 5*time.Second); ev != "next" || f.ID != "public" {
			t.Fatalf("want the course on public, got %s %+v", ev, f)
		}
	})

	t.Run("OKStreamEndReleasesTheReservation", func(t *testing.T) {
		other := s.reserveStream(t)
		o := s.openSingle(t, other)
		o.mustOpen(t, acceptSSE)
		o.cancel()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := s.singleOperation(t, other, "", "late", sseCoursePublished)
			if r.Status == http.StatusNotFound {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("an operation on a closed stream = %d, want 404", r.Status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// Ensure a graceful shutdown ends open streams at once, without their last
// frame (clients take it for a lost connection and reconnect, to another
// instance), instead of waiting SHUTDOWN_TIMEOUT for them.
func TestSSEShutdown(t *testing.T) {
	s := mustStartServer(t, subEnv(map[string]string{"SHUTDOWN_TIMEOUT": "20s"}))
	token := s.reserveStream(t)
	streams := []*httpStream{
		s.mustSSE(t, "", sseCoursePublished, nil),
		s.mustMultipart(t, "", sseCoursePublished),
		s.openSingle(t, token),
	}
	streams[2].mustOpen(t, acceptSSE)
	start := time.Now()
	s.stop(t)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the server took %v to stop with streams open, want them ended at once", took)
	}
	for i, st := range streams {
		for {
			f, ok := st.next(t, 5*time.Second)
			if !ok {
				break
			}
			if f.Event == "complete" || f.Event == "end" {
				t.Errorf("stream %d: a last frame on shutdown: %+v", i, f)
			}
		}
	}
}
