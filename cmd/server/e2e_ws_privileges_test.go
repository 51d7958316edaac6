package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A role change, a logout, a revocation or a password change must count on
// open sockets at once, as it does for the next HTTP request. The periodic
// session check is set to an hour in these tests, so it cannot be what
// closes a socket.

// wsPrivEnv leaves the periodic session check at a value no test waits for.
func wsPrivEnv() map[string]string {
	return subEnv(map[string]string{"WS_SESSION_CHECK_INTERVAL": "1h"})
}

// wsOpResult is one operation's answer over a socket and, if the socket was
// closed before the answer was complete, the close code.
type wsOpResult struct {
	resp   gqlResponse
	closed websocket.StatusCode
	// others are messages of other operations read meanwhile.
	others []wsMessage
}

// operation sends a query or mutation over c and reads up to its complete.
// A socket the server has closed (before or after the operation ran) is
// reported in closed, not as a failure, so that callers can assert exactly
// which of the two happened.
func (c *wsClient) operation(tb testing.TB, id, query string, vars map[string]any) wsOpResult {
	tb.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	msg, _ := json.Marshal(wsMessage{ID: id, Type: "subscribe", Payload: b})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A socket answer has no HTTP status; the harness's checks take it as
	// the 200 that a served operation gets over HTTP.
	out := wsOpResult{resp: gqlResponse{Status: http.StatusOK}}
	if err := c.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		// The server closed first; the read below reports how.
		tb.Logf("write %s: %v", id, err)
	}
	for {
		m, st := c.next(tb, 5*time.Second)
		if st != -1 {
			out.closed = st
			return out
		}
		if m.ID != id {
			out.others = append(out.others, m)
			continue
		}
		switch m.Type {
		case "next", "error":
			out.resp.Raw = string(m.Payload)
			if m.Type == "error" {
				_ = json.Unmarshal(m.Payload, &out.resp.Errors)
			} else if err := json.Unmarshal(m.Payload, &out.resp); err != nil {
				tb.Fatalf("payload of %s: %s", id, m.Payload)
			}
			if m.Type == "error" {
				return out
			}
		case "complete":
			return out
		default:
			tb.Fatalf("unexpected %s for %s: %s", m.Type, id, m.Payload)
		}
	}
}

// mustAnswer is operation on a socket that must stay open.
func (c *wsClient) mustAnswer(tb testing.TB, id, query string, vars map[string]any) wsOpResult {
	tb.Helper()
	r := c.operation(tb, id, query, vars)
	if r.closed != 0 {
		tb.Fatalf("socket closed with %d during %s", r.closed, id)
	}
	if r.resp.Raw == "" {
		tb.Fatalf("no answer for %s", id)
	}
	return r
}

// mustLivePurchaseMade waits until the purchaseMade subscription sub on c
// delivers: it buys fresh courses as buyer until the event of the latest one
// arrives, so no earlier event is still on its way afterwards.
func mustLivePurchaseMade(t *testing.T, s *testServer, c *wsClient, sub, adminToken, buyerToken string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		title := fmt.Sprintf("Warm-up %d %d", i, time.Now().UnixNano())
		course := s.mustCreateCourse(t, adminToken, title, 100, true)
		s.post(t, buyerToken, `mutation($id: ID!) { purchaseCourse(courseId: $id) { id } }`, map[string]any{"id": course.ID}).mustNoErrors(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, b, err := c.conn.Read(ctx)
		cancel()
		for err == nil {
			var m wsMessage
			_ = json.Unmarshal(b, &m)
			if m.Type == "next" && m.ID == sub && strings.Contains(string(m.Payload), title) {
				return
			}
			// An earlier warm-up event: the one for title follows.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, b, err = c.conn.Read(ctx)
			cancel()
		}
		if st := websocket.CloseStatus(err); st != -1 {
			t.Fatalf("socket closed with %d while waiting for %s", st, sub)
		}
	}
	t.Fatalf("subscription %s delivered nothing", sub)
}

