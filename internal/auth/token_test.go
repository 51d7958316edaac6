package auth

// An internal test: it sets Tokens.now to control the clock and reads
// Tokens.kid to forge tokens that differ from a genuine one in exactly one
// respect.

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/coursehub/coursehub/internal/user"
)

const (
	testIssuer   = "coursehub-test"
	testAudience = "coursehub-test-api"
	testTTL      = 15 * time.Minute
	testUserID   = "65f0c0ffee0000000000abcd"
	testSID      = "65f0c0ffee0000000000dcba"
)

var (
	testSecret = []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
	// testNow is the fixed clock of these tests, on a whole second.
	testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// newTestTokens returns Tokens with the test configuration and a clock fixed
// at testNow.
func newTestTokens(tb testing.TB) *Tokens {
	tb.Helper()
	tk, err := NewTokens(TokenConfig{Secret: testSecret, Issuer: testIssuer, Audience: testAudience, TTL: testTTL})
	if err != nil {
		tb.Fatalf("NewTokens: %v", err)
	}
	tk.now = func() time.Time { return testNow }
	return tk
}

// validClaims are the claims of a genuine token issued at testNow.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":  testIssuer,
		"aud":  testAudience,
		"sub":  testUserID,
		"sid":  testSID,
		"role": string(user.RoleUser),
		"iat":  testNow.Unix(),
		"exp":  testNow.Add(testTTL).Unix(),
		"jti":  "forged-but-well-formed",
	}
}

