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
}

// Store persists courses. Its methods map driver errors to apperr codes.
type Store interface {
	Insert(ctx context.Context, c Course) error
	ByID(ctx context.Context, id string) (Course, error)
	ByIDs(ctx context.Context, ids []string) ([]Course, error)
	Update(ctx context.Context, id string, in UpdateInput, now time.Time) (Course, error)
	List(ctx context.Context, publishedOnly bool, args pagination.Args) (pagination.Page[Course], error)
	Count(ctx context.Context, publishedOnly bool) (int, error)
}
