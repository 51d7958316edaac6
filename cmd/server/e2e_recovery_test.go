package main

// End-to-end tests of issue 13: password reset, email verification, email
// change, the security log, and the mail queue, through HTTP and a real SMTP
// server (smtpSink) that the program sends to via SMTP_URL.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

const (
	acAppURL   = "https://app.example.test"
	acPassword = "first-password-1"
	acNew      = "second-password-2"
)

const (
	acReqReset  = `mutation($e: String!) { requestPasswordReset(email: $e) }`
	acReset     = `mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { accessToken refreshToken user { id email emailVerified } } }`
	acVerify    = `mutation($t: String!) { verifyEmail(token: $t) }`
	acReqVerify = `mutation { requestEmailVerification }`
	acChange    = `mutation($p: String!, $e: String!) { changeEmail(currentPassword: $p, newEmail: $e) }`
	acMeQuery   = `{ me { id email emailVerified } }`
)

// acEnv sends mail to sink, links to acAppURL, and switches the mail
// limits off unless a test sets them.
func acEnv(sink *smtpSink, extra map[string]string) map[string]string {
	env := map[string]string{
		"APP_URL": acAppURL, "MAIL_FROM": "coursehub <no-reply@example.test>",
		"RATE_LIMIT_MAIL_RECIPIENT": "off", "RATE_LIMIT_MAIL_ADDRESS": "off",
	}
	if sink != nil {
		env["SMTP_URL"] = sink.URL()
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// acText returns the decoded text/plain part of a received mail.
func acText(tb testing.TB, raw string) string {
	tb.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		tb.Fatalf("parse mail: %v\n%s", err, raw)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		tb.Fatalf("mail content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(msg.Body)
		return string(b)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			tb.Fatalf("no text/plain part in the mail: %v\n%s", err, raw)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p)
			if err != nil {
				tb.Fatal(err)
			}
			return string(b)
		}
	}
}

var acLinkRE = regexp.MustCompile(`(https://app\.example\.test/[a-z-]+)\?token=([A-Za-z0-9_-]{43})`)

// acToken reads the link of a mail: it must lead to path on APP_URL.
func acToken(tb testing.TB, raw, path string) string {
	tb.Helper()
	m := acLinkRE.FindStringSubmatch(acText(tb, raw))
	if m == nil {
		tb.Fatalf("no link in the mail:\n%s", acText(tb, raw))
	}
	if m[1] != acAppURL+path {
		tb.Fatalf("link goes to %s, want %s", m[1], acAppURL+path)
	}
	return m[2]
}

// acResetToken asks for a reset of email and returns the token of the
// n-th mail to it.
func (s *testServer) acResetToken(tb testing.TB, sink *smtpSink, email string, n int) string {
	tb.Helper()
	s.acMustTrue(tb, "", acReqReset, map[string]any{"e": email}, "requestPasswordReset")
	return acToken(tb, sink.waitFor(tb, email, n)[n-1].Data, "/reset-password")
}

// acMustTrue runs a Boolean! mutation that must answer true.
func (s *testServer) acMustTrue(tb testing.TB, token, q string, vars map[string]any, field string) {
	tb.Helper()
	r := s.post(tb, token, q, vars).mustNoErrors(tb)
	var d map[string]bool
	r.decode(tb, &d)
	if !d[field] {
		tb.Fatalf("%s = false: %s", field, r.Raw)
	}
}

type acMe struct {
	ID            string  `json:"id"`
	Email         *string `json:"email"`
	EmailVerified *bool   `json:"emailVerified"`
}

func (s *testServer) acMe(tb testing.TB, token string) acMe {
	tb.Helper()
	var d struct{ Me acMe }
	s.post(tb, token, acMeQuery, nil).mustNoErrors(tb).decode(tb, &d)
	return d.Me
}

// acMustBadToken checks the one answer to a token that does not work.
func acMustBadToken(tb testing.TB, r gqlResponse, what string) string {
	tb.Helper()
	if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" {
		tb.Fatalf("%s: want one BAD_USER_INPUT, got: %s", what, r.Raw)
	}
	return r.Errors[0].Message
}

