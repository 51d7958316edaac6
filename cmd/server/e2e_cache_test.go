package main

// End-to-end tests of the catalogue cache and of HTTP caching of public GET
// answers: a write is seen at once by the instance that made it and, through
// the change feed, soon by another instance on the same database; anonymous
// GET answers carry max-age and an ETag (304 on If-None-Match), and nothing
// read with credentials, nothing that failed and no POST answer does.
//
// Helpers of this file carry the prefix ch.

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// chWithin polls cond every 20 ms until it holds and returns how long that
// took; it fails the test after limit.
func chWithin(tb testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			tb.Fatalf("%s: not seen within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// chListed reports whether id is among the newest 100 courses token sees,
// and the total count.
func (s *testServer) chListed(tb testing.TB, token, id string) (bool, int) {
	tb.Helper()
	conn := s.cpListCourses(tb, token, 100, "")
	return slices.Contains(conn.IDs(), id), conn.TotalCount
}

// chPrice is a course's price as anyone sees it, -1 when hidden.
func (s *testServer) chPrice(tb testing.TB, id string) int {
	tb.Helper()
	c := s.cpMustGetCourse(tb, "", id)
	if c == nil {
		return -1
	}
	return c.Price
}

func TestCacheWritesSeenAtOnce(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	s.mustCreateCourse(t, admin, "Already there", 100, true)

	t.Run("OKCreatedPublished", func(t *testing.T) {
		_, before := s.chListed(t, "", "")
		c := s.mustCreateCourse(t, admin, "Fresh", 500, true)
		conn := s.cpListCourses(t, "", 1, "")
		if len(conn.Edges) != 1 || conn.Edges[0].Node.ID != c.ID || conn.TotalCount != before+1 {
			t.Errorf("newest = %v of %d, want %s of %d", conn.IDs(), conn.TotalCount, c.ID, before+1)
		}
		if p := s.chPrice(t, c.ID); p != 500 {
			t.Errorf("course(id) price = %d, want 500", p)
		}
	})
	t.Run("OKDraftPublished", func(t *testing.T) {
		c := s.mustCreateCourse(t, admin, "Draft", 700, false)
		if listed, _ := s.chListed(t, "", c.ID); listed || s.chPrice(t, c.ID) != -1 {
			t.Fatalf("a draft is visible to anyone")
		}
		if listed, _ := s.chListed(t, admin, c.ID); !listed {
			t.Fatalf("the admin does not see the draft")
		}
		s.cpMustUpdate(t, admin, c.ID, map[string]any{"published": true})
		if listed, _ := s.chListed(t, "", c.ID); !listed {
			t.Errorf("a course published is not listed at once")
		}
		if p := s.chPrice(t, c.ID); p != 700 {
			t.Errorf("course(id) of a course published = %d, want 700", p)
		}
	})
	t.Run("OKUnpublished", func(t *testing.T) {
		c := s.mustCreateCourse(t, admin, "Withdrawn", 900, true)
		_, before := s.chListed(t, "", c.ID)
		if s.chPrice(t, c.ID) != 900 {
			t.Fatalf("the course is not visible before unpublishing")
		}
		s.cpMustUpdate(t, admin, c.ID, map[string]any{"published": false})
		if listed, n := s.chListed(t, "", c.ID); listed || n != before-1 {
			t.Errorf("after unpublishing: listed %v, totalCount %d; want not listed, %d", listed, n, before-1)
		}
		if p := s.chPrice(t, c.ID); p != -1 {
			t.Errorf("course(id) of an unpublished course is visible (price %d)", p)
		}
		if got := s.cpMustGetCourse(t, admin, c.ID); got == nil {
			t.Errorf("the admin no longer sees the unpublished course")
		}
	})
	t.Run("OKUpdated", func(t *testing.T) {
		c := s.mustCreateCourse(t, admin, "Old title", 100, true)
		s.cpListCourses(t, "", 100, "")
		s.cpMustGetCourse(t, "", c.ID)
		s.cpMustUpdate(t, admin, c.ID, map[string]any{"title": "New title"})
		if got := s.cpMustGetCourse(t, "", c.ID); got == nil || got.Title != "New title" {
			t.Errorf("course(id) after the update = %+v, want New title", got)
		}
		for _, e := range s.cpListCourses(t, "", 100, "").Edges {
			if e.Node.ID == c.ID && e.Node.Title != "New title" {
				t.Errorf("listed title after the update = %q", e.Node.Title)
			}
		}
	})
	t.Run("OKPriceSeenByPurchase", func(t *testing.T) {
		c := s.mustCreateCourse(t, admin, "Repriced", 1000, true)
		buyer := s.cpUser(t, 1)
		if s.chPrice(t, c.ID) != 1000 {
			t.Fatal("price not 1000 before the change")
		}
		s.cpMustUpdate(t, admin, c.ID, map[string]any{"price": 2500})
		p := s.cpMustBuy(t, buyer.AccessToken, c.ID)
		if p.PricePaid != 2500 || p.Course.Price != 2500 {
			t.Errorf("bought after the price change at %d (course says %d), want 2500", p.PricePaid, p.Course.Price)
		}
		s.cpMustUpdate(t, admin, c.ID, map[string]any{"price": 3000})
		bought := s.cpPurchased(t, buyer.AccessToken, 10, "")
		if len(bought.Edges) != 1 || bought.Edges[0].Node.Price != 3000 {
			t.Errorf("purchasedCourses after a second change = %+v, want the course at 3000", bought.Edges)
		}
	})
}

// TestCacheSharedDatabase runs two instances on one database: what is
// written through A is served by B once B's feed reads the event (a poll, 1 s
// when idle, plus a margin for a loaded machine), however warm B's cache was.
func TestCacheSharedDatabase(t *testing.T) {
	// The feed's default idle poll (1 s), with room for a slow machine;
	// e2e_instances_test.go holds the one-second promise.
	const limit = 2 * time.Second
	db := mongotest.StartServer(t)
	env := outageEnv(db)
	a := mustStartServer(t, env)
	b := mustStartServer(t, env)
	admin := a.mustAdminToken(t)
	c := a.mustCreateCourse(t, admin, "Shared", 1000, true)
	chWithin(t, limit, "a course created through A, on B", func() bool {
		listed, _ := b.chListed(t, "", c.ID)
		return listed
	})

	t.Run("OKCreated", func(t *testing.T) {
		b.cpListCourses(t, "", 100, "") // warm
		n := a.mustCreateCourse(t, admin, "Created on A", 100, true)
		took := chWithin(t, limit, "a course created through A, on B", func() bool {
			listed, _ := b.chListed(t, "", n.ID)
			return listed
		})
		t.Logf("created on A, listed on B after %v", took)
	})
	t.Run("OKPriceChanged", func(t *testing.T) {
		b.chPrice(t, c.ID) // warm
		a.cpMustUpdate(t, admin, c.ID, map[string]any{"price": 4200})
		took := chWithin(t, limit, "a price changed through A, on B", func() bool { return b.chPrice(t, c.ID) == 4200 })
		t.Logf("price changed on A, seen on B after %v", took)
	})
	t.Run("OKUnpublished", func(t *testing.T) {
		u := a.mustCreateCourse(t, admin, "To withdraw", 100, true)
		chWithin(t, limit, "a new course on B", func() bool { return b.chPrice(t, u.ID) == 100 })
		a.cpMustUpdate(t, admin, u.ID, map[string]any{"published": false})
		took := chWithin(t, limit, "a course unpublished through A, hidden on B", func() bool {
			listed, _ := b.chListed(t, "", u.ID)
			return !listed && b.chPrice(t, u.ID) == -1
		})
		t.Logf("unpublished on A, hidden on B after %v", took)
	})
}

// chCacheControl is the response's Cache-Control, lower case.
func chCacheControl(h http.Header) string {
	return strings.ToLower(strings.Join(h.Values("Cache-Control"), ", "))
}

// chVaries reports whether the response's Vary names every one of fields.
func chVaries(h http.Header, fields ...string) bool {
	vary := map[string]bool{}
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			vary[strings.ToLower(strings.TrimSpace(f))] = true
		}
	}
	for _, f := range fields {
		if !vary[strings.ToLower(f)] {
			return false
		}
	}
	return true
}