const (
	wsCreateCourse = `mutation($in: CreateCourseInput!) { createCourse(input: $in) { id } }`
	wsSetRole      = `mutation($id: ID!, $role: Role!) { setRole(userId: $id, role: $role) { id role } }`
	wsMe           = `{ me { id role } }`
	wsPurchase     = `mutation($id: ID!) { purchaseCourse(courseId: $id) { id } }`
)

// Ensure a demoted admin loses admin powers on sockets already open: the
// running purchaseMade ends at once with an error (FORBIDDEN) while the
// same socket's coursePublished keeps delivering, and every operation on
// another socket of the same session runs as the user is now.
func TestWebsocketDemotion(t *testing.T) {
	s := mustStartServer(t, wsPrivEnv())
	admin := s.mustAdminToken(t)
	second := s.mustSignup(t, "second-admin@example.com", "second-password-1", "Second")
	third := s.mustSignup(t, "third@example.com", "third-password-1", "Third")
	buyer := s.mustSignup(t, "buyer@example.com", "buyer-password-1", "Buyer")
	s.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "ADMIN"}).mustNoErrors(t)

	ops, _, err := wsDial(t, s, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops.mustInit(t, map[string]any{"Authorization": "Bearer " + second.AccessToken})
	// An admin subscription that has ended no longer counts against the
	// socket. The server reads a socket's messages in order, so once me0 is
	// answered, the subscription has been stopped.
	ops.subscribe(t, "ended", `subscription { purchaseMade { id course { title } } }`)
	mustLivePurchaseMade(t, s, ops, "ended", admin, buyer.AccessToken)
	ops.send(t, wsMessage{ID: "ended", Type: "complete"})
	if r := ops.mustAnswer(t, "me0", wsMe, nil); !strings.Contains(r.resp.Raw, `"role":"ADMIN"`) {
		t.Fatalf("before the demotion me = %s, want ADMIN", r.resp.Raw)
	}

	sales, _, err := wsDial(t, s, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	sales.mustInit(t, map[string]any{"Authorization": "Bearer " + second.AccessToken})
	sales.subscribe(t, "pub", `subscription { coursePublished { title } }`)
	sales.subscribe(t, "sales", `subscription { purchaseMade { id course { title } } }`)
	mustLivePurchaseMade(t, s, sales, "sales", admin, buyer.AccessToken)

	demoted := time.Now()
	s.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "USER"}).mustNoErrors(t)

	t.Run("ErrSubscriptionEndsWithForbidden", func(t *testing.T) {
		// No purchase happens meanwhile, so any data before the error fails.
		errs, others := sales.mustError(t, "sales", 2*time.Second)
		if took := time.Since(demoted); took > 2*time.Second {
			t.Errorf("ended %v after the demotion, want within 2s", took)
		}
		if len(errs) != 1 || errs[0].Code() != "FORBIDDEN" || fmt.Sprint(errs[0].Path) != "[purchaseMade]" {
			t.Errorf("errors = %+v, want one FORBIDDEN on purchaseMade", errs)
		}
		if len(others) != 0 {
			t.Errorf("unexpected messages: %+v", others)
		}
		// A later purchase does not reach the demoted admin; the socket and
		// its public subscription carry on.
		bought := s.mustCreateCourse(t, admin, "Published After Demotion", 100, true)
		s.post(t, buyer.AccessToken, wsPurchase, map[string]any{"id": bought.ID}).mustNoErrors(t)
		s.mustCreateCourse(t, admin, "Second After Demotion", 100, true)
		for {
			m, st := sales.next(t, 5*time.Second)
			if st != -1 || m.ID != "pub" || m.Type != "next" {
				t.Fatalf("want only coursePublished events, got %+v (close %d)", m, st)
			}
			if strings.Contains(string(m.Payload), "Second After Demotion") {
				break
			}
		}
		sales.mustAnswer(t, "me", wsMe, nil).resp.mustNoErrors(t)
	})

	// The session is live, so the socket without an admin subscription
	// stays open; its operations see the role as it is now.
	t.Run("ErrCreateCourse", func(t *testing.T) {
		r := ops.mustAnswer(t, "create", wsCreateCourse, map[string]any{"in": map[string]any{
			"title": "Made By Demoted", "description": "x", "price": 100, "published": false}})
		r.resp.mustCode(t, "FORBIDDEN")
		list := s.post(t, admin, `{ courses(first: 100) { edges { node { title } } } }`, nil).mustNoErrors(t)
		if strings.Contains(list.Raw, "Made By Demoted") {
			t.Errorf("the course was created: %s", list.Raw)
		}
	})
	t.Run("ErrSetRole", func(t *testing.T) {
		r := ops.mustAnswer(t, "promote", wsSetRole, map[string]any{"id": third.User.ID, "role": "ADMIN"})
		r.resp.mustCode(t, "FORBIDDEN")
		me := s.post(t, third.AccessToken, wsMe, nil).mustNoErrors(t)
		if !strings.Contains(me.Raw, `"role":"USER"`) {
			t.Errorf("third user's role changed: %s", me.Raw)
		}
	})
	t.Run("OKMeIsUser", func(t *testing.T) {
		r := ops.mustAnswer(t, "me1", wsMe, nil)
		r.resp.mustNoErrors(t)
		if !strings.Contains(r.resp.Raw, `"role":"USER"`) {
			t.Errorf("me = %s, want USER", r.resp.Raw)
		}
	})
}

