package main

// End-to-end tests of accounts: signup, login, password rules, the first
// admin from the environment, and persistence across a restart.

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	accSignupMutation = `mutation($in: SignupInput!) { signup(input: $in) { ` + authFields + ` } }`
	accLoginMutation  = `mutation($in: LoginInput!) { login(input: $in) { ` + authFields + ` } }`
)

// accSignup sends a signup without checking the answer.
func accSignup(tb testing.TB, s *testServer, email, password, name string) gqlResponse {
	tb.Helper()
	return s.post(tb, "", accSignupMutation,
		map[string]any{"in": map[string]any{"email": email, "password": password, "name": name}})
}

// accLogin sends a login without checking the answer.
func accLogin(tb testing.TB, s *testServer, email, password string) gqlResponse {
	tb.Helper()
	return s.post(tb, "", accLoginMutation,
		map[string]any{"in": map[string]any{"email": email, "password": password}})
}

// accMustNotEcho fails if the raw response quotes any of the given values
// (passwords, emails). Empty and very short values are skipped, since they
// would match by accident.
func accMustNotEcho(tb testing.TB, r gqlResponse, values ...string) {
	tb.Helper()
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < 4 {
			continue
		}
		if strings.Contains(r.Raw, v) || strings.Contains(strings.ToLower(r.Raw), strings.ToLower(v)) {
			tb.Errorf("response quotes the submitted value %q: %s", v, r.Raw)
		}
	}
}