// chMustPublic fails unless h is a public, cacheable answer with an ETag.
func chMustPublic(tb testing.TB, what string, h http.Header) {
	tb.Helper()
	if cc := chCacheControl(h); cc != "public, max-age=5" {
		tb.Errorf("%s: Cache-Control = %q, want public, max-age=5", what, cc)
	}
	if etag := h.Get("ETag"); len(etag) < 3 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		tb.Errorf("%s: ETag = %q, want a strong tag", what, etag)
	}
	if !chVaries(h, "Authorization", "Cookie", "Accept") {
		tb.Errorf("%s: Vary = %q, want Authorization, Cookie and Accept", what, h.Values("Vary"))
	}
}

// chMustNotPublic fails if h lets a shared cache keep the answer.
func chMustNotPublic(tb testing.TB, what string, h http.Header, want string) {
	tb.Helper()
	cc := chCacheControl(h)
	if strings.Contains(cc, "public") || strings.Contains(cc, "max-age") || h.Get("ETag") != "" {
		tb.Errorf("%s: Cache-Control = %q, ETag = %q; want neither public nor max-age nor a tag", what, cc, h.Get("ETag"))
	}
	if want != "" && cc != want {
		tb.Errorf("%s: Cache-Control = %q, want %q", what, cc, want)
	}
}