func TestRecoveryPasswordReset(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	email := uniqueEmail(t, 1)
	first := s.mustSignup(t, email, acPassword, "Ada")
	second := s.mustLogin(t, email, acPassword)

	tok := s.acResetToken(t, sink, email, 1)
	m := sink.to(email)[0]
	if !strings.Contains(m.From, "no-reply@example.test") {
		t.Errorf("mail from %q, want MAIL_FROM", m.From)
	}
	if !strings.Contains(m.Data, "text/html") {
		t.Errorf("mail has no HTML part:\n%s", m.Data)
	}

	t.Run("ErrWeakPasswordKeepsToken", func(t *testing.T) {
		r := s.post(t, "", acReset, map[string]any{"t": tok, "p": "short"})
		r.mustCode(t, "BAD_USER_INPUT")
	})

	r := s.post(t, "", acReset, map[string]any{"t": tok, "p": acNew}).mustNoErrors(t)
	var d struct {
		ResetPassword struct {
			AccessToken  string
			RefreshToken string
			User         acMe
		}
	}
	r.decode(t, &d)
	if d.ResetPassword.User.EmailVerified == nil || !*d.ResetPassword.User.EmailVerified {
		t.Errorf("emailVerified after reset = %v, want true", d.ResetPassword.User.EmailVerified)
	}
	if me := s.acMe(t, d.ResetPassword.AccessToken); me.ID != first.User.ID {
		t.Errorf("the new session is of %s, want %s", me.ID, first.User.ID)
	}

	t.Run("OldSessionsEnded", func(t *testing.T) {
		for _, p := range []authPayload{first, second} {
			s.post(t, p.AccessToken, acMeQuery, nil).mustCode(t, "UNAUTHENTICATED")
			s.post(t, "", `mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }`,
				map[string]any{"r": p.RefreshToken}).mustCode(t, "UNAUTHENTICATED")
		}
		var sd struct{ Sessions []struct{ Current bool } }
		s.post(t, d.ResetPassword.AccessToken, `{ sessions { current } }`, nil).mustNoErrors(t).decode(t, &sd)
		if len(sd.Sessions) != 1 || !sd.Sessions[0].Current {
			t.Errorf("sessions after reset = %+v, want only the new one", sd.Sessions)
		}
	})
	t.Run("PasswordChanged", func(t *testing.T) {
		s.mustLogin(t, email, acNew)
		s.post(t, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": email, "password": acPassword}}).mustCode(t, "UNAUTHENTICATED")
	})
	t.Run("ErrUsedTwice", func(t *testing.T) {
		acMustBadToken(t, s.post(t, "", acReset, map[string]any{"t": tok, "p": "third-password-3"}), "used token")
		s.mustLogin(t, email, acNew)
	})
}

// TestRecoveryTokenRefusals checks that a used, expired, voided, unknown
// or malformed token gets one and the same answer.
func TestRecoveryTokenRefusals(t *testing.T) {
	const ttl = 3 * time.Second
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, map[string]string{"RESET_TOKEN_TTL": ttl.String()}))
	a, b, c := uniqueEmail(t, 1), uniqueEmail(t, 2), uniqueEmail(t, 3)
	for i, e := range []string{a, b, c} {
		s.mustSignup(t, e, acPassword, fmt.Sprintf("U%d", i))
	}
	reset := func(tok string) gqlResponse {
		return s.post(t, "", acReset, map[string]any{"t": tok, "p": acNew})
	}
	messages := map[string]string{}

	// Voided: a newer request voids the older link; the newer one works.
	older := s.acResetToken(t, sink, a, 1)
	newer := s.acResetToken(t, sink, a, 2)
	messages["voided"] = acMustBadToken(t, reset(older), "voided")
	reset(newer).mustNoErrors(t)
	messages["used"] = acMustBadToken(t, reset(newer), "used")

	// Expired: b's link is used after the TTL; c's, within it, works, so
	// the TTL alone makes the difference.
	start := time.Now()
	expiring := s.acResetToken(t, sink, b, 1)
	fresh := s.acResetToken(t, sink, c, 1)
	reset(fresh).mustNoErrors(t)
	time.Sleep(time.Until(start.Add(ttl + 500*time.Millisecond)))
	messages["expired"] = acMustBadToken(t, reset(expiring), "expired")

	messages["unknown"] = acMustBadToken(t, reset(strings.Repeat("A", 43)), "unknown")
	messages["malformed"] = acMustBadToken(t, reset("not-a-token"), "malformed")
	messages["verifyTokenForReset"] = acMustBadToken(t, s.post(t, "", acVerify, map[string]any{"t": strings.Repeat("B", 43)}), "unknown verify")
	want := messages["used"]
	for k, m := range messages {
		if m != want {
			t.Errorf("%s token: message %q, want the same as for a used one (%q)", k, m, want)
		}
	}
}

