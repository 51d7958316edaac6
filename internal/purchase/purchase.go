// Package purchase owns purchases: buying a course exactly once and listing
// what a user bought, newest first.
package purchase

import (
	"context"
	"time"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/pagination"
)

// Purchase is one user's purchase of one course.
type Purchase struct {
	ID          string
	UserID      string
	CourseID    string
	PricePaid   int
	PurchasedAt time.Time

	// course is the course as Buy read it to price the purchase, so that
	// answering with it needs no second read after the insert (which could
	// fail and make a done purchase look failed). Not a GraphQL field.
	course *course.Course
}

// WithPricedCourse returns p carrying c as the course it was priced from,
// for an event that brings the course along (the change feed).
func (p Purchase) WithPricedCourse(c course.Course) Purchase {
	p.course = &c
	return p
}

// PricedCourse returns the course Buy read to price p, when p comes from
// Buy (the loaders read it otherwise).
func (p *Purchase) PricedCourse() (course.Course, bool) {
	if p.course == nil {
		return course.Course{}, false
	}
	return *p.course, true
}

// Courses is what purchases need of the catalogue.
type Courses interface {
	Purchasable(ctx context.Context, id string) (course.Course, error)
	ByIDs(ctx context.Context, ids []string) ([]course.Course, error)
}

// Events is told about new purchases, for live subscribers.
type Events interface {
	PurchaseMade(ctx context.Context, p Purchase)
}

// Store persists purchases. Ids are opaque strings: the store makes and
// parses them.
type Store interface {
	// Insert stores p under a new id; when the user already bought the course it returns
	// the existing purchase instead (the unique index decides, not a check),
	// and created false. Errors: SERVICE_UNAVAILABLE (ErrOutcomeUnknown:
	// the database went away or timed out, so p may have been stored).
	Insert(ctx context.Context, p Purchase) (stored Purchase, created bool, err error)
	// Bought returns which of courseIDs userID bought, by _id reads
	// (never a scan).
	Bought(ctx context.Context, userID string, courseIDs []string) (map[string]bool, error)
	// Sales counts a course's purchases and sums what they paid.
	Sales(ctx context.Context, courseID string) (Sales, error)
	// Find returns a user's purchase of a course. Errors: NOT_FOUND.
	Find(ctx context.Context, userID, courseID string) (Purchase, error)
	// List returns a newest-first page of a user's purchases.
	// Errors: BAD_USER_INPUT (after).
	List(ctx context.Context, userID string, args pagination.Args) (pagination.Page[Purchase], error)
	// Count counts a user's purchases.
	Count(ctx context.Context, userID string) (int, error)
}

// Sales is what one course has sold.
type Sales struct {
	Purchases int
	// Revenue is the sum of PricePaid, in cents.
	Revenue int
}
