package main

// End-to-end tests of the catalogue: creating, editing and publishing
// courses, who sees which, pagination, and operator-shaped input.
//
// Helpers shared by e2e_courses_test.go, e2e_purchases_test.go and
// e2e_transport_test.go carry the prefix cp so that they cannot clash with
// other test files of this package.

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// cpUserPassword is the password of every user these tests sign up.
const cpUserPassword = "user-password-1"

// cpUserRef is a User as the course queries select it.
type cpUserRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// cpCourse is a Course with every field.
type cpCourse struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Price       int       `json:"price"`
	ImageLink   *string   `json:"imageLink"`
	Published   bool      `json:"published"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   cpUserRef `json:"createdBy"`
}

// cpCourseFields selects every field of cpCourse.
const cpCourseFields = `id title description price imageLink published createdAt createdBy { id name role }`

// cpConn is a CourseConnection.
type cpConn struct {
	Edges []struct {
		Cursor string   `json:"cursor"`
		Node   cpCourse `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
	TotalCount int `json:"totalCount"`
}

// IDs lists the ids of the connection's nodes in order.
func (c cpConn) IDs() []string {
	out := make([]string, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node.ID
	}
	return out
}

const cpConnFields = `edges { cursor node { ` + cpCourseFields + ` } } pageInfo { hasNextPage endCursor } totalCount`

// cpCoursesQuery lists courses with optional first and after.
const cpCoursesQuery = `query($first: Int, $after: String) { courses(first: $first, after: $after) { ` + cpConnFields + ` } }`

// cpPageVars builds the variables of a paginated query: first 0 and after ""
// are left out (first: null means the default page size, 20).
func cpPageVars(first int, after string) map[string]any {
	v := map[string]any{}
	if first != 0 {
		v["first"] = first
	}
	if after != "" {
		v["after"] = after
	}
	return v
}

// cpListCourses fetches one page of courses.
func (s *testServer) cpListCourses(tb testing.TB, token string, first int, after string) cpConn {
	tb.Helper()
	r := s.post(tb, token, cpCoursesQuery, cpPageVars(first, after)).mustNoErrors(tb)
	var d struct{ Courses cpConn }
	r.decode(tb, &d)
	return d.Courses
}

// cpCountCourses is courses.totalCount as token sees it.
func (s *testServer) cpCountCourses(tb testing.TB, token string) int {
	tb.Helper()
	r := s.post(tb, token, `{ courses { totalCount } }`, nil).mustNoErrors(tb)
	var d struct{ Courses struct{ TotalCount int } }
	r.decode(tb, &d)
	return d.Courses.TotalCount
}

// cpCreate sends createCourse with in and returns the raw response.
func (s *testServer) cpCreate(tb testing.TB, token string, in map[string]any) gqlResponse {
	tb.Helper()
	return s.post(tb, token, `mutation($in: CreateCourseInput!) { createCourse(input: $in) { `+cpCourseFields+` } }`,
		map[string]any{"in": in})
}

// cpUpdate sends updateCourse and returns the raw response.
func (s *testServer) cpUpdate(tb testing.TB, token, id string, in map[string]any) gqlResponse {
	tb.Helper()
	return s.post(tb, token, `mutation($id: ID!, $in: UpdateCourseInput!) { updateCourse(id: $id, input: $in) { `+cpCourseFields+` } }`,
		map[string]any{"id": id, "in": in})
}

// cpMustUpdate updates a course and returns it.
func (s *testServer) cpMustUpdate(tb testing.TB, token, id string, in map[string]any) cpCourse {
	tb.Helper()
	r := s.cpUpdate(tb, token, id, in).mustNoErrors(tb)
	var d struct{ UpdateCourse cpCourse }
	r.decode(tb, &d)
	return d.UpdateCourse
}

// cpGetCourse runs course(id) and returns the raw response.
func (s *testServer) cpGetCourse(tb testing.TB, token, id string) gqlResponse {
	tb.Helper()
	return s.post(tb, token, `query($id: ID!) { course(id: $id) { `+cpCourseFields+` } }`, map[string]any{"id": id})
}

// cpMustGetCourse runs course(id) and returns the course or nil.
func (s *testServer) cpMustGetCourse(tb testing.TB, token, id string) *cpCourse {
	tb.Helper()
	r := s.cpGetCourse(tb, token, id).mustNoErrors(tb)
	var d struct{ Course *cpCourse }
	r.decode(tb, &d)
	return d.Course
}

