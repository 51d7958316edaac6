package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
	"github.com/coursehub/coursehub/internal/user"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

const (
	dirIssuer   = "coursehub-test"
	dirAudience = "coursehub-test-api"
)

var dirSecret = []byte("directive-test-secret-0123456789-abcdef")

// fakeUsers is an in-memory auth.Users that counts ByID calls.
type fakeUsers struct {
	mu        sync.Mutex
	byID      map[string]user.User
	byEmail   map[string]string // email -> id
	passwords map[string]string // id -> password
	byIDCalls atomic.Int64
	// afterCheck, when set, runs inside Authenticate after the password
	// was checked and before the user is returned (to stage races).
	afterCheck func()
}

var _ auth.Users = (*fakeUsers)(nil)

func newFakeUsers() *fakeUsers {
	return &fakeUsers{byID: map[string]user.User{}, byEmail: map[string]string{}, passwords: map[string]string{}}
}

func (f *fakeUsers) Signup(_ context.Context, in user.SignupInput) (user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.byEmail[in.Email]; ok {
		return user.User{}, apperr.New(apperr.Conflict, "an account with this email already exists")
	}
	u := user.User{ID: bson.NewObjectID().Hex(), Email: in.Email, Name: in.Name, Role: user.RoleUser, PasswordVersion: "v1"}
	f.byID[u.ID] = u
	f.byEmail[u.Email] = u.ID
	f.passwords[u.ID] = in.Password
	return u, nil
}

func (f *fakeUsers) Authenticate(_ context.Context, email, password string) (user.User, error) {
	f.mu.Lock()
	id, ok := f.byEmail[email]
	if !ok || f.passwords[id] != password {
		f.mu.Unlock()
		return user.User{}, user.ErrAuthenticationFailed
	}
	u, hook := f.byID[id], f.afterCheck
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return u, nil
}

func (f *fakeUsers) ByID(_ context.Context, id string) (user.User, error) {
	f.byIDCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.byID[id]
	if !ok {
		return user.User{}, apperr.New(apperr.NotFound, "user not found")
	}
	return u, nil
}

func (f *fakeUsers) ChangePassword(_ context.Context, id, current, next, bySession string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.passwords[id] != current {
		return apperr.Input("currentPassword", "current password is incorrect")
	}
	f.passwords[id] = next
	u := f.byID[id]
	u.PasswordVersion += "+"
	u.PasswordSetBy = bySession
	f.byID[id] = u
	return nil
}

func (f *fakeUsers) SetRole(_ context.Context, actorID, id string, role user.Role) (user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.byID[id]
	if !ok || actorID == id {
		return user.User{}, apperr.New(apperr.NotFound, "user not found")
	}
	u.Role = role
	f.byID[id] = u
	return u, nil
}

func (f *fakeUsers) setRole(tb testing.TB, id string, role user.Role) {
	tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.byID[id]
	if !ok {
		tb.Fatalf("setRole: no user %s", id)
	}
	u.Role = role
	f.byID[id] = u
}

func (f *fakeUsers) delete(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byID, id)
}

// env is an auth.Service over a fresh embedded database and fake users.
type env struct {
	svc    *auth.Service
	tokens *auth.Tokens
	users  *fakeUsers
	events *fakeEvents
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	return newEnvWith(tb, auth.Config{RefreshTTL: time.Hour, SessionTTL: 24 * time.Hour})
}

// newEnvWith is newEnv with the auth configuration cfg (rate limits, say).
func newEnvWith(tb testing.TB, cfg auth.Config) *env {
	tb.Helper()
	db := mongotest.NewDatabase(tb)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := auth.NewStore(db, mongodb.InProcessIndexes)
	if err := store.EnsureIndexes(context.Background(), logger); err != nil {
		tb.Fatalf("EnsureIndexes: %v", err)
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: dirSecret, Issuer: dirIssuer, Audience: dirAudience, TTL: 15 * time.Minute})
	if err != nil {
		tb.Fatalf("NewTokens: %v", err)
	}
	users, events := newFakeUsers(), &fakeEvents{}
	svc := auth.NewService(users, store, auth.NewLimiter(db, mongodb.InProcessIndexes), tokens, events, cfg, logger)
	return &env{svc: svc, tokens: tokens, users: users, events: events}
}