// accStr shows a nullable string in a failure message.
func accStr(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// accMe returns the caller's me { id name email role }.
func accMe(tb testing.TB, s *testServer, token string) (id, email, role string) {
	tb.Helper()
	r := s.post(tb, token, `{ me { id name email role } }`, nil).mustNoErrors(tb)
	var d struct {
		Me struct {
			ID    string  `json:"id"`
			Email *string `json:"email"`
			Role  string  `json:"role"`
		}
	}
	r.decode(tb, &d)
	if d.Me.Email == nil {
		tb.Fatalf("me.email is null: %s", r.Raw)
	}
	return d.Me.ID, *d.Me.Email, d.Me.Role
}

func TestSignup(t *testing.T) {
	s := mustStartServer(t, nil)

	t.Run("OK", func(t *testing.T) {
		before := time.Now()
		p := s.mustSignup(t, "  Alice@Example.COM ", "correct-horse-1", "  Alice  ")
		if p.AccessToken == "" || p.RefreshToken == "" {
			t.Fatalf("empty tokens: %+v", p)
		}
		if p.AccessToken == p.RefreshToken {
			t.Errorf("access and refresh token are the same")
		}
		if p.User.ID == "" {
			t.Errorf("user.id is empty")
		}
		if p.User.Email == nil || *p.User.Email != "alice@example.com" {
			t.Errorf("user.email = %v, want alice@example.com (trimmed, lower-cased)", accStr(p.User.Email))
		}
		if p.User.Name != "Alice" {
			t.Errorf("user.name = %q, want %q", p.User.Name, "Alice")
		}
		if p.User.Role != "USER" {
			t.Errorf("user.role = %q, want USER", p.User.Role)
		}
		if !p.ExpiresAt.After(before) || p.ExpiresAt.After(before.Add(24*time.Hour)) {
			t.Errorf("expiresAt = %v, want shortly after %v", p.ExpiresAt, before)
		}
		id, email, role := accMe(t, s, p.AccessToken)
		if id != p.User.ID || email != "alice@example.com" || role != "USER" {
			t.Errorf("me = (%s, %s, %s), want (%s, alice@example.com, USER)", id, email, role, p.User.ID)
		}
	})

	t.Run("ErrConflictCaseAndSpace", func(t *testing.T) {
		s.mustSignup(t, "bob@example.com", "bob-password-1", "Bob")
		for _, email := range []string{"bob@example.com", "Bob@Example.com ", "BOB@EXAMPLE.COM", "\tbob@example.com\n"} {
			r := accSignup(t, s, email, "other-password-2", "Bobby")
			if r.Status != http.StatusOK {
				t.Errorf("%q: status %d, want 200", email, r.Status)
			}
			r.mustCode(t, "CONFLICT")
			accMustNotEcho(t, r, email, "other-password-2")
		}
		// The account is still Bob's, with Bob's password.
		p := s.mustLogin(t, "bob@example.com", "bob-password-1")
		if p.User.Name != "Bob" {
			t.Errorf("name = %q after conflicting signups, want Bob", p.User.Name)
		}
		accLogin(t, s, "bob@example.com", "other-password-2").mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		tests := []struct {
			name  string
			email string
		}{
			{"Empty", ""},
			{"Blank", "   "},
			{"NoAt", "plainaddress.example.com"},
			{"NoLocal", "@example.com"},
			{"NoDomain", "carol@"},
			{"TwoAts", "carol@@example.com"},
			{"SpaceInside", "car ol@example.com"},
			{"DisplayName", "Carol <carol@example.com>"},
			{"AngleBrackets", "<carol@example.com>"},
			{"DomainWithoutDot", "carol@localhost"},
			{"DomainTrailingDot", "carol@example.com."},
			{"DomainLeadingDot", "carol@.example.com"},
			{"ControlChar", "carol\x00@example.com"},
			{"TooLong", strings.Repeat("c", 250) + "@example.com"},
			{"OperatorShaped", `{"$ne": null}`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := accSignup(t, s, tt.email, "valid-password-1", "Carol")
				if r.Status != http.StatusOK {
					t.Errorf("status %d, want 200", r.Status)
				}
				r.mustCode(t, "BAD_USER_INPUT")
				if r.Errors[0].Message == "" {
					t.Errorf("empty message")
				}
				accMustNotEcho(t, r, tt.email, "valid-password-1")
			})
		}
	})

	t.Run("ErrWeakPassword", func(t *testing.T) {
		tests := []struct {
			name     string
			password string
		}{
			{"Empty", ""},
			{"OneChar", "x"},
			{"SevenChars", "abc1234"},
			{"SevenMultiByteRunes", "ééééééé"}, // 14 bytes but 7 characters
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				email := uniqueEmail(t, 100+i)
				r := accSignup(t, s, email, tt.password, "Dave")
				r.mustCode(t, "BAD_USER_INPUT")
				accMustNotEcho(t, r, tt.password, email)
				// Nothing was created: the same email can still sign up.
				s.mustSignup(t, email, "long-enough-password", "Dave")
			})
		}
	})

	t.Run("OKPasswordLimits", func(t *testing.T) {
		tests := []struct {
			name     string
			password string
		}{
			{"EightChars", "abcd1234"},
			{"EightMultiByteRunes", "éééééééé"},
			{"Exactly72Bytes", strings.Repeat("p", 72)},
			{"Exactly72BytesMultiByte", strings.Repeat("é", 36)},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				email := uniqueEmail(t, 200+i)
				s.mustSignup(t, email, tt.password, "Erin")
				s.mustLogin(t, email, tt.password)
			})
		}
	})

	t.Run("ErrPasswordTooLong", func(t *testing.T) {
		tests := []struct {
			name     string
			password string
		}{
			{"73Bytes", strings.Repeat("q", 73)},
			{"74BytesIn37Runes", strings.Repeat("é", 37)},
			{"1000Bytes", strings.Repeat("long-pw-", 125)},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				email := uniqueEmail(t, 300+i)
				r := accSignup(t, s, email, tt.password, "Frank")
				r.mustCode(t, "BAD_USER_INPUT")
				accMustNotEcho(t, r, tt.password, tt.password[:72], email)
				// Not created with a truncated password either.
				accLogin(t, s, email, tt.password[:72]).mustCode(t, "UNAUTHENTICATED")
			})
		}
	})

	t.Run("ErrEmptyName", func(t *testing.T) {
		for i, name := range []string{"", "   ", "\t\n"} {
			email := uniqueEmail(t, 400+i)
			r := accSignup(t, s, email, "valid-password-1", name)
			r.mustCode(t, "BAD_USER_INPUT")
			accMustNotEcho(t, r, email, "valid-password-1")
		}
	})
}