// sign builds a token with the given method, key, kid (omitted when empty)
// and claims.
func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// signWithHeader is sign with extra header parameters.
func signWithHeader(tb testing.TB, kid string, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(testSecret)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

// withClaims returns validClaims with edit applied.
func withClaims(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := validClaims()
	edit(c)
	return c
}

func TestNewTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     TokenConfig
		wantErr bool
	}{
		{"OK", TokenConfig{Secret: testSecret, Issuer: "i", Audience: "a", TTL: time.Minute}, false},
		{"OKExactly32Bytes", TokenConfig{Secret: []byte(strings.Repeat("k", 32)), Issuer: "i", Audience: "a", TTL: time.Minute}, false},
		{"ErrSecret31Bytes", TokenConfig{Secret: []byte(strings.Repeat("k", 31)), Issuer: "i", Audience: "a", TTL: time.Minute}, true},
		{"ErrNoSecret", TokenConfig{Issuer: "i", Audience: "a", TTL: time.Minute}, true},
		{"ErrNoIssuer", TokenConfig{Secret: testSecret, Audience: "a", TTL: time.Minute}, true},
		{"ErrNoAudience", TokenConfig{Secret: testSecret, Issuer: "i", TTL: time.Minute}, true},
		{"ErrZeroTTL", TokenConfig{Secret: testSecret, Issuer: "i", Audience: "a"}, true},
		{"ErrNegativeTTL", TokenConfig{Secret: testSecret, Issuer: "i", Audience: "a", TTL: -time.Minute}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk, err := NewTokens(tt.cfg)
			if tt.wantErr {
				if err == nil || tk != nil {
					t.Fatalf("NewTokens = %v, %v; want nil and an error", tk, err)
				}
				if strings.Contains(err.Error(), string(tt.cfg.Secret)) && len(tt.cfg.Secret) > 0 {
					t.Errorf("error %q repeats the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewTokens: %v", err)
			}
		})
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	raw, exp, err := tk.Issue(testUserID, testSID, user.RoleAdmin)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if want := testNow.Add(testTTL); !exp.Equal(want) {
		t.Errorf("Issue expiry = %v, want %v", exp, want)
	}
	if len(raw) > MaxTokenBytes {
		t.Errorf("issued token is %d bytes, over MaxTokenBytes", len(raw))
	}

	claims, err := tk.Verify(raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != testUserID {
		t.Errorf("sub = %q, want %q", claims.Subject, testUserID)
	}
	if claims.SessionID != testSID {
		t.Errorf("sid = %q, want %q", claims.SessionID, testSID)
	}
	if claims.Role != user.RoleAdmin {
		t.Errorf("role = %q, want %q", claims.Role, user.RoleAdmin)
	}
	if claims.Issuer != testIssuer {
		t.Errorf("iss = %q, want %q", claims.Issuer, testIssuer)
	}
	if len(claims.Audience) != 1 || claims.Audience[0] != testAudience {
		t.Errorf("aud = %q, want [%q]", claims.Audience, testAudience)
	}
	if claims.IssuedAt == nil || !claims.IssuedAt.Time.Equal(testNow) {
		t.Errorf("iat = %v, want %v", claims.IssuedAt, testNow)
	}
	if claims.ExpiresAt == nil || !claims.ExpiresAt.Time.Equal(exp) {
		t.Errorf("exp = %v, want %v", claims.ExpiresAt, exp)
	}
	if claims.NotBefore != nil {
		t.Errorf("nbf = %v, want none", claims.NotBefore)
	}
	if len(claims.ID) < 16 {
		t.Errorf("jti = %q, want at least 16 random characters", claims.ID)
	}

	// The header, read without verification.
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	if alg := tok.Header["alg"]; alg != "HS256" {
		t.Errorf("header alg = %v, want HS256", alg)
	}
	kid, _ := tok.Header["kid"].(string)
	if kid == "" || kid != tk.kid {
		t.Errorf("header kid = %q, want %q", kid, tk.kid)
	}
	if strings.Contains(kid, string(testSecret)) || strings.Contains(raw, base64.RawURLEncoding.EncodeToString(testSecret)) {
		t.Errorf("token reveals the secret")
	}

	// Every token gets its own jti.
	raw2, _, err := tk.Issue(testUserID, testSID, user.RoleAdmin)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	claims2, err := tk.Verify(raw2)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims2.ID == claims.ID {
		t.Errorf("two tokens share jti %q", claims.ID)
	}
}

func TestKidDependsOnSecret(t *testing.T) {
	t.Parallel()
	a := newTestTokens(t)
	b, err := NewTokens(TokenConfig{Secret: []byte("another-32-byte-secret-0123456789"), Issuer: testIssuer, Audience: testAudience, TTL: testTTL})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	if a.kid == b.kid {
		t.Errorf("two secrets share kid %q", a.kid)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	kid := tk.kid
	hs256 := jwt.SigningMethodHS256

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("rsa key: %v", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	rsaPublicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519 key: %v", err)
	}

	genuine, _, err := tk.Issue(testUserID, testSID, user.RoleUser)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}

	// editedPayload keeps the genuine header and signature and swaps in a
	// payload that claims the ADMIN role.
	editedPayload := func() string {
		parts := strings.Split(genuine, ".")
		body, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatalf("decode payload: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("unmarshal payload: %v", err)
		}
		m["role"] = string(user.RoleAdmin)
		body, err = json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal payload: %v", err)
		}
		parts[1] = base64.RawURLEncoding.EncodeToString(body)
		return strings.Join(parts, ".")
	}()

	// A token over the size cap that is otherwise genuine.
	huge := sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
		c["pad"] = strings.Repeat("x", MaxTokenBytes)
	}))

	tests := []struct {
		name string
		raw  string
		want error // nil: accepted
	}{
		{"OKGenuine", genuine, nil},
		{"OKForgedWithRightKey", sign(t, hs256, testSecret, kid, validClaims()), nil},
		{"OKExpiredWithinLeeway", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(-time.Hour).Unix()
			c["exp"] = testNow.Add(-Leeway + time.Second).Unix()
		})), nil},
		{"OKIssuedInFutureWithinLeeway", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(Leeway - time.Second).Unix()
		})), nil},
		{"OKNotBeforeWithinLeeway", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["nbf"] = testNow.Add(Leeway - time.Second).Unix()
		})), nil},
		{"OKAudienceList", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["aud"] = []string{"someone-else", testAudience}
		})), nil},

		{"ErrEmpty", "", ErrTokenMissing},
		{"ErrGarbage", "not a token", ErrTokenMalformed},
		{"ErrGarbageThreeParts", "a.b.c", ErrTokenMalformed},
		{"ErrTwoParts", strings.Join(strings.Split(genuine, ".")[:2], "."), ErrTokenMalformed},
		{"ErrRefreshTokenAsAccessToken", randomToken(), ErrTokenMalformed},
		{"ErrTooLong", huge, ErrTokenMalformed},
		{"ErrTooLongGarbage", strings.Repeat("a", MaxTokenBytes+1), ErrTokenMalformed},
		{"ErrExpClaimNotANumber", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["exp"] = "tomorrow"
		})), ErrTokenMalformed},
		// RFC 7519 NumericDate is a JSON number; golang-jwt alone also
		// takes a string of digits.
		{"ErrExpNumericString", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["exp"] = strconv.FormatInt(testNow.Add(testTTL).Unix(), 10)
		})), ErrTokenMalformed},
		{"ErrIatNumericString", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iat"] = strconv.FormatInt(testNow.Unix(), 10)
		})), ErrTokenMalformed},
		{"ErrNbfNumericString", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["nbf"] = strconv.FormatInt(testNow.Unix(), 10)
		})), ErrTokenMalformed},
		{"ErrExpFractionalString", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["exp"] = strconv.FormatInt(testNow.Add(testTTL).Unix(), 10) + ".5"
		})), ErrTokenMalformed},
		{"ErrExpNull", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["exp"] = nil
		})), ErrTokenMalformed},
		{"ErrExpBoolean", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["exp"] = true
		})), ErrTokenMalformed},
		{"OKExpFractional", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["exp"] = float64(testNow.Add(testTTL).Unix()) + 0.5
		})), nil},

		// RFC 7515 4.1.11: a crit header naming an extension the verifier
		// does not understand must be refused; we understand none.
		{"ErrCritUnknownExtension", signWithHeader(t, kid, map[string]any{
			"crit": []string{"urn:example:must-check"}, "urn:example:must-check": true}, validClaims()), ErrTokenInvalid},
		{"ErrCritUnencodedPayload", signWithHeader(t, kid, map[string]any{
			"crit": []string{"b64"}, "b64": true}, validClaims()), ErrTokenInvalid},
		{"ErrCritEmpty", signWithHeader(t, kid, map[string]any{"crit": []string{}}, validClaims()), ErrTokenInvalid},
		{"ErrCritNotAList", signWithHeader(t, kid, map[string]any{"crit": "exp"}, validClaims()), ErrTokenInvalid},
		{"ErrCritNull", signWithHeader(t, kid, map[string]any{"crit": nil}, validClaims()), ErrTokenInvalid},

		{"ErrExpiredBeyondLeeway", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(-time.Hour).Unix()
			c["exp"] = testNow.Add(-Leeway - time.Second).Unix()
		})), ErrTokenExpired},
		{"ErrExpiredLongAgo", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(-48 * time.Hour).Unix()
			c["exp"] = testNow.Add(-24 * time.Hour).Unix()
		})), ErrTokenExpired},

		{"ErrAlgNone", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims()), ErrTokenInvalid},
		{"ErrAlgNoneNoSignatureSegment", strings.TrimSuffix(
			sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims()), "."), ErrTokenMalformed},
		{"ErrAlgNoneWithGenuineSignature", func() string {
			none := strings.Split(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims()), ".")
			return none[0] + "." + none[1] + "." + strings.Split(genuine, ".")[2]
		}(), ErrTokenInvalid},
		{"ErrHS384", sign(t, jwt.SigningMethodHS384, testSecret, kid, validClaims()), ErrTokenInvalid},
		{"ErrHS512", sign(t, jwt.SigningMethodHS512, testSecret, kid, validClaims()), ErrTokenInvalid},
		{"ErrRS256", sign(t, jwt.SigningMethodRS256, rsaKey, kid, validClaims()), ErrTokenInvalid},
		{"ErrEdDSA", sign(t, jwt.SigningMethodEdDSA, edKey, kid, validClaims()), ErrTokenInvalid},
		{"ErrPublicKeyAsHMACSecret", sign(t, hs256, rsaPublicPEM, kid, validClaims()), ErrTokenInvalid},
		{"ErrOtherSecretSameKid", sign(t, hs256, []byte("a-different-secret-of-enough-bytes!!"), kid, validClaims()), ErrTokenInvalid},
		{"ErrEditedPayload", editedPayload, ErrTokenInvalid},
		{"ErrUnknownKid", sign(t, hs256, testSecret, "hs256-000000000000", validClaims()), ErrTokenInvalid},
		{"ErrMissingKid", sign(t, hs256, testSecret, "", validClaims()), ErrTokenInvalid},

		{"ErrIssuedInFutureBeyondLeeway", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(Leeway + time.Second).Unix()
		})), ErrTokenInvalid},
		{"ErrNotBeforeInFuture", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["nbf"] = testNow.Add(Leeway + time.Minute).Unix()
		})), ErrTokenInvalid},
		{"ErrWrongIssuer", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["iss"] = "someone-else"
		})), ErrTokenInvalid},
		{"ErrMissingIssuer", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			delete(c, "iss")
		})), ErrTokenInvalid},
		{"ErrWrongAudience", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["aud"] = "someone-else"
		})), ErrTokenInvalid},
		{"ErrMissingAudience", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			delete(c, "aud")
		})), ErrTokenInvalid},
		{"ErrMissingExp", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			delete(c, "exp")
		})), ErrTokenInvalid},
		{"ErrMissingSub", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			delete(c, "sub")
		})), ErrTokenInvalid},
		{"ErrEmptySub", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			c["sub"] = ""
		})), ErrTokenInvalid},
		{"ErrMissingSid", sign(t, hs256, testSecret, kid, withClaims(func(c jwt.MapClaims) {
			delete(c, "sid")
		})), ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims, err := tk.Verify(tt.raw)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				if claims.Subject != testUserID || claims.SessionID != testSID {
					t.Errorf("claims sub=%q sid=%q, want %q %q", claims.Subject, claims.SessionID, testUserID, testSID)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if claims.Subject != "" || claims.SessionID != "" || claims.Role != "" {
				t.Errorf("Verify returned claims %+v with an error", claims)
			}
		})
	}
}

