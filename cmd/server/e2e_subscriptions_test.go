package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// wsClient speaks graphql-transport-ws, as the graphql-ws client does.
type wsClient struct {
	conn *websocket.Conn
}

// wsMessage is one protocol message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsDial opens a socket to the server's /graphql with origin (none if empty)
// and an optional cookie header.
func wsDial(tb testing.TB, s *testServer, origin string, header http.Header) (*wsClient, *http.Response, error) {
	tb.Helper()
	if header == nil {
		header = http.Header{}
	}
	if origin != "" {
		header.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   header,
	})
	if err != nil {
		return nil, resp, err
	}
	tb.Cleanup(func() { conn.CloseNow() })
	return &wsClient{conn: conn}, resp, nil
}

func (c *wsClient) send(tb testing.TB, m wsMessage) {
	tb.Helper()
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		tb.Fatalf("ws write: %v", err)
	}
}

// next reads the next message that is not a ping or pong; a closed socket
// returns its close status.
func (c *wsClient) next(tb testing.TB, wait time.Duration) (wsMessage, websocket.StatusCode) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				return wsMessage{}, st
			}
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				tb.Fatalf("no message within %v", wait)
			}
			tb.Fatalf("ws read: %v", err)
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			tb.Fatalf("ws message is not JSON: %s", b)
		}
		if m.Type != "ping" && m.Type != "pong" && m.Type != "ka" {
			return m, -1
		}
	}
}

// mustInit sends connection_init with payload and waits for the ack.
func (c *wsClient) mustInit(tb testing.TB, payload map[string]any) {
	tb.Helper()
	b, _ := json.Marshal(payload)
	c.send(tb, wsMessage{Type: "connection_init", Payload: b})
	if m, st := c.next(tb, 5*time.Second); st != -1 || m.Type != "connection_ack" {
		tb.Fatalf("want connection_ack, got %+v (close %d)", m, st)
	}
}

func (c *wsClient) subscribe(tb testing.TB, id, query string) {
	tb.Helper()
	b, _ := json.Marshal(map[string]any{"query": query})
	c.send(tb, wsMessage{ID: id, Type: "subscribe", Payload: b})
}

// mustClose waits for the server to close the socket with code.
func (c *wsClient) mustClose(tb testing.TB, code websocket.StatusCode, wait time.Duration) {
	tb.Helper()
	for {
		m, st := c.next(tb, wait)
		if st != -1 {
			if st != code {
				tb.Fatalf("closed with %d, want %d", st, code)
			}
			return
		}
		// The refusal may come as an error for the subscription first; data
		// never may.
		var p struct {
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(m.Payload, &p)
		if m.Type == "next" && len(p.Data) > 0 && string(p.Data) != "null" {
			tb.Fatalf("got data while waiting for close %d: %s", code, m.Payload)
		}
	}
}

// mustError waits for the server's error message for subscription id and
// returns its errors; messages of other operations read meanwhile are
// returned too. A close, a complete for id, or data for id fail.
func (c *wsClient) mustError(tb testing.TB, id string, wait time.Duration) ([]gqlError, []wsMessage) {
	tb.Helper()
	var others []wsMessage
	for {
		m, st := c.next(tb, wait)
		if st != -1 {
			tb.Fatalf("socket closed with %d while waiting for the error of %s", st, id)
		}
		if m.ID != id {
			others = append(others, m)
			continue
		}
		if m.Type != "error" {
			tb.Fatalf("want error for %s, got %s: %s", id, m.Type, m.Payload)
		}
		var errs []gqlError
		if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) == 0 {
			tb.Fatalf("error payload of %s is not a list of GraphQL errors: %s", id, m.Payload)
		}
		return errs, others
	}
}

// mustErrorCode is mustError that also checks each error's extensions.code.
func (c *wsClient) mustErrorCode(tb testing.TB, id, code string, wait time.Duration) []wsMessage {
	tb.Helper()
	errs, others := c.mustError(tb, id, wait)
	for _, e := range errs {
		if e.Code() != code {
			tb.Fatalf("error of %s: code %q, want %s (%+v)", id, e.Code(), code, errs)
		}
	}
	return others
}