// signup creates a user with the given role and starts a session.
func (e *env) signup(tb testing.TB, email string, role user.Role) auth.Payload {
	tb.Helper()
	p, err := e.svc.Signup(context.Background(), user.SignupInput{Email: email, Password: "password-" + email, Name: email}, auth.DeliverBody)
	if err != nil {
		tb.Fatalf("Signup(%s): %v", email, err)
	}
	if role != user.RoleUser {
		e.users.setRole(tb, p.User.ID, role)
		p.User.Role = role
	}
	return p
}

// login starts another session for an existing user.
func (e *env) login(tb testing.TB, email string) auth.Payload {
	tb.Helper()
	p, err := e.svc.Login(context.Background(), email, "password-"+email, auth.DeliverBody)
	if err != nil {
		tb.Fatalf("Login(%s): %v", email, err)
	}
	return p
}

// requestCtx runs a request with the given Authorization header values
// through the real middleware and returns the context the handler saw.
func requestCtx(tb testing.TB, svc *auth.Service, target string, authorization ...string) context.Context {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, target, nil)
	for _, v := range authorization {
		r.Header.Add("Authorization", v)
	}
	var ctx context.Context
	svc.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ctx = r.Context()
	})).ServeHTTP(httptest.NewRecorder(), r)
	if ctx == nil {
		tb.Fatal("middleware did not call the next handler")
	}
	return ctx
}

// bearerCtx is requestCtx with "Authorization: Bearer token".
func (e *env) bearerCtx(tb testing.TB, token string) context.Context {
	tb.Helper()
	return requestCtx(tb, e.svc, "/graphql", "Bearer "+token)
}

// directive calls the @auth directive with a next resolver that records
// whether it ran.
func (e *env) directive(ctx context.Context, obj any, requires *user.Role, allowOwner bool) (bool, error) {
	var called atomic.Bool
	res, err := e.svc.Directive(ctx, obj, func(context.Context) (any, error) {
		called.Store(true)
		return "resolved", nil
	}, auth.NewRule(requires, allowOwner))
	if err == nil && res != "resolved" {
		return called.Load(), errors.New("directive did not return the resolver's result")
	}
	if err != nil && res != nil {
		return called.Load(), errors.New("directive returned a result with an error")
	}
	return called.Load(), err
}

// wantAllowed fails unless the directive let the resolver run.
func wantAllowed(tb testing.TB, called bool, err error) {
	tb.Helper()
	if err != nil || !called {
		tb.Fatalf("directive: called=%v err=%v; want the resolver to run", called, err)
	}
}

// wantDenied fails unless the directive refused with code (and message, if
// not empty) without running the resolver.
func wantDenied(tb testing.TB, called bool, err error, code apperr.Code, message string) {
	tb.Helper()
	if called {
		tb.Errorf("resolver ran although the directive refused")
	}
	if got := apperr.CodeOf(err); got != code {
		tb.Fatalf("directive error = %v (code %q), want code %q", err, got, code)
	}
	if message != "" && apperr.MessageOf(err) != message {
		tb.Errorf("directive message = %q, want %q", apperr.MessageOf(err), message)
	}
}

func rolePtr(r user.Role) *user.Role { return &r }

