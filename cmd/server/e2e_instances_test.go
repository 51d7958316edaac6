package main

// End-to-end tests of several instances on one database (one embedded
// FerretDB listener, servers on it through MONGODB_URI): what is written
// through one instance reaches the subscribers (WebSocket and SSE), caches
// and sockets of the others through the change feed within a second. The
// periodic socket check is an hour here, so only the feed can close a
// socket in time. Rate
// limits shared across instances are TestRateLimitSharedAcrossInstances.
//
// Helpers of this file carry the prefix mi.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// miWithin is the promise under test: a write through one instance is seen
// by the others within a second.
const miWithin = time.Second

// miEnv runs instances on db with the periodic socket check out of the way
// and the feed's idle poll at half the promise, so that one poll's wait and
// the machine's slowness fit in it.
func miEnv(db *mongotest.Server) map[string]string {
	env := outageEnv(db)
	for k, v := range wsPrivEnv() {
		env[k] = v
	}
	env["FEED_POLL_INTERVAL"] = "500ms"
	return env
}

// miStart starts n instances on one new database.
func miStart(t *testing.T, n int) []*testServer {
	t.Helper()
	db := mongotest.StartServer(t)
	env := miEnv(db)
	out := make([]*testServer, n)
	for i := range out {
		out[i] = mustStartServer(t, env)
	}
	return out
}

// miSock is a socket whose messages a goroutine reads into a channel: a
// read with a deadline would close the socket when it passes.
type miSock struct {
	*wsClient
	msgs   chan wsMessage
	closed chan websocket.StatusCode // the close status, once
}

// miDial opens a socket on s, initialised with payload.
func miDial(t *testing.T, s *testServer, payload map[string]any) *miSock {
	t.Helper()
	c, _, err := wsDial(t, s, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.mustInit(t, payload)
	m := &miSock{wsClient: c, msgs: make(chan wsMessage, 1024), closed: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, b, err := c.conn.Read(context.Background())
			if err != nil {
				m.closed <- websocket.CloseStatus(err)
				return
			}
			var msg wsMessage
			if json.Unmarshal(b, &msg) == nil && msg.Type != "ping" && msg.Type != "pong" {
				m.msgs <- msg
			}
		}
	}()
	return m
}

// miCoursePublished opens a socket on s with a running coursePublished
// subscription.
func miCoursePublished(t *testing.T, s *testServer) *miSock {
	t.Helper()
	c := miDial(t, s, map[string]any{})
	c.subscribe(t, "pub", `subscription { coursePublished { id title } }`)
	return c
}

// title is the course title in a coursePublished or purchaseMade event.
func (m wsMessage) title() string {
	var p struct {
		Data struct {
			CoursePublished struct{ Title string }
			PurchaseMade    struct{ Course struct{ Title string } }
		}
	}
	_ = json.Unmarshal(m.Payload, &p)
	return p.Data.CoursePublished.Title + p.Data.PurchaseMade.Course.Title
}

// miTitles reads c's events for wait and returns their titles; the socket
// must stay open.
func (c *miSock) miTitles(t *testing.T, wait time.Duration) []string {
	t.Helper()
	var out []string
	timeout := time.After(wait)
	for {
		select {
		case m := <-c.msgs:
			if m.Type == "next" {
				out = append(out, m.title())
			}
		case st := <-c.closed:
			t.Fatalf("socket closed with %d", st)
		case <-timeout:
			return out
		}
	}
}

// miUntil reads c's events until one titled title arrives and returns how
// long that took and the titles read before it; it fails after limit.
func (c *miSock) miUntil(t *testing.T, title string, limit time.Duration) (time.Duration, []string) {
	t.Helper()
	start := time.Now()
	var before []string
	timeout := time.After(limit)
	for {
		select {
		case m := <-c.msgs:
			if m.Type != "next" {
				continue
			}
			if got := m.title(); got != title {
				before = append(before, got)
				continue
			}
			return time.Since(start), before
		case st := <-c.closed:
			t.Fatalf("socket closed with %d while waiting for %q", st, title)
		case <-timeout:
			t.Fatalf("%q not delivered within %v (got %v)", title, limit, before)
		}
	}
}

