package main

// End-to-end races on accounts and sessions, run against the embedded
// database, where only unique indexes (not single updates) are atomic.

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// concRun runs n calls of f at once: all goroutines wait on one barrier so
// that the requests really overlap. It returns the results in order.
func concRun(tb testing.TB, n int, f func(i int) (gqlResponse, error)) []gqlResponse {
	tb.Helper()
	start := make(chan struct{})
	out := make([]gqlResponse, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	ready.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-start
			out[i], errs[i] = f(i)
		}(i)
	}
	ready.Wait()
	close(start)
	done.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

// Fifty signups with one email (in case and whitespace variants, each with
// its own password) at once: exactly one account is created, every other
// attempt is CONFLICT, and the account has the winner's password.
func TestConcurrentSignupOneEmail(t *testing.T) {
	s := mustStartServer(t, nil)
	const n = 50
	variants := []string{"race@example.com", "Race@Example.com", " RACE@EXAMPLE.COM ", "race@EXAMPLE.com\t"}
	password := func(i int) string { return fmt.Sprintf("race-password-%02d", i) }

	results := concRun(t, n, func(i int) (gqlResponse, error) {
		return s.postE("", accSignupMutation, map[string]any{"in": map[string]any{
			"email": variants[i%len(variants)], "password": password(i), "name": fmt.Sprintf("Racer %d", i),
		}})
	})

	winner, conflicts := -1, 0
	var winnerID string
	for i, r := range results {
		if r.Status != http.StatusOK {
			t.Errorf("request %d: status %d, want 200: %s", i, r.Status, r.Raw)
		}
		switch {
		case len(r.Errors) == 0:
			if winner >= 0 {
				t.Errorf("requests %d and %d both created the account", winner, i)
			}
			winner = i
			var d struct{ Signup authPayload }
			r.decode(t, &d)
			winnerID = d.Signup.User.ID
			if d.Signup.User.Email == nil || *d.Signup.User.Email != "race@example.com" {
				t.Errorf("winner email = %v, want race@example.com", accStr(d.Signup.User.Email))
			}
		case len(r.Errors) == 1 && r.Errors[0].Code() == "CONFLICT":
			conflicts++
		default:
			t.Errorf("request %d: want success or one CONFLICT, got %s", i, r.Raw)
		}
	}
	if winner < 0 {
		t.Fatalf("no signup succeeded; %d conflicts", conflicts)
	}
	if conflicts != n-1 {
		t.Errorf("%d conflicts, want %d", conflicts, n-1)
	}

	// The one account logs in with the winner's password, under any variant.
	p := s.mustLogin(t, "RACE@example.com", password(winner))
	if p.User.ID != winnerID {
		t.Errorf("login id = %s, want the winner's %s", p.User.ID, winnerID)
	}
	loser := (winner + 1) % n
	accLogin(t, s, "race@example.com", password(loser)).mustCode(t, "UNAUTHENTICATED")
	// And one more signup is still a conflict.
	accSignup(t, s, "race@example.com", "late-password-1", "Late").mustCode(t, "CONFLICT")
}

// Concurrent refreshes with one refresh token.
//
// What is asserted, and why:
//   - At most one refresh succeeds; every other gets UNAUTHENTICATED. Two
//     successes would mean two live refresh tokens in one session, which the
//     rotation (a unique index on the parent token) must prevent.
//   - Afterwards, at most one of the new refresh tokens that were handed out
//     can still be refreshed (the weak invariant: never two live tokens).
//   - Stronger, from the contract ("a refresh token used twice is refused the
//     second time, and the whole session it belongs to is ended"): all the
//     requests presented the same token, so it was used at least twice
//     however the requests interleaved, and the session has ended. So no new
//     refresh token can be refreshed, and both the original access token and
//     any new access token (same sid) are refused. The state is consistent:
//     there is no half-ended session where one token of it works and
//     another does not.
//   - The account itself is fine: the user can log in again.
func TestConcurrentRefresh(t *testing.T) {
	s := sessStart(t)
	rounds := []int{2, 2, 2, 2, 2, 10}
	for round, n := range rounds {
		t.Run(fmt.Sprintf("Round%d_%dRequests", round, n), func(t *testing.T) {
			email := fmt.Sprintf("refresher%d@example.com", round)
			p := s.mustSignup(t, email, "refresh-password-1", "Refresher")

			results := concRun(t, n, func(int) (gqlResponse, error) {
				return s.postE("", sessRefreshMutation, map[string]any{"t": p.RefreshToken})
			})

			var issued []authPayload
			for i, r := range results {
				if r.Status != http.StatusOK {
					t.Errorf("request %d: status %d, want 200", i, r.Status)
				}
				switch {
				case len(r.Errors) == 0:
					var d struct{ RefreshToken authPayload }
					r.decode(t, &d)
					issued = append(issued, d.RefreshToken)
				case len(r.Errors) == 1 && r.Errors[0].Code() == "UNAUTHENTICATED":
				default:
					t.Errorf("request %d: want success or one UNAUTHENTICATED, got %s", i, r.Raw)
				}
			}
			if len(issued) > 1 {
				t.Errorf("%d of %d concurrent refreshes with one token succeeded, want at most 1", len(issued), n)
			}
			if len(issued) == 0 {
				t.Logf("no refresh succeeded (allowed)")
			}

			live := 0
			for _, q := range issued {
				r := sessRefresh(t, s, q.RefreshToken)
				if len(r.Errors) == 0 {
					live++
				} else if len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
					t.Errorf("refresh of an issued token: want success or UNAUTHENTICATED, got %s", r.Raw)
				}
			}
			if live > 1 {
				t.Errorf("%d issued refresh tokens are live, want at most 1", live)
			}
			if live > 0 {
				t.Errorf("an issued refresh token still works after its parent was presented %d times; want the session ended", n)
			}
			for _, q := range issued {
				sessMustUnauthenticated(t, s, q.AccessToken, "new access token after concurrent reuse")
			}
			sessMustUnauthenticated(t, s, p.AccessToken, "original access token after concurrent reuse")
			sessMustRefreshRefused(t, s, p.RefreshToken, "original refresh token")

			s.mustLogin(t, email, "refresh-password-1")
		})
	}
}

