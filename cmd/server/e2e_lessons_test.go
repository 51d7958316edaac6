package main

// End-to-end tests of issue 12: lessons, instructors and the ownership and
// purchase rules of @auth. Every refusal stands beside the same request
// succeeding for the right caller, and a refused change is shown to have
// changed nothing.
//
// Helpers of this file carry the prefix ls.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// lsWorld is the cast: an admin, two instructors (a owns the courses), a
// buyer of the published course and a signed-in stranger.
type lsWorld struct {
	s                            *testServer
	admin, a, b, buyer, stranger string // access tokens
	aID                          string
	course, draft                string // a's published course (price 1000) and draft
	preview, locked              string // lessons 1 and 2 of course
	draftLesson                  string
}

const lsLessonFields = `id title position durationMinutes preview`

// lsInstructor signs up a user and has the admin make them INSTRUCTOR.
func (s *testServer) lsInstructor(tb testing.TB, admin string, n int) authPayload {
	tb.Helper()
	u := s.cpUser(tb, n)
	r := s.post(tb, admin, `mutation($id: ID!) { setRole(userId: $id, role: INSTRUCTOR) { role } }`,
		map[string]any{"id": u.User.ID}).mustNoErrors(tb)
	if !strings.Contains(r.Raw, `"INSTRUCTOR"`) {
		tb.Fatalf("setRole: %s", r.Raw)
	}
	return u
}

// lsAdd adds a lesson and returns the raw response.
func (s *testServer) lsAdd(tb testing.TB, token, courseID string, in map[string]any) gqlResponse {
	tb.Helper()
	return s.post(tb, token, `mutation($c: ID!, $in: LessonInput!) { addLesson(courseId: $c, input: $in) { `+lsLessonFields+` } }`,
		map[string]any{"c": courseID, "in": in})
}

// lsMustAdd adds a lesson and returns its id.
func (s *testServer) lsMustAdd(tb testing.TB, token, courseID, title string, preview bool) string {
	tb.Helper()
	r := s.lsAdd(tb, token, courseID, map[string]any{"title": title, "body": "Body of " + title,
		"videoUrl": "https://video.example/" + url.PathEscape(title), "preview": preview}).mustNoErrors(tb)
	var d struct{ AddLesson struct{ ID string } }
	r.decode(tb, &d)
	return d.AddLesson.ID
}

// lsLessonView is a lesson as the lessons list shows it.
type lsLessonView struct {
	ID        string  `json:"id"`
	Title     string  `json:"title"`
	Position  int     `json:"position"`
	Preview   bool    `json:"preview"`
	Body      *string `json:"body"`
	VideoURL  *string `json:"videoUrl"`
	Completed *bool   `json:"completed"`
}

// lsCourseView is a course with its lessons, as token sees it.
type lsCourseView struct {
	Title              string `json:"title"`
	ViewerHasPurchased bool   `json:"viewerHasPurchased"`
	Progress           *struct {
		CompletedLessons int `json:"completedLessons"`
		TotalLessons     int `json:"totalLessons"`
	} `json:"progress"`
	Lessons []lsLessonView `json:"lessons"`
}

// lsCourse reads a course's public view (no gated field) as the admin, who
// sees drafts: what a refused change must have left alone.
func (w *lsWorld) lsCourse(tb testing.TB, id string) lsCourseView {
	tb.Helper()
	r := w.s.post(tb, w.admin, `query($id: ID!) { course(id: $id) { title viewerHasPurchased lessons { id title position preview body videoUrl } } }`,
		map[string]any{"id": id}).mustNoErrors(tb)
	var d struct{ Course lsCourseView }
	r.decode(tb, &d)
	return d.Course
}

func lsTitles(c lsCourseView) string {
	var b strings.Builder
	for _, l := range c.Lessons {
		fmt.Fprintf(&b, "%d:%s ", l.Position, l.Title)
	}
	return b.String()
}