// TestRecoveryNoEnumeration checks that a reset request answers alike for
// a known and an unknown email, in about the same time, and mails only
// the known one.
func TestRecoveryNoEnumeration(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	known, unknown := uniqueEmail(t, 1), uniqueEmail(t, 2)
	s.mustSignup(t, known, acPassword, "Known")

	const rounds = 25
	var tk, tu []time.Duration
	for i := 0; i < rounds; i++ {
		for _, e := range []string{unknown, known} {
			start := time.Now()
			r := s.post(t, "", acReqReset, map[string]any{"e": e}).mustNoErrors(t)
			took := time.Since(start)
			if r.Raw != `{"data":{"requestPasswordReset":true}}` {
				t.Fatalf("answer for %s: %s", e, r.Raw)
			}
			if e == known {
				tk = append(tk, took)
			} else {
				tu = append(tu, took)
			}
		}
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	mk, mu := median(tk), median(tu)
	t.Logf("median answer: known %v, unknown %v", mk, mu)
	if diff := (mk - mu).Abs(); diff > max(mk, mu)/2 {
		t.Errorf("known and unknown emails answer in noticeably different times: %v vs %v", mk, mu)
	}
	sink.waitFor(t, known, rounds)
	if got := sink.to(unknown); len(got) != 0 {
		t.Errorf("%d mails to an unknown email", len(got))
	}
	s.post(t, "", acReqReset, map[string]any{"e": "not an email"}).mustNoErrors(t)
}

// TestRecoveryRateLimited checks that a limited request still answers true,
// sends nothing, and is logged and recorded.
func TestRecoveryRateLimited(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, map[string]string{"RATE_LIMIT_MAIL_RECIPIENT": "1/1m", "RATE_LIMIT_MAIL_ADDRESS": "30/1h"}))
	email, other := uniqueEmail(t, 1), uniqueEmail(t, 2)
	s.mustSignup(t, email, acPassword, "Limited")
	s.mustSignup(t, other, acPassword, "Other")

	s.acMustTrue(t, "", acReqReset, map[string]any{"e": email}, "requestPasswordReset")
	s.acMustTrue(t, "", acReqReset, map[string]any{"e": email}, "requestPasswordReset")
	// The second was refused before anything was queued: once a later
	// mail has arrived, none more comes for email.
	sink.waitFor(t, email, 1)
	s.acMustTrue(t, "", acReqReset, map[string]any{"e": other}, "requestPasswordReset")
	sink.waitFor(t, other, 1)
	if n := len(sink.to(email)); n != 1 {
		t.Errorf("%d mails to a rate-limited recipient, want 1", n)
	}
	if !strings.Contains(s.logs.String(), "password reset rate limited; no mail sent") {
		t.Errorf("the limited request was not logged")
	}
	var d struct {
		AuditLog struct{ TotalCount int }
	}
	s.post(t, s.mustAdminToken(t), `{ auditLog(kind: RATE_LIMITED) { totalCount } }`, nil).mustNoErrors(t).decode(t, &d)
	if d.AuditLog.TotalCount != 1 {
		t.Errorf("RATE_LIMITED events = %d, want 1", d.AuditLog.TotalCount)
	}
}

// TestRecoveryResetRacesLogins runs logins with the old password while the
// reset happens: none of their sessions may outlive it.
func TestRecoveryResetRacesLogins(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	email := uniqueEmail(t, 1)
	s.mustSignup(t, email, acPassword, "Racer")
	tok := s.acResetToken(t, sink, email, 1)

	var (
		mu     sync.Mutex
		tokens []string
		wg     sync.WaitGroup
		stop   = make(chan struct{})
	)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := s.postE("", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
					map[string]any{"in": map[string]any{"email": email, "password": acPassword}})
				if err != nil || len(r.Errors) > 0 {
					continue
				}
				var d struct{ Login struct{ AccessToken string } }
				if json.Unmarshal(r.Data, &d) != nil || d.Login.AccessToken == "" {
					continue
				}
				mu.Lock()
				tokens = append(tokens, d.Login.AccessToken)
				mu.Unlock()
			}
		}()
	}
	// Let the logins get going, then reset in their midst.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(tokens)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := s.post(t, "", acReset, map[string]any{"t": tok, "p": acNew}).mustNoErrors(t)
	close(stop)
	wg.Wait()
	var d struct{ ResetPassword struct{ AccessToken string } }
	r.decode(t, &d)
	if len(tokens) < 3 {
		t.Fatalf("only %d logins succeeded before the reset", len(tokens))
	}
	for _, at := range tokens {
		s.post(t, at, acMeQuery, nil).mustCode(t, "UNAUTHENTICATED")
	}
	s.acMe(t, d.ResetPassword.AccessToken)
	t.Logf("%d sessions from logins with the old password, all ended", len(tokens))
}