// cpUser signs up a fresh USER and returns its payload.
func (s *testServer) cpUser(tb testing.TB, n int) authPayload {
	tb.Helper()
	return s.mustSignup(tb, uniqueEmail(tb, n), cpUserPassword, fmt.Sprintf("User %d", n))
}

// cpAdminID returns the first admin's user id.
func (s *testServer) cpAdminID(tb testing.TB) string {
	tb.Helper()
	return s.mustLogin(tb, adminEmail, adminPassword).User.ID
}

// cpEqualIDs fails unless got and want are the same ids in the same order.
func cpEqualIDs(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		tb.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// cpReversed returns ids newest first (ids are in creation order).
func cpReversed(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

// cpMissingID is a well-formed id that names nothing.
const cpMissingID = "0123456789abcdef01234567"

func TestCreateCourse(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustLogin(t, adminEmail, adminPassword)
	user := s.cpUser(t, 1)

	t.Run("OK", func(t *testing.T) {
		start := time.Now().Add(-time.Minute)
		img := "https://cdn.example.com/img/go.png"
		r := s.cpCreate(t, admin.AccessToken, map[string]any{
			"title": "  Go in Depth  ", "description": "Everything about Go.", "price": 4999, "imageLink": img,
		}).mustNoErrors(t)
		var d struct{ CreateCourse cpCourse }
		r.decode(t, &d)
		c := d.CreateCourse
		if c.ID == "" || c.Title != "Go in Depth" || c.Description != "Everything about Go." || c.Price != 4999 {
			t.Errorf("created course = %+v", c)
		}
		if c.ImageLink == nil || *c.ImageLink != img {
			t.Errorf("imageLink = %v, want %q", c.ImageLink, img)
		}
		if c.Published {
			t.Error("published = true, want the default false")
		}
		if c.CreatedBy.ID != admin.User.ID || c.CreatedBy.Role != "ADMIN" {
			t.Errorf("createdBy = %+v, want the admin %s", c.CreatedBy, admin.User.ID)
		}
		if c.CreatedAt.Before(start) || c.CreatedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("createdAt = %v, not now", c.CreatedAt)
		}
		// The stored course reads back the same.
		got := s.cpMustGetCourse(t, admin.AccessToken, c.ID)
		if got == nil || got.Title != c.Title || got.Price != c.Price || got.Published || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Errorf("course(id) = %+v, want %+v", got, c)
		}
	})

	t.Run("OKPublishedFreeNoImage", func(t *testing.T) {
		r := s.cpCreate(t, admin.AccessToken, map[string]any{
			"title": "Free", "description": "", "price": 0, "published": true,
		}).mustNoErrors(t)
		var d struct{ CreateCourse cpCourse }
		r.decode(t, &d)
		if c := d.CreateCourse; !c.Published || c.Price != 0 || c.ImageLink != nil || c.Description != "" {
			t.Errorf("created course = %+v", c)
		}
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		before := s.cpCountCourses(t, admin.AccessToken)
		r := s.cpCreate(t, user.AccessToken, map[string]any{"title": "Mine", "description": "x", "price": 1, "published": true})
		r.mustCode(t, "FORBIDDEN")
		if string(r.Data) != "null" {
			t.Errorf("data = %s, want null", r.Data)
		}
		if after := s.cpCountCourses(t, admin.AccessToken); after != before {
			t.Errorf("course count %d -> %d: a USER created a course", before, after)
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		before := s.cpCountCourses(t, admin.AccessToken)
		s.cpCreate(t, "", map[string]any{"title": "Anon", "description": "x", "price": 1, "published": true}).
			mustCode(t, "UNAUTHENTICATED")
		if after := s.cpCountCourses(t, admin.AccessToken); after != before {
			t.Errorf("course count %d -> %d: an anonymous caller created a course", before, after)
		}
	})

	t.Run("ErrBadInput", func(t *testing.T) {
		valid := func() map[string]any {
			return map[string]any{"title": "Valid", "description": "d", "price": 100, "published": true}
		}
		tests := []struct {
			name  string
			field string
			value any
		}{
			{"NegativePrice", "price", -1},
			{"PriceTooHigh", "price", 1_000_000_001},
			{"EmptyTitle", "title", ""},
			{"BlankTitle", "title", "  \t "},
			{"LongTitle", "title", strings.Repeat("a", 201)},
			{"JavascriptImage", "imageLink", "javascript:alert(1)"},
			{"RelativeImage", "imageLink", "/img/a.png"},
			{"SchemelessImage", "imageLink", "//evil.example.com/a.png"},
			{"DataImage", "imageLink", "data:image/png;base64,AAAA"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := s.cpCountCourses(t, admin.AccessToken)
				in := valid()
				in[tc.field] = tc.value
				r := s.cpCreate(t, admin.AccessToken, in)
				e := r.mustCode(t, "BAD_USER_INPUT")
				if v, ok := tc.value.(string); ok && len(v) > 3 && strings.Contains(e.Message, v) {
					t.Errorf("message %q repeats the submitted value", e.Message)
				}
				if after := s.cpCountCourses(t, admin.AccessToken); after != before {
					t.Errorf("course count %d -> %d: invalid input was written", before, after)
				}
			})
		}
	})

	t.Run("OKTitleAtLimit", func(t *testing.T) {
		title := strings.Repeat("é", 200) // 200 characters, 400 bytes
		r := s.cpCreate(t, admin.AccessToken, map[string]any{"title": title, "description": "", "price": 1_000_000_000}).mustNoErrors(t)
		var d struct{ CreateCourse cpCourse }
		r.decode(t, &d)
		if d.CreateCourse.Title != title || d.CreateCourse.Price != 1_000_000_000 {
			t.Errorf("created course = %+v", d.CreateCourse)
		}
	})
}

