package graph

import (
	"context"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/lesson"
	"github.com/coursehub/coursehub/internal/user"
)

// defaultPageSize applies when a client passes `first: null` explicitly (an
// omitted `first` gets the schema default, also 20).
const defaultPageSize = 20

func pageSize(first *int) int {
	if first == nil {
		return defaultPageSize
	}
	return *first
}

// ptr adapts a service's (value, error) to gqlgen's (*value, error).
func ptr[T any](v T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// done adapts a service's error to gqlgen's (true, nil) or (false, error)
// for mutations that answer Boolean!.
func done(err error) (bool, error) {
	return err == nil, err
}

// deliveryOr applies a default when a client passes `delivery: null`.
func deliveryOr(d *auth.Delivery, def auth.Delivery) auth.Delivery {
	if d == nil {
		return def
	}
	return *d
}

// viewerWithRole reports whether a live session with at least role is behind
// the request. Public fields use it: anyone else is simply anonymous.
func (r *Resolver) viewerWithRole(ctx context.Context, role user.Role) (user.User, bool) {
	v, ok := r.Auth.OptionalViewer(ctx)
	if !ok || !v.User.Role.Satisfies(role) {
		return user.User{}, false
	}
	return v.User, true
}

// courseVisible reports whether the caller may see courseID: published,
// or they are its instructor, an admin, or bought it before it was
// unpublished. A missing course is not visible.
func (r *Resolver) courseVisible(ctx context.Context, courseID string) (bool, error) {
	c, err := loadersFor(ctx).Course.Load(ctx, courseID)
	if apperr.IsCode(err, apperr.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if c.Published {
		return true, nil
	}
	v, ok := r.Auth.OptionalViewer(ctx)
	if !ok {
		return false, nil
	}
	if c.CreatedByID == v.User.ID || v.User.Role.Satisfies(user.RoleAdmin) {
		return true, nil
	}
	return loadersFor(ctx).Bought.Load(ctx, purchaseKey(v.User.ID, courseID))
}

// visibleLesson returns a lesson whose course the caller may see, or nil.
// Errors: BAD_USER_INPUT (malformed id).
func (r *Resolver) visibleLesson(ctx context.Context, id string) (*lesson.Lesson, error) {
	l, err := r.Curriculum.Get(ctx, id)
	if apperr.IsCode(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	visible, err := r.courseVisible(ctx, l.CourseID)
	if err != nil || !visible {
		return nil, err
	}
	return &l, nil
}
