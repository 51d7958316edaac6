package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/user"
)

// Owned is implemented by objects that belong to a user; the
// @auth(allowOwner: true) rule lets that user through whatever the role.
type Owned interface {
	OwnerID() string
}

// Guarded is implemented by objects whose fields @auth(anyOf:) guards: the
// course the grants are about, and whether the object is a preview (open
// to everyone under the PREVIEW grant).
type Guarded interface {
	Guarded() (courseID string, preview bool)
}

// CourseFacts is what the grants need to know of a course.
type CourseFacts struct {
	OwnerID   string
	Published bool
}

// Subjects looks up the courses and lessons that @auth(anyOf:) rules are
// about. Implementations batch and memoise per request (graph's loaders):
// many fields of one course cost one read of each kind.
type Subjects interface {
	// Course returns a course's facts. Errors: BAD_USER_INPUT (malformed
	// id), NOT_FOUND.
	Course(ctx context.Context, id string) (CourseFacts, error)
	// LessonCourse returns the course of a lesson. Errors: BAD_USER_INPUT
	// (malformed id), NOT_FOUND.
	LessonCourse(ctx context.Context, lessonID string) (courseID string, err error)
	// Purchased reports whether userID bought courseID (an _id read keyed
	// by both, never a scan).
	Purchased(ctx context.Context, userID, courseID string) (bool, error)
}

var errForbidden = apperr.New(apperr.Forbidden, "you are not allowed to do this")

// A course or lesson that is missing and one the caller may not see get
// the same answer, so that a draft's existence does not leak.
var (
	errCourseNotFound = apperr.New(apperr.NotFound, "course not found")
	errLessonNotFound = apperr.New(apperr.NotFound, "lesson not found")
)

// Rule is one @auth as a field declares it.
type Rule struct {
	Requires   user.Role
	AllowOwner bool
	// AnyOf, when set, makes the rule "Requires AND any of AnyOf" about
	// the field's course (see Directive).
	AnyOf []Grant
	// CourseArg or LessonArg names the root field's argument holding the
	// id of the course (or of a lesson of the course) AnyOf is about.
	CourseArg, LessonArg string
}

// NewRule is the rule of @auth's arguments, with the schema's defaults.
func NewRule(requires *user.Role, allowOwner bool) Rule {
	r := Rule{Requires: user.RoleUser, AllowOwner: allowOwner}
	if requires != nil {
		r.Requires = *requires
	}
	return r
}

// WithGrants adds @auth's anyOf, courseArg and lessonArg to r.
func (r Rule) WithGrants(anyOf []Grant, courseArg, lessonArg *string) Rule {
	r.AnyOf = anyOf
	if courseArg != nil {
		r.CourseArg = *courseArg
	}
	if lessonArg != nil {
		r.LessonArg = *lessonArg
	}
	return r
}

// subject is the course a grant rule is about, as the directive found it.
// The zero subject (no course: a subscription's root field) satisfies no
// grant but ADMIN.
type subject struct {
	ownerID string
	preview bool
	// purchased asks, at most once and only when no cheaper grant held,
	// whether the caller bought the course; nil when there is no course.
	purchased func() (bool, error)
}

// Directive implements @auth(requires:, allowOwner:, anyOf:, courseArg:,
// lessonArg:).
//
// Without allowOwner and anyOf: no live session is UNAUTHENTICATED (with the
// reason), a role below requires is FORBIDDEN. With allowOwner, the field
// belongs to its parent object's owner and to callers with the role; anyone
// else, signed in or not, gets FORBIDDEN (and, the field being nullable,
// null).
//
// With anyOf, the caller needs the role AND one of the grants on the
// field's course: its parent object's (Guarded), or on a root field the one
// named by the courseArg or lessonArg argument. That course is looked up
// before the resolver runs, in this order: no session is UNAUTHENTICATED
// (FORBIDDEN on an object field); a role below requires is FORBIDDEN (it
// needs no lookup, and reveals nothing); a missing course or lesson, or a
// draft the caller is neither owner, buyer nor admin of, is NOT_FOUND (so
// another instructor cannot tell a draft exists); a visible course without
// a grant is FORBIDDEN. The session check runs at most once per request
// (see Service.Viewer), the lookups through Subjects, batched and memoised.
func (s *Service) Directive(ctx context.Context, obj any, next graphql.Resolver, r Rule) (any, error) {
	if r.AllowOwner {
		if o, ok := obj.(Owned); ok && ownedByFreshPayload(ctx, o) {
			return next(ctx)
		}
	}
	v, err := s.Viewer(ctx)
	var subj subject
	if len(r.AnyOf) > 0 {
		var serr error
		if subj, serr = s.subjectOf(ctx, r, obj, v, err); serr != nil {
			return nil, serr
		}
	}
	if err := r.admits(obj, subj, v, err); err != nil {
		return nil, err
	}
	return next(ctx)
}