func TestLogin(t *testing.T) {
	s := mustStartServer(t, nil)
	const (
		email    = "carol@example.com"
		password = "carol-password-1"
	)
	signed := s.mustSignup(t, email, password, "Carol")
	// A 72-byte password: the longest bcrypt reads in full.
	long72 := "L" + strings.Repeat("0123456789", 7) + "X"
	if len(long72) != 72 {
		t.Fatalf("long72 has %d bytes", len(long72))
	}
	s.mustSignup(t, "long@example.com", long72, "Long")

	t.Run("OK", func(t *testing.T) {
		p := s.mustLogin(t, email, password)
		if p.AccessToken == "" || p.RefreshToken == "" {
			t.Fatalf("empty tokens: %+v", p)
		}
		if p.AccessToken == signed.AccessToken || p.RefreshToken == signed.RefreshToken {
			t.Errorf("login returned the signup's tokens; want a new session")
		}
		if p.User.ID != signed.User.ID || p.User.Role != "USER" {
			t.Errorf("user = %+v, want id %s role USER", p.User, signed.User.ID)
		}
		if p.User.Email == nil || *p.User.Email != email {
			t.Errorf("user.email = %v, want %s", accStr(p.User.Email), email)
		}
		if id, _, _ := accMe(t, s, p.AccessToken); id != signed.User.ID {
			t.Errorf("me.id = %s, want %s", id, signed.User.ID)
		}
	})

	t.Run("OKEmailVariants", func(t *testing.T) {
		for _, variant := range []string{"Carol@Example.com", "CAROL@EXAMPLE.COM", "  carol@example.com", "carol@example.com \t", " CaRoL@eXaMpLe.CoM "} {
			p := s.mustLogin(t, variant, password)
			if p.User.ID != signed.User.ID {
				t.Errorf("%q: logged in as %s, want %s", variant, p.User.ID, signed.User.ID)
			}
		}
	})

	t.Run("ErrUnknownEmailSameAsWrongPassword", func(t *testing.T) {
		wrong := accLogin(t, s, email, "not-carols-password")
		unknown := accLogin(t, s, "nobody@example.com", "not-carols-password")
		e1 := wrong.mustCode(t, "UNAUTHENTICATED")
		e2 := unknown.mustCode(t, "UNAUTHENTICATED")
		if e1.Message != e2.Message {
			t.Errorf("wrong password says %q, unknown email says %q; want the same", e1.Message, e2.Message)
		}
		if string(wrong.Data) != string(unknown.Data) {
			t.Errorf("data differs: %s vs %s", wrong.Data, unknown.Data)
		}
		if wrong.Status != http.StatusOK || unknown.Status != http.StatusOK {
			t.Errorf("statuses %d, %d; want 200", wrong.Status, unknown.Status)
		}
		accMustNotEcho(t, wrong, email, "not-carols-password")
		accMustNotEcho(t, unknown, "nobody@example.com", "not-carols-password")
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		for _, pw := range []string{"Carol-password-1", "carol-password-", "carol-password-1 ", " carol-password-1", "carol-password-12", strings.Repeat("x", 8)} {
			r := accLogin(t, s, email, pw)
			r.mustCode(t, "UNAUTHENTICATED")
			accMustNotEcho(t, r, pw, email)
		}
	})

	t.Run("ErrPasswordOver72Bytes", func(t *testing.T) {
		// bcrypt compares only the first 72 bytes; a longer password whose
		// first 72 bytes are right must not log in.
		for _, pw := range []string{long72 + "!", long72 + long72} {
			r := accLogin(t, s, "long@example.com", pw)
			r.mustCode(t, "BAD_USER_INPUT")
			accMustNotEcho(t, r, long72)
		}
		// The same for an unknown email: no hint that the account is missing.
		accLogin(t, s, "nobody@example.com", long72+"!").mustCode(t, "BAD_USER_INPUT")
		// And the 72-byte password itself, and nothing shorter, works.
		s.mustLogin(t, "long@example.com", long72)
		accLogin(t, s, "long@example.com", long72[:71]).mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("OKUnicodeNormalisation", func(t *testing.T) {
		// The same password typed as composed or decomposed accents is one
		// password (NFC/NFKC), and it is not case-folded.
		composed, decomposed := "caf\u00e9-cr\u00e8me-1", "cafe\u0301-cre\u0300me-1"
		s.mustSignup(t, "unicode@example.com", composed, "Uni")
		s.mustLogin(t, "unicode@example.com", decomposed)
		s.mustLogin(t, "unicode@example.com", composed)
		accLogin(t, s, "unicode@example.com", "CAF\u00c9-CR\u00c8ME-1").mustCode(t, "UNAUTHENTICATED")
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		r := accLogin(t, s, "not an email", password)
		if c := r.Codes(); len(c) != 1 || (c[0] != "BAD_USER_INPUT" && c[0] != "UNAUTHENTICATED") {
			t.Errorf("codes = %v, want one BAD_USER_INPUT or UNAUTHENTICATED", c)
		}
		accMustNotEcho(t, r, "not an email", password)
	})
}

// Passwords must never be returned or logged, neither on success nor in any
// error.
func TestPasswordNeverLeaks(t *testing.T) {
	// Debug logging: not even the most verbose log may hold a password.
	s := mustStartServer(t, map[string]string{"LOG_LEVEL": "debug"})
	const (
		email     = "dana@example.com"
		password  = "Zebra-Crossing-4417"
		wrong     = "Wrong-Horse-9931"
		weak      = "Sh0rt"
		overLong  = "Overlong-Passphrase-"
		otherMail = "dana-two@example.com"
		literal   = "Literal_Secret_77"
		numeric   = "918273645"
	)
	secrets := []string{password, wrong, weak, overLong, literal, numeric}
	long := strings.Repeat(overLong, 5) // 100 bytes
	mustNotLeak := func(t *testing.T, rs ...gqlResponse) {
		t.Helper()
		for i, r := range rs {
			for _, secret := range secrets {
				if strings.Contains(r.Raw, secret) {
					t.Errorf("response %d contains password %q: %s", i, secret, r.Raw)
				}
			}
			if strings.Contains(r.Raw, "$2a$") || strings.Contains(r.Raw, "$2b$") {
				t.Errorf("response %d contains a bcrypt hash: %s", i, r.Raw)
			}
		}
	}

	t.Run("Responses", func(t *testing.T) {
		p := s.mustSignup(t, email, password, "Dana")
		mustNotLeak(t,
			accSignup(t, s, email, password, "Dana again"), // CONFLICT
			accLogin(t, s, email, password),
			accLogin(t, s, email, wrong),
			accLogin(t, s, "nobody@example.com", wrong),
			accLogin(t, s, email, long),
			accSignup(t, s, otherMail, weak, "Dana"),
			accSignup(t, s, otherMail, long, "Dana"),
			s.post(t, "", `mutation($t: String!) { refreshToken(refreshToken: $t) { `+authFields+` } }`,
				map[string]any{"t": p.RefreshToken}),
			s.post(t, p.AccessToken, `{ me { id name email role createdAt } }`, nil),
		)
	})

	t.Run("ErrVariableOfWrongShape", func(t *testing.T) {
		rs := []gqlResponse{
			s.post(t, "", accLoginMutation, map[string]any{"in": map[string]any{"email": email, "password": password, "extra": wrong}}),
			s.post(t, "", accLoginMutation, map[string]any{"in": map[string]any{"email": email, "password": []string{wrong}}}),
			s.post(t, "", accSignupMutation, map[string]any{"in": map[string]any{"email": email, "password": map[string]any{"value": wrong}}}),
			s.post(t, "", accLoginMutation, map[string]any{"in": wrong}),
		}
		for i, r := range rs {
			if len(r.Errors) == 0 {
				t.Errorf("request %d: want an error, got %s", i, r.Raw)
			}
		}
		mustNotLeak(t, rs...)
	})

	t.Run("ErrLiteralOfWrongType", func(t *testing.T) {
		// A password written into the document unquoted (a number, or a
		// bare word) is invalid; the error must still not repeat it.
		rs := []gqlResponse{
			s.post(t, "", `mutation { login(input: {email: "dana@example.com", password: `+literal+`}) { accessToken } }`, nil),
			s.post(t, "", `mutation { login(input: {email: "dana@example.com", password: `+numeric+`}) { accessToken } }`, nil),
			s.post(t, "", `mutation { signup(input: {email: "dana3@example.com", name: "D", password: [`+numeric+`]}) { accessToken } }`, nil),
		}
		for i, r := range rs {
			if len(r.Errors) != 1 || r.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("request %d: want one GRAPHQL_VALIDATION_FAILED, got %s", i, r.Raw)
			}
		}
		mustNotLeak(t, rs...)
	})

	t.Run("Log", func(t *testing.T) {
		logs := s.logs.String()
		for _, secret := range secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("server log contains password %q:\n%s", secret, logs)
			}
		}
		if strings.Contains(logs, "$2a$") || strings.Contains(logs, "$2b$") {
			t.Errorf("server log contains a bcrypt hash:\n%s", logs)
		}
	})
}