// mustEvent waits for a next message of subscription id whose payload
// contains want; other messages are skipped, a close or an error fails.
func (c *wsClient) mustEvent(tb testing.TB, id, want string, wait time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		m, st := c.next(tb, time.Until(deadline))
		if st != -1 {
			tb.Fatalf("socket closed with %d while waiting for %q on %s", st, want, id)
		}
		if m.ID == id && m.Type != "next" {
			tb.Fatalf("want next for %s, got %s: %s", id, m.Type, m.Payload)
		}
		if m.ID == id && strings.Contains(string(m.Payload), want) {
			return
		}
	}
}

const subOrigin = "http://app.test"

func subEnv(extra map[string]string) map[string]string {
	env := map[string]string{"CORS_ORIGINS": subOrigin, "COOKIE_SECURE": "false", "WS_SESSION_CHECK_INTERVAL": "200ms"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// Ensure subscriptions deliver events, obey @auth with the protocol's close
// codes, check the origin, and end with the session.
func TestSubscriptions(t *testing.T) {
	s := mustStartServer(t, subEnv(nil))
	admin := s.mustLogin(t, adminEmail, adminPassword)
	buyer := s.mustSignup(t, "buyer@example.com", "buyer-password-1", "Buyer")

	t.Run("OKCoursePublishedAnonymous", func(t *testing.T) {
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.mustInit(t, nil)
		c.subscribe(t, "1", `subscription { coursePublished { id title published } }`)
		time.Sleep(100 * time.Millisecond) // let the subscription register before publishing
		draft := s.mustCreateCourse(t, admin.AccessToken, "Live Draft", 100, false)
		s.mustCreateCourse(t, admin.AccessToken, "Live Direct", 100, true)
		s.post(t, admin.AccessToken, `mutation($id: ID!) { updateCourse(id: $id, input: {published: true}) { id } }`,
			map[string]any{"id": draft.ID}).mustNoErrors(t)
		var got []string
		for len(got) < 2 {
			m, st := c.next(t, 5*time.Second)
			if st != -1 || m.Type != "next" || m.ID != "1" {
				t.Fatalf("want next for 1, got %+v (close %d)", m, st)
			}
			var p struct {
				Data struct{ CoursePublished courseRef }
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || !p.Data.CoursePublished.Published {
				t.Fatalf("payload %s", m.Payload)
			}
			got = append(got, p.Data.CoursePublished.Title)
		}
		if got[0] != "Live Direct" || got[1] != "Live Draft" {
			t.Errorf("events = %v, want the direct publication, then the draft's", got)
		}
		// Publishing an already published course is no new event.
		s.post(t, admin.AccessToken, `mutation($id: ID!) { updateCourse(id: $id, input: {published: true, title: "Again"}) { id } }`,
			map[string]any{"id": draft.ID}).mustNoErrors(t)
		c.send(t, wsMessage{ID: "1", Type: "complete"})
	})

	t.Run("OKPurchaseMadeAdmin", func(t *testing.T) {
		course := s.mustCreateCourse(t, admin.AccessToken, "Sold Live", 4200, true)
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.mustInit(t, map[string]any{"Authorization": "Bearer " + admin.AccessToken})
		c.subscribe(t, "p", `subscription { purchaseMade { id pricePaid course { title } } }`)
		time.Sleep(100 * time.Millisecond)
		s.post(t, buyer.AccessToken, `mutation($id: ID!) { purchaseCourse(courseId: $id) { id } }`, map[string]any{"id": course.ID}).mustNoErrors(t)
		// Buying again is the same purchase: no second event.
		s.post(t, buyer.AccessToken, `mutation($id: ID!) { purchaseCourse(courseId: $id) { id } }`, map[string]any{"id": course.ID}).mustNoErrors(t)
		m, st := c.next(t, 5*time.Second)
		if st != -1 || m.Type != "next" || !strings.Contains(string(m.Payload), `"pricePaid":4200`) || !strings.Contains(string(m.Payload), "Sold Live") {
			t.Fatalf("want the purchase, got %+v (close %d)", m, st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if _, b, err := c.conn.Read(ctx); err == nil && strings.Contains(string(b), `"next"`) {
			t.Errorf("a second event for an idempotent purchase: %s", b)
		}
	})

	t.Run("OKFieldRefusedInsideEvent", func(t *testing.T) {
		// An anonymous subscriber asks for createdBy.email: the event arrives
		// with a FORBIDDEN error on that field, and the socket stays open.
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.mustInit(t, nil)
		c.subscribe(t, "e", `subscription { coursePublished { title createdBy { name email } } }`)
		time.Sleep(100 * time.Millisecond)
		for i, title := range []string{"With Email 1", "With Email 2"} {
			s.mustCreateCourse(t, admin.AccessToken, title, 100, true)
			m, st := c.next(t, 5*time.Second)
			if st != -1 || m.Type != "next" || !strings.Contains(string(m.Payload), title) || !strings.Contains(string(m.Payload), "FORBIDDEN") {
				t.Fatalf("event %d: want the course with a FORBIDDEN email, got %+v (close %d)", i, m, st)
			}
		}
	})

	t.Run("OKSameOperationDifferentViewers", func(t *testing.T) {
		// Subscribers of one document share its execution per event
		// (internal/fanout) unless it asks who is calling: the course's
		// instructor (an admin here) sees the email, the anonymous
		// subscribers of the very same document a FORBIDDEN error, and
		// subscribers of a viewer-free document all get the same event.
		const withEmail = `subscription { coursePublished { title createdBy { email } } }`
		const plain = `subscription { coursePublished { title } }`
		open := func(payload map[string]any) *wsClient {
			c, _, err := wsDial(t, s, subOrigin, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.mustInit(t, payload)
			c.subscribe(t, "e", withEmail)
			c.subscribe(t, "t", plain)
			return c
		}
		owner := open(map[string]any{"Authorization": "Bearer " + admin.AccessToken})
		anons := []*wsClient{open(nil), open(nil)}
		time.Sleep(100 * time.Millisecond)
		for _, title := range []string{"Shared 1", "Shared 2"} {
			s.mustCreateCourse(t, admin.AccessToken, title, 100, true)
			for i, c := range append([]*wsClient{owner}, anons...) {
				got := map[string]string{}
				for len(got) < 2 {
					m, st := c.next(t, 5*time.Second)
					if st != -1 || m.Type != "next" {
						t.Fatalf("subscriber %d: want next, got %+v (close %d)", i, m, st)
					}
					got[m.ID] = string(m.Payload)
				}
				if !strings.Contains(got["t"], title) || strings.Contains(got["t"], "errors") {
					t.Errorf("subscriber %d, %s: plain event %s", i, title, got["t"])
				}
				switch {
				case i == 0 && (!strings.Contains(got["e"], `"email":"`+adminEmail+`"`) || strings.Contains(got["e"], "errors")):
					t.Errorf("%s: the instructor's event %s, want their email", title, got["e"])
				case i > 0 && (!strings.Contains(got["e"], `"email":null`) || !strings.Contains(got["e"], "FORBIDDEN")):
					t.Errorf("%s: anonymous subscriber %d's event %s, want a FORBIDDEN email", title, i, got["e"])
				}
			}
		}
	})

	// A refused subscription gets an error message for its id; the socket
	// and its other subscriptions stay open.
	tests := []struct {
		name    string
		payload map[string]any
		code    string
	}{
		{"ErrPurchaseMadeAnonymous", nil, "UNAUTHENTICATED"},
		{"ErrPurchaseMadeUser", map[string]any{"Authorization": "Bearer " + buyer.AccessToken}, "FORBIDDEN"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := wsDial(t, s, subOrigin, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.mustInit(t, tt.payload)
			c.subscribe(t, "pub", `subscription { coursePublished { title } }`)
			c.subscribe(t, "p", `subscription { purchaseMade { id } }`)
			errs, others := c.mustError(t, "p", 5*time.Second)
			if len(others) != 0 {
				t.Errorf("messages before the refusal: %+v", others)
			}
			if len(errs) != 1 || errs[0].Code() != tt.code || errs[0].Message == "" || fmt.Sprint(errs[0].Path) != "[purchaseMade]" {
				t.Errorf("errors = %+v, want one %s on purchaseMade", errs, tt.code)
			}
			// The other subscription still delivers, and a refused one can be
			// asked again under its id (it has ended).
			title := fmt.Sprintf("After Refusal %d", i)
			s.mustCreateCourse(t, admin.AccessToken, title, 100, true)
			c.mustEvent(t, "pub", title, 5*time.Second)
			c.subscribe(t, "p", `subscription { purchaseMade { id } }`)
			c.mustErrorCode(t, "p", tt.code, 5*time.Second)
		})
	}

	for _, bad := range []string{"Bearer garbage", "Bearer " + buyer.RefreshToken, "Basic abc"} {
		t.Run("ErrBadInitToken", func(t *testing.T) {
			c, _, err := wsDial(t, s, subOrigin, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(map[string]any{"Authorization": bad})
			c.send(t, wsMessage{Type: "connection_init", Payload: b})
			c.mustClose(t, 4401, 5*time.Second)
		})
	}

	t.Run("ErrOrigin", func(t *testing.T) {
		_, resp, err := wsDial(t, s, "http://evil.test", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial from evil origin: err %v, resp %v; want 403", err, resp)
		}
	})

	t.Run("OKCookieAuth", func(t *testing.T) {
		r := s.do(t, func() *http.Request {
			req := s.mustPostRequest(t, "", `mutation { login(input: {email: "buyer@example.com", password: "buyer-password-1"}, delivery: COOKIES) { user { id } } }`, nil)
			req.Header.Set("Origin", subOrigin)
			return req
		}()).mustNoErrors(t)
		var cookies []string
		for _, c := range r.Header.Values("Set-Cookie") {
			cookies = append(cookies, strings.SplitN(c, ";", 2)[0])
		}
		h := http.Header{"Cookie": {strings.Join(cookies, "; ")}}
		c, _, err := wsDial(t, s, subOrigin, h)
		if err != nil {
			t.Fatal(err)
		}
		c.mustInit(t, nil)
		// Signed in by cookie as a USER: the admin subscription is forbidden,
		// which proves the cookie was read (anonymous would be
		// UNAUTHENTICATED).
		c.subscribe(t, "p", `subscription { purchaseMade { id } }`)
		c.mustErrorCode(t, "p", "FORBIDDEN", 5*time.Second)
	})

	t.Run("ErrSessionEnded", func(t *testing.T) {
		p := s.mustLogin(t, adminEmail, adminPassword)
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
		c.subscribe(t, "c", `subscription { coursePublished { id } }`)
		s.post(t, p.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
		c.mustClose(t, 4401, 5*time.Second)
	})

	t.Run("ErrEndedSessionAtInit", func(t *testing.T) {
		p := s.mustLogin(t, adminEmail, adminPassword)
		s.post(t, p.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + p.AccessToken})
		c.send(t, wsMessage{Type: "connection_init", Payload: b})
		c.mustClose(t, 4401, 5*time.Second)
	})
}

// Ensure a subscription socket is closed with 4419 (which graphql-ws
// retries) when its access token expires, that a token that has expired by
// connection_init gets 4419 too, and that a socket opened again with a
// refreshed token delivers (ACCESS_TOKEN_TTL's minimum is 10 s, so this test
// takes that long).
func TestSubscriptionTokenExpiry(t *testing.T) {
	s := mustStartServer(t, subEnv(map[string]string{"ACCESS_TOKEN_TTL": "10s"}))
	p := s.mustLogin(t, adminEmail, adminPassword)
	c, _, err := wsDial(t, s, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
	c.subscribe(t, "c", `subscription { coursePublished { id } }`)
	start := time.Now()
	c.mustClose(t, 4419, 15*time.Second)
	if took := time.Since(start); took < 8*time.Second {
		t.Errorf("closed after %v, before the token expired", took)
	}

	t.Run("ErrExpiredAtInit", func(t *testing.T) {
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + p.AccessToken})
		c.send(t, wsMessage{Type: "connection_init", Payload: b})
		c.mustClose(t, 4419, 5*time.Second)
	})

	t.Run("OKReconnectWithRefreshedToken", func(t *testing.T) {
		var d struct{ RefreshToken authPayload }
		s.post(t, "", `mutation($t: String!) { refreshToken(refreshToken: $t) { `+authFields+` } }`,
			map[string]any{"t": p.RefreshToken}).mustNoErrors(t).decode(t, &d)
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.mustInit(t, map[string]any{"Authorization": "Bearer " + d.RefreshToken.AccessToken})
		c.subscribe(t, "c", `subscription { coursePublished { title } }`)
		time.Sleep(100 * time.Millisecond)
		s.mustCreateCourse(t, d.RefreshToken.AccessToken, "After Refresh", 100, true)
		c.mustEvent(t, "c", "After Refresh", 5*time.Second)
	})
}

// wsDial opens a socket as the browser would: its Origin and the cookies
// its jar holds for /graphql (extra, if not nil, replaces them).
func (b *ckBrowser) wsDial(tb testing.TB, extra []*http.Cookie) *wsClient {
	tb.Helper()
	cookies := b.jar.Cookies(b.apiURL(tb))
	if extra != nil {
		cookies = extra
	}
	var parts []string
	for _, c := range cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	h := http.Header{}
	if len(parts) > 0 {
		h.Set("Cookie", strings.Join(parts, "; "))
	}
	c, _, err := wsDial(tb, b.s, b.origin, h)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Ensure a cookie-mode browser keeps its subscriptions across access-token
// expiry with no code: the socket closes with 4419 when the access cookie
// expires, and the next socket, whose upgrade carries only the refresh
// cookie, is signed in by it (read, not rotated); a rotated or ended
// session's refresh cookie leaves a socket anonymous; logout ends the
// socket with 4401. (ACCESS_TOKEN_TTL is 10 s, its minimum.)
func TestSubscriptionRefreshCookie(t *testing.T) {
	s := ckStart(t, map[string]string{"ACCESS_TOKEN_TTL": "10s", "WS_SESSION_CHECK_INTERVAL": "200ms"})
	buyer := s.mustSignup(t, "cookie-buyer@example.com", "cookie-buyer-password", "Buyer")
	adminToken := s.mustAdminToken(t)
	b := ckNewBrowser(t, s, ckOrigin)
	b.mustAuth(t, "login", adminEmail, adminPassword, "COOKIES")

	// sales subscribes to purchaseMade on c and proves it delivers.
	sales := func(t *testing.T, c *wsClient) {
		t.Helper()
		c.mustInit(t, nil)
		c.subscribe(t, "p", `subscription { purchaseMade { course { title } } }`)
		mustLivePurchaseMade(t, s, c, "p", adminToken, buyer.AccessToken)
	}
	first := b.wsDial(t, nil)
	sales(t, first)
	start := time.Now()
	first.mustClose(t, 4419, 15*time.Second)
	if took := time.Since(start); took < 5*time.Second {
		t.Fatalf("closed after %v, before the access cookie expired", took)
	}
	if b.cookie(t, "coursehub_at") != "" {
		t.Fatal("the jar still sends the expired access cookie")
	}
	oldRefresh := b.cookie(t, "coursehub_rt")

	// Signed in by the refresh cookie alone (anonymous, purchaseMade would
	// be refused); it lives until the last subtest.
	byRefresh := b.wsDial(t, nil)
	sales(t, byRefresh)
	t.Run("OKRefreshCookieNotRotated", func(t *testing.T) {
		if b.cookie(t, "coursehub_rt") != oldRefresh {
			t.Error("the socket rotated the refresh token")
		}
		if r := byRefresh.mustAnswer(t, "me-admin", wsMe, nil); !strings.Contains(r.resp.Raw, `"role":"ADMIN"`) {
			t.Errorf("me = %s, want the admin", r.resp.Raw)
		}
	})

	// anonymous checks that a socket with cookies is not signed in, and
	// still serves public subscriptions.
	anonymous := func(t *testing.T, cookies []*http.Cookie) {
		t.Helper()
		c := b.wsDial(t, cookies)
		c.mustInit(t, nil)
		c.subscribe(t, "pub", `subscription { coursePublished { title } }`)
		c.subscribe(t, "p", `subscription { purchaseMade { id } }`)
		c.mustErrorCode(t, "p", "UNAUTHENTICATED", 5*time.Second)
		title := fmt.Sprintf("Public %d", time.Now().UnixNano())
		s.mustCreateCourse(t, adminToken, title, 100, true)
		c.mustEvent(t, "pub", title, 5*time.Second)
	}
	t.Run("ErrRotatedRefreshCookieIsAnonymous", func(t *testing.T) {
		b.mustRefreshSession(t, "REFRESH_COOKIE")
		if b.cookie(t, "coursehub_rt") == oldRefresh {
			t.Fatal("refreshSession did not rotate the cookie")
		}
		anonymous(t, []*http.Cookie{{Name: "coursehub_rt", Value: oldRefresh}})
		// The jar's new token signs in; the old one did not end the session.
		sales(t, b.wsDial(t, nil))
	})
	t.Run("ErrLogoutEndsTheSocket", func(t *testing.T) {
		r := b.gql(t, `mutation { refreshSession(delivery: REFRESH_COOKIE) { accessToken } }`, nil, nil).mustNoErrors(t)
		var d struct{ RefreshSession struct{ AccessToken string } }
		r.decode(t, &d)
		last := b.cookie(t, "coursehub_rt")
		// Events of the purchases above may still be on their way: stop
		// the subscription (the server reads in order, so once me is
		// answered it has stopped), then any data fails.
		byRefresh.send(t, wsMessage{ID: "p", Type: "complete"})
		byRefresh.mustAnswer(t, "me", wsMe, nil).resp.mustNoErrors(t)
		b.gql(t, `mutation { logout }`, nil, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+d.RefreshSession.AccessToken)
		}).mustNoErrors(t)
		byRefresh.mustClose(t, 4401, 2*time.Second)
		// The session's newest refresh token signs in no socket now.
		anonymous(t, []*http.Cookie{{Name: "coursehub_rt", Value: last}})
	})
}

// Ensure an outage is no verdict on anyone's credentials: while the
// database is down, a signed-in connection_init is closed at once with 1013
// (which graphql-ws retries), not the fatal 4401, and a subscription that cannot
// start gets an error message (SERVICE_UNAVAILABLE) on a socket that stays
// open; once the database is back, both work.
func TestSubscriptionDatabaseDown(t *testing.T) {
	db := mongotest.StartServer(t)
	s := mustStartServer(t, subEnv(outageEnv(db)))
	p := s.mustLogin(t, adminEmail, adminPassword)
	anon, _, err := wsDial(t, s, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	anon.mustInit(t, nil)

	db.Stop()
	s.untilUnready(t, outageRecoverLimit)

	t.Run("ErrInitTryAgainLater", func(t *testing.T) {
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + p.AccessToken})
		start := time.Now()
		c.send(t, wsMessage{Type: "connection_init", Payload: b})
		c.mustClose(t, 1013, 15*time.Second)
		if took := time.Since(start); took > outageFastLimit {
			t.Errorf("closed after %v, want within %v (no wait for DB_TIMEOUT)", took, outageFastLimit)
		}
	})
	t.Run("ErrSubscribeUnavailable", func(t *testing.T) {
		anon.subscribe(t, "down", `subscription { coursePublished { title } }`)
		anon.mustErrorCode(t, "down", "SERVICE_UNAVAILABLE", 5*time.Second)
	})

	db.Start()
	s.untilServed(t, p.AccessToken, `{ me { id } }`, outageRecoverLimit)

	t.Run("OKAfterOutage", func(t *testing.T) {
		c, _, err := wsDial(t, s, subOrigin, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
		anon.subscribe(t, "up", `subscription { coursePublished { title } }`)
		time.Sleep(100 * time.Millisecond)
		s.mustCreateCourse(t, p.AccessToken, "After The Outage", 100, true)
		anon.mustEvent(t, "up", "After The Outage", 5*time.Second)
	})
}