// kidOf returns the kid header of a genuine token.
func kidOf(tb testing.TB, token string) string {
	tb.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		tb.Fatalf("ParseUnverified: %v", err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// sidOf returns the sid claim of a genuine token.
func sidOf(tb testing.TB, token string) string {
	tb.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		tb.Fatalf("ParseUnverified: %v", err)
	}
	sid, _ := claims["sid"].(string)
	return sid
}

// forge signs claims with the test secret and the genuine kid: a token only
// the server could have made.
func forge(tb testing.TB, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(dirSecret)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

func TestDirectiveUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.signup(t, "alice@example.com", user.RoleUser)
	kid := kidOf(t, p.AccessToken)
	now := time.Now()
	expired := forge(t, kid, jwt.MapClaims{
		"iss": dirIssuer, "aud": dirAudience, "sub": p.User.ID, "sid": sidOf(t, p.AccessToken),
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(),
	})
	otherSecret, err := auth.NewTokens(auth.TokenConfig{Secret: []byte("some-other-secret-0123456789-abcdefgh"), Issuer: dirIssuer, Audience: dirAudience, TTL: time.Minute})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	badSig, _, err := otherSecret.Issue(p.User.ID, sidOf(t, p.AccessToken), user.RoleAdmin)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}

	tests := []struct {
		name string
		ctx  context.Context
		want string // the reason, as the client sees it
	}{
		{"ErrNoToken", requestCtx(t, e.svc, "/graphql"), auth.ErrTokenMissing.Error()},
		{"ErrNoMiddleware", context.Background(), auth.ErrTokenMissing.Error()},
		{"ErrTokenInQueryString", requestCtx(t, e.svc, "/graphql?access_token="+p.AccessToken), auth.ErrTokenMissing.Error()},
		{"ErrBasicScheme", requestCtx(t, e.svc, "/graphql", "Basic "+p.AccessToken), auth.ErrTokenMalformed.Error()},
		{"ErrNoScheme", requestCtx(t, e.svc, "/graphql", p.AccessToken), auth.ErrTokenMalformed.Error()},
		{"ErrEmptyBearer", requestCtx(t, e.svc, "/graphql", "Bearer "), auth.ErrTokenMalformed.Error()},
		{"ErrTwoHeaders", requestCtx(t, e.svc, "/graphql", "Bearer "+p.AccessToken, "Bearer "+p.AccessToken), auth.ErrTokenMalformed.Error()},
		{"ErrTwoTokensOneHeader", requestCtx(t, e.svc, "/graphql", "Bearer "+p.AccessToken+" "+p.AccessToken), auth.ErrTokenMalformed.Error()},
		{"ErrGarbage", e.bearerCtx(t, "garbage"), auth.ErrTokenMalformed.Error()},
		{"ErrRefreshTokenAsAccessToken", e.bearerCtx(t, p.RefreshToken), auth.ErrTokenMalformed.Error()},
		{"ErrExpired", e.bearerCtx(t, expired), auth.ErrTokenExpired.Error()},
		{"ErrBadSignature", e.bearerCtx(t, badSig), auth.ErrTokenInvalid.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, requires := range []*user.Role{nil, rolePtr(user.RoleUser), rolePtr(user.RoleAdmin)} {
				called, err := e.directive(tt.ctx, nil, requires, false)
				wantDenied(t, called, err, apperr.Unauthenticated, tt.want)
			}
			if _, err := e.svc.Viewer(tt.ctx); apperr.CodeOf(err) != apperr.Unauthenticated {
				t.Errorf("Viewer error = %v, want UNAUTHENTICATED", err)
			}
			if v, ok := e.svc.OptionalViewer(tt.ctx); ok || v.User.ID != "" {
				t.Errorf("OptionalViewer = %+v, %v; want anonymous", v, ok)
			}
		})
	}

	// The same token in a well-formed header works, so the refusals above are
	// about the way it was sent.
	t.Run("OKLowerCaseScheme", func(t *testing.T) {
		ctx := requestCtx(t, e.svc, "/graphql", "bearer "+p.AccessToken)
		called, err := e.directive(ctx, nil, nil, false)
		wantAllowed(t, called, err)
	})
	t.Run("OK", func(t *testing.T) {
		called, err := e.directive(e.bearerCtx(t, p.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)
	})
}

func TestDirectiveRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	usr := e.signup(t, "user@example.com", user.RoleUser)
	adm := e.signup(t, "admin@example.com", user.RoleAdmin)

	tests := []struct {
		name     string
		token    string
		requires *user.Role
		want     apperr.Code // "" allowed
	}{
		{"OKUserDefaultRequires", usr.AccessToken, nil, ""},
		{"OKUserRequiresUser", usr.AccessToken, rolePtr(user.RoleUser), ""},
		{"ErrUserRequiresAdmin", usr.AccessToken, rolePtr(user.RoleAdmin), apperr.Forbidden},
		{"OKAdminDefaultRequires", adm.AccessToken, nil, ""},
		{"OKAdminRequiresUser", adm.AccessToken, rolePtr(user.RoleUser), ""},
		{"OKAdminRequiresAdmin", adm.AccessToken, rolePtr(user.RoleAdmin), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called, err := e.directive(e.bearerCtx(t, tt.token), nil, tt.requires, false)
			if tt.want == "" {
				wantAllowed(t, called, err)
				return
			}
			wantDenied(t, called, err, tt.want, "")
		})
	}

	t.Run("OKViewer", func(t *testing.T) {
		v, err := e.svc.Viewer(e.bearerCtx(t, adm.AccessToken))
		if err != nil {
			t.Fatalf("Viewer: %v", err)
		}
		if v.User.ID != adm.User.ID || v.User.Role != user.RoleAdmin || v.SessionID != sidOf(t, adm.AccessToken) {
			t.Errorf("Viewer = %+v, want admin %s in session %s", v, adm.User.ID, sidOf(t, adm.AccessToken))
		}
	})
}

// TestDirectiveRoleFromDatabase: the role in the token is informational; the
// one stored now decides, from the next request on.
func TestDirectiveRoleFromDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("OKPromotedWithOldToken", func(t *testing.T) {
		p := e.signup(t, "promoted@example.com", user.RoleUser)
		e.users.setRole(t, p.User.ID, user.RoleAdmin)
		called, err := e.directive(e.bearerCtx(t, p.AccessToken), nil, rolePtr(user.RoleAdmin), false)
		wantAllowed(t, called, err)
	})
	t.Run("ErrDemotedWithOldToken", func(t *testing.T) {
		p := e.signup(t, "demoted@example.com", user.RoleAdmin)
		called, err := e.directive(e.bearerCtx(t, p.AccessToken), nil, rolePtr(user.RoleAdmin), false)
		wantAllowed(t, called, err)
		e.users.setRole(t, p.User.ID, user.RoleUser)
		called, err = e.directive(e.bearerCtx(t, p.AccessToken), nil, rolePtr(user.RoleAdmin), false)
		wantDenied(t, called, err, apperr.Forbidden, "")
	})
	t.Run("ErrUnknownRole", func(t *testing.T) {
		p := e.signup(t, "odd-role@example.com", user.RoleUser)
		e.users.setRole(t, p.User.ID, user.Role("SUPERUSER"))
		called, err := e.directive(e.bearerCtx(t, p.AccessToken), nil, nil, false)
		wantDenied(t, called, err, apperr.Forbidden, "")
	})
	t.Run("ErrUserDeleted", func(t *testing.T) {
		p := e.signup(t, "deleted@example.com", user.RoleUser)
		e.users.delete(p.User.ID)
		called, err := e.directive(e.bearerCtx(t, p.AccessToken), nil, nil, false)
		wantDenied(t, called, err, apperr.Unauthenticated, "")
	})
}

