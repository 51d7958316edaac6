package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/user"
)

// BenchmarkVerify measures access-token verification alone: "first" is a
// token seen for the first time (HS256: header and claims decoding, the
// signature, iss/aud/exp checks), "again" one verified before (the
// verified-token cache: the expiry check only). A client's first request
// pays the first, every later one the second.
// go test ./internal/auth -run '^$' -bench Verify -benchmem
func BenchmarkVerify(b *testing.B) {
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: dirSecret, Issuer: dirIssuer, Audience: dirAudience, TTL: 15 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	issue := func() string {
		tok, _, err := tokens.Issue("6b0f87dc1b998790d6a00db5", "6b0f87dc1b998790d6a00db7", user.RoleUser)
		if err != nil {
			b.Fatal(err)
		}
		return tok
	}
	b.Run("first", func(b *testing.B) {
		fresh := make([]string, b.N)
		for i := range fresh {
			fresh[i] = issue()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := tokens.Verify(fresh[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		tok := issue()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tokens.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCompare measures one bcrypt password check at the test cost (4)
// and the production default (12): what login and signup spend beyond
// their database work.
// go test ./internal/auth -run '^$' -bench Compare -benchtime 20x
func BenchmarkCompare(b *testing.B) {
	for _, cost := range []int{4, 10, 12} {
		b.Run(fmt.Sprint("cost", cost), func(b *testing.B) {
			p, err := auth.NewPasswords(cost, 0)
			if err != nil {
				b.Fatal(err)
			}
			hash, err := p.Hash(context.Background(), "bench-password-1")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if ok, err := p.Compare(context.Background(), hash, "bench-password-1"); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
