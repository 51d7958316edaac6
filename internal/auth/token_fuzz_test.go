package auth

// Fuzz targets for the two places an attacker-controlled string meets the
// token code: Verify (the access token itself) and bearerToken (the
// Authorization header). Internal tests: they reuse newTestTokens, sign and
// validClaims from token_test.go and call the unexported bearerToken.
//
// The committed seed corpora are under testdata/fuzz/<FuzzName>/; a plain
// `go test` runs them together with the f.Add seeds.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"unicode"

	"github.com/golang-jwt/jwt/v5"

	"github.com/coursehub/coursehub/internal/user"
)

// tokenErrors are the only errors Verify may return.
var tokenErrors = []error{ErrTokenMissing, ErrTokenMalformed, ErrTokenExpired, ErrTokenInvalid}

// checkVerifyResult fails unless (claims, err) is one of the two outcomes
// Verify promises: usable claims and no error, or zero claims and one of the
// ErrToken* reasons.
func checkVerifyResult(t *testing.T, raw string, claims Claims, err error) {
	t.Helper()
	if err == nil {
		if claims.Subject == "" || claims.SessionID == "" {
			t.Fatalf("Verify(%q) accepted claims without sub or sid: %+v", raw, claims)
		}
		return
	}
	known := false
	for _, want := range tokenErrors {
		if errors.Is(err, want) {
			known = true
			break
		}
	}
	if !known {
		t.Fatalf("Verify(%q) error = %#v, want one of ErrTokenMissing, ErrTokenMalformed, ErrTokenExpired, ErrTokenInvalid", raw, err)
	}
	if !reflect.DeepEqual(claims, Claims{}) {
		t.Fatalf("Verify(%q) returned claims %+v together with error %v", raw, claims, err)
	}
}

// mutateByte replaces the byte of s at pos (modulo len(s)) with b.
func mutateByte(s string, pos uint16, b byte) string {
	i := int(pos) % len(s)
	return s[:i] + string([]byte{b}) + s[i+1:]
}

// withHeader re-encodes the header of token with edit applied and keeps the
// payload and signature.
func withHeader(tb testing.TB, token string, edit func(map[string]any)) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		tb.Fatalf("decode header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		tb.Fatalf("unmarshal header: %v", err)
	}
	edit(h)
	raw, err = json.Marshal(h)
	if err != nil {
		tb.Fatalf("marshal header: %v", err)
	}
	parts[0] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// FuzzVerifyToken: Verify never panics; it either accepts with a subject and
// a session id, or refuses with one of the ErrToken* reasons and no claims;
// and a genuine token changed at one byte is never accepted.
//
// The inputs are a candidate token and a one-byte mutation (position modulo
// the length, new byte). The mutation is applied to raw when raw is itself
// accepted (the genuine seeds), and always to a genuine token that Issue
// makes under a fixed crypto/rand seed, so that every failure reproduces
// from its corpus file.
func FuzzVerifyToken(f *testing.F) {
	tk := newTestTokens(f)
	kid := tk.kid
	hs256 := jwt.SigningMethodHS256

	issued, _, err := tk.Issue(testUserID, testSID, user.RoleUser)
	if err != nil {
		f.Fatalf("Issue: %v", err)
	}
	none := sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims())
	parts := strings.Split(issued, ".")

	for _, seed := range []string{
		issued,
		sign(f, hs256, testSecret, kid, validClaims()),
		// alg none, with and without the empty signature segment, and with
		// the genuine signature pasted on.
		none,
		strings.TrimSuffix(none, "."),
		strings.Join(strings.Split(none, ".")[:2], ".") + "." + parts[2],
		// garbage
		"",
		"a.b.c",
		"..",
		"not a token",
		"Bearer " + issued,
		randomToken(),
		parts[0] + "." + parts[1],
		issued + ".",
		issued + "\n",
		strings.Repeat("a", MaxTokenBytes+1),
		strings.Repeat("a", MaxTokenBytes),
		sign(f, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["pad"] = strings.Repeat("x", MaxTokenBytes)
		})),
		// kid edits: on the genuine token (signature no longer matches the
		// header) and re-signed with the right secret.
		withHeader(f, issued, func(h map[string]any) { h["kid"] = "hs256-000000000000" }),
		withHeader(f, issued, func(h map[string]any) { delete(h, "kid") }),
		withHeader(f, issued, func(h map[string]any) { h["kid"] = strings.ToUpper(kid) }),
		withHeader(f, issued, func(h map[string]any) { h["alg"] = "none" }),
		sign(f, hs256, testSecret, "", validClaims()),
		sign(f, hs256, testSecret, kid+" ", validClaims()),
		sign(f, hs256, testSecret, "../../"+kid, validClaims()),
		func() string {
			tok := jwt.NewWithClaims(hs256, validClaims())
			tok.Header["kid"] = 12345
			s, err := tok.SignedString(testSecret)
			if err != nil {
				f.Fatalf("sign: %v", err)
			}
			return s
		}(),
		// right key, wrong algorithm; expired; missing sid
		sign(f, jwt.SigningMethodHS512, testSecret, kid, validClaims()),
		sign(f, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(-48 * Leeway).Unix()
			c["exp"] = testNow.Add(-2 * Leeway).Unix()
		})),
		sign(f, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) { delete(c, "sid") })),
		sign(f, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })),
		// RFC edge cases: NumericDate as a string of digits, a crit header.
		sign(f, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) { c["exp"] = "4102444800" })),
		signWithHeader(f, kid, map[string]any{"crit": []string{"b64"}, "b64": false}, validClaims()),
	} {
		f.Add(seed, uint16(0), byte('A'))
	}
	// One-byte edits of the genuine token: in the header, the payload, on a
	// separator and at the end of the signature.
	f.Add(issued, uint16(5), byte('x'))
	f.Add(issued, uint16(len(parts[0])+10), byte('A'))
	f.Add(issued, uint16(len(parts[0])), byte('_'))
	f.Add(issued, uint16(len(issued)-1), byte('A'))
	f.Add(issued, uint16(len(issued)-1), byte('.'))

	// base is a genuine token from Issue that is the same in every fuzzing
	// process: Issue's only randomness is the jti from crypto/rand, which is
	// fixed here for the one call that makes base.
	var (
		baseOnce sync.Once
		base     string
	)
	genuine := func(t *testing.T) string {
		baseOnce.Do(func() {
			cryptotest.SetGlobalRandom(t, 1)
			var err error
			if base, _, err = tk.Issue(testUserID, testSID, user.RoleUser); err != nil {
				t.Fatalf("Issue: %v", err)
			}
		})
		if base == "" {
			t.Fatal("no genuine token")
		}
		return base
	}

	f.Fuzz(func(t *testing.T, raw string, pos uint16, b byte) {
		claims, err := tk.Verify(raw)
		checkVerifyResult(t, raw, claims, err)

		bases := []string{genuine(t)}
		if err == nil {
			bases = append(bases, raw)
		}
		for _, g := range bases {
			if _, err := tk.Verify(g); err != nil {
				t.Fatalf("genuine token %q refused: %v", g, err)
			}
			m := mutateByte(g, pos, b)
			mc, err := tk.Verify(m)
			checkVerifyResult(t, m, mc, err)
			if m != g && err == nil {
				i := int(pos) % len(g)
				t.Fatalf("Verify accepted a genuine token changed at byte %d (%q -> %q):\ngenuine: %s\nchanged: %s",
					i, g[i], b, g, m)
			}
		}
	})
}

