package graph

import (
	"context"
	"errors"

	"github.com/coursehub/coursehub/internal/auth"
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

// errNotImplemented answers the fields of issue 12 not built yet (an
// intermediate state of the lessons branch only).
var errNotImplemented = errors.New("not implemented yet")