// TestDirectiveForeignSession: a token signed with the right key whose sid
// names another user's session is refused.
func TestDirectiveForeignSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signup(t, "alice@example.com", user.RoleUser)
	bob := e.signup(t, "bob@example.com", user.RoleAdmin)
	now := time.Now()
	tok := forge(t, kidOf(t, alice.AccessToken), jwt.MapClaims{
		"iss": dirIssuer, "aud": dirAudience, "sub": alice.User.ID, "sid": sidOf(t, bob.AccessToken),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	t.Run("ErrForeignSession", func(t *testing.T) {
		called, err := e.directive(e.bearerCtx(t, tok), nil, nil, false)
		wantDenied(t, called, err, apperr.Unauthenticated, "")
	})
	t.Run("ErrUnknownSession", func(t *testing.T) {
		tok := forge(t, kidOf(t, alice.AccessToken), jwt.MapClaims{
			"iss": dirIssuer, "aud": dirAudience, "sub": alice.User.ID, "sid": bson.NewObjectID().Hex(),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		})
		called, err := e.directive(e.bearerCtx(t, tok), nil, nil, false)
		wantDenied(t, called, err, apperr.Unauthenticated, "")
	})
	t.Run("ErrMalformedSessionID", func(t *testing.T) {
		tok := forge(t, kidOf(t, alice.AccessToken), jwt.MapClaims{
			"iss": dirIssuer, "aud": dirAudience, "sub": alice.User.ID, "sid": `{"$ne": null}`,
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		})
		called, err := e.directive(e.bearerCtx(t, tok), nil, nil, false)
		wantDenied(t, called, err, apperr.Unauthenticated, "")
	})
}

// notOwned is a parent object that belongs to no one.
type notOwned struct{}

func TestDirectiveAllowOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signup(t, "owner@example.com", user.RoleUser)
	other := e.signup(t, "other@example.com", user.RoleUser)
	admin := e.signup(t, "admin@example.com", user.RoleAdmin)
	ended := e.signup(t, "ended@example.com", user.RoleUser)
	if err := e.svc.Logout(e.bearerCtx(t, ended.AccessToken), nil); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	ownerRecord := owner.User
	endedRecord := ended.User

	// As on User.email: @auth(requires: ADMIN, allowOwner: true).
	tests := []struct {
		name string
		ctx  context.Context
		obj  any
		want apperr.Code // "" allowed
	}{
		{"OKOwner", e.bearerCtx(t, owner.AccessToken), &ownerRecord, ""},
		{"OKAdmin", e.bearerCtx(t, admin.AccessToken), &ownerRecord, ""},
		{"OKAdminNotOwned", e.bearerCtx(t, admin.AccessToken), notOwned{}, ""},
		{"ErrOtherUser", e.bearerCtx(t, other.AccessToken), &ownerRecord, apperr.Forbidden},
		{"ErrAnonymous", requestCtx(t, e.svc, "/graphql"), &ownerRecord, apperr.Forbidden},
		{"ErrGarbageToken", e.bearerCtx(t, "garbage"), &ownerRecord, apperr.Forbidden},
		{"ErrOwnerSessionEnded", e.bearerCtx(t, ended.AccessToken), &endedRecord, apperr.Forbidden},
		{"ErrUserNotOwned", e.bearerCtx(t, owner.AccessToken), notOwned{}, apperr.Forbidden},
		{"ErrUserNilObject", e.bearerCtx(t, owner.AccessToken), nil, apperr.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called, err := e.directive(tt.ctx, tt.obj, rolePtr(user.RoleAdmin), true)
			if tt.want == "" {
				wantAllowed(t, called, err)
				return
			}
			wantDenied(t, called, err, tt.want, "")
		})
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		p := e.signup(t, "alice@example.com", user.RoleUser)
		called, err := e.directive(e.bearerCtx(t, p.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)

		if err := e.svc.Logout(e.bearerCtx(t, p.AccessToken), nil); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		// The next request with the same, unexpired access token.
		called, err = e.directive(e.bearerCtx(t, p.AccessToken), nil, nil, false)
		wantDenied(t, called, err, apperr.Unauthenticated, "")
		if _, err := e.svc.Refresh(context.Background(), p.RefreshToken, auth.DeliverBody); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Errorf("Refresh after logout = %v, want UNAUTHENTICATED", err)
		}
		if err := e.svc.Logout(e.bearerCtx(t, p.AccessToken), nil); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Errorf("second Logout = %v, want UNAUTHENTICATED", err)
		}
	})

	t.Run("ErrAnonymous", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		if err := e.svc.Logout(requestCtx(t, e.svc, "/graphql"), nil); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Errorf("Logout = %v, want UNAUTHENTICATED", err)
		}
	})

	t.Run("OKOtherSessionsUntouched", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		first := e.signup(t, "alice@example.com", user.RoleUser)
		second := e.login(t, "alice@example.com")
		if err := e.svc.Logout(e.bearerCtx(t, first.AccessToken), nil); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		called, err := e.directive(e.bearerCtx(t, second.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)
	})

	t.Run("OKEndsOwnOtherSession", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		first := e.signup(t, "alice@example.com", user.RoleUser)
		second := e.login(t, "alice@example.com")
		if err := e.svc.Logout(e.bearerCtx(t, first.AccessToken), &second.RefreshToken); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		called, err := e.directive(e.bearerCtx(t, second.AccessToken), nil, nil, false)
		wantDenied(t, called, err, apperr.Unauthenticated, "")
	})

	t.Run("OKIgnoresSomeoneElsesRefreshToken", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		alice := e.signup(t, "alice@example.com", user.RoleUser)
		bob := e.signup(t, "bob@example.com", user.RoleUser)
		if err := e.svc.Logout(e.bearerCtx(t, alice.AccessToken), &bob.RefreshToken); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		called, err := e.directive(e.bearerCtx(t, bob.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)
		if _, err := e.svc.Refresh(context.Background(), bob.RefreshToken, auth.DeliverBody); err != nil {
			t.Errorf("Bob's Refresh after Alice's logout = %v, want success", err)
		}
	})
}

