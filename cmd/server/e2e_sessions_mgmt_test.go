package main

// End-to-end tests of session management: the sessions list,
// revokeSession, logoutAll and changePassword.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	ckSessionsQ = `{ sessions { id createdAt lastUsedAt expiresAt userAgent ip current } }`
	ckRevokeQ   = `mutation($id: ID!) { revokeSession(id: $id) }`
	ckChangePwQ = `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`
)

// ckSession is a Session as its owner sees it.
type ckSession struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  *string   `json:"userAgent"`
	IP         *string   `json:"ip"`
	Current    bool      `json:"current"`
}

// ckTokens is one session's pair of tokens, as a BODY client holds them.
type ckTokens struct {
	Access, Refresh, SID, UserID string
}

// ckAuthAs runs signup or login (op) with BODY delivery, sending userAgent
// as the User-Agent header (none at all when empty).
func (s *testServer) ckAuthAs(tb testing.TB, op, email, password, userAgent string) ckTokens {
	tb.Helper()
	in := map[string]any{"email": email, "password": password}
	q := ckLoginQ
	if op == "signup" {
		in["name"] = "Session Tester"
		q = ckSignupQ
	}
	req := ckJSONRequest(tb, s, q, map[string]any{"in": in})
	// An empty User-Agent makes net/http leave the header out.
	req.Header.Set("User-Agent", userAgent)
	r := s.do(tb, req).mustNoErrors(tb)
	var d map[string]ckPayload
	r.decode(tb, &d)
	p := d[op]
	return ckTokens{Access: p.AccessToken, Refresh: p.RefreshToken, SID: ckSID(tb, p.AccessToken), UserID: p.User.ID}
}

// ckSID reads the session id (sid claim) from an access token's payload.
func ckSID(tb testing.TB, token string) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatalf("JWT payload: %v", err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.SID == "" {
		tb.Fatalf("JWT has no sid: %s", b)
	}
	return c.SID
}

// ckSessions lists the sessions visible with token.
func (s *testServer) ckSessions(tb testing.TB, token string) []ckSession {
	tb.Helper()
	r := s.post(tb, token, ckSessionsQ, nil).mustNoErrors(tb)
	var d struct{ Sessions []ckSession }
	r.decode(tb, &d)
	return d.Sessions
}

// ckSessionIDs are the ids of list, in order.
func ckSessionIDs(list []ckSession) []string {
	out := make([]string, len(list))
	for i, ss := range list {
		out[i] = ss.ID
	}
	return out
}

// ckMustMe checks that token is a live session of userID.
func (s *testServer) ckMustMe(tb testing.TB, token, userID, what string) {
	tb.Helper()
	r := s.post(tb, token, ckMeQ, nil)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		tb.Errorf("%s: me refused: %s", what, r.Raw)
		return
	}
	var d struct{ Me struct{ ID string } }
	r.decode(tb, &d)
	if d.Me.ID != userID {
		tb.Errorf("%s: me = %s, want %s", what, d.Me.ID, userID)
	}
}

// ckMustDead checks that a session's access and refresh tokens are refused.
func (s *testServer) ckMustDead(tb testing.TB, tok ckTokens, what string) {
	tb.Helper()
	ckMustUnauth(tb, s.post(tb, tok.Access, ckMeQ, nil), what+": access token")
	ckMustUnauth(tb, s.post(tb, "", ckRefreshQ, map[string]any{"t": tok.Refresh}), what+": refresh token")
}

// ckMustRotate refreshes tok and returns the new pair of the same session.
func (s *testServer) ckMustRotate(tb testing.TB, tok ckTokens, what string) ckTokens {
	tb.Helper()
	r := s.post(tb, "", ckRefreshQ, map[string]any{"t": tok.Refresh})
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		tb.Fatalf("%s: refresh refused: %s", what, r.Raw)
	}
	var d struct{ RefreshToken ckPayload }
	r.decode(tb, &d)
	next := ckTokens{Access: d.RefreshToken.AccessToken, Refresh: d.RefreshToken.RefreshToken,
		SID: ckSID(tb, d.RefreshToken.AccessToken), UserID: d.RefreshToken.User.ID}
	if next.SID != tok.SID || next.UserID != tok.UserID {
		tb.Errorf("%s: refresh moved to session %s of %s, want %s of %s", what, next.SID, next.UserID, tok.SID, tok.UserID)
	}
	return next
}