// FuzzBearerToken: bearerToken never panics, refuses with ErrTokenMissing
// (no header) or ErrTokenMalformed, and a token it returns is non-empty, has
// no spaces or tabs and no surrounding white space, and came from a single
// "Bearer <token>" header; and "Bearer " followed by any token without white
// space yields that token.
//
// The inputs are two header values and how many Authorization headers the
// request carries (n modulo 3: none, the first, both).
func FuzzBearerToken(f *testing.F) {
	tk := newTestTokens(f)
	issued, _, err := tk.Issue(testUserID, testSID, user.RoleUser)
	if err != nil {
		f.Fatalf("Issue: %v", err)
	}
	for _, seed := range []struct {
		a, b string
		n    uint8
	}{
		{"Bearer " + issued, "", 1},
		{"bearer abc.def.ghi", "", 1},
		{"BEARER   abc  ", "", 1},
		{"  Bearer abc", "", 1},
		{"Bearer", "", 1},
		{"Bearer ", "", 1},
		{"Bearer\tabc", "", 1},
		{"Bearer abc def", "", 1},
		{"Bearer abc\tdef", "", 1},
		{"Bearer abc\ndef", "", 1},
		{"Bearer \u00a0abc\u2003", "", 1},
		{"Basic dXNlcjpwYXNz", "", 1},
		{"Token abc", "", 1},
		{"", "", 1},
		{"", "", 0},
		{"Bearer abc", "Bearer def", 2},
		{"Bearer abc", "", 2},
	} {
		f.Add(seed.a, seed.b, seed.n)
	}
	f.Fuzz(func(t *testing.T, a, b string, n uint8) {
		// Round trip: any token without white space comes back unchanged.
		if b != "" && strings.IndexFunc(b, unicode.IsSpace) < 0 {
			got, err := bearerToken(http.Header{"Authorization": {"Bearer " + b}})
			if err != nil || got != b {
				t.Fatalf("bearerToken(%q) = %q, %v; want %q", "Bearer "+b, got, err, b)
			}
		}

		h := http.Header{}
		values := []string{a, b}[:n%3]
		if len(values) > 0 {
			h["Authorization"] = values
		}
		token, err := bearerToken(h)
		if err != nil {
			if token != "" {
				t.Fatalf("bearerToken(%q) = %q with error %v", values, token, err)
			}
			switch {
			case len(values) == 0 && err != ErrTokenMissing:
				t.Fatalf("bearerToken(no header) error = %v, want ErrTokenMissing", err)
			case len(values) > 0 && err != ErrTokenMalformed:
				t.Fatalf("bearerToken(%q) error = %v, want ErrTokenMalformed", values, err)
			}
			return
		}
		if len(values) != 1 {
			t.Fatalf("bearerToken(%q) = %q from %d headers, want an error", values, token, len(values))
		}
		if token == "" || strings.ContainsAny(token, " \t") {
			t.Fatalf("bearerToken(%q) = %q: empty or with a space or tab", a, token)
		}
		if strings.TrimSpace(token) != token {
			t.Fatalf("bearerToken(%q) = %q: surrounded by white space", a, token)
		}
		scheme, rest, ok := strings.Cut(strings.TrimSpace(a), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasSuffix(rest, token) {
			t.Fatalf("bearerToken(%q) = %q, which is not the token of a Bearer header", a, token)
		}
	})
}