// TestDirectiveSessionCheckOncePerRequest counts user reads: however many
// @auth fields one request touches, the session check runs once.
func TestDirectiveSessionCheckOncePerRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.signup(t, "alice@example.com", user.RoleUser)
	self := p.User

	t.Run("OK", func(t *testing.T) {
		ctx := e.bearerCtx(t, p.AccessToken)
		before := e.users.byIDCalls.Load()
		for range 3 {
			called, err := e.directive(ctx, nil, nil, false)
			wantAllowed(t, called, err)
		}
		called, err := e.directive(ctx, &self, rolePtr(user.RoleAdmin), true)
		wantAllowed(t, called, err)
		called, err = e.directive(ctx, nil, rolePtr(user.RoleAdmin), false)
		wantDenied(t, called, err, apperr.Forbidden, "")

		// Sibling fields resolve concurrently.
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				if _, err := e.directive(ctx, nil, nil, false); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent directive: %v", err)
		}
		if _, err := e.svc.Viewer(ctx); err != nil {
			t.Errorf("Viewer: %v", err)
		}
		if got := e.users.byIDCalls.Load() - before; got != 1 {
			t.Errorf("ByID called %d times in one request, want 1", got)
		}

		// A new request checks again.
		before = e.users.byIDCalls.Load()
		called, err = e.directive(e.bearerCtx(t, p.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)
		if got := e.users.byIDCalls.Load() - before; got != 1 {
			t.Errorf("ByID called %d times in the next request, want 1", got)
		}
	})

	t.Run("OKFailureMemoised", func(t *testing.T) {
		ctx := e.bearerCtx(t, p.AccessToken)
		e.users.delete(p.User.ID)
		before := e.users.byIDCalls.Load()
		for range 3 {
			called, err := e.directive(ctx, nil, nil, false)
			wantDenied(t, called, err, apperr.Unauthenticated, "")
		}
		if got := e.users.byIDCalls.Load() - before; got != 1 {
			t.Errorf("ByID called %d times in one request, want 1", got)
		}
	})
}