func TestRecoveryEmailVerification(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	email := uniqueEmail(t, 1)
	u := s.mustSignup(t, email, acPassword, "Vera")
	other := s.mustSignup(t, uniqueEmail(t, 2), acPassword, "Other")
	if me := s.acMe(t, u.AccessToken); me.EmailVerified == nil || *me.EmailVerified {
		t.Fatalf("emailVerified after signup = %v, want false", me.EmailVerified)
	}
	s.acMustTrue(t, u.AccessToken, acReqVerify, nil, "requestEmailVerification")
	tok := acToken(t, sink.waitFor(t, email, 1)[0].Data, "/verify-email")
	s.acMustTrue(t, "", acVerify, map[string]any{"t": tok}, "verifyEmail")
	if me := s.acMe(t, u.AccessToken); me.EmailVerified == nil || !*me.EmailVerified {
		t.Errorf("emailVerified after verifyEmail = %v, want true", me.EmailVerified)
	}
	acMustBadToken(t, s.post(t, "", acVerify, map[string]any{"t": tok}), "used verification token")

	t.Run("VisibleToOwnerAndAdmins", func(t *testing.T) {
		admin := s.mustAdminToken(t)
		s.mustCreateCourse(t, admin, "Visible", 100, true)
		// Someone else's record (the course's author): null and FORBIDDEN.
		r := s.post(t, other.AccessToken, `{ courses(first: 1) { edges { node { createdBy { emailVerified } } } } }`, nil)
		r.mustCode(t, "FORBIDDEN")
		if !strings.Contains(r.Raw, `"emailVerified":null`) {
			t.Errorf("another user's emailVerified is not null: %s", r.Raw)
		}
		// An admin reads anyone's.
		var d struct{ SetRole acMe }
		s.post(t, admin, `mutation($u: ID!) { setRole(userId: $u, role: USER) { emailVerified } }`,
			map[string]any{"u": u.User.ID}).mustNoErrors(t).decode(t, &d)
		if d.SetRole.EmailVerified == nil || !*d.SetRole.EmailVerified {
			t.Errorf("admin reads emailVerified = %v, want true", d.SetRole.EmailVerified)
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		s.post(t, "", acReqVerify, nil).mustCode(t, "UNAUTHENTICATED")
	})
}

func TestRecoveryChangeEmail(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	oldEmail, newEmail := uniqueEmail(t, 1), uniqueEmail(t, 2)
	u := s.mustSignup(t, oldEmail, acPassword, "Chang")

	t.Run("ErrWrongPassword", func(t *testing.T) {
		e := s.post(t, u.AccessToken, acChange, map[string]any{"p": "wrong-password", "e": newEmail}).mustCode(t, "BAD_USER_INPUT")
		if e.Extensions["field"] != nil && e.Extensions["field"] != "currentPassword" {
			t.Errorf("field = %v", e.Extensions["field"])
		}
	})
	s.acMustTrue(t, u.AccessToken, acChange, map[string]any{"p": acPassword, "e": newEmail}, "changeEmail")
	notice := acText(t, sink.waitFor(t, oldEmail, 1)[0].Data)
	if !strings.Contains(notice, newEmail) || acLinkRE.MatchString(notice) {
		t.Errorf("notice to the old address: want the new address and no link:\n%s", notice)
	}
	tok := acToken(t, sink.waitFor(t, newEmail, 1)[0].Data, "/verify-email")
	if me := s.acMe(t, u.AccessToken); *me.Email != oldEmail {
		t.Errorf("email before the link is used = %s, want the old one", *me.Email)
	}
	s.acMustTrue(t, "", acVerify, map[string]any{"t": tok}, "verifyEmail")
	me := s.acMe(t, u.AccessToken)
	if *me.Email != newEmail || !*me.EmailVerified {
		t.Errorf("after the link: email %s verified %v, want %s verified", *me.Email, *me.EmailVerified, newEmail)
	}
	s.mustLogin(t, newEmail, acPassword)
	// The old address is released: it signs nobody in, and can sign up.
	s.post(t, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": oldEmail, "password": acPassword}}).mustCode(t, "UNAUTHENTICATED")
	s.mustSignup(t, oldEmail, acPassword, "Newcomer")
}

// TestRecoveryChangeEmailRace has two accounts claim one address and use
// their links at once: exactly one gets it.
func TestRecoveryChangeEmailRace(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	target := uniqueEmail(t, 9)
	var users []authPayload
	for i := 0; i < 2; i++ {
		u := s.mustSignup(t, uniqueEmail(t, i), acPassword, fmt.Sprintf("R%d", i))
		s.acMustTrue(t, u.AccessToken, acChange, map[string]any{"p": acPassword, "e": target}, "changeEmail")
		users = append(users, u)
	}
	mails := sink.waitFor(t, target, 2)
	var (
		wg      sync.WaitGroup
		results = make([]gqlResponse, 2)
		errs    = make([]error, 2)
		start   = make(chan struct{})
	)
	for i, m := range mails {
		tok := acToken(t, m.Data, "/verify-email")
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = s.postE("", acVerify, map[string]any{"t": tok})
		}()
	}
	close(start)
	wg.Wait()
	var codes []string
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if len(r.Errors) == 0 {
			codes = append(codes, "OK")
		} else {
			codes = append(codes, r.Codes()...)
		}
	}
	sort.Strings(codes)
	if !slices.Equal(codes, []string{"CONFLICT", "OK"}) {
		t.Fatalf("results = %v, want one OK and one CONFLICT\n%s", codes, s.logs.String())
	}
	owners := 0
	for _, u := range users {
		if *s.acMe(t, u.AccessToken).Email == target {
			owners++
		}
	}
	if owners != 1 {
		t.Errorf("%d accounts have the address, want 1", owners)
	}
}