// TestVerifyClock moves the clock instead of the claims.
func TestVerifyClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"OKJustIssued", testNow, nil},
		{"OKBeforeExpiry", testNow.Add(testTTL - time.Second), nil},
		{"OKWithinLeewayAfterExpiry", testNow.Add(testTTL + Leeway - time.Second), nil},
		{"ErrBeyondLeewayAfterExpiry", testNow.Add(testTTL + Leeway + time.Second), ErrTokenExpired},
		{"OKClockBehindWithinLeeway", testNow.Add(-Leeway + time.Second), nil},
		{"ErrClockBehindBeyondLeeway", testNow.Add(-Leeway - time.Second), ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := newTestTokens(t)
			raw, _, err := tk.Issue(testUserID, testSID, user.RoleUser)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			tk.now = func() time.Time { return tt.at }
			_, err = tk.Verify(raw)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify = %v, want success", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyOtherIssuerSameSecret: two deployments that share a secret but
// not an issuer do not accept each other's tokens.
func TestVerifyOtherIssuerSameSecret(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	other, err := NewTokens(TokenConfig{Secret: testSecret, Issuer: "other-issuer", Audience: testAudience, TTL: testTTL})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	other.now = tk.now
	raw, _, err := other.Issue(testUserID, testSID, user.RoleUser)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if _, err := tk.Verify(raw); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("Verify error = %v, want %v", err, ErrTokenInvalid)
	}
}