func TestSessionsQuery(t *testing.T) {
	s := ckStart(t, map[string]string{"SESSION_TTL": "48h", "REFRESH_TOKEN_TTL": "24h"})
	const pw = "session-password-1"
	emailA := uniqueEmail(t, 1)
	before := time.Now()
	signup := s.ckAuthAs(t, "signup", emailA, pw, "ck-agent/signup")
	laptop := s.ckAuthAs(t, "login", emailA, pw, "ck-agent/laptop (X11; Linux)")
	phone := s.ckAuthAs(t, "login", emailA, pw, "ck-agent/phone")
	after := time.Now()
	bob := s.ckAuthAs(t, "signup", uniqueEmail(t, 2), pw, "ck-agent/bob")

	t.Run("OK", func(t *testing.T) {
		list := s.ckSessions(t, phone.Access)
		want := []string{phone.SID, laptop.SID, signup.SID}
		if got := ckSessionIDs(list); !slices.Equal(got, want) {
			t.Fatalf("sessions = %v, want newest first %v", got, want)
		}
		agents := []string{"ck-agent/phone", "ck-agent/laptop (X11; Linux)", "ck-agent/signup"}
		for i, ss := range list {
			if ss.Current != (i == 0) {
				t.Errorf("%s: current = %v, want %v", ss.ID, ss.Current, i == 0)
			}
			if ss.UserAgent == nil || *ss.UserAgent != agents[i] {
				t.Errorf("%s: userAgent = %v, want %q", ss.ID, ss.UserAgent, agents[i])
			}
			if ss.IP == nil || *ss.IP != "127.0.0.1" {
				t.Errorf("%s: ip = %v, want 127.0.0.1", ss.ID, ss.IP)
			}
			if ss.CreatedAt.Before(before.Add(-time.Second)) || ss.CreatedAt.After(after.Add(time.Second)) {
				t.Errorf("%s: createdAt %v outside the test's run [%v, %v]", ss.ID, ss.CreatedAt, before, after)
			}
			if ss.LastUsedAt.Before(ss.CreatedAt) || ss.LastUsedAt.After(after.Add(time.Second)) {
				t.Errorf("%s: lastUsedAt %v, createdAt %v", ss.ID, ss.LastUsedAt, ss.CreatedAt)
			}
			if got := ss.ExpiresAt.Sub(ss.CreatedAt); got != 48*time.Hour {
				t.Errorf("%s: expiresAt - createdAt = %v, want SESSION_TTL 48h", ss.ID, got)
			}
			if i > 0 && ss.CreatedAt.After(list[i-1].CreatedAt) {
				t.Errorf("not newest first: %v after %v", ss.CreatedAt, list[i-1].CreatedAt)
			}
		}
		for _, id := range ckSessionIDs(list) {
			if id == bob.SID {
				t.Error("another user's session is listed")
			}
		}
		if got := ckSessionIDs(s.ckSessions(t, bob.Access)); !slices.Equal(got, []string{bob.SID}) {
			t.Errorf("bob's sessions = %v, want only %s", got, bob.SID)
		}
	})

	t.Run("OKCurrentFollowsCaller", func(t *testing.T) {
		for _, tok := range []ckTokens{signup, laptop, phone} {
			n := 0
			for _, ss := range s.ckSessions(t, tok.Access) {
				if ss.Current {
					n++
					if ss.ID != tok.SID {
						t.Errorf("current session = %s, want the caller's %s", ss.ID, tok.SID)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d sessions marked current, want 1", n)
			}
		}
	})

	t.Run("OKCurrentByCookie", func(t *testing.T) {
		b := ckNewBrowser(t, s, ckOrigin)
		b.mustAuth(t, "login", emailA, pw, "COOKIES")
		r := b.gql(t, ckSessionsQ, nil, nil).mustNoErrors(t)
		var d struct{ Sessions []ckSession }
		r.decode(t, &d)
		if len(d.Sessions) < 4 || !d.Sessions[0].Current {
			t.Fatalf("want the new cookie session first and current: %s", r.Raw)
		}
		for _, ss := range d.Sessions[1:] {
			if ss.Current {
				t.Errorf("%s also marked current", ss.ID)
			}
		}
		// It is ended again so that the other subtests see three sessions.
		b.gql(t, `mutation { logout }`, nil, nil).mustNoErrors(t)
	})

	t.Run("OKUserAgentAbsentOrLong", func(t *testing.T) {
		email := uniqueEmail(t, 3)
		none := s.ckAuthAs(t, "signup", email, pw, "")
		long := strings.Repeat("Mozilla/5.0 ", 100)
		longTok := s.ckAuthAs(t, "login", email, pw, long)
		list := s.ckSessions(t, none.Access)
		if len(list) != 2 || list[0].ID != longTok.SID || list[1].ID != none.SID {
			t.Fatalf("sessions = %v, want [%s %s]", ckSessionIDs(list), longTok.SID, none.SID)
		}
		if list[1].UserAgent != nil {
			t.Errorf("no User-Agent sent: userAgent = %q, want null", *list[1].UserAgent)
		}
		if ua := list[0].UserAgent; ua == nil || len(*ua) == 0 || len(*ua) > 256 || !strings.HasPrefix(long, *ua) {
			t.Errorf("long User-Agent: stored %v, want a prefix of at most 256 bytes", ua)
		}
	})

	t.Run("OKLastUsedAtMovesOnRefresh", func(t *testing.T) {
		email := uniqueEmail(t, 4)
		tok := s.ckAuthAs(t, "signup", email, pw, "ck-agent/refresher")
		list := s.ckSessions(t, tok.Access)
		if len(list) != 1 {
			t.Fatalf("want one session, got %v", ckSessionIDs(list))
		}
		first := list[0]
		if !first.LastUsedAt.Equal(first.CreatedAt) {
			t.Errorf("fresh session: lastUsedAt %v, want createdAt %v", first.LastUsedAt, first.CreatedAt)
		}
		for i := range 2 {
			time.Sleep(20 * time.Millisecond)
			tok = s.ckMustRotate(t, tok, "refresh")
			list = s.ckSessions(t, tok.Access)
			if len(list) != 1 || list[0].ID != first.ID {
				t.Fatalf("after refresh %d: sessions = %v, want only %s", i, ckSessionIDs(list), first.ID)
			}
			got := list[0]
			if !got.LastUsedAt.After(first.LastUsedAt) {
				t.Errorf("after refresh %d: lastUsedAt %v did not move past %v", i, got.LastUsedAt, first.LastUsedAt)
			}
			if !got.CreatedAt.Equal(first.CreatedAt) || !got.ExpiresAt.Equal(first.ExpiresAt) {
				t.Errorf("after refresh %d: createdAt/expiresAt changed: %+v, was %+v", i, got, first)
			}
			// The user agent is the login's, not the refreshing client's.
			if got.UserAgent == nil || *got.UserAgent != "ck-agent/refresher" {
				t.Errorf("after refresh %d: userAgent = %v", i, got.UserAgent)
			}
			if !got.Current {
				t.Errorf("after refresh %d: not current", i)
			}
			first = got
		}
	})

	t.Run("OKEndedSessionsDisappear", func(t *testing.T) {
		email := uniqueEmail(t, 5)
		keep := s.ckAuthAs(t, "signup", email, pw, "keep")
		gone := s.ckAuthAs(t, "login", email, pw, "gone")
		s.post(t, gone.Access, `mutation { logout }`, nil).mustNoErrors(t)
		if got := ckSessionIDs(s.ckSessions(t, keep.Access)); !slices.Equal(got, []string{keep.SID}) {
			t.Errorf("after logout: sessions = %v, want only %s", got, keep.SID)
		}
		// A reused refresh token ends its session, which then disappears.
		reused := s.ckAuthAs(t, "login", email, pw, "reused")
		s.ckMustRotate(t, reused, "first use")
		ckMustUnauth(t, s.post(t, "", ckRefreshQ, map[string]any{"t": reused.Refresh}), "reuse")
		if got := ckSessionIDs(s.ckSessions(t, keep.Access)); !slices.Equal(got, []string{keep.SID}) {
			t.Errorf("after reuse: sessions = %v, want only %s", got, keep.SID)
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		r := s.post(t, "", ckSessionsQ, nil)
		r.mustCode(t, "UNAUTHENTICATED")
		ended := s.ckAuthAs(t, "login", emailA, pw, "ended")
		s.post(t, ended.Access, `mutation { logout }`, nil).mustNoErrors(t)
		s.post(t, ended.Access, ckSessionsQ, nil).mustCode(t, "UNAUTHENTICATED")
	})
}

func TestRevokeSession(t *testing.T) {
	s := mustStartServer(t, nil)
	const pw = "session-password-1"
	emailA := uniqueEmail(t, 1)
	a1 := s.ckAuthAs(t, "signup", emailA, pw, "a1")
	a2 := s.ckAuthAs(t, "login", emailA, pw, "a2")
	a3 := s.ckAuthAs(t, "login", emailA, pw, "a3")
	b1 := s.ckAuthAs(t, "signup", uniqueEmail(t, 2), pw, "b1")
	revoke := func(token, id string) gqlResponse {
		t.Helper()
		return s.post(t, token, ckRevokeQ, map[string]any{"id": id})
	}

	t.Run("ErrOtherUsersSession", func(t *testing.T) {
		r := revoke(a1.Access, b1.SID)
		r.mustCode(t, "NOT_FOUND")
		if strings.Contains(r.Raw, b1.UserID) {
			t.Errorf("the error reveals the owner: %s", r.Raw)
		}
		s.ckMustMe(t, b1.Access, b1.UserID, "b1 after a foreign revoke")
		b1 = s.ckMustRotate(t, b1, "b1 after a foreign revoke")
		if got := ckSessionIDs(s.ckSessions(t, b1.Access)); !slices.Equal(got, []string{b1.SID}) {
			t.Errorf("b1's sessions = %v", got)
		}
	})

	t.Run("ErrUnknownID", func(t *testing.T) {
		revoke(a1.Access, "0123456789abcdef01234567").mustCode(t, "NOT_FOUND")
	})

	t.Run("ErrMalformedID", func(t *testing.T) {
		for _, id := range []string{"", "nope", "0123", "zzzzzzzzzzzzzzzzzzzzzzzz", a1.SID + "00", `{"$ne": null}`} {
			if r := revoke(a1.Access, id); len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" {
				t.Errorf("id %q: want one BAD_USER_INPUT, got %s", id, r.Raw)
			}
		}
		s.ckMustMe(t, a1.Access, a1.UserID, "a1 after malformed revokes")
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		revoke("", a2.SID).mustCode(t, "UNAUTHENTICATED")
		s.ckMustMe(t, a2.Access, a2.UserID, "a2 after an anonymous revoke")
	})

	t.Run("OK", func(t *testing.T) {
		r := revoke(a1.Access, a2.SID).mustNoErrors(t)
		var d struct{ RevokeSession bool }
		r.decode(t, &d)
		if !d.RevokeSession {
			t.Fatalf("revokeSession = false: %s", r.Raw)
		}
		s.ckMustDead(t, a2, "revoked a2")
		s.ckMustMe(t, a1.Access, a1.UserID, "a1 after revoking a2")
		a1 = s.ckMustRotate(t, a1, "a1 after revoking a2")
		s.ckMustMe(t, a3.Access, a3.UserID, "a3 after revoking a2")
		if got, want := ckSessionIDs(s.ckSessions(t, a1.Access)), []string{a3.SID, a1.SID}; !slices.Equal(got, want) {
			t.Errorf("sessions = %v, want %v", got, want)
		}
		s.ckMustMe(t, b1.Access, b1.UserID, "b1 after a revokes a2")
	})

	t.Run("ErrRevokedSessionCannotRevoke", func(t *testing.T) {
		revoke(a2.Access, a1.SID).mustCode(t, "UNAUTHENTICATED")
		s.ckMustMe(t, a1.Access, a1.UserID, "a1 after a revoked session tried to revoke it")
	})

	t.Run("OKCurrentSession", func(t *testing.T) {
		revoke(a3.Access, a3.SID).mustNoErrors(t)
		s.ckMustDead(t, a3, "self-revoked a3")
		s.ckMustMe(t, a1.Access, a1.UserID, "a1 after a3 revoked itself")
	})
}

func TestLogoutAll(t *testing.T) {
	s := mustStartServer(t, nil)
	const pw = "session-password-1"
	emailA := uniqueEmail(t, 1)
	a := []ckTokens{
		s.ckAuthAs(t, "signup", emailA, pw, "a1"),
		s.ckAuthAs(t, "login", emailA, pw, "a2"),
		s.ckAuthAs(t, "login", emailA, pw, "a3"),
	}
	b1 := s.ckAuthAs(t, "signup", uniqueEmail(t, 2), pw, "b1")

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		s.post(t, "", `mutation { logoutAll }`, nil).mustCode(t, "UNAUTHENTICATED")
		s.post(t, "not-a-token", `mutation { logoutAll }`, nil).mustCode(t, "UNAUTHENTICATED")
		for i, tok := range a {
			s.ckMustMe(t, tok.Access, tok.UserID, "after anonymous logoutAll: a"+string(rune('1'+i)))
		}
	})

	t.Run("OK", func(t *testing.T) {
		// One session is refreshed first, so a rotated pair must end too.
		a[2] = s.ckMustRotate(t, a[2], "a3")
		r := s.post(t, a[1].Access, `mutation { logoutAll }`, nil).mustNoErrors(t)
		var d struct{ LogoutAll bool }
		r.decode(t, &d)
		if !d.LogoutAll {
			t.Fatalf("logoutAll = false: %s", r.Raw)
		}
		for i, tok := range a {
			s.ckMustDead(t, tok, "after logoutAll: a"+string(rune('1'+i)))
		}
		s.ckMustMe(t, b1.Access, b1.UserID, "b1 after a's logoutAll")
		b1 = s.ckMustRotate(t, b1, "b1 after a's logoutAll")
		// Signing in again works and starts the only live session.
		again := s.ckAuthAs(t, "login", emailA, pw, "again")
		if got := ckSessionIDs(s.ckSessions(t, again.Access)); !slices.Equal(got, []string{again.SID}) {
			t.Errorf("sessions after logoutAll and login = %v, want only %s", got, again.SID)
		}
	})
}

