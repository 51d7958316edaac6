package auth

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/user"
)

// Owned is implemented by objects that belong to a user; the
// @auth(allowOwner: true) rule lets that user through whatever the role.
type Owned interface {
	OwnerID() string
}

var errForbidden = apperr.New(apperr.Forbidden, "you are not allowed to do this")

// Rule is one @auth(requires:, allowOwner:) as a field declares it.
type Rule struct {
	Requires   user.Role
	AllowOwner bool
}

// NewRule is the rule of @auth's arguments, with the schema's defaults.
func NewRule(requires *user.Role, allowOwner bool) Rule {
	r := Rule{Requires: user.RoleUser, AllowOwner: allowOwner}
	if requires != nil {
		r.Requires = *requires
	}
	return r
}

// Directive implements @auth(requires: Role = USER, allowOwner: Boolean! = false).
//
// Without allowOwner: no live session is UNAUTHENTICATED (with the reason),
// a role below requires is FORBIDDEN. With allowOwner, the field belongs to
// its parent object's owner and to callers with the role; anyone else,
// signed in or not, gets FORBIDDEN (and, the field being nullable, null).
// The session check runs at most once per request (see Service.Viewer).
func (s *Service) Directive(ctx context.Context, obj any, next graphql.Resolver, requires *user.Role, allowOwner bool) (any, error) {
	r := NewRule(requires, allowOwner)
	if r.AllowOwner {
		if o, ok := obj.(Owned); ok && ownedByFreshPayload(ctx, o) {
			return next(ctx)
		}
	}
	v, err := s.Viewer(ctx)
	if err := r.admits(obj, v, err); err != nil {
		return nil, err
	}
	return next(ctx)
}

// admits applies r to the caller v (or to viewerErr, why there is none) on
// a field of obj. It is the whole rule: the directive and Recheck both use
// it. Errors: UNAUTHENTICATED (viewerErr), FORBIDDEN.
func (r Rule) admits(obj any, v Viewer, viewerErr error) error {
	if r.AllowOwner {
		if viewerErr != nil {
			return errForbidden
		}
		if o, ok := obj.(Owned); ok && o.OwnerID() == v.User.ID {
			return nil
		}
	}
	if viewerErr != nil {
		return viewerErr
	}
	if !v.User.Role.Satisfies(r.Requires) {
		return errForbidden
	}
	return nil
}

// ownedByFreshPayload reports whether o is the user of an AuthPayload that
// this very operation returned (signup, login, refresh): the caller has just
// proven to be that user, though the request itself carried no token.
func ownedByFreshPayload(ctx context.Context, o Owned) bool {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if p, ok := fc.Result.(*Payload); ok {
			return p.User.ID == o.OwnerID()
		}
	}
	return false
}
