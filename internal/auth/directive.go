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

// Directive implements @auth(requires: Role = USER, allowOwner: Boolean! = false).
//
// Without allowOwner: no live session is UNAUTHENTICATED (with the reason),
// a role below requires is FORBIDDEN. With allowOwner, the field belongs to
// its parent object's owner and to callers with the role; anyone else,
// signed in or not, gets FORBIDDEN (and, the field being nullable, null).
// The session check runs at most once per request (see Service.Viewer).
func (s *Service) Directive(ctx context.Context, obj any, next graphql.Resolver, requires *user.Role, allowOwner bool) (any, error) {
	min := user.RoleUser
	if requires != nil {
		min = *requires
	}
	if allowOwner {
		if o, ok := obj.(Owned); ok && ownedByFreshPayload(ctx, o) {
			return next(ctx)
		}
	}
	v, err := s.Viewer(ctx)
	if allowOwner {
		if err != nil {
			return nil, errForbidden
		}
		if o, ok := obj.(Owned); ok && o.OwnerID() == v.User.ID {
			return next(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	if !v.User.Role.Satisfies(min) {
		return nil, errForbidden
	}
	return next(ctx)
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