func TestFirstAdmin(t *testing.T) {
	t.Run("CreatedAtStart", func(t *testing.T) {
		s := mustStartServer(t, nil)
		p := s.mustLogin(t, adminEmail, adminPassword)
		if p.User.Role != "ADMIN" {
			t.Errorf("admin role = %q, want ADMIN", p.User.Role)
		}
		if _, email, role := accMe(t, s, p.AccessToken); email != adminEmail || role != "ADMIN" {
			t.Errorf("me = (%s, %s), want (%s, ADMIN)", email, role, adminEmail)
		}
		s.mustCreateCourse(t, p.AccessToken, "Admin course", 100, true)
		// The admin's email is taken like any other.
		accSignup(t, s, "Admin@Example.com", "another-password", "Mallory").mustCode(t, "CONFLICT")
		accLogin(t, s, adminEmail, "admin-password-2").mustCode(t, "UNAUTHENTICATED")
	})

	// An existing account is promoted only with its own password as
	// ADMIN_PASSWORD (another password: TestTrustAdminEmailExistingAccount).
	t.Run("ExistingAccountPromoted", func(t *testing.T) {
		dir := t.TempDir()
		s1 := mustStartServer(t, map[string]string{"DATA_DIR": dir})
		u := s1.mustSignup(t, "boss@example.com", "boss-own-password", "Boss")
		if u.User.Role != "USER" {
			t.Fatalf("role = %q, want USER", u.User.Role)
		}
		s1.post(t, u.AccessToken, `mutation { createCourse(input: {title: "x", description: "y", price: 1}) { id } }`, nil).
			mustCode(t, "FORBIDDEN")
		s1.stop(t)

		s2 := mustStartServer(t, map[string]string{
			"DATA_DIR":       dir,
			"ADMIN_EMAIL":    " Boss@Example.COM ",
			"ADMIN_PASSWORD": "boss-own-password",
		})
		p := s2.mustLogin(t, "boss@example.com", "boss-own-password")
		if p.User.ID != u.User.ID {
			t.Errorf("id = %s after promotion, want %s (same account)", p.User.ID, u.User.ID)
		}
		if p.User.Role != "ADMIN" {
			t.Errorf("role = %q after promotion, want ADMIN", p.User.Role)
		}
		if p.User.Name != "Boss" {
			t.Errorf("name = %q after promotion, want Boss", p.User.Name)
		}
		s2.mustCreateCourse(t, p.AccessToken, "Boss course", 0, true)
		// The previous admin keeps their role.
		if old := s2.mustLogin(t, adminEmail, adminPassword); old.User.Role != "ADMIN" {
			t.Errorf("earlier admin role = %q, want ADMIN", old.User.Role)
		}
	})
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := mustStartServer(t, map[string]string{"DATA_DIR": dir})
	p := s1.mustSignup(t, "erin@example.com", "erin-password-1", "Erin")
	s1.mustCreateCourse(t, s1.mustAdminToken(t), "Persistent", 500, true)
	s1.stop(t)

	s2 := mustStartServer(t, map[string]string{"DATA_DIR": dir})
	l := s2.mustLogin(t, " ERIN@example.com", "erin-password-1")
	if l.User.ID != p.User.ID || l.User.Role != "USER" || l.User.Name != "Erin" {
		t.Errorf("after restart user = %+v, want id %s, USER, Erin", l.User, p.User.ID)
	}
	accSignup(t, s2, "erin@example.com", "erin-password-2", "Erin 2").mustCode(t, "CONFLICT")
	accLogin(t, s2, "erin@example.com", "erin-password-2").mustCode(t, "UNAUTHENTICATED")
	r := s2.post(t, "", `{ courses { totalCount edges { node { title } } } }`, nil).mustNoErrors(t)
	if !strings.Contains(string(r.Data), `"totalCount":1`) || !strings.Contains(string(r.Data), "Persistent") {
		t.Errorf("courses after restart = %s, want the one course", r.Data)
	}
	// The generated JWT secret is kept in DATA_DIR, so a token and its
	// session from before the restart still work.
	if id, _, _ := accMe(t, s2, p.AccessToken); id != p.User.ID {
		t.Errorf("me with pre-restart token = %s, want %s", id, p.User.ID)
	}
}
