package graph

import (
	"context"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

// Subjects answers the @auth(anyOf:) rules' lookups from the operation's
// loaders, so that they are batched and memoised per request and shared
// with the resolvers (a course the rule read is not read again).
type Subjects struct{ r *Resolver }

var _ auth.Subjects = Subjects{}

// NewSubjects returns the lookups for auth.Service.WithSubjects.
func NewSubjects(r *Resolver) Subjects { return Subjects{r: r} }

// Course returns a course's owner and publication.
// Errors: BAD_USER_INPUT (malformed id), NOT_FOUND.
func (s Subjects) Course(ctx context.Context, id string) (auth.CourseFacts, error) {
	c, err := loadersFor(ctx).Course.Load(ctx, id)
	if err != nil {
		return auth.CourseFacts{}, err
	}
	return auth.CourseFacts{OwnerID: c.CreatedByID, Published: c.Published}, nil
}

var errCourseNotFound = apperr.New(apperr.NotFound, "course not found")

// LessonCourse returns the course of a lesson.
// Errors: BAD_USER_INPUT (malformed id), NOT_FOUND.
func (s Subjects) LessonCourse(ctx context.Context, lessonID string) (string, error) {
	return s.r.Curriculum.CourseID(ctx, lessonID)
}

// Purchased reports whether userID bought courseID.
func (s Subjects) Purchased(ctx context.Context, userID, courseID string) (bool, error) {
	return loadersFor(ctx).Bought.Load(ctx, purchaseKey(userID, courseID))
}
