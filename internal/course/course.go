// Package course owns the catalogue: the Course type, the rules for creating,
// editing and publishing courses, who may see which, and the courses
// collection.
package course

import (
	"context"
	"time"

	"github.com/coursehub/coursehub/internal/pagination"
)

// Course is a course in the catalogue.
type Course struct {
	ID          string
	Title       string
	Description string
	// Price is in the smallest currency unit (cents).
	Price       int
	ImageLink   *string
	Published   bool
	CreatedByID string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// CreateInput is a new course.
type CreateInput struct {
	Title       string
	Description string
	Price       int
	ImageLink   *string
	Published   *bool
}

// UpdateInput changes the fields that are set.
type UpdateInput struct {
	Title       *string
	Description *string
	Price       *int
	ImageLink   *string
	Published   *bool
}

// Events is told about what live subscribers may want to know.
type Events interface {
	// CoursePublished is called when a course becomes published.
	CoursePublished(ctx context.Context, c Course)
	// CourseChanged is called after any other course write (a draft
	// created, a course edited or unpublished), and after a write whose
	// outcome is unknown (c has only its ID then), so that the caches of
	// every instance drop what they hold.
	CourseChanged(ctx context.Context, c Course)
}

// Store persists courses. Ids are opaque strings: the store makes and parses
// them. Its methods map driver errors to apperr codes.
type Store interface {
	// Insert stores c under a new id and returns it with that id.
	Insert(ctx context.Context, c Course) (Course, error)
	// ByID returns one course. Errors: BAD_USER_INPUT (id: malformed),
	// NOT_FOUND.
	ByID(ctx context.Context, id string) (Course, error)
	// ByIDs returns the courses that exist among ids, in no particular
	// order; malformed ids are skipped.
	ByIDs(ctx context.Context, ids []string) ([]Course, error)
	// Update sets the fields set in in (an empty ImageLink removes the
	// link) and returns the course. Errors: BAD_USER_INPUT (id: malformed),
	// NOT_FOUND.
	Update(ctx context.Context, id string, in UpdateInput, now time.Time) (Course, error)
	// List returns a newest-first page. Errors: BAD_USER_INPUT (after).
	List(ctx context.Context, publishedOnly bool, args pagination.Args) (pagination.Page[Course], error)
	// Count counts the courses List pages through.
	Count(ctx context.Context, publishedOnly bool) (int, error)
	// ListByCreator returns a newest-first page of the courses creatorID
	// created, drafts included. Errors: BAD_USER_INPUT (after).
	ListByCreator(ctx context.Context, creatorID string, args pagination.Args) (pagination.Page[Course], error)
	// CountByCreator counts the courses ListByCreator pages through.
	CountByCreator(ctx context.Context, creatorID string) (int, error)
}
