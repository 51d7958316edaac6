package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// randomToken returns 256 random bits, base64url without padding (43 chars).
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is how refresh tokens are stored: a leaked database does not
// yield usable tokens. SHA-256 suffices because the input has 256 bits of
// entropy; a slow hash protects only guessable secrets.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// looksLikeToken reports whether s has the shape randomToken produces, so
// that garbage is refused before it reaches the database.
func looksLikeToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