func TestUpdateCourse(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	user := s.cpUser(t, 1)

	create := func(t *testing.T) cpCourse {
		t.Helper()
		r := s.cpCreate(t, admin, map[string]any{
			"title": "Original", "description": "Original description", "price": 1000,
			"imageLink": "https://example.com/a.png",
		}).mustNoErrors(t)
		var d struct{ CreateCourse cpCourse }
		r.decode(t, &d)
		return d.CreateCourse
	}

	t.Run("OK", func(t *testing.T) {
		c := create(t)
		got := s.cpMustUpdate(t, admin, c.ID, map[string]any{"price": 2500})
		if got.ID != c.ID || got.Price != 2500 || got.Title != "Original" || got.Description != "Original description" ||
			got.ImageLink == nil || *got.ImageLink != "https://example.com/a.png" || got.Published ||
			!got.CreatedAt.Equal(c.CreatedAt) || got.CreatedBy.ID != c.CreatedBy.ID {
			t.Errorf("after price update: %+v", got)
		}
		got = s.cpMustUpdate(t, admin, c.ID, map[string]any{"title": "Renamed", "description": "New"})
		if got.Title != "Renamed" || got.Description != "New" || got.Price != 2500 || got.ImageLink == nil {
			t.Errorf("after title update: %+v", got)
		}
		// Read back from the database, not the mutation's answer.
		back := s.cpMustGetCourse(t, admin, c.ID)
		if back == nil || back.Title != "Renamed" || back.Description != "New" || back.Price != 2500 ||
			back.ImageLink == nil || *back.ImageLink != "https://example.com/a.png" || back.Published {
			t.Errorf("course(id) after updates = %+v", back)
		}
		// An empty input changes nothing.
		got = s.cpMustUpdate(t, admin, c.ID, map[string]any{})
		if got.Title != "Renamed" || got.Price != 2500 || got.ImageLink == nil || got.Published {
			t.Errorf("after empty update: %+v", got)
		}
	})

	t.Run("OKPublish", func(t *testing.T) {
		c := create(t)
		if s.cpMustGetCourse(t, user.AccessToken, c.ID) != nil {
			t.Fatal("unpublished course visible to a USER")
		}
		got := s.cpMustUpdate(t, admin, c.ID, map[string]any{"published": true})
		if !got.Published || got.Title != "Original" || got.Price != 1000 {
			t.Errorf("after publish: %+v", got)
		}
		if v := s.cpMustGetCourse(t, user.AccessToken, c.ID); v == nil || !v.Published {
			t.Errorf("published course as USER = %+v", v)
		}
		if v := s.cpMustGetCourse(t, "", c.ID); v == nil {
			t.Error("published course invisible to anonymous")
		}
		got = s.cpMustUpdate(t, admin, c.ID, map[string]any{"published": false})
		if got.Published {
			t.Error("unpublish did not take")
		}
		if s.cpMustGetCourse(t, user.AccessToken, c.ID) != nil {
			t.Error("unpublished course still visible to a USER")
		}
	})

	t.Run("OKClearImageLink", func(t *testing.T) {
		c := create(t)
		got := s.cpMustUpdate(t, admin, c.ID, map[string]any{"imageLink": ""})
		if got.ImageLink != nil {
			t.Errorf("imageLink = %q, want null", *got.ImageLink)
		}
		if back := s.cpMustGetCourse(t, admin, c.ID); back == nil || back.ImageLink != nil || back.Title != "Original" {
			t.Errorf("course(id) after clearing = %+v", back)
		}
		got = s.cpMustUpdate(t, admin, c.ID, map[string]any{"imageLink": "http://example.org/b.jpg"})
		if got.ImageLink == nil || *got.ImageLink != "http://example.org/b.jpg" {
			t.Errorf("imageLink = %v, want the new link", got.ImageLink)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s.cpUpdate(t, admin, cpMissingID, map[string]any{"title": "X"}).mustCode(t, "NOT_FOUND")
	})

	t.Run("ErrMalformedID", func(t *testing.T) {
		for _, id := range []string{"nope", "", "0123456789abcdef0123456", `{"$gt":""}`} {
			s.cpUpdate(t, admin, id, map[string]any{"title": "X"}).mustCode(t, "BAD_USER_INPUT")
		}
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		c := create(t)
		s.cpUpdate(t, user.AccessToken, c.ID, map[string]any{"price": 1, "published": true}).mustCode(t, "FORBIDDEN")
		if back := s.cpMustGetCourse(t, admin, c.ID); back == nil || back.Price != 1000 || back.Published {
			t.Errorf("course changed by a USER: %+v", back)
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		c := create(t)
		s.cpUpdate(t, "", c.ID, map[string]any{"published": true}).mustCode(t, "UNAUTHENTICATED")
		if back := s.cpMustGetCourse(t, admin, c.ID); back == nil || back.Published {
			t.Errorf("course changed anonymously: %+v", back)
		}
	})

	t.Run("ErrBadInput", func(t *testing.T) {
		c := create(t)
		for _, in := range []map[string]any{
			{"price": -5},
			{"price": 1_000_000_001},
			{"title": ""},
			{"title": "   "},
			{"title": strings.Repeat("x", 201)},
			{"imageLink": "javascript:alert(1)"},
			{"imageLink": "img/a.png"},
			{"title": "Fine", "price": -1}, // one bad field: nothing changes
		} {
			s.cpUpdate(t, admin, c.ID, in).mustCode(t, "BAD_USER_INPUT")
		}
		back := s.cpMustGetCourse(t, admin, c.ID)
		if back == nil || back.Title != "Original" || back.Price != 1000 || back.ImageLink == nil ||
			*back.ImageLink != "https://example.com/a.png" {
			t.Errorf("course changed by invalid updates: %+v", back)
		}
	})
}

func TestCourseVisibility(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	user := s.cpUser(t, 1)

	pub1 := s.mustCreateCourse(t, admin, "Published 1", 100, true)
	hidden := s.mustCreateCourse(t, admin, "Hidden", 200, false)
	pub2 := s.mustCreateCourse(t, admin, "Published 2", 300, true)

	t.Run("OKList", func(t *testing.T) {
		for _, tc := range []struct {
			name, token string
			want        []string
		}{
			{"Anonymous", "", []string{pub2.ID, pub1.ID}},
			{"User", user.AccessToken, []string{pub2.ID, pub1.ID}},
			{"Admin", admin, []string{pub2.ID, hidden.ID, pub1.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := s.cpListCourses(t, tc.token, 0, "")
				cpEqualIDs(t, "courses", c.IDs(), tc.want)
				if c.TotalCount != len(tc.want) {
					t.Errorf("totalCount = %d, want %d", c.TotalCount, len(tc.want))
				}
				if c.PageInfo.HasNextPage {
					t.Error("hasNextPage = true on the only page")
				}
			})
		}
	})

	t.Run("OKCourse", func(t *testing.T) {
		for _, tok := range []string{"", user.AccessToken, admin} {
			c := s.cpMustGetCourse(t, tok, pub1.ID)
			if c == nil || c.ID != pub1.ID || c.Title != "Published 1" || c.Price != 100 || !c.Published {
				t.Errorf("course(published) = %+v", c)
			}
		}
		c := s.cpMustGetCourse(t, admin, hidden.ID)
		if c == nil || c.ID != hidden.ID || c.Published {
			t.Errorf("admin course(unpublished) = %+v", c)
		}
	})

	t.Run("OKNullUnpublished", func(t *testing.T) {
		for name, tok := range map[string]string{"Anonymous": "", "User": user.AccessToken} {
			r := s.cpGetCourse(t, tok, hidden.ID).mustNoErrors(t)
			if string(r.Data) != `{"course":null}` {
				t.Errorf("%s: data = %s, want null course", name, r.Data)
			}
		}
	})

	t.Run("OKNullMissing", func(t *testing.T) {
		for _, tok := range []string{"", user.AccessToken, admin} {
			r := s.cpGetCourse(t, tok, cpMissingID).mustNoErrors(t)
			if string(r.Data) != `{"course":null}` {
				t.Errorf("data = %s, want null course", r.Data)
			}
		}
	})

	t.Run("ErrMalformedID", func(t *testing.T) {
		for _, id := range []string{"x", "ZZZZZZZZZZZZZZZZZZZZZZZZ", `{"$ne":null}`} {
			s.cpGetCourse(t, "", id).mustCode(t, "BAD_USER_INPUT")
		}
	})

	t.Run("OKBadTokenIsAnonymous", func(t *testing.T) {
		// A broken token on a public field: the caller is anonymous, never admin.
		r := s.post(t, "not-a-jwt", `{ courses { totalCount } }`, nil).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":2}}` {
			t.Errorf("data with a bad token = %s, want totalCount 2 (published only)", r.Data)
		}
	})
}

func TestCoursesPagination(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)

	// 25 published courses with 3 unpublished ones among them, in creation
	// order; the listing is newest first.
	var published, all []string
	for i := range 25 {
		c := s.mustCreateCourse(t, admin, fmt.Sprintf("Course %02d", i), i*100, true)
		published = append(published, c.ID)
		all = append(all, c.ID)
		if i%10 == 4 {
			h := s.mustCreateCourse(t, admin, fmt.Sprintf("Hidden %02d", i), 1, false)
			all = append(all, h.ID)
		}
	}
	wantPublished := cpReversed(published)
	wantAll := cpReversed(all)

	t.Run("OKDefaultPageSize", func(t *testing.T) {
		c := s.cpListCourses(t, "", 0, "")
		cpEqualIDs(t, "first page", c.IDs(), wantPublished[:20])
		if !c.PageInfo.HasNextPage || c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[19].Cursor {
			t.Errorf("pageInfo = %+v, want a next page after the 20th edge", c.PageInfo)
		}
		if c.TotalCount != 25 {
			t.Errorf("totalCount = %d, want 25", c.TotalCount)
		}
		// first: null explicitly is the default too.
		r := s.post(t, "", `{ courses(first: null) { edges { node { id } } } }`, nil).mustNoErrors(t)
		var d struct {
			Courses struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		r.decode(t, &d)
		if len(d.Courses.Edges) != 20 {
			t.Errorf("first: null gave %d edges, want 20", len(d.Courses.Edges))
		}
	})

	t.Run("OKFirstBounds", func(t *testing.T) {
		c := s.cpListCourses(t, "", 1, "")
		cpEqualIDs(t, "first: 1", c.IDs(), wantPublished[:1])
		if !c.PageInfo.HasNextPage {
			t.Error("first: 1: hasNextPage = false")
		}
		c = s.cpListCourses(t, "", 100, "")
		cpEqualIDs(t, "first: 100", c.IDs(), wantPublished)
		if c.PageInfo.HasNextPage || c.TotalCount != 25 {
			t.Errorf("first: 100: hasNextPage %v totalCount %d", c.PageInfo.HasNextPage, c.TotalCount)
		}
		c = s.cpListCourses(t, admin, 100, "")
		cpEqualIDs(t, "admin first: 100", c.IDs(), wantAll)
	})

	t.Run("ErrFirstOutOfRange", func(t *testing.T) {
		for _, first := range []int{0, 101, -1, 1 << 30} {
			r := s.post(t, "", cpCoursesQuery, map[string]any{"first": first})
			r.mustCode(t, "BAD_USER_INPUT")
			// Inline arguments take the same path.
			s.post(t, "", fmt.Sprintf(`{ courses(first: %d) { totalCount } }`, first), nil).mustCode(t, "BAD_USER_INPUT")
		}
	})

	walk := func(t *testing.T, token string, first int, want []string) {
		t.Helper()
		var seen []string
		after := ""
		for page := 0; ; page++ {
			if page > len(want)+1 {
				t.Fatalf("more pages than courses: %v", seen)
			}
			c := s.cpListCourses(t, token, first, after)
			if c.TotalCount != len(want) {
				t.Errorf("page %d: totalCount = %d, want %d", page, c.TotalCount, len(want))
			}
			if len(c.Edges) > first {
				t.Errorf("page %d: %d edges, more than first=%d", page, len(c.Edges), first)
			}
			seen = append(seen, c.IDs()...)
			if len(c.Edges) > 0 && (c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor) {
				t.Errorf("page %d: endCursor %v is not the last edge's cursor", page, c.PageInfo.EndCursor)
			}
			if !c.PageInfo.HasNextPage {
				break
			}
			if c.PageInfo.EndCursor == nil {
				t.Fatalf("page %d: hasNextPage without endCursor", page)
			}
			after = *c.PageInfo.EndCursor
		}
		cpEqualIDs(t, "walked ids", seen, want)
	}

	t.Run("OKWalkPages", func(t *testing.T) {
		walk(t, "", 7, wantPublished)
	})
	t.Run("OKWalkExactPages", func(t *testing.T) {
		walk(t, "", 5, wantPublished) // the last page is full: no empty extra page expected
	})
	t.Run("OKWalkPagesAdmin", func(t *testing.T) {
		walk(t, admin, 6, wantAll)
	})

	t.Run("OKEdgeCursor", func(t *testing.T) {
		// Any edge's cursor resumes right after that edge.
		c := s.cpListCourses(t, "", 10, "")
		next := s.cpListCourses(t, "", 3, c.Edges[4].Cursor)
		cpEqualIDs(t, "after the 5th edge", next.IDs(), wantPublished[5:8])
	})

	t.Run("ErrBadCursor", func(t *testing.T) {
		c := s.cpListCourses(t, "", 2, "")
		valid := c.Edges[1].Cursor
		raw, err := base64.RawURLEncoding.DecodeString(valid)
		if err != nil {
			t.Fatalf("cursor %q is not base64url: %v", valid, err)
		}
		// Change the id part so it is no longer a valid id.
		tamperedChars := []byte(raw)
		tamperedChars[len(tamperedChars)-1] = 'z'
		truncated := raw[:len(raw)-1]
		enc := base64.RawURLEncoding.EncodeToString
		for name, cursor := range map[string]string{
			"Garbage":        "garbage",
			"NotBase64":      "!!!***",
			"OtherBase64":    enc([]byte("hello world")),
			"StdBase64JSON":  base64.StdEncoding.EncodeToString([]byte(`{"id":"` + cpMissingID + `"}`)),
			"TamperedID":     enc(tamperedChars),
			"TruncatedID":    enc(truncated),
			"BareID":         enc([]byte(cpMissingID)),
			"OperatorShaped": `{"$gt":""}`,
			"Huge":           strings.Repeat("A", 10000),
		} {
			t.Run(name, func(t *testing.T) {
				e := s.post(t, "", cpCoursesQuery, map[string]any{"first": 2, "after": cursor}).mustCode(t, "BAD_USER_INPUT")
				if len(cursor) > 5 && strings.Contains(e.Message, cursor) {
					t.Errorf("message %q repeats the cursor", e.Message)
				}
			})
		}
	})
}

func TestCourseOperatorStrings(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	for _, tc := range []struct{ name, title, desc string }{
		{"GT", `{"$gt": ""}`, `{"$ne": null}`},
		{"Where", `$where`, `function() { return true; } $where: "sleep(1000)"`},
		{"Regex", `.*`, `{"$regex": ".*", "$options": "i"}`},
		{"DottedDollar", `$set.published`, `a.b.$c`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.cpCreate(t, admin, map[string]any{"title": tc.title, "description": tc.desc, "price": 1, "published": true}).mustNoErrors(t)
			var d struct{ CreateCourse cpCourse }
			r.decode(t, &d)
			if d.CreateCourse.Title != tc.title || d.CreateCourse.Description != tc.desc {
				t.Errorf("created %q / %q, want %q / %q", d.CreateCourse.Title, d.CreateCourse.Description, tc.title, tc.desc)
			}
			back := s.cpMustGetCourse(t, "", d.CreateCourse.ID)
			if back == nil || back.Title != tc.title || back.Description != tc.desc {
				t.Errorf("course(id) = %+v, want title %q description %q", back, tc.title, tc.desc)
			}
			upd := s.cpMustUpdate(t, admin, d.CreateCourse.ID, map[string]any{"title": tc.desc})
			if upd.Title != tc.desc {
				t.Errorf("updated title = %q, want %q", upd.Title, tc.desc)
			}
		})
	}
	// Nothing matched more than it should: every course is listed once.
	c := s.cpListCourses(t, "", 100, "")
	if c.TotalCount != 4 || len(c.Edges) != 4 {
		t.Errorf("totalCount %d, %d edges, want 4", c.TotalCount, len(c.Edges))
	}
}

