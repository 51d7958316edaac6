package main

// End-to-end tests of purchases: buying a course exactly once (also under
// concurrency) and listing what a user bought.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// cpPurchase is a Purchase as a client sees it.
type cpPurchase struct {
	ID          string    `json:"id"`
	PricePaid   int       `json:"pricePaid"`
	PurchasedAt time.Time `json:"purchasedAt"`
	Course      cpCourse  `json:"course"`
}

const cpPurchaseMutation = `mutation($id: ID!) { purchaseCourse(courseId: $id) { id pricePaid purchasedAt course { ` + cpCourseFields + ` } } }`

const cpPurchasedQuery = `query($first: Int, $after: String) { purchasedCourses(first: $first, after: $after) { ` + cpConnFields + ` } }`

// cpBuy sends purchaseCourse and returns the raw response.
func (s *testServer) cpBuy(tb testing.TB, token, courseID string) gqlResponse {
	tb.Helper()
	return s.post(tb, token, cpPurchaseMutation, map[string]any{"id": courseID})
}

// cpMustBuy buys a course and returns the purchase.
func (s *testServer) cpMustBuy(tb testing.TB, token, courseID string) cpPurchase {
	tb.Helper()
	r := s.cpBuy(tb, token, courseID).mustNoErrors(tb)
	var d struct{ PurchaseCourse cpPurchase }
	r.decode(tb, &d)
	return d.PurchaseCourse
}

// cpPurchased fetches one page of the caller's purchased courses.
func (s *testServer) cpPurchased(tb testing.TB, token string, first int, after string) cpConn {
	tb.Helper()
	r := s.post(tb, token, cpPurchasedQuery, cpPageVars(first, after)).mustNoErrors(tb)
	var d struct{ PurchasedCourses cpConn }
	r.decode(tb, &d)
	return d.PurchasedCourses
}

