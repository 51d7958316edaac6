package auth_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/user"
)

// fakeEvents records announced access changes.
type fakeEvents struct {
	mu      sync.Mutex
	changed []string
}

var _ auth.Events = (*fakeEvents)(nil)

func (f *fakeEvents) AccessChanged(_ context.Context, userID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changed = append(f.changed, userID)
}

func (f *fakeEvents) SubscribeAccessChanged(context.Context, string) <-chan struct{} {
	return make(chan struct{})
}

// take returns the announcements since the last take.
func (f *fakeEvents) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.changed
	f.changed = nil
	return out
}

// Ensure every way a session ends, and a role change, announces an access
// change for that user, and a failed attempt announces nothing.
func TestAccessChangedAnnounced(t *testing.T) {
	e := newEnv(t)
	admin := e.signup(t, "admin@example.com", user.RoleAdmin)
	tests := []struct {
		name string
		// act changes the access of p's user (or fails to) and reports
		// whether it should have been announced.
		act func(t *testing.T, p auth.Payload, email string) bool
	}{
		{"Logout", func(t *testing.T, p auth.Payload, _ string) bool {
			return e.svc.Logout(e.bearerCtx(t, p.AccessToken), nil) == nil
		}},
		{"RevokeSession", func(t *testing.T, p auth.Payload, email string) bool {
			other := e.login(t, email)
			return e.svc.RevokeSession(e.bearerCtx(t, other.AccessToken), sidOf(t, p.AccessToken)) == nil
		}},
		{"LogoutAll", func(t *testing.T, p auth.Payload, _ string) bool {
			return e.svc.LogoutAll(e.bearerCtx(t, p.AccessToken)) == nil
		}},
		{"ChangePassword", func(t *testing.T, p auth.Payload, email string) bool {
			return e.svc.ChangePassword(e.bearerCtx(t, p.AccessToken), "password-"+email, "a-new-password-1") == nil
		}},
		{"RefreshReuse", func(t *testing.T, p auth.Payload, _ string) bool {
			if _, err := e.svc.Refresh(context.Background(), p.RefreshToken, auth.DeliverBody); err != nil {
				t.Fatalf("first Refresh: %v", err)
			}
			e.events.take() // a rotation changes no access
			_, err := e.svc.Refresh(context.Background(), p.RefreshToken, auth.DeliverBody)
			return apperr.IsCode(err, apperr.Unauthenticated)
		}},
		{"SetRole", func(t *testing.T, p auth.Payload, _ string) bool {
			_, err := e.svc.SetRole(e.bearerCtx(t, admin.AccessToken), p.User.ID, user.RoleAdmin)
			return err == nil
		}},
		{"ErrChangePasswordWrong", func(t *testing.T, p auth.Payload, _ string) bool {
			if e.svc.ChangePassword(e.bearerCtx(t, p.AccessToken), "not-the-password", "a-new-password-1") == nil {
				t.Fatal("a wrong current password was accepted")
			}
			return false
		}},
		{"ErrSetRoleOwn", func(t *testing.T, p auth.Payload, _ string) bool {
			if _, err := e.svc.SetRole(e.bearerCtx(t, p.AccessToken), p.User.ID, user.RoleAdmin); err == nil {
				t.Fatal("an own role change was accepted")
			}
			return false
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := "u" + string(rune('a'+i)) + "@example.com"
			p := e.signup(t, email, user.RoleUser)
			e.events.take()
			want := tt.act(t, p, email)
			got := e.events.take()
			if want && !slices.Contains(got, p.User.ID) {
				t.Errorf("announced %v, want %s", got, p.User.ID)
			}
			if !want && len(got) > 0 {
				t.Errorf("announced %v for an attempt that changed nothing", got)
			}
			for _, id := range got {
				if id != p.User.ID {
					t.Errorf("announced another user %s", id)
				}
			}
		})
	}
}