func TestCourseCreatedBy(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustLogin(t, adminEmail, adminPassword)

	// A second admin, promoted by the first.
	u := s.cpUser(t, 2)
	s.post(t, admin.AccessToken, `mutation($id: ID!) { setRole(userId: $id, role: ADMIN) { id role } }`,
		map[string]any{"id": u.User.ID}).mustNoErrors(t)
	admin2 := s.mustLogin(t, *u.User.Email, cpUserPassword)
	if admin2.User.Role != "ADMIN" {
		t.Fatalf("promoted user has role %s", admin2.User.Role)
	}

	creator := map[string]cpUserRef{}
	for i := range 12 {
		tok, who := admin.AccessToken, cpUserRef{ID: admin.User.ID, Name: admin.User.Name, Role: "ADMIN"}
		if i%3 == 1 {
			tok, who = admin2.AccessToken, cpUserRef{ID: admin2.User.ID, Name: admin2.User.Name, Role: "ADMIN"}
		}
		c := s.mustCreateCourse(t, tok, fmt.Sprintf("Course %d", i), i, true)
		creator[c.ID] = who
	}

	for name, tok := range map[string]string{"Anonymous": "", "Admin": admin.AccessToken} {
		t.Run(name, func(t *testing.T) {
			c := s.cpListCourses(t, tok, 100, "")
			if len(c.Edges) != 12 {
				t.Fatalf("%d courses, want 12", len(c.Edges))
			}
			for _, e := range c.Edges {
				if want := creator[e.Node.ID]; e.Node.CreatedBy != want {
					t.Errorf("course %s: createdBy = %+v, want %+v", e.Node.ID, e.Node.CreatedBy, want)
				}
			}
		})
	}

	t.Run("EmailForAdmin", func(t *testing.T) {
		r := s.post(t, admin.AccessToken, `{ courses(first: 100) { edges { node { createdBy { id email } } } } }`, nil).mustNoErrors(t)
		var d struct {
			Courses struct {
				Edges []struct {
					Node struct {
						CreatedBy struct {
							ID    string
							Email *string
						}
					}
				}
			}
		}
		r.decode(t, &d)
		for _, e := range d.Courses.Edges {
			want := adminEmail
			if e.Node.CreatedBy.ID == admin2.User.ID {
				want = *u.User.Email
			}
			if e.Node.CreatedBy.Email == nil || *e.Node.CreatedBy.Email != want {
				t.Errorf("createdBy %s email = %v, want %s", e.Node.CreatedBy.ID, e.Node.CreatedBy.Email, want)
			}
		}
	})

	t.Run("OKSingleCourse", func(t *testing.T) {
		for id, want := range creator {
			got := s.cpMustGetCourse(t, "", id)
			if got == nil || got.CreatedBy != want {
				t.Errorf("course(%s) = %+v, want createdBy %+v", id, got, want)
			}
		}
	})
}
