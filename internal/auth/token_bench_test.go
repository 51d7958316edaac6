package auth_test

import (
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/user"
)

// BenchmarkVerify measures access-token verification alone (HS256: header
// and claims decoding, signature, iss/aud/exp checks), the part of every
// authenticated request that needs no database.
// go test ./internal/auth -run '^$' -bench Verify -benchmem
func BenchmarkVerify(b *testing.B) {
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: dirSecret, Issuer: dirIssuer, Audience: dirAudience, TTL: 15 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := tokens.Issue("6b0f87dc1b998790d6a00db5", "6b0f87dc1b998790d6a00db7", user.RoleUser)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