// Ensure an ended session stops its open socket at once: an operation sent
// after the end is refused (or never runs, the socket being closed first),
// nothing is recorded, and the socket is closed with 4401 within 2 s.
func TestWebsocketSessionEnded(t *testing.T) {
	s := mustStartServer(t, wsPrivEnv())
	admin := s.mustAdminToken(t)
	course := s.mustCreateCourse(t, admin, "Not Bought", 300, true)

	tests := []struct {
		name string
		// end ends the session of p from outside the socket and returns
		// the password the account has afterwards.
		end func(t *testing.T, p authPayload, email, password string) string
	}{
		{"Logout", func(t *testing.T, p authPayload, _, password string) string {
			s.post(t, p.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
			return password
		}},
		{"RevokeSessionFromAnother", func(t *testing.T, p authPayload, email, password string) string {
			var d struct {
				Sessions []struct {
					ID      string
					Current bool
				}
			}
			s.post(t, p.AccessToken, `{ sessions { id current } }`, nil).mustNoErrors(t).decode(t, &d)
			other := s.mustLogin(t, email, password)
			for _, ss := range d.Sessions {
				if ss.Current {
					s.post(t, other.AccessToken, `mutation($id: ID!) { revokeSession(id: $id) }`, map[string]any{"id": ss.ID}).mustNoErrors(t)
					return password
				}
			}
			t.Fatalf("no current session in %+v", d.Sessions)
			return ""
		}},
		{"ChangePasswordFromAnother", func(t *testing.T, _ authPayload, email, password string) string {
			other := s.mustLogin(t, email, password)
			next := password + "-changed"
			s.post(t, other.AccessToken, `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`,
				map[string]any{"c": password, "n": next}).mustNoErrors(t)
			return next
		}},
	}
	for i, tt := range tests {
		t.Run("Err"+tt.name, func(t *testing.T) {
			email, password := uniqueEmail(t, i), "session-password-1"
			p := s.mustSignup(t, email, password, "Watched")
			c, _, err := wsDial(t, s, subOrigin, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
			c.mustAnswer(t, "me", wsMe, nil).resp.mustNoErrors(t)

			password = tt.end(t, p, email, password)
			ended := time.Now()
			r := c.operation(t, "buy", wsPurchase, map[string]any{"id": course.ID})
			if r.resp.Raw != "" {
				// The operation ran before the close: it must be refused.
				r.resp.mustCode(t, "UNAUTHENTICATED")
				t.Log("the operation was refused, then the socket closed")
			} else {
				t.Log("the socket closed before the operation ran")
			}
			switch r.closed {
			case 0:
				c.mustClose(t, 4401, 2*time.Second)
			case 4401:
			default:
				t.Fatalf("socket closed with %d, want 4401", r.closed)
			}
			if took := time.Since(ended); took > 2*time.Second {
				t.Errorf("closed %v after the session ended, want within 2s", took)
			}
			fresh := s.mustLogin(t, email, password)
			got := s.post(t, fresh.AccessToken, `{ purchasedCourses { totalCount } }`, nil).mustNoErrors(t)
			if !strings.Contains(got.Raw, `"totalCount":0`) {
				t.Errorf("a purchase was recorded: %s", got.Raw)
			}
		})
	}
}

// Ensure changes that leave a socket's session and rules intact do not
// close it: after a promotion, and after another session of the same user
// logs out, its subscription keeps delivering and its operations run with
// the new role.
func TestWebsocketAccessKept(t *testing.T) {
	s := mustStartServer(t, wsPrivEnv())
	admin := s.mustAdminToken(t)
	p := s.mustSignup(t, "promoted@example.com", "promoted-password-1", "Promoted")
	c, _, err := wsDial(t, s, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
	c.subscribe(t, "pub", `subscription { coursePublished { title } }`)

	s.post(t, admin, wsSetRole, map[string]any{"id": p.User.ID, "role": "ADMIN"}).mustNoErrors(t)
	other := s.mustLogin(t, "promoted@example.com", "promoted-password-1")
	s.post(t, other.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)

	// Creating a published course over the socket needs the new role, and
	// its coursePublished event shows the subscription still runs.
	r := c.mustAnswer(t, "create", wsCreateCourse, map[string]any{"in": map[string]any{
		"title": "By The Promoted", "description": "x", "price": 100, "published": true}})
	r.resp.mustNoErrors(t)
	got := r.others
	for len(got) == 0 {
		m, st := c.next(t, 5*time.Second)
		if st != -1 {
			t.Fatalf("socket closed with %d", st)
		}
		got = append(got, m)
	}
	if m := got[0]; m.ID != "pub" || m.Type != "next" || !strings.Contains(string(m.Payload), "By The Promoted") {
		t.Errorf("want the coursePublished event, got %+v", m)
	}
	c.mustAnswer(t, "me", wsMe, nil).resp.mustNoErrors(t)
}

// Ensure a socket's watcher and its subscription to access changes end
// with the socket: opening and closing many signed-in sockets leaves no
// goroutine behind.
func TestWebsocketWatchersReleased(t *testing.T) {
	s := mustStartServer(t, wsPrivEnv())
	p := s.mustSignup(t, "many-sockets@example.com", "many-sockets-password", "Many")
	open := func(n int) []*wsClient {
		cs := make([]*wsClient, n)
		for i := range cs {
			c, _, err := wsDial(t, s, subOrigin, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
			c.mustAnswer(t, "me", wsMe, nil).resp.mustNoErrors(t)
			cs[i] = c
		}
		return cs
	}
	closeAll := func(cs []*wsClient) {
		for _, c := range cs {
			_ = c.conn.Close(websocket.StatusNormalClosure, "")
		}
	}
	// settle polls the goroutine count until it is at most atMost, or, with
	// atMost < 0, until it stops changing.
	settle := func(atMost int) int {
		deadline := time.Now().Add(10 * time.Second)
		last := -1
		for {
			n := runtime.NumGoroutine()
			if (atMost >= 0 && n <= atMost) || (atMost < 0 && n == last) || time.Now().After(deadline) {
				return n
			}
			last = n
			time.Sleep(200 * time.Millisecond)
		}
	}
	// A first round warms up pools and caches that live on.
	closeAll(open(2))
	base := settle(-1)
	const sockets = 30
	cs := open(sockets)
	if during := runtime.NumGoroutine(); during < base+sockets {
		t.Fatalf("%d goroutines with %d sockets open, %d before: the count does not see sockets", during, sockets, base)
	}
	closeAll(cs)
	// Some slack for the HTTP client's idle connections.
	if after := settle(base + 5); after > base+5 {
		t.Errorf("%d goroutines after closing %d sockets, %d before", after, sockets, base)
	}
	// Announcements for the user still work with no socket listening.
	s.post(t, s.mustLogin(t, "many-sockets@example.com", "many-sockets-password").AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
}