// subjectOf finds the course a grant rule is about. On a root field it
// applies the checks that come before the lookup (session, role) and the
// visibility of the course (NOT_FOUND), in the order Directive documents.
func (s *Service) subjectOf(ctx context.Context, r Rule, obj any, v Viewer, viewerErr error) (subject, error) {
	var courseID string
	preview := false
	var notFound error
	if obj != nil {
		g, ok := obj.(Guarded)
		if !ok {
			return subject{}, fmt.Errorf("auth: @auth(anyOf:) on a field of %T, which is not Guarded", obj)
		}
		courseID, preview = g.Guarded()
		if preview && slices.Contains(r.AnyOf, GrantPreview) {
			return subject{preview: true}, nil
		}
		if viewerErr != nil {
			return subject{}, nil // admits refuses
		}
	} else {
		if r.CourseArg == "" && r.LessonArg == "" {
			return subject{}, nil // a subscription's root field: no course
		}
		if viewerErr != nil {
			return subject{}, viewerErr
		}
		if !v.User.Role.Satisfies(r.Requires) {
			return subject{}, errForbidden
		}
		fc := graphql.GetFieldContext(ctx)
		if fc == nil {
			return subject{}, fmt.Errorf("auth: @auth(anyOf:) outside a field")
		}
		arg := r.CourseArg
		if arg == "" {
			arg = r.LessonArg
		}
		id, _ := fc.Args[arg].(string)
		notFound = errLessonNotFound
		if r.CourseArg != "" {
			courseID, notFound = id, errCourseNotFound
		} else {
			if s.subjects == nil {
				return subject{}, errNoSubjects
			}
			var err error
			if courseID, err = s.subjects.LessonCourse(ctx, id); err != nil {
				return subject{}, orNotFound(err, notFound)
			}
		}
	}
	if s.subjects == nil {
		return subject{}, errNoSubjects
	}
	c, err := s.subjects.Course(ctx, courseID)
	if err != nil {
		return subject{}, orNotFound(err, notFound)
	}
	var bought *bool
	subj := subject{ownerID: c.OwnerID, preview: preview, purchased: func() (bool, error) {
		if bought == nil {
			ok, err := s.subjects.Purchased(ctx, v.User.ID, courseID)
			if err != nil {
				return false, err
			}
			bought = &ok
		}
		return *bought, nil
	}}
	if obj == nil && !c.Published && c.OwnerID != v.User.ID && !v.User.Role.Satisfies(user.RoleAdmin) {
		// A draft is visible to its owner, admins and those who bought it
		// before it was unpublished; to anyone else it does not exist.
		ok, err := subj.purchased()
		if err != nil {
			return subject{}, err
		}
		if !ok {
			return subject{}, notFound
		}
	}
	return subj, nil
}

var errNoSubjects = errors.New("auth: @auth(anyOf:) without Subjects (Service.WithSubjects)")

// orNotFound replaces a NOT_FOUND err with notFound (when set), so that
// every missing or hidden subject of one field is answered alike.
func orNotFound(err, notFound error) error {
	if notFound != nil && apperr.IsCode(err, apperr.NotFound) {
		return notFound
	}
	return err
}

// admits applies r to the caller v (or to viewerErr, why there is none) on
// a field of obj about subj (the zero subject for rules without anyOf). It
// is the whole rule: the directive and Recheck both use it. Errors:
// UNAUTHENTICATED (viewerErr), FORBIDDEN, and what the purchase check
// returns.
func (r Rule) admits(obj any, subj subject, v Viewer, viewerErr error) error {
	if r.AllowOwner {
		if viewerErr != nil {
			return errForbidden
		}
		if o, ok := obj.(Owned); ok && o.OwnerID() == v.User.ID {
			return nil
		}
	}
	if len(r.AnyOf) > 0 {
		return r.admitsGrant(obj, subj, v, viewerErr)
	}
	if viewerErr != nil {
		return viewerErr
	}
	if !v.User.Role.Satisfies(r.Requires) {
		return errForbidden
	}
	return nil
}

// admitsGrant is admits for a rule with anyOf: the role AND one grant. The
// grants are tried cheapest first; the purchase read comes last.
func (r Rule) admitsGrant(obj any, subj subject, v Viewer, viewerErr error) error {
	if subj.preview && slices.Contains(r.AnyOf, GrantPreview) {
		return nil
	}
	if viewerErr != nil {
		if obj != nil {
			// An object's gated field: null and FORBIDDEN for anyone
			// without a grant, as with allowOwner.
			return errForbidden
		}
		return viewerErr
	}
	if !v.User.Role.Satisfies(r.Requires) {
		return errForbidden
	}
	if slices.Contains(r.AnyOf, GrantAdmin) && v.User.Role.Satisfies(user.RoleAdmin) {
		return nil
	}
	if slices.Contains(r.AnyOf, GrantOwner) && subj.ownerID != "" && subj.ownerID == v.User.ID {
		return nil
	}
	if slices.Contains(r.AnyOf, GrantPurchaser) && subj.purchased != nil {
		ok, err := subj.purchased()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return errForbidden
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
