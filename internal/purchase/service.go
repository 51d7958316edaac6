package purchase

import (
	"context"
	"fmt"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/pagination"
)

// Service runs purchases.
type Service struct {
	store   Store
	courses Courses
	events  Events
	now     func() time.Time
}

// NewService returns a Service.
func NewService(store Store, courses Courses, events Events) *Service {
	return &Service{store: store, courses: courses, events: events, now: time.Now}
}

// Buy records that userID bought courseID at its current price. Buying again
// returns the first purchase; concurrent calls make one record. The result
// carries the course it was priced from (PricedCourse).
// Errors: BAD_USER_INPUT (malformed id), NOT_FOUND (missing, or unpublished
// and not bought before), SERVICE_UNAVAILABLE (ErrOutcomeUnknown: the
// purchase may have been recorded; buying again is safe).
func (s *Service) Buy(ctx context.Context, userID, courseID string) (Purchase, error) {
	c, err := s.courses.Purchasable(ctx, courseID)
	if apperr.IsCode(err, apperr.NotFound) {
		// A course unpublished after it was bought: buying again still
		// answers with the purchase its buyer already has.
		if p, ferr := s.store.Find(ctx, userID, courseID); ferr == nil {
			return p, nil
		}
	}
	if err != nil {
		return Purchase{}, err
	}
	p, created, err := s.store.Insert(ctx, Purchase{
		UserID: userID, CourseID: c.ID,
		PricePaid: c.Price, PurchasedAt: s.now().UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		return Purchase{}, err
	}
	// The stored purchase (ours or the winner of a race) is of this course.
	p.course = &c
	if created {
		s.events.PurchaseMade(ctx, p)
	}
	return p, nil
}

// Courses returns a newest-purchase-first page of the courses userID bought,
// in two queries whatever the page size: the purchases, then their courses.
// Errors: BAD_USER_INPUT (first, after).
func (s *Service) Courses(ctx context.Context, userID string, first int, after *string) (pagination.Page[course.Course], error) {
	args, err := pagination.Parse(first, after)
	if err != nil {
		return pagination.Page[course.Course]{}, err
	}
	purchases, err := s.store.List(ctx, userID, args)
	if err != nil {
		return pagination.Page[course.Course]{}, err
	}
	ids := make([]string, len(purchases.Edges))
	for i, e := range purchases.Edges {
		ids[i] = e.Node.CourseID
	}
	courses, err := s.courses.ByIDs(ctx, ids)
	if err != nil {
		return pagination.Page[course.Course]{}, err
	}
	byID := make(map[string]course.Course, len(courses))
	for _, c := range courses {
		byID[c.ID] = c
	}
	page := pagination.Page[course.Course]{HasNextPage: purchases.HasNextPage}
	page.Edges = make([]pagination.Edge[course.Course], 0, len(purchases.Edges))
	for _, e := range purchases.Edges {
		c, ok := byID[e.Node.CourseID]
		if !ok {
			return pagination.Page[course.Course]{}, fmt.Errorf("purchase %s: course %s is missing", e.Node.ID, e.Node.CourseID)
		}
		page.Edges = append(page.Edges, pagination.Edge[course.Course]{Cursor: e.Cursor, Node: c})
	}
	return page, nil
}

// Count counts userID's purchases.
func (s *Service) Count(ctx context.Context, userID string) (int, error) {
	return s.store.Count(ctx, userID)
}

// Bought returns which of courseIDs userID bought.
func (s *Service) Bought(ctx context.Context, userID string, courseIDs []string) (map[string]bool, error) {
	return s.store.Bought(ctx, userID, courseIDs)
}

// Sales returns what courseID has sold.
func (s *Service) Sales(ctx context.Context, courseID string) (Sales, error) {
	return s.store.Sales(ctx, courseID)
}