func TestPurchaseCourse(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	user := s.cpUser(t, 1)
	course := s.mustCreateCourse(t, admin, "Buy Me", 1999, true)
	hidden := s.mustCreateCourse(t, admin, "Not Yet", 500, false)

	var first cpPurchase
	t.Run("OK", func(t *testing.T) {
		before := time.Now().Add(-time.Minute)
		first = s.cpMustBuy(t, user.AccessToken, course.ID)
		if first.ID == "" || first.PricePaid != 1999 {
			t.Errorf("purchase = %+v, want pricePaid 1999", first)
		}
		if first.Course.ID != course.ID || first.Course.Title != "Buy Me" || first.Course.Price != 1999 {
			t.Errorf("purchase.course = %+v", first.Course)
		}
		if first.PurchasedAt.Before(before) || first.PurchasedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("purchasedAt = %v, not now", first.PurchasedAt)
		}
	})
	if first.ID == "" {
		t.FailNow()
	}

	t.Run("OKPriceChangeKeepsPricePaid", func(t *testing.T) {
		s.cpMustUpdate(t, admin, course.ID, map[string]any{"price": 5000})
		again := s.cpMustBuy(t, user.AccessToken, course.ID)
		if again.PricePaid != 1999 {
			t.Errorf("pricePaid after price change = %d, want 1999", again.PricePaid)
		}
		if again.Course.Price != 5000 {
			t.Errorf("purchase.course.price = %d, want the current 5000", again.Course.Price)
		}
	})

	t.Run("OKIdempotent", func(t *testing.T) {
		for range 3 {
			again := s.cpMustBuy(t, user.AccessToken, course.ID)
			if again.ID != first.ID || !again.PurchasedAt.Equal(first.PurchasedAt) || again.PricePaid != first.PricePaid {
				t.Errorf("second purchase = %+v, want the first %+v", again, first)
			}
		}
		c := s.cpPurchased(t, user.AccessToken, 0, "")
		cpEqualIDs(t, "purchasedCourses", c.IDs(), []string{course.ID})
		if c.TotalCount != 1 {
			t.Errorf("totalCount = %d, want 1", c.TotalCount)
		}
	})

	t.Run("OKNewPriceForNewBuyer", func(t *testing.T) {
		other := s.cpUser(t, 2)
		p := s.cpMustBuy(t, other.AccessToken, course.ID)
		if p.ID == first.ID || p.PricePaid != 5000 {
			t.Errorf("another user's purchase = %+v, want a new id and pricePaid 5000", p)
		}
	})

	t.Run("OKAdminBuys", func(t *testing.T) {
		p := s.cpMustBuy(t, admin, course.ID)
		if p.ID == first.ID || p.Course.ID != course.ID {
			t.Errorf("admin purchase = %+v", p)
		}
	})

	t.Run("ErrNotFoundUnpublished", func(t *testing.T) {
		s.cpBuy(t, user.AccessToken, hidden.ID).mustCode(t, "NOT_FOUND")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s.cpBuy(t, user.AccessToken, cpMissingID).mustCode(t, "NOT_FOUND")
	})

	t.Run("ErrMalformedID", func(t *testing.T) {
		for _, id := range []string{"abc", "", `{"$gt":""}`, cpMissingID + "0"} {
			s.cpBuy(t, user.AccessToken, id).mustCode(t, "BAD_USER_INPUT")
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		s.cpBuy(t, "", course.ID).mustCode(t, "UNAUTHENTICATED")
		s.cpBuy(t, "garbage-token", course.ID).mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("OKNothingWrittenOnErrors", func(t *testing.T) {
		c := s.cpPurchased(t, user.AccessToken, 0, "")
		cpEqualIDs(t, "purchasedCourses after failed purchases", c.IDs(), []string{course.ID})
		if c.TotalCount != 1 {
			t.Errorf("totalCount = %d, want 1", c.TotalCount)
		}
	})
}

func TestPurchaseCourseConcurrent(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	user := s.cpUser(t, 1)
	course := s.mustCreateCourse(t, admin, "Race", 700, true)

	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		resps = make([]gqlResponse, n)
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i], errs[i] = s.postE(user.AccessToken, cpPurchaseMutation, map[string]any{"id": course.ID})
		}()
	}
	close(start)
	wg.Wait()

	ids := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
			continue
		}
		r := resps[i]
		if len(r.Errors) > 0 || r.Status != http.StatusOK {
			t.Errorf("request %d failed (status %d): %s", i, r.Status, r.Raw)
			continue
		}
		var d struct{ PurchaseCourse cpPurchase }
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Errorf("request %d: %v", i, err)
			continue
		}
		if d.PurchaseCourse.PricePaid != 700 || d.PurchaseCourse.Course.ID != course.ID {
			t.Errorf("request %d: purchase = %+v", i, d.PurchaseCourse)
		}
		ids[d.PurchaseCourse.ID]++
	}
	if len(ids) != 1 {
		t.Errorf("concurrent purchases returned %d different ids, want 1: %v", len(ids), ids)
	}

	c := s.cpPurchased(t, user.AccessToken, 100, "")
	cpEqualIDs(t, "purchasedCourses", c.IDs(), []string{course.ID})
	if c.TotalCount != 1 {
		t.Errorf("totalCount = %d, want 1 (one purchase record)", c.TotalCount)
	}
	// A later purchase still answers with the one record.
	p := s.cpMustBuy(t, user.AccessToken, course.ID)
	if _, ok := ids[p.ID]; !ok || len(ids) != 1 {
		t.Errorf("later purchase id %s, concurrent ids %v", p.ID, ids)
	}
}

