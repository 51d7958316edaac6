package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/coursehub/coursehub/internal/user"
)

// MaxTokenBytes caps the size of an access token we will parse; ours are
// about 400 bytes.
const MaxTokenBytes = 4096

// Leeway is the clock skew tolerated on exp, iat and nbf.
const Leeway = 30 * time.Second

// Claims are the access token's claims.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID (sid) names the session the token belongs to; the @auth check
	// reads it so that logout takes effect on the next request.
	SessionID string `json:"sid"`
	// Role at the time of issue. Informational only: authorization uses the
	// role read from the database, so a role change applies at once.
	Role user.Role `json:"role"`
}

// UnmarshalJSON refuses a NumericDate claim that is not a JSON number.
// golang-jwt's NumericDate also takes a string of digits ("exp":"1700000000")
// and null (which would read as a missing claim); RFC 7519 allows neither.
// One decoding pass: the three dates are taken raw (the fields here shadow
// the embedded ones of the same name), checked, then converted.
func (c *Claims) UnmarshalJSON(b []byte) error {
	type plain Claims // without this method
	aux := struct {
		*plain
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		raw  json.RawMessage
		dst  **jwt.NumericDate
	}{{"exp", aux.Exp, &c.ExpiresAt}, {"iat", aux.Iat, &c.IssuedAt}, {"nbf", aux.Nbf, &c.NotBefore}} {
		if d.raw == nil {
			continue
		}
		if !isJSONNumber(d.raw) {
			return fmt.Errorf("claim %s is not a number", d.name)
		}
		v := new(jwt.NumericDate)
		if err := v.UnmarshalJSON(d.raw); err != nil {
			return fmt.Errorf("claim %s: %w", d.name, err)
		}
		*d.dst = v
	}
	return nil
}

// isJSONNumber reports whether v, one JSON value, is a number: JSON numbers,
// and nothing else, start with a minus sign or a digit.
func isJSONNumber(v json.RawMessage) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
}

// TokenConfig configures access tokens. Exactly one key signs: the Ed25519
// SigningKey when set, otherwise the HS256 Secret. Every configured key
// verifies, so keys can rotate: a new key signs while the previous ones
// still verify the tokens they issued until those expire.
type TokenConfig struct {
	// Secret is the HS256 key (at least 32 bytes); PreviousSecrets still verify.
	Secret          []byte
	PreviousSecrets [][]byte
	// SigningKey, when set, signs with EdDSA; VerifyKeys are previous public
	// keys that still verify. Their public halves are published as a JWKS.
	SigningKey ed25519.PrivateKey
	VerifyKeys []ed25519.PublicKey

	Issuer   string
	Audience string
	TTL      time.Duration
}

// key is one verification key, bound to the one algorithm it may be used
// with: an HS256 token is never checked against an Ed25519 key or back, which
// rules out the algorithm-confusion attacks.
type key struct {
	kid    string
	method jwt.SigningMethod
	verify any // []byte for HS256, ed25519.PublicKey for EdDSA
}

// Tokens issues and verifies access tokens (JWTs, HS256 or EdDSA).
type Tokens struct {
	cfg     TokenConfig
	kid     string // the signing key's id
	method  jwt.SigningMethod
	signKey any
	keys    map[string]key
	jwks    []byte
	parser  *jwt.Parser
	now     func() time.Time
	// verified remembers tokens that passed Verify, by their exact text,
	// so that a client's every request does not decode and check the same
	// token again: on a hit only the expiry is checked (nothing else about
	// a verified token can change, the keys being fixed for the process).
	verified *lru.Cache[string, Claims]
}

// verifiedCacheSize bounds the verified-token cache: a few hundred bytes an
// entry, so about 4 MB for as many clients active within a token lifetime.
const verifiedCacheSize = 10000

