package main

// End-to-end tests of the brute-force limits on login, signup, refresh and
// changePassword: what is counted (per email, per client address, per
// session, per operation), who the client is (X-Forwarded-For only from a
// trusted proxy), that counts are shared through the database, hold under
// concurrency, and lift after the window.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// rlSecret is the JWT_SECRET shared by two instances over one database.
// Random-looking, 48 bytes, no example words.
const rlSecret = "k7Rw2QpXz9LmV4cT8yHn3BfJ6sGd1UaE5oWi0ZqNt4MvKx2P"

const (
	rlLoginMutation   = `mutation($in: LoginInput!) { login(input: $in) { accessToken refreshToken } }`
	rlSignupMutation  = `mutation($in: SignupInput!) { signup(input: $in) { accessToken refreshToken } }`
	rlRefreshMutation = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }`
	rlChangePassword  = `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`
	rlRateLimited     = "RATE_LIMITED"
	rlUnauthenticated = "UNAUTHENTICATED"
)

// rlRequest builds POST /graphql with an optional bearer token and extra
// headers (each value added, so a header may repeat).
func rlRequest(tb testing.TB, s *testServer, token, query string, vars map[string]any, hdr http.Header) *http.Request {
	tb.Helper()
	req := s.mustPostRequest(tb, token, query, vars)
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

// rlXFF returns headers with one X-Forwarded-For line per value.
func rlXFF(values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add("X-Forwarded-For", v)
	}
	return h
}

// rlLogin sends one login without checking the answer.
func rlLogin(tb testing.TB, s *testServer, email, password string, hdr http.Header) gqlResponse {
	tb.Helper()
	return s.do(tb, rlRequest(tb, s, "", rlLoginMutation,
		map[string]any{"in": map[string]any{"email": email, "password": password}}, hdr))
}

// rlSignup sends one signup without checking the answer.
func rlSignup(tb testing.TB, s *testServer, email, password string, hdr http.Header) gqlResponse {
	tb.Helper()
	return s.do(tb, rlRequest(tb, s, "", rlSignupMutation,
		map[string]any{"in": map[string]any{"email": email, "password": password, "name": "Limited"}}, hdr))
}

// rlRefresh sends one refreshToken without checking the answer.
func rlRefresh(tb testing.TB, s *testServer, refreshToken string, hdr http.Header) gqlResponse {
	tb.Helper()
	return s.do(tb, rlRequest(tb, s, "", rlRefreshMutation, map[string]any{"t": refreshToken}, hdr))
}

// rlTokens decodes the accessToken and refreshToken of a successful login,
// signup or refresh (whichever field the response holds).
func rlTokens(tb testing.TB, r gqlResponse) (access, refresh string) {
	tb.Helper()
	r.mustNoErrors(tb)
	var d map[string]struct {
		AccessToken  string `json:"accessToken"`
		RefreshToken string `json:"refreshToken"`
	}
	r.decode(tb, &d)
	for _, p := range d {
		if p.AccessToken == "" || p.RefreshToken == "" {
			tb.Fatalf("empty tokens: %s", r.Raw)
		}
		return p.AccessToken, p.RefreshToken
	}
	tb.Fatalf("no payload: %s", r.Raw)
	return "", ""
}

// rlMustCode checks that r is HTTP 200 with exactly one error, with code,
// and returns it. what names the attempt in failure messages.
func rlMustCode(tb testing.TB, r gqlResponse, code, what string) gqlError {
	tb.Helper()
	if r.Status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].Code() != code {
		tb.Fatalf("%s: want one %s with status 200, got (status %d) %s", what, code, r.Status, r.Raw)
	}
	return r.Errors[0]
}

// rlMustLimited checks that r is exactly one RATE_LIMITED error with a
// retryAfter within the window, and returns it.
func rlMustLimited(tb testing.TB, r gqlResponse, window time.Duration, what string) gqlError {
	tb.Helper()
	e := rlMustCode(tb, r, rlRateLimited, what)
	rlCheckRetryAfter(tb, e, window, what)
	return e
}

// rlCheckRetryAfter checks that a RATE_LIMITED error carries
// extensions.retryAfter as whole seconds from 1 to the window, and returns it.
func rlCheckRetryAfter(tb testing.TB, e gqlError, window time.Duration, what string) int {
	tb.Helper()
	v, ok := e.Extensions["retryAfter"].(float64)
	if !ok || v != math.Trunc(v) || v < 1 || v > window.Seconds() {
		tb.Errorf("%s: retryAfter = %v (%T), want whole seconds from 1 to %v", what, e.Extensions["retryAfter"],
			e.Extensions["retryAfter"], window.Seconds())
		return 0
	}
	return int(v)
}

// rlAliasedLogins builds one mutation document with a login field per email,
// aliased a0, a1, …, all with password, and its variables.
func rlAliasedLogins(emails []string, password string) (string, map[string]any) {
	var params, fields strings.Builder
	vars := map[string]any{"p": password}
	params.WriteString("$p: String!")
	for i, e := range emails {
		fmt.Fprintf(&params, ", $e%d: String!", i)
		fmt.Fprintf(&fields, " a%d: login(input: {email: $e%d, password: $p}) { accessToken }", i, i)
		vars[fmt.Sprintf("e%d", i)] = e
	}
	return "mutation(" + params.String() + ") {" + fields.String() + " }", vars
}

// rlCodesByAlias maps each error's top-level path element (the alias) to its
// code, failing on an error without a path or two errors for one alias.
func rlCodesByAlias(tb testing.TB, r gqlResponse) map[string]gqlError {
	tb.Helper()
	out := map[string]gqlError{}
	for _, e := range r.Errors {
		if len(e.Path) == 0 {
			tb.Fatalf("error without a path: %s", r.Raw)
		}
		alias, _ := e.Path[0].(string)
		if _, dup := out[alias]; dup {
			tb.Fatalf("two errors for %q: %s", alias, r.Raw)
		}
		out[alias] = e
	}
	return out
}

// rlSessionIP returns the ip the server recorded for the token's session.
func rlSessionIP(tb testing.TB, s *testServer, token string) string {
	tb.Helper()
	r := s.post(tb, token, `{ sessions { ip current } }`, nil).mustNoErrors(tb)
	var d struct {
		Sessions []struct {
			IP      *string `json:"ip"`
			Current bool    `json:"current"`
		}
	}
	r.decode(tb, &d)
	for _, ss := range d.Sessions {
		if ss.Current {
			if ss.IP == nil {
				return ""
			}
			return *ss.IP
		}
	}
	tb.Fatalf("no current session: %s", r.Raw)
	return ""
}

// rlEmail makes a unique email for a test.
func rlEmail(tb testing.TB, name string) string {
	tb.Helper()
	return fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
}

// Ensure failed logins are counted per normalized email, successful ones
// are not, a correct password is refused once the account is locked, and
// an unknown email is locked exactly like a known one.
func TestRateLimitLoginAccount(t *testing.T) {
	const window = time.Hour
	s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ACCOUNT": "3/1h"})

	t.Run("OK", func(t *testing.T) {
		// Two failures, five successes, and the third failure is still
		// UNAUTHENTICATED: the successes were not counted.
		email := rlEmail(t, "ok")
		s.mustSignup(t, email, "right-password-1", "Ok")
		for i := 0; i < 2; i++ {
			rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, fmt.Sprintf("failure %d", i+1))
		}
		for i := 0; i < 5; i++ {
			rlTokens(t, rlLogin(t, s, email, "right-password-1", nil))
		}
		rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, "failure 3 after successes")
	})

	t.Run("ErrLocked", func(t *testing.T) {
		email := rlEmail(t, "locked")
		s.mustSignup(t, email, "right-password-1", "Locked")
		other := rlEmail(t, "bystander")
		s.mustSignup(t, other, "right-password-2", "Bystander")
		for i := 0; i < 3; i++ {
			rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, fmt.Sprintf("failure %d", i+1))
		}
		r := rlLogin(t, s, email, "wrong-password-1", nil)
		rlMustLimited(t, r, window, "failure 4")
		accMustNotEcho(t, r, email, "wrong-password-1")
		// The right password is refused too, under any spelling of the email.
		rlMustLimited(t, rlLogin(t, s, email, "right-password-1", nil), window, "right password")
		rlMustLimited(t, rlLogin(t, s, "  "+strings.ToUpper(email)+" ", "right-password-1", nil), window,
			"right password, email in upper case with spaces")
		// Another account is not affected.
		rlTokens(t, rlLogin(t, s, other, "right-password-2", nil))
	})

	t.Run("ErrUnknownEmail", func(t *testing.T) {
		// An email with no account is locked after the same number of
		// failures as an account, with the same codes and messages, so
		// lock-outs do not reveal which accounts exist.
		known := rlEmail(t, "known")
		s.mustSignup(t, known, "right-password-1", "Known")
		unknown := rlEmail(t, "ghost")
		for i := 0; i < 4; i++ {
			rk := rlLogin(t, s, known, "wrong-password-1", nil)
			ru := rlLogin(t, s, unknown, "wrong-password-1", nil)
			want, what := rlUnauthenticated, fmt.Sprintf("failure %d", i+1)
			if i == 3 {
				want = rlRateLimited
				rlCheckRetryAfter(t, rlMustCode(t, rk, want, "known "+what), window, "known "+what)
				rlCheckRetryAfter(t, rlMustCode(t, ru, want, "unknown "+what), window, "unknown "+what)
			}
			ek := rlMustCode(t, rk, want, "known "+what)
			eu := rlMustCode(t, ru, want, "unknown "+what)
			if ek.Message != eu.Message {
				t.Errorf("%s: unknown email says %q, known account %q", what, eu.Message, ek.Message)
			}
		}
	})
}

// Ensure every login field counts, however many share one document: ten
// aliased logins are ten attempts, per account and per address.
func TestRateLimitLoginAliases(t *testing.T) {
	const window = time.Hour
	t.Run("ErrAccount", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ACCOUNT": "3/1h"})
		email := rlEmail(t, "alias")
		s.mustSignup(t, email, "right-password-1", "Alias")
		emails := make([]string, 10)
		for i := range emails {
			emails[i] = email
		}
		q, vars := rlAliasedLogins(emails, "wrong-password-1")
		r := s.post(t, "", q, vars)
		if r.Status != http.StatusOK || len(r.Errors) != 10 {
			t.Fatalf("want 10 errors with status 200, got (status %d) %s", r.Status, r.Raw)
		}
		byAlias := rlCodesByAlias(t, r)
		// Mutation fields run in order: the first three fail, the rest are refused.
		for i := range emails {
			alias := fmt.Sprintf("a%d", i)
			want := rlRateLimited
			if i < 3 {
				want = rlUnauthenticated
			}
			e, ok := byAlias[alias]
			if !ok || e.Code() != want {
				t.Errorf("%s: code %q, want %s", alias, e.Code(), want)
				continue
			}
			if want == rlRateLimited {
				rlCheckRetryAfter(t, e, window, alias)
			}
		}
		rlMustLimited(t, rlLogin(t, s, email, "right-password-1", nil), window, "right password after the document")
	})

	t.Run("ErrAddress", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ADDRESS": "3/1m"})
		emails := make([]string, 5)
		for i := range emails {
			emails[i] = rlEmail(t, fmt.Sprintf("spray%d", i))
		}
		q, vars := rlAliasedLogins(emails, "wrong-password-1")
		r := s.post(t, "", q, vars)
		if r.Status != http.StatusOK || len(r.Errors) != 5 {
			t.Fatalf("want 5 errors with status 200, got (status %d) %s", r.Status, r.Raw)
		}
		byAlias := rlCodesByAlias(t, r)
		for i := range emails {
			alias := fmt.Sprintf("a%d", i)
			want := rlRateLimited
			if i < 3 {
				want = rlUnauthenticated
			}
			if e := byAlias[alias]; e.Code() != want {
				t.Errorf("%s: code %q, want %s", alias, e.Code(), want)
			}
		}
		rlMustLimited(t, rlLogin(t, s, rlEmail(t, "next"), "wrong-password-1", nil), time.Minute, "next login")
	})
}

// Ensure wrong current passwords in changePassword count towards the login
// limit of the account, in both directions, and correct ones do not.
func TestRateLimitChangePassword(t *testing.T) {
	const window = time.Hour
	s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ACCOUNT": "3/1h"})
	change := func(t *testing.T, token, current, next string) gqlResponse {
		t.Helper()
		return s.post(t, token, rlChangePassword, map[string]any{"c": current, "n": next})
	}

	t.Run("OK", func(t *testing.T) {
		email := rlEmail(t, "changer")
		tok := s.mustSignup(t, email, "first-password-1", "Changer").AccessToken
		for i := 0; i < 2; i++ {
			rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, fmt.Sprintf("failure %d", i+1))
		}
		change(t, tok, "first-password-1", "second-password-2").mustNoErrors(t)
		change(t, tok, "second-password-2", "third-password-3").mustNoErrors(t)
		// Two counted failures: the third is still UNAUTHENTICATED.
		rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, "failure 3")
	})

	t.Run("ErrWrongCurrent", func(t *testing.T) {
		email := rlEmail(t, "guesser")
		tok := s.mustSignup(t, email, "first-password-1", "Guesser").AccessToken
		for i := 0; i < 3; i++ {
			r := change(t, tok, fmt.Sprintf("guess-password-%d", i), "new-password-99")
			e := rlMustCode(t, r, "BAD_USER_INPUT", fmt.Sprintf("wrong current password %d", i+1))
			if f, _ := e.Extensions["field"].(string); f != "currentPassword" {
				t.Errorf("field = %q, want currentPassword", f)
			}
		}
		// Locked: even the right current password, and a login.
		rlMustLimited(t, change(t, tok, "first-password-1", "new-password-99"), window, "right current password")
		rlMustLimited(t, rlLogin(t, s, email, "first-password-1", nil), window, "login with the right password")
	})

	t.Run("ErrAfterFailedLogins", func(t *testing.T) {
		email := rlEmail(t, "victim")
		tok := s.mustSignup(t, email, "first-password-1", "Victim").AccessToken
		for i := 0; i < 3; i++ {
			rlMustCode(t, rlLogin(t, s, " "+strings.ToUpper(email), "wrong-password-1", nil), rlUnauthenticated,
				fmt.Sprintf("failure %d", i+1))
		}
		rlMustLimited(t, change(t, tok, "first-password-1", "new-password-99"), window, "changePassword")
	})
}

// Ensure the per-address limit counts the TCP peer unless it is a trusted
// proxy: X-Forwarded-For from anyone else is ignored, and behind a trusted
// proxy the right-most untrusted hop is the client.
func TestRateLimitClientAddress(t *testing.T) {
	const window = time.Minute

	t.Run("ErrSpoofedForwardedFor", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ADDRESS": "3/1m"})
		email := rlEmail(t, "real")
		// Signups do not count towards the login limit; the session is
		// recorded under the peer, not the header.
		tok, _ := rlTokens(t, rlSignup(t, s, email, "right-password-1", rlXFF("192.0.2.1")))
		if ip := rlSessionIP(t, s, tok); ip != "127.0.0.1" {
			t.Errorf("session ip = %q, want the peer 127.0.0.1 (X-Forwarded-For from an untrusted peer)", ip)
		}
		for i := 0; i < 3; i++ {
			h := rlXFF(fmt.Sprintf("198.51.100.%d", i+1))
			h.Set("X-Real-IP", fmt.Sprintf("203.0.113.%d", i+1))
			h.Set("Forwarded", fmt.Sprintf("for=192.0.2.%d", i+10))
			rlMustCode(t, rlLogin(t, s, rlEmail(t, "spray"), "wrong-password-1", h), rlUnauthenticated,
				fmt.Sprintf("attempt %d", i+1))
		}
		for i, h := range []http.Header{
			rlXFF("198.51.100.99"),
			rlXFF("10.0.0.1, 127.0.0.2"),
			rlXFF("::1"),
			nil,
		} {
			rlMustLimited(t, rlLogin(t, s, rlEmail(t, "spray"), "wrong-password-1", h), window,
				fmt.Sprintf("attempt %d with X-Forwarded-For %q", i+4, h.Values("X-Forwarded-For")))
		}
		// The right password of a real account is refused as well.
		rlMustLimited(t, rlLogin(t, s, email, "right-password-1", rlXFF("192.0.2.77")), window, "right password")
	})

	t.Run("OK", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ADDRESS": "3/1m", "TRUSTED_PROXIES": "127.0.0.1"})
		// Behind the proxy, each client has its own budget.
		for _, client := range []string{"203.0.113.9", "198.51.100.7", "2001:db8::1"} {
			for i := 0; i < 3; i++ {
				rlMustCode(t, rlLogin(t, s, rlEmail(t, "client"), "wrong-password-1", rlXFF(client)), rlUnauthenticated,
					fmt.Sprintf("%s attempt %d", client, i+1))
			}
		}
		// And the session records the client, not the proxy.
		tok, _ := rlTokens(t, rlSignup(t, s, rlEmail(t, "behind"), "right-password-1", rlXFF("6.6.6.6, 192.0.2.44")))
		if ip := rlSessionIP(t, s, tok); ip != "192.0.2.44" {
			t.Errorf("session ip = %q, want 192.0.2.44 (the right-most untrusted hop)", ip)
		}
	})

	t.Run("ErrPrependedHop", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ADDRESS": "3/1m", "TRUSTED_PROXIES": "127.0.0.1"})
		const client = "203.0.113.9"
		for i := 0; i < 3; i++ {
			rlMustCode(t, rlLogin(t, s, rlEmail(t, "hop"), "wrong-password-1", rlXFF(client)), rlUnauthenticated,
				fmt.Sprintf("attempt %d", i+1))
		}
		// What the client prepends is to the left of what the proxy appended.
		for _, h := range []http.Header{
			rlXFF("6.6.6.6, " + client),
			rlXFF("6.6.6.6", client),
			rlXFF("1.1.1.1, 2.2.2.2, 3.3.3.3, " + client),
			rlXFF(client + ", 127.0.0.1"),
			rlXFF(client),
		} {
			rlMustLimited(t, rlLogin(t, s, rlEmail(t, "hop"), "wrong-password-1", h), window,
				fmt.Sprintf("X-Forwarded-For %q", h.Values("X-Forwarded-For")))
		}
		// Another client behind the same proxy is unaffected.
		rlMustCode(t, rlLogin(t, s, rlEmail(t, "hop"), "wrong-password-1", rlXFF(client+", 198.51.100.8")),
			rlUnauthenticated, "another client")
	})
}

// Ensure signups are limited per email (in any spelling) and per address.
func TestRateLimitSignup(t *testing.T) {
	t.Run("ErrAccount", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_SIGNUP_ACCOUNT": "2/1h"})
		email := rlEmail(t, "taken")
		rlTokens(t, rlSignup(t, s, email, "right-password-1", nil))
		rlMustCode(t, rlSignup(t, s, strings.ToUpper(email), "other-password-2", nil), "CONFLICT", "second signup")
		r := rlSignup(t, s, "  "+email+" ", "other-password-3", nil)
		rlMustLimited(t, r, time.Hour, "third signup")
		accMustNotEcho(t, r, email, "other-password-3")
		// Another email is not affected, and neither is login.
		rlTokens(t, rlSignup(t, s, rlEmail(t, "fresh"), "right-password-1", nil))
		s.mustLogin(t, email, "right-password-1")
	})

	t.Run("ErrAddress", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_SIGNUP_ADDRESS": "3/10m"})
		first := rlEmail(t, "first")
		for i := 0; i < 3; i++ {
			email := rlEmail(t, fmt.Sprintf("bulk%d", i))
			if i == 0 {
				email = first
			}
			rlTokens(t, rlSignup(t, s, email, "right-password-1", rlXFF(fmt.Sprintf("198.51.100.%d", i))))
		}
		rlMustLimited(t, rlSignup(t, s, rlEmail(t, "bulk"), "right-password-1", rlXFF("198.51.100.200")),
			10*time.Minute, "fourth signup")
		s.mustLogin(t, first, "right-password-1")
	})
}

// Ensure refreshes are limited per session and per address, and a refused
// refresh does not burn the refresh token.
func TestRateLimitRefresh(t *testing.T) {
	const window = time.Minute

	t.Run("ErrSession", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_REFRESH_SESSION": "3/1m"})
		email := rlEmail(t, "refresher")
		_, rt := rlTokens(t, rlSignup(t, s, email, "right-password-1", nil))
		for i := 0; i < 3; i++ {
			_, rt = rlTokens(t, rlRefresh(t, s, rt, nil))
		}
		rlMustLimited(t, rlRefresh(t, s, rt, nil), window, "refresh 4")
		rlMustLimited(t, rlRefresh(t, s, rt, rlXFF("192.0.2.5")), window, "refresh 5")
		// Another session of the same user has its own budget.
		other := s.mustLogin(t, email, "right-password-1")
		rlTokens(t, rlRefresh(t, s, other.RefreshToken, nil))
	})

	t.Run("ErrAddress", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_REFRESH_ADDRESS": "3/1m"})
		_, rt := rlTokens(t, rlSignup(t, s, rlEmail(t, "holder"), "right-password-1", nil))
		for i := 0; i < 3; i++ {
			rlMustCode(t, rlRefresh(t, s, sessRandomHex(t, 32), rlXFF(fmt.Sprintf("198.51.100.%d", i))),
				rlUnauthenticated, fmt.Sprintf("guess %d", i+1))
		}
		rlMustLimited(t, rlRefresh(t, s, rt, rlXFF("198.51.100.50")), window, "valid refresh after guesses")
	})
}

// Ensure a limit lifts once its window has passed, and that retryAfter says
// so: login and refresh with a window of 2 s.
func TestRateLimitWindowLifts(t *testing.T) {
	const window = 2 * time.Second
	s := mustStartServer(t, map[string]string{
		"RATE_LIMIT_LOGIN_ACCOUNT":   "2/2s",
		"RATE_LIMIT_REFRESH_SESSION": "2/2s",
	})
	email := rlEmail(t, "patient")
	_, rt := rlTokens(t, rlSignup(t, s, email, "right-password-1", nil))

	t.Run("ErrWithinWindow", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			_, rt = rlTokens(t, rlRefresh(t, s, rt, nil))
		}
		rlMustLimited(t, rlRefresh(t, s, rt, nil), window, "refresh 3")
		for i := 0; i < 2; i++ {
			rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, fmt.Sprintf("failure %d", i+1))
		}
		rlMustLimited(t, rlLogin(t, s, email, "wrong-password-1", nil), window, "failure 3")
		rlMustLimited(t, rlLogin(t, s, email, "right-password-1", nil), window, "right password")
	})

	time.Sleep(window + 200*time.Millisecond)

	t.Run("OK", func(t *testing.T) {
		s.mustLogin(t, email, "right-password-1")
		// The refused refresh left the token alive.
		rlTokens(t, rlRefresh(t, s, rt, nil))
		rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, "failure after the window")
	})
}

// Ensure two instances over one database share the counts.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := mongodb.StartEmbedded(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatalf("start the shared database: %v", err)
	}
	t.Cleanup(db.Stop) // registered first, so it runs after both servers stop
	env := map[string]string{
		"MONGODB_URI":              db.URI(),
		"JWT_SECRET":               rlSecret,
		"RATE_LIMIT_LOGIN_ACCOUNT": "4/1h",
	}
	a := mustStartServer(t, env)
	b := mustStartServer(t, env)

	email := rlEmail(t, "shared")
	a.mustSignup(t, email, "right-password-1", "Shared")
	other := rlEmail(t, "bystander")
	b.mustSignup(t, other, "right-password-2", "Bystander")

	t.Run("OK", func(t *testing.T) {
		// One database: an account made on one instance logs in on the other.
		b.mustLogin(t, email, "right-password-1")
		a.mustLogin(t, other, "right-password-2")
	})

	t.Run("ErrLocked", func(t *testing.T) {
		for i, s := range []*testServer{a, a, b, b} {
			rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, fmt.Sprintf("failure %d", i+1))
		}
		rlMustLimited(t, rlLogin(t, b, email, "wrong-password-1", nil), time.Hour, "failure 5 on b")
		rlMustLimited(t, rlLogin(t, a, email, "wrong-password-1", nil), time.Hour, "failure 5 on a")
		rlMustLimited(t, rlLogin(t, a, email, "right-password-1", nil), time.Hour, "right password on a")
		b.mustLogin(t, other, "right-password-2")
	})
}

// Ensure concurrent attempts cannot slip past a limit together, and that
// the refused ones are not left counted.
func TestRateLimitConcurrent(t *testing.T) {
	const n, limit = 20, 5

	t.Run("ErrAccount", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ACCOUNT": fmt.Sprintf("%d/1h", limit)})
		email := rlEmail(t, "stormed")
		s.mustSignup(t, email, "right-password-1", "Stormed")
		results := concRun(t, n, func(i int) (gqlResponse, error) {
			return s.postE("", rlLoginMutation, map[string]any{"in": map[string]any{
				"email": email, "password": fmt.Sprintf("wrong-password-%02d", i)}})
		})
		failed := 0
		for i, r := range results {
			switch {
			case r.Status == http.StatusOK && len(r.Errors) == 1 && r.Errors[0].Code() == rlUnauthenticated:
				failed++
			case r.Status == http.StatusOK && len(r.Errors) == 1 && r.Errors[0].Code() == rlRateLimited:
				rlCheckRetryAfter(t, r.Errors[0], time.Hour, fmt.Sprintf("request %d", i))
			default:
				t.Errorf("request %d: want UNAUTHENTICATED or RATE_LIMITED, got (status %d) %s", i, r.Status, r.Raw)
			}
		}
		if failed != limit {
			t.Fatalf("%d wrong passwords were checked, want exactly the first %d", failed, limit)
		}
		// Exactly the checked ones were counted: the rest of the budget is
		// still there, and then the account is locked.
		for i := failed; i < limit; i++ {
			rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", nil), rlUnauthenticated, fmt.Sprintf("failure %d", i+1))
		}
		rlMustLimited(t, rlLogin(t, s, email, "wrong-password-1", nil), time.Hour, "failure past the limit")
		rlMustLimited(t, rlLogin(t, s, email, "right-password-1", nil), time.Hour, "right password")
	})

	t.Run("ErrRetryAfterPastWindow", func(t *testing.T) {
		// retryAfter stays within the window also when the attempts that
		// fill it are concurrent with the refused one. Several bursts, as
		// the interleaving that shows it is not certain in any one burst.
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ACCOUNT": fmt.Sprintf("%d/1h", limit)})
		bad := map[int]int{}
		for burst := 0; burst < 4; burst++ {
			email := rlEmail(t, fmt.Sprintf("burst%d", burst))
			results := concRun(t, n, func(i int) (gqlResponse, error) {
				return s.postE("", rlLoginMutation, map[string]any{"in": map[string]any{
					"email": email, "password": "wrong-password-1"}})
			})
			for _, r := range results {
				if len(r.Errors) != 1 || r.Errors[0].Code() != rlRateLimited {
					continue
				}
				v, _ := r.Errors[0].Extensions["retryAfter"].(float64)
				if v < 1 || v > time.Hour.Seconds() || v != math.Trunc(v) {
					bad[int(v)]++
				}
			}
		}
		if len(bad) > 0 {
			t.Errorf("retryAfter values outside 1..3600 (value: how many): %v", bad)
		}
	})

	t.Run("ErrAddress", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_LOGIN_ADDRESS": fmt.Sprintf("%d/1m", limit)})
		results := concRun(t, n, func(i int) (gqlResponse, error) {
			return s.postE("", rlLoginMutation, map[string]any{"in": map[string]any{
				"email": fmt.Sprintf("spray%02d@example.com", i), "password": "wrong-password-1"}})
		})
		counts := map[string]int{}
		for _, r := range results {
			counts[strings.Join(r.Codes(), ",")]++
		}
		if counts[rlUnauthenticated] != limit || counts[rlRateLimited] != n-limit {
			t.Errorf("codes %v: want exactly %d UNAUTHENTICATED and the rest RATE_LIMITED", counts, limit)
		}
	})

	t.Run("OKSignupBurst", func(t *testing.T) {
		// A burst of signups for one email admits exactly the first limit
		// attempts: one account and limit-1 CONFLICTs, never a burst in
		// which everyone, the legitimate signup included, is refused.
		s := mustStartServer(t, map[string]string{"RATE_LIMIT_SIGNUP_ACCOUNT": fmt.Sprintf("%d/1h", limit)})
		for round := 0; round < 3; round++ {
			email := rlEmail(t, fmt.Sprintf("burst%d", round))
			results := concRun(t, 10, func(i int) (gqlResponse, error) {
				return s.postE("", rlSignupMutation, map[string]any{"in": map[string]any{
					"email": email, "password": "right-password-1", "name": "Burst"}})
			})
			counts := map[string]int{}
			for _, r := range results {
				counts[strings.Join(r.Codes(), ",")]++
			}
			if counts[""] != 1 || counts["CONFLICT"] != limit-1 || counts[rlRateLimited] != 10-limit {
				t.Errorf("round %d: codes %v; want 1 success, %d CONFLICT, %d RATE_LIMITED", round, counts, limit-1, 10-limit)
			}
		}
	})
}

// Ensure guessing from one address locks out that address, not the
// account's owner elsewhere, while guessing spread over many addresses
// still meets the per-account limit.
func TestRateLimitLoginAccountAddress(t *testing.T) {
	s := mustStartServer(t, map[string]string{
		"RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS": "3/15m", "RATE_LIMIT_LOGIN_ACCOUNT": "6/1h", "TRUSTED_PROXIES": "127.0.0.1",
	})
	email := rlEmail(t, "owner")
	s.mustSignup(t, email, "right-password-1", "Owner")
	attacker, owner := rlXFF("203.0.113.66"), rlXFF("198.51.100.10")

	for i := 0; i < 3; i++ {
		rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", attacker), rlUnauthenticated, fmt.Sprintf("guess %d", i+1))
	}
	rlMustLimited(t, rlLogin(t, s, email, "wrong-password-1", attacker), 15*time.Minute, "guess past the pair limit")
	rlMustLimited(t, rlLogin(t, s, email, "right-password-1", attacker), 15*time.Minute, "right password from the attacker")
	// The owner, elsewhere, is not locked out, and their success uncounts.
	rlTokens(t, rlLogin(t, s, email, "right-password-1", owner))

	// Spread over addresses, the guesses meet the looser account limit:
	// three more failures make six, and then everyone is refused.
	for i, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		rlMustCode(t, rlLogin(t, s, email, "wrong-password-1", rlXFF(addr)), rlUnauthenticated, fmt.Sprintf("spread guess %d", i+1))
	}
	rlMustLimited(t, rlLogin(t, s, email, "wrong-password-1", rlXFF("192.0.2.4")), time.Hour, "spread guess past the account limit")
	rlMustLimited(t, rlLogin(t, s, email, "right-password-1", owner), time.Hour, "owner after the spread attack")
}

// Ensure a refused login spends no bcrypt work. With one bcrypt slot kept
// busy by a flood of logins, a login that hashed would queue behind the
// flood for several hashes; a refused one answers while about one flood
// login completes at most.
func TestRateLimitRefusesBeforeBcrypt(t *testing.T) {
	s := mustStartServer(t, map[string]string{
		"RATE_LIMIT_LOGIN_ACCOUNT": "1/1h",
		"BCRYPT_COST":              "10",
		"BCRYPT_CONCURRENCY":       "1",
	})
	locked := rlEmail(t, "locked")
	rlMustCode(t, rlLogin(t, s, locked, "wrong-password-1", nil), rlUnauthenticated, "failure 1")
	rlMustLimited(t, rlLogin(t, s, locked, "wrong-password-1", nil), time.Hour, "failure 2")

	const flooders = 4
	var completed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var seq atomic.Int64
	for f := 0; f < flooders; f++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// A fresh unknown email each time: every one is hashed.
				body, _ := json.Marshal(map[string]any{"query": rlLoginMutation, "variables": map[string]any{
					"in": map[string]any{"email": fmt.Sprintf("flood%d@example.com", seq.Add(1)), "password": "wrong-password-1"}}})
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := s.client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				completed.Add(1)
			}
		}()
	}
	stopFlood := func() { cancel(); wg.Wait() }
	defer stopFlood()

	// Every flooder sends at once, so by the first completion the others
	// are queued for the slot.
	deadline := time.Now().Add(20 * time.Second)
	for completed.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if completed.Load() < 1 {
		t.Fatalf("the flood did not get going: %d logins completed", completed.Load())
	}
	var during []int
	for i := 0; i < 5; i++ {
		before := completed.Load()
		start := time.Now()
		r := rlLogin(t, s, locked, "right-password-1", nil)
		took := time.Since(start)
		during = append(during, int(completed.Load()-before))
		rlMustLimited(t, r, time.Hour, fmt.Sprintf("refused login %d", i+1))
		t.Logf("refused login %d took %v while %d flood logins completed", i+1, took, during[i])
	}
	stopFlood()
	sort.Ints(during)
	if during[0] > 1 {
		t.Errorf("flood logins completed during each refused login: %v; a refused login seems to wait for bcrypt", during)
	}
}

// Ensure malformed limits stop the program at start, naming the variable.
func TestRateLimitConfig(t *testing.T) {
	for _, v := range []string{"lots", "5", "0/1h", "-1/1h", "5/0s", "5/500ms", "5/48h", "5/1x", "five/1h"} {
		t.Run("ErrMalformed", func(t *testing.T) {
			vars := testEnv(t.TempDir())
			vars["RATE_LIMIT_REFRESH_ADDRESS"] = v
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, []string{"server"}, func(k string) string { return vars[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "RATE_LIMIT_REFRESH_ADDRESS") {
				t.Errorf("RATE_LIMIT_REFRESH_ADDRESS=%q: run returned %v, want an error naming the variable", v, err)
			}
		})
	}

	t.Run("OK", func(t *testing.T) {
		// Unset, the defaults apply: 10 failures per account and address
		// in 15 minutes, and 5 signups per email per hour.
		s := mustStartServer(t, map[string]string{
			"RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS": "", "RATE_LIMIT_LOGIN_ACCOUNT": "", "RATE_LIMIT_SIGNUP_ACCOUNT": "",
		})
		email := rlEmail(t, "defaults")
		s.mustSignup(t, email, "right-password-1", "Defaults")
		emails := make([]string, 11)
		for i := range emails {
			emails[i] = email
		}
		q, vars := rlAliasedLogins(emails, "wrong-password-1")
		byAlias := rlCodesByAlias(t, s.post(t, "", q, vars))
		for i := range emails {
			alias := fmt.Sprintf("a%d", i)
			want := rlUnauthenticated
			if i == 10 {
				want = rlRateLimited
			}
			if e := byAlias[alias]; e.Code() != want {
				t.Errorf("login %d: code %q, want %s", i+1, e.Code(), want)
			}
		}
		for i := 0; i < 4; i++ {
			rlMustCode(t, rlSignup(t, s, email, "right-password-1", nil), "CONFLICT", fmt.Sprintf("signup %d", i+2))
		}
		rlMustLimited(t, rlSignup(t, s, email, "right-password-1", nil), time.Hour, "signup 6")
	})
}