func lsSetup(t *testing.T) *lsWorld {
	t.Helper()
	s := mustStartServer(t, nil)
	w := &lsWorld{s: s, admin: s.mustAdminToken(t)}
	a := s.lsInstructor(t, w.admin, 1)
	w.a, w.aID = a.AccessToken, a.User.ID
	w.b = s.lsInstructor(t, w.admin, 2).AccessToken
	w.buyer = s.cpUser(t, 3).AccessToken
	w.stranger = s.cpUser(t, 4).AccessToken
	w.course = s.mustCreateCourse(t, w.a, "Go in depth", 1000, true).ID
	w.draft = s.mustCreateCourse(t, w.a, "Draft", 500, false).ID
	w.preview = s.lsMustAdd(t, w.a, w.course, "Intro", true)
	w.locked = s.lsMustAdd(t, w.a, w.course, "Deep dive", false)
	w.draftLesson = s.lsMustAdd(t, w.a, w.draft, "Secret", false)
	s.post(t, w.buyer, `mutation($c: ID!) { purchaseCourse(courseId: $c) { id } }`, map[string]any{"c": w.course}).mustNoErrors(t)
	return w
}

func TestLessonRules(t *testing.T) {
	w := lsSetup(t)
	s := w.s

	t.Run("CreateCourseInstructorOnly", func(t *testing.T) {
		create := `mutation { createCourse(input: {title: "Mine", description: "d", price: 1}) { id createdBy { id } } }`
		r := s.post(t, w.stranger, create, nil)
		r.mustCode(t, "FORBIDDEN")
		r = s.post(t, w.a, create, nil).mustNoErrors(t)
		if !strings.Contains(r.Raw, w.aID) {
			t.Errorf("createdBy is not the instructor: %s", r.Raw)
		}
		s.post(t, w.admin, create, nil).mustNoErrors(t)
		s.post(t, "", create, nil).mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("UpdateCourseOwnerOrAdmin", func(t *testing.T) {
		c := s.mustCreateCourse(t, w.a, "Owned", 100, true).ID
		upd := `mutation($id: ID!, $t: String!) { updateCourse(id: $id, input: {title: $t}) { title } }`
		s.post(t, w.b, upd, map[string]any{"id": c, "t": "Taken"}).mustCode(t, "FORBIDDEN")
		s.post(t, w.stranger, upd, map[string]any{"id": c, "t": "Taken"}).mustCode(t, "FORBIDDEN")
		s.post(t, "", upd, map[string]any{"id": c, "t": "Taken"}).mustCode(t, "UNAUTHENTICATED")
		if got := w.lsCourse(t, c).Title; got != "Owned" {
			t.Fatalf("a refused update changed the title to %q", got)
		}
		s.post(t, w.a, upd, map[string]any{"id": c, "t": "By owner"}).mustNoErrors(t)
		s.post(t, w.admin, upd, map[string]any{"id": c, "t": "By admin"}).mustNoErrors(t)
		if got := w.lsCourse(t, c).Title; got != "By admin" {
			t.Errorf("title = %q", got)
		}
	})

	t.Run("NotFoundBeforeForbidden", func(t *testing.T) {
		// Another instructor cannot tell a draft from a missing course;
		// on a published one they are told FORBIDDEN.
		upd := `mutation($id: ID!) { updateCourse(id: $id, input: {title: "X"}) { title } }`
		missing := s.post(t, w.b, upd, map[string]any{"id": cpMissingID}).mustCode(t, "NOT_FOUND")
		draft := s.post(t, w.b, upd, map[string]any{"id": w.draft}).mustCode(t, "NOT_FOUND")
		if missing.Message != draft.Message {
			t.Errorf("a draft and a missing course answer differently: %q, %q", draft.Message, missing.Message)
		}
		s.lsAdd(t, w.b, w.draft, map[string]any{"title": "x", "body": "y"}).mustCode(t, "NOT_FOUND")
		s.lsAdd(t, w.b, cpMissingID, map[string]any{"title": "x", "body": "y"}).mustCode(t, "NOT_FOUND")
		s.post(t, w.b, `mutation($id: ID!) { removeLesson(id: $id) }`, map[string]any{"id": w.draftLesson}).mustCode(t, "NOT_FOUND")
		s.post(t, w.b, `mutation($id: ID!) { removeLesson(id: $id) }`, map[string]any{"id": cpMissingID}).mustCode(t, "NOT_FOUND")
		// A role below the rule's is FORBIDDEN whatever the id: nothing is looked up.
		s.post(t, w.stranger, upd, map[string]any{"id": cpMissingID}).mustCode(t, "FORBIDDEN")
		if got := w.lsCourse(t, w.draft).Title; got != "Draft" {
			t.Errorf("draft title = %q", got)
		}
		s.post(t, w.a, upd, map[string]any{"id": w.draft}).mustNoErrors(t)
		s.post(t, w.a, upd, map[string]any{"id": cpMissingID}).mustCode(t, "NOT_FOUND")
		s.post(t, w.a, upd, map[string]any{"id": "nope"}).mustCode(t, "BAD_USER_INPUT")
	})

	t.Run("AddLessonOwnerOrAdmin", func(t *testing.T) {
		c := s.mustCreateCourse(t, w.a, "Adds", 0, true).ID
		in := map[string]any{"title": "L", "body": "b"}
		s.lsAdd(t, w.b, c, in).mustCode(t, "FORBIDDEN")
		s.lsAdd(t, w.stranger, c, in).mustCode(t, "FORBIDDEN")
		s.lsAdd(t, "", c, in).mustCode(t, "UNAUTHENTICATED")
		if n := len(w.lsCourse(t, c).Lessons); n != 0 {
			t.Fatalf("refused adds left %d lessons", n)
		}
		r := s.lsAdd(t, w.a, c, in).mustNoErrors(t)
		if !strings.Contains(r.Raw, `"position":1`) {
			t.Errorf("first lesson: %s", r.Raw)
		}
		r = s.lsAdd(t, w.admin, c, in).mustNoErrors(t)
		if !strings.Contains(r.Raw, `"position":2`) {
			t.Errorf("second lesson: %s", r.Raw)
		}
	})

	t.Run("EditLessonsOwnerOrAdmin", func(t *testing.T) {
		c := s.mustCreateCourse(t, w.a, "Edits", 0, true).ID
		l1 := s.lsMustAdd(t, w.a, c, "one", false)
		l2 := s.lsMustAdd(t, w.a, c, "two", false)
		s.lsMustAdd(t, w.a, c, "three", false)
		before := lsTitles(w.lsCourse(t, c))
		ops := []struct {
			name, query string
			vars        map[string]any
		}{
			{"Update", `mutation($id: ID!) { updateLesson(id: $id, input: {title: "hijacked"}) { id } }`, map[string]any{"id": l1}},
			{"Move", `mutation($id: ID!) { moveLesson(id: $id, position: 3) { id } }`, map[string]any{"id": l1}},
			{"Remove", `mutation($id: ID!) { removeLesson(id: $id) }`, map[string]any{"id": l2}},
		}
		for _, op := range ops {
			s.post(t, w.b, op.query, op.vars).mustCode(t, "FORBIDDEN")
			s.post(t, w.buyer, op.query, op.vars).mustCode(t, "FORBIDDEN")
			s.post(t, "", op.query, op.vars).mustCode(t, "UNAUTHENTICATED")
		}
		if got := lsTitles(w.lsCourse(t, c)); got != before {
			t.Fatalf("refused edits changed the lessons: %q, was %q", got, before)
		}
		for i, op := range ops {
			tok := w.a
			if i == 1 {
				tok = w.admin
			}
			s.post(t, tok, op.query, op.vars).mustNoErrors(t)
		}
		if got, want := lsTitles(w.lsCourse(t, c)), "1:three 2:hijacked "; got != want {
			t.Errorf("after the edits: %q, want %q", got, want)
		}
	})

	t.Run("GatedBodyAndVideo", func(t *testing.T) {
		q := `query($id: ID!) { course(id: $id) { lessons { id preview body videoUrl } } }`
		for _, tc := range []struct {
			name   string
			token  string
			locked bool // can read the locked lesson
		}{
			{"Anonymous", "", false}, {"Stranger", w.stranger, false}, {"OtherInstructor", w.b, false},
			{"Buyer", w.buyer, true}, {"Owner", w.a, true}, {"Admin", w.admin, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.post(t, tc.token, q, map[string]any{"id": w.course})
				var d struct{ Course lsCourseView }
				r.decode(t, &d)
				if len(d.Course.Lessons) != 2 {
					t.Fatalf("lessons: %s", r.Raw)
				}
				pre, lock := d.Course.Lessons[0], d.Course.Lessons[1]
				if pre.Body == nil || pre.VideoURL == nil {
					t.Errorf("the preview is closed: %s", r.Raw)
				}
				if tc.locked {
					r.mustNoErrors(t)
					if lock.Body == nil || *lock.Body != "Body of Deep dive" || lock.VideoURL == nil {
						t.Errorf("locked lesson not readable: %s", r.Raw)
					}
					return
				}
				if lock.Body != nil || lock.VideoURL != nil {
					t.Errorf("locked lesson leaked: %s", r.Raw)
				}
				if len(r.Errors) != 2 || r.Errors[0].Code() != "FORBIDDEN" || r.Errors[1].Code() != "FORBIDDEN" {
					t.Errorf("want FORBIDDEN on body and videoUrl: %s", r.Raw)
				}
			})
		}
	})

	t.Run("CompleteLessonBuyersOnly", func(t *testing.T) {
		q := `query($id: ID!) { course(id: $id) { viewerHasPurchased progress { completedLessons totalLessons } lessons { completed } } }`
		complete := `mutation($id: ID!) { completeLesson(id: $id) { id completed } }`
		s.post(t, w.stranger, complete, map[string]any{"id": w.locked}).mustCode(t, "FORBIDDEN")
		s.post(t, w.a, complete, map[string]any{"id": w.locked}).mustCode(t, "FORBIDDEN")
		s.post(t, "", complete, map[string]any{"id": w.locked}).mustCode(t, "UNAUTHENTICATED")
		s.post(t, w.buyer, complete, map[string]any{"id": cpMissingID}).mustCode(t, "NOT_FOUND")
		var d struct{ Course lsCourseView }
		s.post(t, w.stranger, q, map[string]any{"id": w.course}).mustNoErrors(t).decode(t, &d)
		if d.Course.ViewerHasPurchased || d.Course.Progress != nil || d.Course.Lessons[1].Completed == nil || *d.Course.Lessons[1].Completed {
			t.Errorf("stranger's view after a refused completion: %+v", d.Course)
		}
		for range 2 { // idempotent
			r := s.post(t, w.buyer, complete, map[string]any{"id": w.locked}).mustNoErrors(t)
			if !strings.Contains(r.Raw, `"completed":true`) {
				t.Errorf("completeLesson: %s", r.Raw)
			}
		}
		d = struct{ Course lsCourseView }{}
		s.post(t, w.buyer, q, map[string]any{"id": w.course}).mustNoErrors(t).decode(t, &d)
		if !d.Course.ViewerHasPurchased || d.Course.Progress == nil || d.Course.Progress.CompletedLessons != 1 || d.Course.Progress.TotalLessons != 2 {
			t.Errorf("buyer's view: %+v", d.Course)
		}
		d = struct{ Course lsCourseView }{}
		s.post(t, "", q, map[string]any{"id": w.course}).mustNoErrors(t).decode(t, &d)
		if d.Course.ViewerHasPurchased || d.Course.Progress != nil || d.Course.Lessons[1].Completed != nil {
			t.Errorf("anonymous view: %+v", d.Course)
		}
	})

	t.Run("CourseSalesOwnerOrAdmin", func(t *testing.T) {
		q := `query($id: ID!) { courseSales(courseId: $id) { purchases revenue } }`
		s.post(t, w.b, q, map[string]any{"id": w.course}).mustCode(t, "FORBIDDEN")
		s.post(t, w.buyer, q, map[string]any{"id": w.course}).mustCode(t, "FORBIDDEN")
		s.post(t, "", q, map[string]any{"id": w.course}).mustCode(t, "UNAUTHENTICATED")
		for _, tok := range []string{w.a, w.admin} {
			r := s.post(t, tok, q, map[string]any{"id": w.course}).mustNoErrors(t)
			if !strings.Contains(r.Raw, `{"purchases":1,"revenue":1000}`) {
				t.Errorf("courseSales: %s", r.Raw)
			}
		}
	})

	t.Run("MyCourses", func(t *testing.T) {
		q := `{ myCourses(first: 100) { totalCount edges { node { id published } } } }`
		s.post(t, w.stranger, q, nil).mustCode(t, "FORBIDDEN")
		r := s.post(t, w.a, q, nil).mustNoErrors(t)
		if !strings.Contains(r.Raw, w.draft) || !strings.Contains(r.Raw, w.course) {
			t.Errorf("myCourses lacks the draft or the course: %s", r.Raw)
		}
		r = s.post(t, w.b, q, nil).mustNoErrors(t)
		if strings.Contains(r.Raw, w.draft) || strings.Contains(r.Raw, w.course) {
			t.Errorf("another instructor sees a's courses: %s", r.Raw)
		}
	})

	t.Run("DraftVisibleToItsInstructor", func(t *testing.T) {
		q := `query($id: ID!) { course(id: $id) { title lessons { title } } }`
		for _, tok := range []string{"", w.b, w.stranger} {
			r := s.post(t, tok, q, map[string]any{"id": w.draft}).mustNoErrors(t)
			if !strings.Contains(r.Raw, `"course":null`) {
				t.Errorf("a draft is visible: %s", r.Raw)
			}
		}
		for _, tok := range []string{w.a, w.admin} {
			r := s.post(t, tok, q, map[string]any{"id": w.draft}).mustNoErrors(t)
			if !strings.Contains(r.Raw, `"title":"Secret"`) {
				t.Errorf("owner or admin cannot see the draft: %s", r.Raw)
			}
		}
	})

	t.Run("LessonQueryVisibility", func(t *testing.T) {
		q := `query($id: ID!) { lesson(id: $id) { id title position } }`
		for _, tok := range []string{"", w.b, w.stranger} {
			r := s.post(t, tok, q, map[string]any{"id": w.draftLesson}).mustNoErrors(t)
			if !strings.Contains(r.Raw, `"lesson":null`) {
				t.Errorf("a draft's lesson is visible: %s", r.Raw)
			}
		}
		for _, tok := range []string{w.a, w.admin} {
			r := s.post(t, tok, q, map[string]any{"id": w.draftLesson}).mustNoErrors(t)
			if !strings.Contains(r.Raw, `"title":"Secret"`) {
				t.Errorf("owner or admin cannot see the draft's lesson: %s", r.Raw)
			}
		}
		r := s.post(t, "", q, map[string]any{"id": w.locked}).mustNoErrors(t)
		if !strings.Contains(r.Raw, `"position":2`) {
			t.Errorf("published lesson: %s", r.Raw)
		}
		r = s.post(t, "", q, map[string]any{"id": cpMissingID}).mustNoErrors(t)
		if !strings.Contains(r.Raw, `"lesson":null`) {
			t.Errorf("missing lesson: %s", r.Raw)
		}
	})

	t.Run("Validation", func(t *testing.T) {
		c := s.mustCreateCourse(t, w.a, "Valid", 0, true).ID
		l := s.lsMustAdd(t, w.a, c, "only", false)
		for _, tc := range []struct {
			name, field string
			in          map[string]any
		}{
			{"EmptyTitle", "title", map[string]any{"title": " ", "body": "b"}},
			{"EmptyBody", "body", map[string]any{"title": "t", "body": ""}},
			{"BodyOver100KB", "body", map[string]any{"title": "t", "body": strings.Repeat("x", 100*1024+1)}},
			{"VideoNotAbsolute", "videoUrl", map[string]any{"title": "t", "body": "b", "videoUrl": "/v.mp4"}},
			{"VideoJavascript", "videoUrl", map[string]any{"title": "t", "body": "b", "videoUrl": "javascript:alert(1)"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := s.lsAdd(t, w.a, c, tc.in).mustCode(t, "BAD_USER_INPUT")
				if e.Extensions["field"] != tc.field {
					t.Errorf("field = %v, want %s", e.Extensions["field"], tc.field)
				}
			})
		}
		for _, p := range []int{0, 2} {
			e := s.post(t, w.a, `mutation($id: ID!, $p: Int!) { moveLesson(id: $id, position: $p) { id } }`,
				map[string]any{"id": l, "p": p}).mustCode(t, "BAD_USER_INPUT")
			if e.Extensions["field"] != "position" {
				t.Errorf("position %d: field = %v", p, e.Extensions["field"])
			}
		}
		e := s.post(t, w.a, `mutation($id: ID!) { updateLesson(id: $id, input: {body: "  "}) { id } }`,
			map[string]any{"id": l}).mustCode(t, "BAD_USER_INPUT")
		if e.Extensions["field"] != "body" {
			t.Errorf("update body: field = %v", e.Extensions["field"])
		}
		if got := lsTitles(w.lsCourse(t, c)); got != "1:only " {
			t.Errorf("refused inputs changed the lessons: %q", got)
		}
	})

	t.Run("SetRoleInstructor", func(t *testing.T) {
		u := s.cpUser(t, 9)
		set := `mutation($id: ID!) { setRole(userId: $id, role: INSTRUCTOR) { role } }`
		s.post(t, w.a, set, map[string]any{"id": u.User.ID}).mustCode(t, "FORBIDDEN")
		create := `mutation { createCourse(input: {title: "T", description: "d", price: 1}) { id } }`
		s.post(t, u.AccessToken, create, nil).mustCode(t, "FORBIDDEN")
		s.post(t, w.admin, set, map[string]any{"id": u.User.ID}).mustNoErrors(t)
		// The role counts from the next request, with the same token.
		s.post(t, u.AccessToken, create, nil).mustNoErrors(t)
	})

	t.Run("CredentialedGetNotFromAnonymousCache", func(t *testing.T) {
		q := url.QueryEscape(fmt.Sprintf(`{ course(id: "%s") { viewerHasPurchased lessons { title } } }`, w.course))
		path := "/graphql?query=" + q
		_, _, anon := s.httpGet(t, path)
		if !strings.Contains(anon, `"viewerHasPurchased":false`) {
			t.Fatalf("anonymous GET: %s", anon)
		}
		req := s.mustPostRequest(t, w.buyer, "", nil)
		_, h, body := s.httpGetWith(t, path, map[string][]string{"Authorization": req.Header["Authorization"]})
		if !strings.Contains(body, `"viewerHasPurchased":true`) {
			t.Errorf("the buyer got the anonymous answer: %s", body)
		}
		if cc := h.Get("Cache-Control"); !strings.Contains(cc, "private") && !strings.Contains(cc, "no-store") {
			t.Errorf("credentialed answer is cacheable: Cache-Control %q", cc)
		}
		// A gated field refused to an anonymous GET is never cached; the
		// same list without it is, for everyone.
		gated := "/graphql?query=" + url.QueryEscape(fmt.Sprintf(`{ course(id: "%s") { lessons { title body } } }`, w.course))
		_, h, body = s.httpGet(t, gated)
		if !strings.Contains(body, "FORBIDDEN") || !strings.Contains(h.Get("Cache-Control"), "no-store") {
			t.Errorf("anonymous GET of a locked body: Cache-Control %q, %s", h.Get("Cache-Control"), body)
		}
		_, h, _ = s.httpGet(t, path)
		if !strings.Contains(h.Get("Cache-Control"), "public") {
			t.Errorf("anonymous GET of the public view: Cache-Control %q", h.Get("Cache-Control"))
		}
	})
}

// TestLessonOrderConcurrent: 20 concurrent addLesson and moveLesson calls
// through the API leave positions 1..n, dense and unique, and each call
// either succeeded or got a clear error.
func TestLessonOrderConcurrent(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	a := s.lsInstructor(t, admin, 1).AccessToken
	c := s.mustCreateCourse(t, a, "Busy", 0, true).ID
	var seed []string
	for i := range 4 {
		seed = append(seed, s.lsMustAdd(t, a, c, fmt.Sprintf("seed%d", i), false))
	}
	const workers = 20
	var wg sync.WaitGroup
	resps := make([]gqlResponse, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				resps[i] = s.lsAdd(t, a, c, map[string]any{"title": fmt.Sprintf("w%d", i), "body": "b"})
			} else {
				resps[i] = s.post(t, a, `mutation($id: ID!, $p: Int!) { moveLesson(id: $id, position: $p) { id } }`,
					map[string]any{"id": seed[i%len(seed)], "p": 1 + i%len(seed)})
			}
		}()
	}
	wg.Wait()
	added := 0
	for i, r := range resps {
		switch {
		case len(r.Errors) == 0:
			if i%2 == 0 {
				added++
			}
		case len(r.Errors) == 1 && r.Errors[0].Code() == "CONFLICT":
		default:
			t.Errorf("call %d: %s", i, r.Raw)
		}
	}
	r := s.post(t, a, `query($id: ID!) { course(id: $id) { lessons { id position } } }`, map[string]any{"id": c}).mustNoErrors(t)
	var d struct {
		Course struct {
			Lessons []struct {
				ID       string `json:"id"`
				Position int    `json:"position"`
			} `json:"lessons"`
		} `json:"course"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	ls := d.Course.Lessons
	if len(ls) != len(seed)+added {
		t.Fatalf("%d lessons, want %d: %s", len(ls), len(seed)+added, r.Raw)
	}
	seen := map[string]bool{}
	for i, l := range ls {
		if l.Position != i+1 || seen[l.ID] {
			t.Errorf("lesson %d: position %d (duplicate: %v)", i, l.Position, seen[l.ID])
		}
		seen[l.ID] = true
	}
}

// TestLessonsSurviveRestart: the order, the progress and an instructor's
// courses are read back by a new process (whose in-process memos start
// empty) as they were, and changes go on from there.
func TestLessonsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := mustStartServer(t, map[string]string{"DATA_DIR": dir})
	admin := s1.mustAdminToken(t)
	a := s1.lsInstructor(t, admin, 1)
	buyer := s1.cpUser(t, 2)
	c := s1.mustCreateCourse(t, a.AccessToken, "Kept", 300, true).ID
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		ids = append(ids, s1.lsMustAdd(t, a.AccessToken, c, n, false))
	}
	s1.post(t, a.AccessToken, `mutation($id: ID!) { moveLesson(id: $id, position: 1) { id } }`, map[string]any{"id": ids[2]}).mustNoErrors(t)
	s1.post(t, buyer.AccessToken, `mutation($c: ID!) { purchaseCourse(courseId: $c) { id } }`, map[string]any{"c": c}).mustNoErrors(t)
	s1.post(t, buyer.AccessToken, `mutation($id: ID!) { completeLesson(id: $id) { id } }`, map[string]any{"id": ids[0]}).mustNoErrors(t)
	s1.stop(t)

	s2 := mustStartServer(t, map[string]string{"DATA_DIR": dir})
	a2 := s2.mustLogin(t, *a.User.Email, cpUserPassword).AccessToken
	b2 := s2.mustLogin(t, *buyer.User.Email, cpUserPassword).AccessToken
	q := `query($id: ID!) { course(id: $id) { progress { completedLessons totalLessons } lessons { title position completed } } }`
	r := s2.post(t, b2, q, map[string]any{"id": c}).mustNoErrors(t)
	want := `{"course":{"progress":{"completedLessons":1,"totalLessons":3},"lessons":[{"title":"c","position":1,"completed":false},{"title":"a","position":2,"completed":true},{"title":"b","position":3,"completed":false}]}}`
	if string(r.Data) != want {
		t.Errorf("after restart:\n got %s\nwant %s", r.Data, want)
	}
	s2.post(t, a2, `mutation($id: ID!) { moveLesson(id: $id, position: 3) { position } }`, map[string]any{"id": ids[2]}).mustNoErrors(t)
	s2.lsMustAdd(t, a2, c, "d", false)
	var d struct{ Course lsCourseView }
	s2.post(t, a2, `query($id: ID!) { course(id: $id) { lessons { title position } } }`, map[string]any{"id": c}).mustNoErrors(t).decode(t, &d)
	if got := lsTitles(d.Course); got != "1:a 2:b 3:c 4:d " {
		t.Errorf("changes after restart: %q", got)
	}
	r = s2.post(t, a2, `{ myCourses { totalCount } }`, nil).mustNoErrors(t)
	if !strings.Contains(r.Raw, `"totalCount":1`) {
		t.Errorf("myCourses after restart: %s", r.Raw)
	}
	r = s2.post(t, a2, `query($id: ID!) { courseSales(courseId: $id) { purchases revenue } }`, map[string]any{"id": c}).mustNoErrors(t)
	if !strings.Contains(r.Raw, `{"purchases":1,"revenue":300}`) {
		t.Errorf("courseSales after restart: %s", r.Raw)
	}
}