func chGetPath(query string) string {
	return "/graphql?" + url.Values{"query": {query}}.Encode()
}

func TestCacheGetHeaders(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	user := s.cpUser(t, 1)
	s.mustCreateCourse(t, admin, "Cached", 100, true)
	list := chGetPath(`{ courses(first: 100) { totalCount edges { node { id title } } } }`)

	t.Run("OKPublicWithETag", func(t *testing.T) {
		status, h, body := s.httpGet(t, list)
		if status != http.StatusOK || !strings.Contains(body, "Cached") {
			t.Fatalf("GET = %d %s", status, body)
		}
		chMustPublic(t, "anonymous GET", h)
	})
	t.Run("OKNotModified", func(t *testing.T) {
		_, h, _ := s.httpGet(t, list)
		etag := h.Get("ETag")
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			status, h2, body := s.httpGetWith(t, list, http.Header{"If-None-Match": {inm}})
			if status != http.StatusNotModified || body != "" {
				t.Errorf("If-None-Match %s: %d with %d bytes, want 304 with none", inm, status, len(body))
				continue
			}
			if h2.Get("ETag") != etag {
				t.Errorf("If-None-Match %s: 304 ETag = %q, want %q", inm, h2.Get("ETag"), etag)
			}
			chMustPublic(t, "304", h2)
		}
		status, _, body := s.httpGetWith(t, list, http.Header{"If-None-Match": {`"other"`}})
		if status != http.StatusOK || !strings.Contains(body, "Cached") {
			t.Errorf("another tag: %d %s, want 200 with the body", status, body)
		}
	})
	t.Run("OKNewTagAfterWrite", func(t *testing.T) {
		_, h, _ := s.httpGet(t, list)
		old := h.Get("ETag")
		s.mustCreateCourse(t, admin, "Brand new", 100, true)
		status, h2, body := s.httpGetWith(t, list, http.Header{"If-None-Match": {old}})
		if status != http.StatusOK || !strings.Contains(body, "Brand new") {
			t.Fatalf("after a write: %d %s, want 200 with the new course", status, body)
		}
		if h2.Get("ETag") == old {
			t.Errorf("ETag unchanged after a write: %s", old)
		}
	})
	t.Run("ErrBearerPrivate", func(t *testing.T) {
		_, h, _ := s.httpGet(t, list)
		for _, q := range []string{list, chGetPath(`{ me { id } }`)} {
			status, h2, body := s.httpGetWith(t, q, http.Header{
				"Authorization": {"Bearer " + user.AccessToken}, "If-None-Match": {h.Get("ETag")},
			})
			if status != http.StatusOK || body == "" {
				t.Errorf("bearer GET %s: %d %q, want 200 with a body", q, status, body)
			}
			chMustNotPublic(t, "bearer GET", h2, "private, no-store")
		}
	})
	t.Run("ErrCookiePrivate", func(t *testing.T) {
		for _, cookie := range []string{"coursehub_at=stale", "coursehub_rt=stale"} {
			_, h, _ := s.httpGetWith(t, list, http.Header{"Cookie": {cookie}})
			chMustNotPublic(t, "GET with "+cookie, h, "private, no-store")
		}
	})
	t.Run("ErrErrorsNoStore", func(t *testing.T) {
		for _, q := range []string{
			`{ me { id } }`,                        // UNAUTHENTICATED
			`{ courses(first: 0) { totalCount } }`, // BAD_USER_INPUT
			`{ courses(`,                           // parse error
			`mutation { logout }`,                  // 405
		} {
			_, h, _ := s.httpGet(t, chGetPath(q))
			chMustNotPublic(t, "GET "+q, h, "no-store")
		}
	})
	t.Run("OKPostNoMaxAge", func(t *testing.T) {
		r := s.post(t, "", `{ courses(first: 100) { totalCount } }`, nil).mustNoErrors(t)
		chMustNotPublic(t, "anonymous POST", r.Header, "")
	})
	t.Run("OKOff", func(t *testing.T) {
		off := mustStartServer(t, map[string]string{"GRAPHQL_GET_MAX_AGE": "0"})
		status, h, _ := off.httpGet(t, list)
		if status != http.StatusOK {
			t.Fatalf("GET = %d", status)
		}
		chMustNotPublic(t, "GET with GRAPHQL_GET_MAX_AGE=0", h, "")
	})
}