// miLive makes sure the subscriptions of socks are running: it makes
// warm-up events through s (make publishes a course or sells one titled
// title) until one reaches every socket, then drains the sockets.
func miLive(t *testing.T, make func(title string), socks ...*miSock) {
	t.Helper()
	for i := 0; i < 20; i++ {
		title := fmt.Sprintf("Warm-up %d %d", i, time.Now().UnixNano())
		make(title)
		all := true
		for _, c := range socks {
			found := false
			for _, got := range c.miTitles(t, 1500*time.Millisecond) {
				found = found || got == title
			}
			all = all && found
		}
		if all {
			for _, c := range socks {
				c.miTitles(t, 200*time.Millisecond)
			}
			return
		}
	}
	t.Fatal("the subscriptions never delivered a warm-up event")
}

// miMustRefused waits for the subscription sub on c to end with a refusal:
// the socket closed with 4401 or 4403, or an error message for sub. Data for
// sub fails.
func (c *miSock) miMustRefused(t *testing.T, sub string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	timeout := time.After(limit)
	for {
		select {
		case st := <-c.closed:
			if st != 4401 && st != 4403 {
				t.Fatalf("socket closed with %d, want a refusal (4401, 4403 or an error for %s)", st, sub)
			}
			return time.Since(start)
		case m := <-c.msgs:
			switch {
			case m.ID == sub && m.Type == "error":
				return time.Since(start)
			case m.ID == sub && m.Type == "next":
				t.Fatalf("data for %s while waiting for its refusal: %s", sub, m.Payload)
			}
		case <-timeout:
			t.Fatalf("%s not refused within %v", sub, limit)
		}
	}
}

// Ensure a course published through A reaches the coursePublished
// subscribers on B and C exactly once each, within a second.
func TestInstancesCoursePublished(t *testing.T) {
	s := miStart(t, 3)
	a, b, c := s[0], s[1], s[2]
	admin := a.mustAdminToken(t)
	onB, onC := miCoursePublished(t, b), miCoursePublished(t, c)
	miLive(t, func(title string) { a.mustCreateCourse(t, admin, title, 100, true) }, onB, onC)

	for i := 0; i < 3; i++ {
		title := fmt.Sprintf("Across %d", i)
		a.mustCreateCourse(t, admin, title, 500, true)
		for name, sock := range map[string]*miSock{"B": onB, "C": onC} {
			took, before := sock.miUntil(t, title, miWithin)
			if len(before) > 0 {
				t.Errorf("%s: other events before %q: %v", name, title, before)
			}
			t.Logf("%q on %s after %v", title, name, took)
		}
	}
	// A duplicate would have arrived by now.
	for name, sock := range map[string]*miSock{"B": onB, "C": onC} {
		if more := sock.miTitles(t, 700*time.Millisecond); len(more) > 0 {
			t.Errorf("%s: delivered again: %v", name, more)
		}
	}
}

// Ensure the catalogue served by B reflects writes through A within a
// second, however warm B's cache was: a new course, a price change, an
// unpublication.
func TestInstancesCatalogue(t *testing.T) {
	s := miStart(t, 2)
	a, b := s[0], s[1]
	admin := a.mustAdminToken(t)
	c := a.mustCreateCourse(t, admin, "Shared", 1000, true)
	chWithin(t, 5*time.Second, "the first course on B", func() bool { return b.chPrice(t, c.ID) == 1000 })

	t.Run("OKCreated", func(t *testing.T) {
		b.cpListCourses(t, "", 100, "") // warm
		n := a.mustCreateCourse(t, admin, "Created on A", 100, true)
		took := chWithin(t, miWithin, "a course created through A, listed on B", func() bool {
			listed, _ := b.chListed(t, "", n.ID)
			return listed
		})
		t.Logf("listed on B after %v", took)
	})
	t.Run("OKPriceChanged", func(t *testing.T) {
		b.chPrice(t, c.ID) // warm
		a.cpMustUpdate(t, admin, c.ID, map[string]any{"price": 4200})
		took := chWithin(t, miWithin, "a price changed through A, on B", func() bool { return b.chPrice(t, c.ID) == 4200 })
		t.Logf("new price on B after %v", took)
	})
	t.Run("OKUnpublished", func(t *testing.T) {
		b.cpListCourses(t, "", 100, "") // warm
		a.cpMustUpdate(t, admin, c.ID, map[string]any{"published": false})
		took := chWithin(t, miWithin, "a course unpublished through A, hidden on B", func() bool {
			listed, _ := b.chListed(t, "", c.ID)
			return !listed && b.chPrice(t, c.ID) == -1
		})
		t.Logf("hidden on B after %v", took)
	})
}

