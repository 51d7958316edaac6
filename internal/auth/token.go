package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

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

// TokenConfig configures access tokens.
type TokenConfig struct {
	Secret   []byte
	Issuer   string
	Audience string
	TTL      time.Duration
}

// Tokens issues and verifies access tokens (HS256 JWTs).
type Tokens struct {
	cfg    TokenConfig
	kid    string
	parser *jwt.Parser
	now    func() time.Time
}

// NewTokens returns a Tokens for cfg.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("auth: token secret must be at least 32 bytes")
	}
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.TTL <= 0 {
		return nil, errors.New("auth: token issuer, audience and TTL are required")
	}
	// The kid names the key without revealing it, so keys can rotate later.
	sum := sha256.Sum256(append([]byte("coursehub-kid:"), cfg.Secret...))
	t := &Tokens{cfg: cfg, kid: "hs256-" + hex.EncodeToString(sum[:6]), now: time.Now}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t, nil
}

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
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = t.kid
	s, err := tok.SignedString(t.cfg.Secret)
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
	var claims Claims
	_, err := t.parser.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
		if kid, _ := tok.Header["kid"].(string); kid != t.kid {
			return nil, errors.New("unknown key id")
		}
		return t.cfg.Secret, nil
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
	return claims, nil
}