func TestRecoveryVerifiedEmailToBuy(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, map[string]string{"REQUIRE_VERIFIED_EMAIL_TO_BUY": "true"}))
	course := s.mustCreateCourse(t, s.mustAdminToken(t), "Verified only", 500, true)
	email := uniqueEmail(t, 1)
	u := s.mustSignup(t, email, acPassword, "Buyer")
	buy := `mutation($c: ID!) { purchaseCourse(courseId: $c) { id } }`
	e := s.post(t, u.AccessToken, buy, map[string]any{"c": course.ID}).mustCode(t, "FORBIDDEN")
	if !strings.Contains(e.Message, "verify your email") {
		t.Errorf("message %q does not say why", e.Message)
	}
	s.acMustTrue(t, u.AccessToken, acReqVerify, nil, "requestEmailVerification")
	s.acMustTrue(t, "", acVerify, map[string]any{"t": acToken(t, sink.waitFor(t, email, 1)[0].Data, "/verify-email")}, "verifyEmail")
	s.post(t, u.AccessToken, buy, map[string]any{"c": course.ID}).mustNoErrors(t)

	t.Run("OffByDefault", func(t *testing.T) {
		s2 := mustStartServer(t, acEnv(sink, nil))
		c := s2.mustCreateCourse(t, s2.mustAdminToken(t), "Anyone", 500, true)
		v := s2.mustSignup(t, uniqueEmail(t, 2), acPassword, "Unverified")
		s2.post(t, v.AccessToken, buy, map[string]any{"c": c.ID}).mustNoErrors(t)
	})
}

type acEvent struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	At        string  `json:"at"`
	IP        *string `json:"ip"`
	UserAgent *string `json:"userAgent"`
	SessionID *string `json:"sessionId"`
}

type acEvents struct {
	Edges []struct {
		Cursor string
		Node   acEvent
	}
	PageInfo   struct{ HasNextPage bool }
	TotalCount int
}

func (c acEvents) kinds() []string {
	var out []string
	for _, e := range c.Edges {
		out = append(out, e.Node.Kind)
	}
	return out
}

const acEventFields = `edges { cursor node { id kind at ip userAgent sessionId } } pageInfo { hasNextPage } totalCount`