// Ensure Recheck reads the session and the user afresh and applies the
// running subscriptions' rules to them, and ForOperation gives a socket's
// operation its own session check.
func TestRecheck(t *testing.T) {
	e := newEnv(t)
	p := e.signup(t, "watched@example.com", user.RoleAdmin)
	conn := e.bearerCtx(t, p.AccessToken)
	v, err := e.svc.Viewer(conn)
	if err != nil {
		t.Fatal(err)
	}
	admins := []auth.Rule{auth.NewRule(nil, false), auth.NewRule(rolePtr(user.RoleAdmin), false)}

	if refused, err := e.svc.Recheck(context.Background(), v, admins); err != nil || refused[0] != nil || refused[1] != nil {
		t.Fatalf("Recheck as admin = %v, %v", refused, err)
	}
	e.users.setRole(t, p.User.ID, user.RoleUser)
	// Only the ADMIN rule is refused; the USER rule still holds.
	refused, err := e.svc.Recheck(context.Background(), v, admins)
	if err != nil || refused[0] != nil || !apperr.IsCode(refused[1], apperr.Forbidden) {
		t.Errorf("Recheck after demotion = %v, %v; want [nil FORBIDDEN]", refused, err)
	}
	// A grant rule on a subscription has no course: only ADMIN can hold.
	grants := []auth.Rule{auth.NewRule(nil, false).WithGrants([]auth.Grant{auth.GrantOwner, auth.GrantPurchaser, auth.GrantAdmin}, nil, nil)}
	if refused, err := e.svc.Recheck(context.Background(), v, grants); err != nil || !apperr.IsCode(refused[0], apperr.Forbidden) {
		t.Errorf("Recheck of a grant rule after demotion = %v, %v; want [FORBIDDEN]", refused, err)
	}
	e.users.setRole(t, p.User.ID, user.RoleAdmin)
	if refused, err := e.svc.Recheck(context.Background(), v, grants); err != nil || refused[0] != nil {
		t.Errorf("Recheck of a grant rule as admin = %v, %v", refused, err)
	}
	e.users.setRole(t, p.User.ID, user.RoleUser)
	// The connection's memo still says ADMIN; an operation's own check does not.
	if v, _ := e.svc.Viewer(conn); v.User.Role != user.RoleAdmin {
		t.Fatalf("the connection memo was re-read")
	}
	op := e.svc.ForOperation(conn)
	if v, err := e.svc.Viewer(op); err != nil || v.User.Role != user.RoleUser {
		t.Errorf("operation viewer = %v, %v; want the USER as stored", v.User.Role, err)
	}

	if err := e.svc.Logout(e.svc.ForOperation(conn), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Recheck(context.Background(), v, admins[:1]); !apperr.IsCode(err, apperr.Unauthenticated) {
		t.Errorf("Recheck after logout = %v, want UNAUTHENTICATED", err)
	}
	if _, err := e.svc.Viewer(e.svc.ForOperation(conn)); !apperr.IsCode(err, apperr.Unauthenticated) {
		t.Errorf("operation after logout = %v, want UNAUTHENTICATED", err)
	}
}

// Ensure an operation on a connection whose access token has expired
// meanwhile is refused as an expired token, as an HTTP request would be.
func TestForOperationExpiredToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.signup(t, "expiring@example.com", user.RoleUser)
	now := time.Now()
	tok := forge(t, kidOf(t, p.AccessToken), jwt.MapClaims{
		"iss": dirIssuer, "aud": dirAudience, "sub": p.User.ID, "sid": sidOf(t, p.AccessToken),
		"iat": now.Unix(), "exp": now.Add(2 * time.Second).Unix(),
	})
	conn := e.bearerCtx(t, tok)
	if _, err := e.svc.Viewer(e.svc.ForOperation(conn)); err != nil {
		t.Fatalf("a live token was refused: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.svc.Viewer(e.svc.ForOperation(conn))
		if err != nil {
			if !apperr.IsCode(err, apperr.Unauthenticated) || apperr.MessageOf(err) != auth.ErrTokenExpired.Error() {
				t.Fatalf("after expiry: %v, want UNAUTHENTICATED %q", err, auth.ErrTokenExpired)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired token still served operations")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := e.svc.Viewer(conn); err != nil {
		t.Errorf("the connection memo changed: %v", err)
	}
}