func TestPurchasedCourses(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	alice := s.cpUser(t, 1)
	bob := s.cpUser(t, 2)

	var courses []courseRef
	for i := range 7 {
		courses = append(courses, s.mustCreateCourse(t, admin, fmt.Sprintf("Course %d", i), 100*(i+1), true))
	}
	// Alice buys in an order unlike the creation order; newest purchase first
	// is the reverse of this.
	aliceOrder := []int{3, 0, 6, 1, 5}
	var aliceBought []string
	alicePurchase := map[string]string{} // course id -> purchase id
	for _, i := range aliceOrder {
		p := s.cpMustBuy(t, alice.AccessToken, courses[i].ID)
		aliceBought = append(aliceBought, courses[i].ID)
		alicePurchase[courses[i].ID] = p.ID
	}
	// Buying again does not move a course to the front.
	s.cpMustBuy(t, alice.AccessToken, courses[3].ID)
	aliceWant := cpReversed(aliceBought)

	bobWant := []string{courses[2].ID, courses[4].ID}
	s.cpMustBuy(t, bob.AccessToken, courses[4].ID)
	s.cpMustBuy(t, bob.AccessToken, courses[2].ID)

	t.Run("OK", func(t *testing.T) {
		c := s.cpPurchased(t, alice.AccessToken, 0, "")
		cpEqualIDs(t, "alice's purchased courses", c.IDs(), aliceWant)
		if c.TotalCount != 5 || c.PageInfo.HasNextPage {
			t.Errorf("totalCount %d hasNextPage %v, want 5 and false", c.TotalCount, c.PageInfo.HasNextPage)
		}
		for _, e := range c.Edges {
			if e.Node.Title == "" || e.Node.CreatedBy.ID == "" || !e.Node.Published {
				t.Errorf("node = %+v", e.Node)
			}
		}
	})

	t.Run("OKOwnOnly", func(t *testing.T) {
		c := s.cpPurchased(t, bob.AccessToken, 0, "")
		cpEqualIDs(t, "bob's purchased courses", c.IDs(), bobWant)
		if c.TotalCount != 2 {
			t.Errorf("totalCount = %d, want 2", c.TotalCount)
		}
		carol := s.cpUser(t, 3)
		c = s.cpPurchased(t, carol.AccessToken, 0, "")
		if len(c.Edges) != 0 || c.TotalCount != 0 || c.PageInfo.HasNextPage || c.PageInfo.EndCursor != nil {
			t.Errorf("a user with no purchases got %+v", c)
		}
		// The admin sees only the admin's own purchases too.
		c = s.cpPurchased(t, admin, 0, "")
		if len(c.Edges) != 0 || c.TotalCount != 0 {
			t.Errorf("admin's purchasedCourses = %v (total %d), want none", c.IDs(), c.TotalCount)
		}
	})

	t.Run("OKPaginate", func(t *testing.T) {
		var seen []string
		after := ""
		for page := 0; page < 10; page++ {
			c := s.cpPurchased(t, alice.AccessToken, 2, after)
			if c.TotalCount != 5 {
				t.Errorf("page %d: totalCount = %d, want 5", page, c.TotalCount)
			}
			if len(c.Edges) > 2 {
				t.Errorf("page %d: %d edges, want at most 2", page, len(c.Edges))
			}
			seen = append(seen, c.IDs()...)
			if !c.PageInfo.HasNextPage {
				break
			}
			if c.PageInfo.EndCursor == nil {
				t.Fatalf("page %d: hasNextPage without endCursor", page)
			}
			after = *c.PageInfo.EndCursor
		}
		cpEqualIDs(t, "walked purchased courses", seen, aliceWant)
	})

	t.Run("ErrBadArgs", func(t *testing.T) {
		for _, first := range []int{0, 101, -1} {
			s.post(t, alice.AccessToken, cpPurchasedQuery, map[string]any{"first": first}).mustCode(t, "BAD_USER_INPUT")
		}
		for _, after := range []string{"garbage", "!!", `{"$gt":""}`} {
			s.post(t, alice.AccessToken, cpPurchasedQuery, map[string]any{"after": after}).mustCode(t, "BAD_USER_INPUT")
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		s.post(t, "", cpPurchasedQuery, nil).mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("OKUnpublishedAfterPurchase", func(t *testing.T) {
		s.cpMustUpdate(t, admin, courses[0].ID, map[string]any{"published": false})
		c := s.cpPurchased(t, alice.AccessToken, 0, "")
		cpEqualIDs(t, "alice's purchased courses after unpublishing", c.IDs(), aliceWant)
		if c.TotalCount != 5 {
			t.Errorf("totalCount = %d, want 5", c.TotalCount)
		}
		for _, e := range c.Edges {
			if e.Node.ID == courses[0].ID && e.Node.Published {
				t.Errorf("unpublished course listed as published")
			}
		}
		// It is gone from the public catalogue and cannot be bought anew.
		if s.cpMustGetCourse(t, bob.AccessToken, courses[0].ID) != nil {
			t.Error("unpublished course visible to bob")
		}
		s.cpBuy(t, bob.AccessToken, courses[0].ID).mustCode(t, "NOT_FOUND")
		// Its buyer buying again still gets the one purchase (idempotent).
		again := s.cpMustBuy(t, alice.AccessToken, courses[0].ID)
		if want := alicePurchase[courses[0].ID]; again.ID != want || again.Course.ID != courses[0].ID {
			t.Errorf("re-buy returned purchase %s of course %s, want purchase %s of course %s",
				again.ID, again.Course.ID, want, courses[0].ID)
		}
		if c := s.cpPurchased(t, alice.AccessToken, 0, ""); c.TotalCount != 5 {
			t.Errorf("totalCount after re-buy = %d, want 5", c.TotalCount)
		}
	})
}