// NewTokens returns a Tokens for cfg.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.TTL <= 0 {
		return nil, errors.New("auth: token issuer, audience and TTL are required")
	}
	verified, err := lru.New[string, Claims](verifiedCacheSize)
	if err != nil {
		return nil, fmt.Errorf("auth: verified-token cache: %w", err)
	}
	t := &Tokens{cfg: cfg, keys: map[string]key{}, now: time.Now, verified: verified}
	for i, secret := range append([][]byte{cfg.Secret}, cfg.PreviousSecrets...) {
		if len(secret) == 0 && i == 0 {
			continue
		}
		if len(secret) < 32 {
			return nil, errors.New("auth: token secret must be at least 32 bytes")
		}
		t.keys[hmacKID(secret)] = key{kid: hmacKID(secret), method: jwt.SigningMethodHS256, verify: secret}
	}
	publics := cfg.VerifyKeys
	if cfg.SigningKey != nil {
		if len(cfg.SigningKey) != ed25519.PrivateKeySize {
			return nil, errors.New("auth: malformed Ed25519 signing key")
		}
		pub := cfg.SigningKey.Public().(ed25519.PublicKey)
		publics = append([]ed25519.PublicKey{pub}, publics...)
		t.kid, t.method, t.signKey = thumbprint(pub), jwt.SigningMethodEdDSA, cfg.SigningKey
	} else if len(cfg.Secret) > 0 {
		t.kid, t.method, t.signKey = hmacKID(cfg.Secret), jwt.SigningMethodHS256, cfg.Secret
	} else {
		return nil, errors.New("auth: a token secret or an Ed25519 signing key is required")
	}
	var jwks []map[string]string
	for _, pub := range publics {
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("auth: malformed Ed25519 public key")
		}
		kid := thumbprint(pub)
		if _, dup := t.keys[kid]; dup {
			continue
		}
		t.keys[kid] = key{kid: kid, method: jwt.SigningMethodEdDSA, verify: pub}
		jwks = append(jwks, map[string]string{
			"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub),
			"kid": kid, "alg": "EdDSA", "use": "sig",
		})
	}
	if t.jwks, err = json.Marshal(map[string]any{"keys": append([]map[string]string{}, jwks...)}); err != nil {
		return nil, fmt.Errorf("auth: jwks: %w", err)
	}
	methods := []string{}
	for _, k := range t.keys {
		if !slices.Contains(methods, k.method.Alg()) {
			methods = append(methods, k.method.Alg())
		}
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		// Strict base64: otherwise the spare bits of the last character are
		// ignored, and one token has four spellings that all verify.
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t, nil
}

// hmacKID names an HS256 key without revealing it.
func hmacKID(secret []byte) string {
	sum := sha256.Sum256(append([]byte("coursehub-kid:"), secret...))
	return "hs256-" + hex.EncodeToString(sum[:6])
}

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key, the
// usual kid for a published key.
func thumbprint(pub ed25519.PublicKey) string {
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKS is the JSON Web Key Set of the public keys that verify our tokens
// (Ed25519 only: HMAC secrets are never published).
func (t *Tokens) JWKS() []byte { return t.jwks }

// TTL is how long an access token lives.
func (t *Tokens) TTL() time.Duration { return t.cfg.TTL }

// Issue signs an access token for a session.
func (t *Tokens) Issue(userID, sessionID string, role user.Role) (string, time.Time, error) {
	now := t.now().UTC().Truncate(time.Second)
	exp := now.Add(t.cfg.TTL)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{t.cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        randomToken()[:22],
		},
		SessionID: sessionID,
		Role:      role,
	}
	tok := jwt.NewWithClaims(t.method, claims)
	tok.Header["kid"] = t.kid
	s, err := tok.SignedString(t.signKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp, nil
}

// Token failure reasons; each becomes the message of an UNAUTHENTICATED error.
var (
	ErrTokenMissing   = errors.New("access token required")
	ErrTokenMalformed = errors.New("access token is malformed")
	ErrTokenExpired   = errors.New("access token has expired")
	ErrTokenInvalid   = errors.New("access token is invalid")
)

// Verify checks an access token and returns its claims, or one of the
// ErrToken* reasons.
func (t *Tokens) Verify(raw string) (Claims, error) {
	if raw == "" {
		return Claims{}, ErrTokenMissing
	}
	if len(raw) > MaxTokenBytes {
		return Claims{}, ErrTokenMalformed
	}
	if claims, ok := t.verified.Get(raw); ok {
		if !t.now().Before(claims.ExpiresAt.Add(Leeway)) {
			t.verified.Remove(raw)
			return Claims{}, ErrTokenExpired
		}
		return claims, nil
	}
	var claims Claims
	_, err := t.parser.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
		if _, ok := tok.Header["crit"]; ok {
			// RFC 7515 4.1.11: an extension listed in crit must be
			// understood, or the token refused. We understand none (and
			// golang-jwt would ignore them, b64 included).
			return nil, errors.New("critical header extensions are not supported")
		}
		kid, _ := tok.Header["kid"].(string)
		k, ok := t.keys[kid]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		if tok.Method.Alg() != k.method.Alg() {
			return nil, errors.New("algorithm does not match the key")
		}
		return k.verify, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Claims{}, ErrTokenMalformed
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrTokenExpired
	default:
		return Claims{}, ErrTokenInvalid
	}
	if claims.Subject == "" || claims.SessionID == "" {
		return Claims{}, ErrTokenInvalid
	}
	t.verified.Add(raw, claims)
	return claims, nil
}