// A refresh racing a logout of the same session. Whichever runs first, the
// logout ends the session, and a refresh creates no new session: its new
// pair (if it got one) belongs to the ended session. So afterwards every
// token of the session is refused, and there is no live session left.
func TestConcurrentRefreshAndLogout(t *testing.T) {
	s := sessStart(t)
	for round := 0; round < 5; round++ {
		t.Run(fmt.Sprintf("Round%d", round), func(t *testing.T) {
			email := fmt.Sprintf("leaver%d@example.com", round)
			p := s.mustSignup(t, email, "leave-password-1", "Leaver")

			results := concRun(t, 2, func(i int) (gqlResponse, error) {
				if i == 0 {
					return s.postE(p.AccessToken, `mutation { logout }`, nil)
				}
				return s.postE("", sessRefreshMutation, map[string]any{"t": p.RefreshToken})
			})

			if string(results[0].Data) != `{"logout":true}` || len(results[0].Errors) != 0 {
				t.Errorf("logout: want true, got %s", results[0].Raw)
			}
			refresh := results[1]
			switch {
			case len(refresh.Errors) == 0:
				var d struct{ RefreshToken authPayload }
				refresh.decode(t, &d)
				sessMustUnauthenticated(t, s, d.RefreshToken.AccessToken, "access token from a refresh racing logout")
				sessMustRefreshRefused(t, s, d.RefreshToken.RefreshToken, "refresh token from a refresh racing logout")
			case len(refresh.Errors) == 1 && refresh.Errors[0].Code() == "UNAUTHENTICATED":
			default:
				t.Errorf("refresh: want success or one UNAUTHENTICATED, got %s", refresh.Raw)
			}
			sessMustUnauthenticated(t, s, p.AccessToken, "logged-out access token")
			sessMustRefreshRefused(t, s, p.RefreshToken, "logged-out refresh token")
		})
	}
}

// Ensure no session signed in with the old password outlives a password
// change, not even one whose login checked the old password while the
// change was hashing the new one and stored its session after the other
// sessions were revoked. One bcrypt slot makes that window
// wide; several rounds, as the interleaving is not certain in any one.
func TestConcurrentLoginsDuringPasswordChange(t *testing.T) {
	// The race detector slows bcrypt several times over: the deadline is
	// raised so that the queue of hashes cannot run past it.
	s := mustStartServer(t, map[string]string{"BCRYPT_COST": "8", "BCRYPT_CONCURRENCY": "1", "REQUEST_TIMEOUT": "2m"})
	const oldPw, newPw, logins = "old-password-1", "new-password-2", 10
	for round := range 6 {
		email := uniqueEmail(t, round)
		changer := s.mustSignup(t, email, oldPw, "Changer")
		results := concRun(t, logins+1, func(i int) (gqlResponse, error) {
			if i == logins {
				return s.postE(changer.AccessToken,
					`mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`,
					map[string]any{"c": oldPw, "n": newPw})
			}
			// Spread the logins over the change: those that read the old
			// hash while the change hashes the new one queue behind it for
			// the one bcrypt slot, and store their sessions after it.
			time.Sleep(time.Duration(i) * 3 * time.Millisecond)
			return s.postE("", `mutation($in: LoginInput!) { login(input: $in) { accessToken refreshToken } }`,
				map[string]any{"in": map[string]any{"email": email, "password": oldPw}})
		})
		results[logins].mustNoErrors(t)

		won := 0
		for i, r := range results[:logins] {
			if len(r.Errors) > 0 {
				r.mustCode(t, "UNAUTHENTICATED") // it checked the new password
				continue
			}
			won++
			var d struct {
				Login struct{ AccessToken, RefreshToken string }
			}
			r.decode(t, &d)
			s.post(t, d.Login.AccessToken, `{ me { id } }`, nil).mustCode(t, "UNAUTHENTICATED")
			s.post(t, "", `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`,
				map[string]any{"t": d.Login.RefreshToken}).mustCode(t, "UNAUTHENTICATED")
			if t.Failed() {
				t.Fatalf("round %d: login %d with the old password still holds a live session after the change", round, i)
			}
		}
		t.Logf("round %d: %d of %d logins with the old password succeeded during the change; none is live after it", round, won, logins)
		s.post(t, changer.AccessToken, `{ me { id } }`, nil).mustNoErrors(t)
		s.mustLogin(t, email, newPw)
	}
}