func TestRecoverySecurityEvents(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	email := uniqueEmail(t, 1)
	u := s.mustSignup(t, email, acPassword, "Eve")
	s.post(t, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": email, "password": "wrong-password"}}).mustCode(t, "UNAUTHENTICATED")
	second := s.mustLogin(t, email, acPassword)
	s.acMustTrue(t, second.AccessToken, `mutation { logout }`, nil, "logout")
	s.acResetToken(t, sink, email, 1)
	other := s.mustSignup(t, uniqueEmail(t, 2), acPassword, "Other")

	var d struct{ SecurityEvents acEvents }
	s.post(t, u.AccessToken, `{ securityEvents { `+acEventFields+` } }`, nil).mustNoErrors(t).decode(t, &d)
	want := []string{"PASSWORD_RESET_REQUESTED", "LOGOUT", "LOGIN", "LOGIN_FAILED", "SIGNUP"}
	if got := d.SecurityEvents.kinds(); !slices.Equal(got, want) {
		t.Fatalf("own events = %v, want %v (newest first)", got, want)
	}
	if d.SecurityEvents.TotalCount != len(want) {
		t.Errorf("totalCount = %d", d.SecurityEvents.TotalCount)
	}
	for _, e := range d.SecurityEvents.Edges {
		if e.Node.IP == nil || *e.Node.IP != "127.0.0.1" || e.Node.UserAgent == nil || e.Node.At == "" {
			t.Errorf("event %s lacks address or user agent: %+v", e.Node.Kind, e.Node)
		}
	}
	if sid := d.SecurityEvents.Edges[1].Node.SessionID; sid == nil || *sid == "" {
		t.Errorf("LOGOUT has no session id")
	}
	low := strings.ToLower(fmt.Sprint(d))
	for _, secret := range []string{acPassword, "wrong-password", strings.ToLower(second.RefreshToken)} {
		if strings.Contains(low, strings.ToLower(secret)) {
			t.Errorf("events show a secret")
		}
	}

	t.Run("Pages", func(t *testing.T) {
		var p1, p2 struct{ SecurityEvents acEvents }
		s.post(t, u.AccessToken, `{ securityEvents(first: 2) { `+acEventFields+` } }`, nil).mustNoErrors(t).decode(t, &p1)
		s.post(t, u.AccessToken, `query($a: String) { securityEvents(first: 10, after: $a) { `+acEventFields+` } }`,
			map[string]any{"a": p1.SecurityEvents.Edges[1].Cursor}).mustNoErrors(t).decode(t, &p2)
		if !p1.SecurityEvents.PageInfo.HasNextPage || !slices.Equal(append(p1.SecurityEvents.kinds(), p2.SecurityEvents.kinds()...), want) {
			t.Errorf("pages %v + %v, want %v", p1.SecurityEvents.kinds(), p2.SecurityEvents.kinds(), want)
		}
		s.post(t, u.AccessToken, `{ securityEvents(after: "nope") { totalCount } }`, nil).mustCode(t, "BAD_USER_INPUT")
	})
	t.Run("AuditLogFilters", func(t *testing.T) {
		admin := s.mustAdminToken(t)
		q := `query($u: ID, $k: SecurityEventKind) { auditLog(first: 100, userId: $u, kind: $k) { ` + acEventFields + ` } }`
		var byUser, byKind, both struct{ AuditLog acEvents }
		s.post(t, admin, q, map[string]any{"u": u.User.ID}).mustNoErrors(t).decode(t, &byUser)
		if !slices.Equal(byUser.AuditLog.kinds(), want) {
			t.Errorf("auditLog(userId) = %v, want %v", byUser.AuditLog.kinds(), want)
		}
		s.post(t, admin, q, map[string]any{"k": "SIGNUP"}).mustNoErrors(t).decode(t, &byKind)
		if byKind.AuditLog.TotalCount != 2 || !slices.Equal(byKind.AuditLog.kinds(), []string{"SIGNUP", "SIGNUP"}) {
			t.Errorf("auditLog(kind: SIGNUP) = %v, want two", byKind.AuditLog.kinds())
		}
		s.post(t, admin, q, map[string]any{"u": other.User.ID, "k": "SIGNUP"}).mustNoErrors(t).decode(t, &both)
		if both.AuditLog.TotalCount != 1 {
			t.Errorf("auditLog(userId, kind) = %v, want one", both.AuditLog.kinds())
		}
		s.post(t, u.AccessToken, q, nil).mustCode(t, "FORBIDDEN")
		s.post(t, "", `{ securityEvents { totalCount } }`, nil).mustCode(t, "UNAUTHENTICATED")
	})
}

// TestRecoveryOutbox checks the zero-config default: with no SMTP_URL the
// mail is an .eml file in DATA_DIR/outbox and its link is logged.
func TestRecoveryOutbox(t *testing.T) {
	s := mustStartServer(t, acEnv(nil, nil))
	email := uniqueEmail(t, 1)
	s.mustSignup(t, email, acPassword, "Newcomer")
	s.acMustTrue(t, "", acReqReset, map[string]any{"e": email}, "requestPasswordReset")
	dir := filepath.Join(s.DataDir, "outbox")
	var files []string
	deadline := time.Now().Add(30 * time.Second)
	for len(files) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no .eml file in %s\nlog:\n%s", dir, s.logs.String())
		}
		files, _ = filepath.Glob(filepath.Join(dir, "*.eml"))
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	tok := acToken(t, string(b), "/reset-password")
	if !strings.Contains(s.logs.String(), "token="+tok) {
		t.Errorf("the link is not in the log")
	}
	s.post(t, "", acReset, map[string]any{"t": tok, "p": acNew}).mustNoErrors(t)
}