func TestRefresh(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		p1 := e.signup(t, "alice@example.com", user.RoleUser)
		p2, err := e.svc.Refresh(context.Background(), p1.RefreshToken, auth.DeliverBody)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if p2.RefreshToken == p1.RefreshToken || p2.AccessToken == p1.AccessToken {
			t.Errorf("Refresh did not rotate: %+v", p2)
		}
		if p2.User.ID != p1.User.ID {
			t.Errorf("Refresh user = %s, want %s", p2.User.ID, p1.User.ID)
		}
		if sidOf(t, p2.AccessToken) != sidOf(t, p1.AccessToken) {
			t.Errorf("Refresh started a new session")
		}
		called, err := e.directive(e.bearerCtx(t, p2.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)
		p3, err := e.svc.Refresh(context.Background(), p2.RefreshToken, auth.DeliverBody)
		if err != nil {
			t.Fatalf("second rotation: %v", err)
		}
		if p3.RefreshToken == p2.RefreshToken {
			t.Errorf("second rotation returned the same refresh token")
		}
	})

	t.Run("ErrReuse", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		p1 := e.signup(t, "alice@example.com", user.RoleUser)
		other := e.login(t, "alice@example.com")
		p2, err := e.svc.Refresh(context.Background(), p1.RefreshToken, auth.DeliverBody)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		_, err = e.svc.Refresh(context.Background(), p1.RefreshToken, auth.DeliverBody)
		if apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Fatalf("reused Refresh = %v, want UNAUTHENTICATED", err)
		}
		// The whole session has ended: the rotated pair is dead too.
		if _, err := e.svc.Refresh(context.Background(), p2.RefreshToken, auth.DeliverBody); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Errorf("Refresh with the successor after reuse = %v, want UNAUTHENTICATED", err)
		}
		for name, tok := range map[string]string{"successor": p2.AccessToken, "original": p1.AccessToken} {
			called, err := e.directive(e.bearerCtx(t, tok), nil, nil, false)
			if called || apperr.CodeOf(err) != apperr.Unauthenticated {
				t.Errorf("%s access token after reuse: called=%v err=%v; want UNAUTHENTICATED", name, called, err)
			}
		}
		// Other sessions of the same user live on.
		called, err := e.directive(e.bearerCtx(t, other.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)
	})

	t.Run("ErrConcurrentReuse", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		p := e.signup(t, "alice@example.com", user.RoleUser)
		const n = 8
		var wg sync.WaitGroup
		var wins atomic.Int64
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := e.svc.Refresh(context.Background(), p.RefreshToken, auth.DeliverBody)
				if err == nil {
					wins.Add(1)
					return
				}
				if apperr.CodeOf(err) != apperr.Unauthenticated {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent Refresh: %v, want UNAUTHENTICATED", err)
		}
		if got := wins.Load(); got > 1 {
			t.Fatalf("%d concurrent refreshes with one token succeeded, want at most 1", got)
		}
	})

	tests := []struct {
		name  string
		token func(p auth.Payload) string
	}{
		{"ErrEmpty", func(auth.Payload) string { return "" }},
		{"ErrGarbage", func(auth.Payload) string { return "garbage" }},
		{"ErrOperatorShaped", func(auth.Payload) string { return `{"$ne": null}` }},
		{"ErrUnknown", func(auth.Payload) string { return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }},
		{"ErrAccessTokenAsRefreshToken", func(p auth.Payload) string { return p.AccessToken }},
		{"ErrWithWhitespace", func(p auth.Payload) string { return " " + p.RefreshToken }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			p := e.signup(t, "alice@example.com", user.RoleUser)
			got, err := e.svc.Refresh(context.Background(), tt.token(p), auth.DeliverBody)
			if apperr.CodeOf(err) != apperr.Unauthenticated {
				t.Fatalf("Refresh = %+v, %v; want UNAUTHENTICATED", got, err)
			}
			if got.AccessToken != "" || got.RefreshToken != "" {
				t.Errorf("Refresh returned tokens with an error")
			}
			// The genuine token was not spent by the failed attempt.
			if _, err := e.svc.Refresh(context.Background(), p.RefreshToken, auth.DeliverBody); err != nil {
				t.Errorf("genuine Refresh after a failed one = %v", err)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signup(t, "alice@example.com", user.RoleUser)

	t.Run("OK", func(t *testing.T) {
		p := e.login(t, "alice@example.com")
		called, err := e.directive(e.bearerCtx(t, p.AccessToken), nil, nil, false)
		wantAllowed(t, called, err)
	})
	t.Run("ErrWrongPassword", func(t *testing.T) {
		p, err := e.svc.Login(context.Background(), "alice@example.com", "wrong", auth.DeliverBody)
		if apperr.CodeOf(err) != apperr.Unauthenticated || p.AccessToken != "" {
			t.Fatalf("Login = %+v, %v; want UNAUTHENTICATED and no tokens", p, err)
		}
	})
	t.Run("ErrDuplicateSignup", func(t *testing.T) {
		_, err := e.svc.Signup(context.Background(), user.SignupInput{Email: "alice@example.com", Password: "whatever-1", Name: "A"}, auth.DeliverBody)
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("Signup = %v, want CONFLICT", err)
		}
	})
}