// Ensure demoting an admin through A ends their purchaseMade subscription on
// B with a refusal within a second.
func TestInstancesDemotion(t *testing.T) {
	s := miStart(t, 2)
	a, b := s[0], s[1]
	admin := a.mustAdminToken(t)
	second := a.mustSignup(t, "second-admin@example.com", "second-password-1", "Second")
	buyer := a.mustSignup(t, "buyer@example.com", "buyer-password-1", "Buyer")
	a.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "ADMIN"}).mustNoErrors(t)

	sales := miDial(t, b, map[string]any{"Authorization": "Bearer " + second.AccessToken})
	sales.subscribe(t, "sales", `subscription { purchaseMade { id course { title } } }`)
	// Purchases through A reach the subscription on B.
	miLive(t, func(title string) {
		c := a.mustCreateCourse(t, admin, title, 100, true)
		a.post(t, buyer.AccessToken, wsPurchase, map[string]any{"id": c.ID}).mustNoErrors(t)
	}, sales)

	demoted := time.Now()
	a.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "USER"}).mustNoErrors(t)
	took := sales.miMustRefused(t, "sales", 2*time.Second)
	if since := time.Since(demoted); since > miWithin {
		t.Errorf("refused %v after the demotion through A, want within %v", since, miWithin)
	}
	t.Logf("refused on B %v after the demotion's answer", took)
}

// Ensure a session ended through A (a logout) closes its socket on B within
// a second.
func TestInstancesSessionEnded(t *testing.T) {
	s := miStart(t, 2)
	a, b := s[0], s[1]
	p := a.mustSignup(t, "watched@example.com", "watched-password-1", "Watched")
	sock, _, err := wsDial(t, b, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	sock.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
	sock.mustAnswer(t, "me", wsMe, nil).resp.mustNoErrors(t)
	if r := sock.mustAnswer(t, "me", wsMe, nil); !strings.Contains(r.resp.Raw, p.User.ID) {
		t.Fatalf("me over the socket = %s", r.resp.Raw)
	}

	a.post(t, p.AccessToken, `mutation { logout }`, nil).mustNoErrors(t)
	ended := time.Now()
	sock.mustClose(t, 4401, 2*time.Second)
	if took := time.Since(ended); took > miWithin {
		t.Errorf("closed %v after the logout through A, want within %v", took, miWithin)
	}
}

// Ensure the same over GraphQL over SSE: a course published through A
// reaches an SSE subscriber on B once, within a second, and demoting an
// admin through A ends their purchaseMade stream on B with FORBIDDEN within
// a second.
func TestInstancesSSE(t *testing.T) {
	s := miStart(t, 2)
	a, b := s[0], s[1]
	admin := a.mustAdminToken(t)

	t.Run("OKCoursePublished", func(t *testing.T) {
		st := b.mustSSE(t, "", sseCoursePublished, nil)
		start := time.Now()
		a.mustCreateCourse(t, admin, "Across SSE", 100, true)
		r := st.mustResult(t, miWithin).mustNoErrors(t)
		if !strings.Contains(r.Raw, "Across SSE") {
			t.Fatalf("want the course published through A, got %s", r.Raw)
		}
		t.Logf("on B's SSE stream after %v", time.Since(start))
		st.mustNoFrame(t, 700*time.Millisecond) // no duplicate
	})

	t.Run("ErrDemotionEndsStream", func(t *testing.T) {
		second := a.mustSignup(t, "sse-second@example.com", "second-password-1", "Second")
		buyer := a.mustSignup(t, "sse-buyer@example.com", "buyer-password-1", "Buyer")
		a.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "ADMIN"}).mustNoErrors(t)
		st := b.mustSSE(t, second.AccessToken, ssePurchaseMade, nil)
		// A purchase through A reaches the stream on B.
		mustLiveSSEPurchaseMade(t, a, st, admin, buyer.AccessToken)
		demoted := time.Now()
		a.post(t, admin, wsSetRole, map[string]any{"id": second.User.ID, "role": "USER"}).mustNoErrors(t)
		st.mustRefusedWithin(t, "FORBIDDEN", 2*time.Second)
		if took := time.Since(demoted); took > miWithin {
			t.Errorf("refused %v after the demotion through A, want within %v", took, miWithin)
		}
	})
}