// TestRecoveryQueueSurvivesRestart queues a mail the SMTP server refuses,
// stops the program, and starts it again: the mail still goes out.
func TestRecoveryQueueSurvivesRestart(t *testing.T) {
	sink := mustStartSMTP(t)
	sink.setFailing(true)
	dir := t.TempDir()
	env := acEnv(sink, map[string]string{"DATA_DIR": dir, "MAIL_RETRY_INTERVAL": "200ms"})
	s1 := mustStartServer(t, env)
	email := uniqueEmail(t, 1)
	s1.mustSignup(t, email, acPassword, "Patient")
	s1.acMustTrue(t, "", acReqReset, map[string]any{"e": email}, "requestPasswordReset")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s1.logs.String(), "mail attempt failed; will retry") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt logged\n%s", s1.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s1.stop(t)
	sink.setFailing(false)
	s2 := mustStartServer(t, env)
	tok := acToken(t, sink.waitFor(t, email, 1)[0].Data, "/reset-password")
	s2.post(t, "", acReset, map[string]any{"t": tok, "p": acNew}).mustNoErrors(t)
}

// TestRecoveryMailSentOnce runs two instances on one database: every
// queued mail goes out exactly once.
func TestRecoveryMailSentOnce(t *testing.T) {
	db := mongotest.StartServer(t)
	sink := mustStartSMTP(t)
	// A slow mail server: each send outlasts a worker's poll interval, so
	// the other instance finds the mail still due while it is being sent.
	sink.setDelay(1500 * time.Millisecond)
	env := acEnv(sink, map[string]string{"MONGODB_URI": db.URI(), "JWT_SECRET": outageSecret})
	a := mustStartServer(t, env)
	b := mustStartServer(t, env)
	const n = 8
	var emails []string
	for i := 0; i < n; i++ {
		e := uniqueEmail(t, i)
		a.mustSignup(t, e, acPassword, fmt.Sprintf("Twin%d", i))
		emails = append(emails, e)
	}
	var wg sync.WaitGroup
	for i, e := range emails {
		srv := []*testServer{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = srv.postE("", acReqReset, map[string]any{"e": e})
		}()
	}
	wg.Wait()
	for _, e := range emails {
		sink.waitFor(t, e, 1)
	}
	// A sentinel queued on each instance: once both arrived, both workers
	// have polled several times since the last mail went out.
	for i, srv := range []*testServer{a, b} {
		e := emails[i]
		srv.acMustTrue(t, "", acReqReset, map[string]any{"e": e}, "requestPasswordReset")
		sink.waitFor(t, e, 2)
	}
	for i, e := range emails {
		want := 1
		if i < 2 {
			want = 2
		}
		if got := len(sink.to(e)); got != want {
			t.Errorf("%s got %d mails, want %d", e, got, want)
		}
	}
	// A send is logged after the sink has the mail: wait for the lines.
	sent := func() (int, int) {
		return strings.Count(a.logs.String(), `"msg":"mail sent"`), strings.Count(b.logs.String(), `"msg":"mail sent"`)
	}
	deadline := time.Now().Add(10 * time.Second)
	sentA, sentB := sent()
	for sentA+sentB < n+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		sentA, sentB = sent()
	}
	t.Logf("instance a sent %d mails, b %d", sentA, sentB)
	if sentA+sentB != n+2 {
		t.Errorf("the instances logged %d sends, want %d", sentA+sentB, n+2)
	}
}

