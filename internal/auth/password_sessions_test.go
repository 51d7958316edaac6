package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

// Ensure a login that checked the old password while changePassword was
// under way does not keep a live session: it stores its session after the
// other sessions were revoked, and that session must be over at once, for
// its access token and its refresh token alike. The changing session, and
// sign-ins with the new password, go on.
func TestChangePasswordEndsRacingLogin(t *testing.T) {
	e := newEnv(t)
	const email = "racer@example.com"
	changer := e.signup(t, email, "USER")
	before := e.login(t, email)

	changed := false
	e.users.afterCheck = func() {
		// The racing login has checked the old password and not yet stored
		// its session: the change happens now, in between.
		e.users.afterCheck = nil
		if err := e.svc.ChangePassword(e.bearerCtx(t, changer.AccessToken), "password-"+email, "new-password-1"); err != nil {
			t.Errorf("ChangePassword: %v", err)
		}
		changed = true
	}
	racer := e.login(t, email)
	if !changed {
		t.Fatal("the change did not run inside the racing login")
	}

	for name, p := range map[string]auth.Payload{"racing login": racer, "session from before": before} {
		if _, err := e.svc.Viewer(e.bearerCtx(t, p.AccessToken)); !apperr.IsCode(err, apperr.Unauthenticated) {
			t.Errorf("%s: Viewer err = %v, want UNAUTHENTICATED", name, err)
		}
		if _, err := e.svc.Refresh(context.Background(), p.RefreshToken, auth.DeliverBody); !apperr.IsCode(err, apperr.Unauthenticated) {
			t.Errorf("%s: Refresh err = %v, want UNAUTHENTICATED", name, err)
		}
	}
	if _, err := e.svc.Viewer(e.bearerCtx(t, changer.AccessToken)); err != nil {
		t.Errorf("changing session: Viewer err = %v, want it live", err)
	}
	list, err := e.svc.Sessions(e.bearerCtx(t, changer.AccessToken))
	if err != nil || len(list) != 1 || !list[0].Current {
		t.Errorf("Sessions = %+v, %v; want only the changing session", list, err)
	}
	next, err := e.svc.Login(context.Background(), email, "new-password-1", auth.DeliverBody)
	if err != nil {
		t.Fatalf("Login with the new password: %v", err)
	}
	if _, err := e.svc.Viewer(e.bearerCtx(t, next.AccessToken)); err != nil {
		t.Errorf("session with the new password: Viewer err = %v, want it live", err)
	}
	if _, err := e.svc.Refresh(context.Background(), changer.RefreshToken, auth.DeliverBody); err != nil {
		t.Errorf("changing session: Refresh err = %v, want a new pair", err)
	}
}

// Ensure a login whose client leaves right after the password was checked
// does not leave a failure counted against the account: the uncounting
// outlives the request. Before, every such login counted, and a flood of
// abandoned logins locked the account's owner out.
func TestLoginAbandonedAfterCheckIsNotAFailure(t *testing.T) {
	e := newEnvWith(t, auth.Config{RefreshTTL: time.Hour, SessionTTL: 24 * time.Hour, Limits: auth.RateLimits{
		LoginAccount: auth.Limit{Max: 3, Window: time.Hour},
	}})
	const email = "leaver@example.com"
	e.signup(t, email, "USER")
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		e.users.afterCheck = cancel // the client goes away after the check
		_, _ = e.svc.Login(ctx, email, "password-"+email, auth.DeliverBody)
	}
	e.users.afterCheck = nil
	if _, err := e.svc.Login(context.Background(), email, "password-"+email, auth.DeliverBody); err != nil {
		t.Errorf("Login after abandoned logins = %v, want a session (no failures counted)", err)
	}
}
