package auth_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/user"
)

// fakeSubjects knows one published course, one draft (both owned by
// owner), a lesson of each, and who bought what; it counts lookups.
type fakeSubjects struct {
	owner                  string
	bought                 map[string]bool // "<user>:<course>"
	courses, lessons, buys atomic.Int64
}

const (
	gCourse, gDraft, gLesson, gDraftLesson = "course", "draft", "lesson", "draftLesson"
)

func (f *fakeSubjects) Course(_ context.Context, id string) (auth.CourseFacts, error) {
	f.courses.Add(1)
	switch id {
	case gCourse:
		return auth.CourseFacts{OwnerID: f.owner, Published: true}, nil
	case gDraft:
		return auth.CourseFacts{OwnerID: f.owner}, nil
	}
	return auth.CourseFacts{}, apperr.New(apperr.NotFound, "not found")
}

func (f *fakeSubjects) LessonCourse(_ context.Context, id string) (string, error) {
	f.lessons.Add(1)
	switch id {
	case gLesson:
		return gCourse, nil
	case gDraftLesson:
		return gDraft, nil
	}
	return "", apperr.New(apperr.NotFound, "not found")
}

func (f *fakeSubjects) Purchased(_ context.Context, userID, courseID string) (bool, error) {
	f.buys.Add(1)
	return f.bought[userID+":"+courseID], nil
}

// gLessonObj is a lesson object as the directive sees a Lesson's parent.
type gLessonObj struct {
	course  string
	preview bool
}

func (l gLessonObj) Guarded() (string, bool) { return l.course, l.preview }

func TestDirectiveGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signup(t, "owner@example.com", user.RoleInstructor)
	other := e.signup(t, "other@example.com", user.RoleInstructor)
	buyer := e.signup(t, "buyer@example.com", user.RoleUser)
	stranger := e.signup(t, "stranger@example.com", user.RoleUser)
	admin := e.signup(t, "admin@example.com", user.RoleAdmin)
	subj := &fakeSubjects{owner: owner.User.ID, bought: map[string]bool{
		buyer.User.ID + ":" + gCourse: true, buyer.User.ID + ":" + gDraft: true,
	}}
	e.svc.WithSubjects(subj)

	instr := user.RoleInstructor
	edit := auth.NewRule(&instr, false).WithGrants([]auth.Grant{auth.GrantOwner, auth.GrantAdmin}, strp("id"), nil)
	editLesson := auth.NewRule(&instr, false).WithGrants([]auth.Grant{auth.GrantOwner, auth.GrantAdmin}, nil, strp("id"))
	complete := auth.NewRule(nil, false).WithGrants([]auth.Grant{auth.GrantPurchaser}, nil, strp("id"))
	body := auth.NewRule(nil, false).WithGrants([]auth.Grant{auth.GrantPreview, auth.GrantPurchaser, auth.GrantOwner, auth.GrantAdmin}, nil, nil)

	tests := []struct {
		name  string
		token string
		rule  auth.Rule
		id    string // the root field's argument; "" for an object field
		obj   any
		want  apperr.Code // "" admits
	}{
		{"OwnerEdits", owner.AccessToken, edit, gCourse, nil, ""},
		{"AdminEdits", admin.AccessToken, edit, gCourse, nil, ""},
		{"OtherInstructorForbidden", other.AccessToken, edit, gCourse, nil, apperr.Forbidden},
		{"UserForbiddenBeforeLookup", stranger.AccessToken, edit, "missing", nil, apperr.Forbidden},
		{"AnonymousUnauthenticated", "", edit, gCourse, nil, apperr.Unauthenticated},
		{"MissingCourseNotFound", owner.AccessToken, edit, "missing", nil, apperr.NotFound},
		{"OthersDraftNotFound", other.AccessToken, edit, gDraft, nil, apperr.NotFound},
		{"OwnDraftEdits", owner.AccessToken, edit, gDraft, nil, ""},
		{"AdminEditsDraft", admin.AccessToken, edit, gDraft, nil, ""},
		{"LessonOwnerEdits", owner.AccessToken, editLesson, gLesson, nil, ""},
		{"LessonOtherForbidden", other.AccessToken, editLesson, gLesson, nil, apperr.Forbidden},
		{"LessonOfOthersDraftNotFound", other.AccessToken, editLesson, gDraftLesson, nil, apperr.NotFound},
		{"MissingLessonNotFound", owner.AccessToken, editLesson, "missing", nil, apperr.NotFound},
		{"BuyerCompletes", buyer.AccessToken, complete, gLesson, nil, ""},
		{"BuyerOfUnpublishedCompletes", buyer.AccessToken, complete, gDraftLesson, nil, ""},
		{"StrangerCannotComplete", stranger.AccessToken, complete, gLesson, nil, apperr.Forbidden},
		{"OwnerIsNoBuyer", owner.AccessToken, complete, gLesson, nil, apperr.Forbidden},
		{"BodyBuyer", buyer.AccessToken, body, "", gLessonObj{gCourse, false}, ""},
		{"BodyOwner", owner.AccessToken, body, "", gLessonObj{gCourse, false}, ""},
		{"BodyAdmin", admin.AccessToken, body, "", gLessonObj{gCourse, false}, ""},
		{"BodyStrangerForbidden", stranger.AccessToken, body, "", gLessonObj{gCourse, false}, apperr.Forbidden},
		{"BodyOtherInstructorForbidden", other.AccessToken, body, "", gLessonObj{gCourse, false}, apperr.Forbidden},
		{"BodyAnonymousForbidden", "", body, "", gLessonObj{gCourse, false}, apperr.Forbidden},
		{"PreviewAnonymous", "", body, "", gLessonObj{gCourse, true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := requestCtx(t, e.svc, "/graphql")
			if tt.token != "" {
				ctx = e.bearerCtx(t, tt.token)
			}
			if tt.id != "" {
				ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Args: map[string]any{"id": tt.id}})
			}
			var ran bool
			_, err := e.svc.Directive(ctx, tt.obj, func(context.Context) (any, error) { ran = true; return "ok", nil }, tt.rule)
			if got := codeOrEmpty(err); got != tt.want {
				t.Errorf("code = %q (%v), want %q", got, err, tt.want)
			}
			if ran != (tt.want == "") {
				t.Errorf("resolver ran = %v", ran)
			}
		})
	}

	t.Run("LookupsOnlyWhenNeeded", func(t *testing.T) {
		// A role below the rule's costs no lookup; an owner's edit no
		// purchase read; a buyer's body one purchase read.
		before := subj.courses.Load() + subj.buys.Load()
		ctx := graphql.WithFieldContext(e.bearerCtx(t, stranger.AccessToken), &graphql.FieldContext{Args: map[string]any{"id": gCourse}})
		_, _ = e.svc.Directive(ctx, nil, func(context.Context) (any, error) { return nil, nil }, edit)
		if n := subj.courses.Load() + subj.buys.Load(); n != before {
			t.Errorf("a refused role made %d lookups", n-before)
		}
		buys := subj.buys.Load()
		ctx = graphql.WithFieldContext(e.bearerCtx(t, owner.AccessToken), &graphql.FieldContext{Args: map[string]any{"id": gCourse}})
		if _, err := e.svc.Directive(ctx, nil, func(context.Context) (any, error) { return nil, nil }, edit); err != nil {
			t.Fatal(err)
		}
		if subj.buys.Load() != buys {
			t.Errorf("the owner's edit read a purchase")
		}
	})
}

func strp(s string) *string { return &s }

func codeOrEmpty(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.CodeOf(err)
}