// TestRecoveryDatabaseHoldsNoLink reads the whole database while a reset
// mail waits in the queue and after it went out: the token is nowhere in
// the clear, only its hash.
func TestRecoveryDatabaseHoldsNoLink(t *testing.T) {
	db := mongotest.StartServer(t)
	sink := mustStartSMTP(t)
	sink.setFailing(true)
	s := mustStartServer(t, acEnv(sink, map[string]string{"MONGODB_URI": db.URI(), "JWT_SECRET": outageSecret, "MAIL_RETRY_INTERVAL": "200ms"}))
	email := uniqueEmail(t, 1)
	s.mustSignup(t, email, acPassword, "Careful")
	s.acMustTrue(t, "", acReqReset, map[string]any{"e": email}, "requestPasswordReset")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongodb.Connect(ctx, db.URI(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	dump := func() string {
		t.Helper()
		var out strings.Builder
		names, err := client.Database("coursehub").ListCollectionNames(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			cur, err := client.Database("coursehub").Collection(n).Find(ctx, bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			var docs []bson.M
			if err := cur.All(ctx, &docs); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s: %v\n", n, docs)
		}
		return out.String()
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.logs.String(), "mail attempt failed; will retry") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waiting := dump()
	sink.setFailing(false)
	tok := acToken(t, sink.waitFor(t, email, 1)[0].Data, "/reset-password")
	sum := sha256.Sum256([]byte(tok))
	if !strings.Contains(waiting, hex.EncodeToString(sum[:])) {
		t.Fatalf("the token's hash is not in the database: the dump misses what it should see")
	}
	for name, d := range map[string]string{"while queued": waiting, "after sending": dump()} {
		if strings.Contains(d, tok) || strings.Contains(d, "reset-password") {
			t.Errorf("%s, the database holds the link in the clear", name)
		}
	}
	s.post(t, "", acReset, map[string]any{"t": tok, "p": acNew}).mustNoErrors(t)
}

// TestRecoveryResetClosesSockets checks that a reset ends the sessions of
// open sockets at once, not at their next periodic check (an hour here).
func TestRecoveryResetClosesSockets(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, wsPrivEnv()))
	email := uniqueEmail(t, 1)
	p := s.mustSignup(t, email, acPassword, "Socket")
	c, _, err := wsDial(t, s, subOrigin, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.mustInit(t, map[string]any{"Authorization": "Bearer " + p.AccessToken})
	c.mustAnswer(t, "me", wsMe, nil).resp.mustNoErrors(t)

	tok := s.acResetToken(t, sink, email, 1)
	s.post(t, "", acReset, map[string]any{"t": tok, "p": acNew}).mustNoErrors(t)
	c.mustClose(t, 4401, 2*time.Second)
}

// TestRecoveryResetCookieDelivery: a browser resets its password and is
// signed in by cookie, as after login; the refresh cookie then works.
func TestRecoveryResetCookieDelivery(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, map[string]string{"COOKIE_SECURE": "false", "CORS_ORIGINS": ckOrigin}))
	email := uniqueEmail(t, 1)
	s.mustSignup(t, email, acPassword, "Browser")
	tok := s.acResetToken(t, sink, email, 1)
	b := ckNewBrowser(t, s, ckOrigin)
	r := b.gql(t, `mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p, delivery: REFRESH_COOKIE) { `+ckAuthFields+` } }`,
		map[string]any{"t": tok, "p": acNew}, nil).mustNoErrors(t)
	var d struct{ ResetPassword ckPayload }
	r.decode(t, &d)
	if d.ResetPassword.AccessToken == "" || d.ResetPassword.RefreshToken != "" {
		t.Fatalf("REFRESH_COOKIE: access token in the body and refresh token in a cookie, got %s", r.Raw)
	}
	// Only the cookie can carry this refresh.
	p, _ := b.mustRefreshSession(t, "")
	if p.User.ID != d.ResetPassword.User.ID {
		t.Errorf("refreshSession after the reset is of %s, want %s", p.User.ID, d.ResetPassword.User.ID)
	}
}

// TestRecoveryResetAfterEmailChange: a reset link mailed to an address the
// account has left since no longer works.
func TestRecoveryResetAfterEmailChange(t *testing.T) {
	sink := mustStartSMTP(t)
	s := mustStartServer(t, acEnv(sink, nil))
	oldEmail, newEmail := uniqueEmail(t, 1), uniqueEmail(t, 2)
	u := s.mustSignup(t, oldEmail, acPassword, "Mover")
	reset := s.acResetToken(t, sink, oldEmail, 1)
	s.acMustTrue(t, u.AccessToken, acChange, map[string]any{"p": acPassword, "e": newEmail}, "changeEmail")
	s.acMustTrue(t, "", acVerify, map[string]any{"t": acToken(t, sink.waitFor(t, newEmail, 1)[0].Data, "/verify-email")}, "verifyEmail")
	acMustBadToken(t, s.post(t, "", acReset, map[string]any{"t": reset, "p": acNew}), "reset link to the old address")
	s.mustLogin(t, newEmail, acPassword)
}