func TestChangePassword(t *testing.T) {
	s := ckStart(t, nil)
	const (
		oldPw = "old-password-1"
		newPw = "brand-new-password-2"
	)
	emailA := uniqueEmail(t, 1)
	a1 := s.ckAuthAs(t, "signup", emailA, oldPw, "a1")
	a2 := s.ckAuthAs(t, "login", emailA, oldPw, "a2")
	a3 := s.ckAuthAs(t, "login", emailA, oldPw, "a3")
	emailB := uniqueEmail(t, 2)
	b1 := s.ckAuthAs(t, "signup", emailB, oldPw, "b1")
	change := func(token, current, next string) gqlResponse {
		t.Helper()
		return s.post(t, token, ckChangePwQ, map[string]any{"c": current, "n": next})
	}
	loginCode := func(email, pw string) string {
		t.Helper()
		r := s.post(t, "", ckLoginQ, map[string]any{"in": map[string]any{"email": email, "password": pw}})
		if len(r.Errors) == 0 {
			return "OK"
		}
		return r.Errors[0].Code()
	}
	// mustUnchanged checks that a refused change changed nothing.
	mustUnchanged := func(t *testing.T, r gqlResponse, field string, secrets ...string) {
		t.Helper()
		e := r.mustCode(t, "BAD_USER_INPUT")
		if got, _ := e.Extensions["field"].(string); got != field {
			t.Errorf("extensions.field = %q, want %q: %s", got, field, r.Raw)
		}
		for _, sec := range secrets {
			if strings.Contains(r.Raw, sec) {
				t.Errorf("the response repeats a submitted password: %s", r.Raw)
			}
		}
		for _, tok := range []ckTokens{a1, a2, a3} {
			s.ckMustMe(t, tok.Access, tok.UserID, "after a refused change")
		}
		if got := loginCode(emailA, oldPw); got != "OK" {
			t.Errorf("old password no longer logs in: %s", got)
		}
	}

	t.Run("ErrWrongCurrentPassword", func(t *testing.T) {
		r := change(a1.Access, "wrong-password-9", newPw)
		mustUnchanged(t, r, "currentPassword", "wrong-password-9", newPw)
		if got := loginCode(emailA, newPw); got != "UNAUTHENTICATED" {
			t.Errorf("new password logs in after a refused change: %s", got)
		}
	})

	t.Run("ErrWeakNewPassword", func(t *testing.T) {
		for _, weak := range []string{"", "short", "1234567"} {
			mustUnchanged(t, change(a1.Access, oldPw, weak), "newPassword", oldPw)
		}
	})

	t.Run("ErrNewPasswordTooLong", func(t *testing.T) {
		long := strings.Repeat("p", 73)
		mustUnchanged(t, change(a1.Access, oldPw, long), "newPassword", long, oldPw)
	})

	t.Run("ErrCurrentPasswordTooLong", func(t *testing.T) {
		// No stored password is longer than 72 bytes, so this is a wrong
		// current password; the error names the argument that is wrong.
		long := strings.Repeat("q", 73)
		mustUnchanged(t, change(a1.Access, long, newPw), "currentPassword", long, newPw)
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		change("", oldPw, newPw).mustCode(t, "UNAUTHENTICATED")
		change("not-a-token", oldPw, newPw).mustCode(t, "UNAUTHENTICATED")
		if got := loginCode(emailA, oldPw); got != "OK" {
			t.Errorf("old password no longer logs in: %s", got)
		}
	})

	t.Run("OK", func(t *testing.T) {
		// A cookie session of the same user is one of the "other" sessions.
		browser := ckNewBrowser(t, s, ckOrigin)
		browser.mustAuth(t, "login", emailA, oldPw, "COOKIES")
		r := change(a1.Access, oldPw, newPw).mustNoErrors(t)
		var d struct{ ChangePassword bool }
		r.decode(t, &d)
		if !d.ChangePassword {
			t.Fatalf("changePassword = false: %s", r.Raw)
		}
		if strings.Contains(r.Raw, newPw) || strings.Contains(r.Raw, oldPw) {
			t.Errorf("the response repeats a password: %s", r.Raw)
		}
		// The caller's session keeps working, also through a refresh.
		s.ckMustMe(t, a1.Access, a1.UserID, "the changing session")
		if got := ckSessionIDs(s.ckSessions(t, a1.Access)); !slices.Equal(got, []string{a1.SID}) {
			t.Errorf("sessions after the change = %v, want only the caller's %s", got, a1.SID)
		}
		a1 = s.ckMustRotate(t, a1, "the changing session")
		s.ckMustMe(t, a1.Access, a1.UserID, "the changing session after a refresh")
		// Every other session ended.
		s.ckMustDead(t, a2, "a2")
		s.ckMustDead(t, a3, "a3")
		ckMustUnauth(t, browser.gql(t, ckMeQ, nil, nil), "cookie session: me")
		ckMustUnauth(t, browser.gql(t, ckRefreshSQ, nil, nil), "cookie session: refreshSession")
		// Passwords.
		if got := loginCode(emailA, oldPw); got != "UNAUTHENTICATED" {
			t.Errorf("old password: login %s, want UNAUTHENTICATED", got)
		}
		if got := loginCode(emailA, newPw); got != "OK" {
			t.Errorf("new password: login %s, want OK", got)
		}
		// Another user is untouched.
		s.ckMustMe(t, b1.Access, b1.UserID, "b1")
		b1 = s.ckMustRotate(t, b1, "b1")
		if got := loginCode(emailB, oldPw); got != "OK" {
			t.Errorf("b's password: login %s, want OK", got)
		}
	})

	t.Run("ErrEndedSessionCannotChange", func(t *testing.T) {
		change(a2.Access, newPw, "yet-another-password-3").mustCode(t, "UNAUTHENTICATED")
		if got := loginCode(emailA, newPw); got != "OK" {
			t.Errorf("password changed by an ended session: login with the current one: %s", got)
		}
	})

	t.Run("OKByCookie", func(t *testing.T) {
		email := uniqueEmail(t, 3)
		s.ckAuthAs(t, "signup", email, oldPw, "c0")
		other := s.ckAuthAs(t, "login", email, oldPw, "c1")
		browser := ckNewBrowser(t, s, ckOrigin)
		browser.mustAuth(t, "login", email, oldPw, "COOKIES")
		browser.gql(t, ckChangePwQ, map[string]any{"c": oldPw, "n": newPw}, nil).mustNoErrors(t)
		s.ckMustDead(t, other, "other session")
		if id := ckMeID(t, browser.gql(t, ckMeQ, nil, nil)); id != other.UserID {
			t.Errorf("cookie session: me = %s, want %s", id, other.UserID)
		}
		browser.mustRefreshSession(t, "COOKIES")
		if id := ckMeID(t, browser.gql(t, ckMeQ, nil, nil)); id != other.UserID {
			t.Errorf("cookie session after refresh: me = %s, want %s", id, other.UserID)
		}
	})
}
