package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/user"
)

// Ensure a verified token served from the cache still expires: the cache
// spares the decoding and the signature check, never the expiry.
func TestVerifiedTokenCacheExpires(t *testing.T) {
	tokens, err := NewTokens(TokenConfig{Secret: []byte("cache-test-secret-0123456789-abcdefgh"), Issuer: "i", Audience: "a", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tokens.now = func() time.Time { return now }
	raw, _, err := tokens.Issue("u1", "s1", user.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a miss, then a hit
		if c, err := tokens.Verify(raw); err != nil || c.Subject != "u1" || c.SessionID != "s1" {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	}
	if tokens.verified.Len() != 1 {
		t.Fatalf("cache holds %d tokens, want 1", tokens.verified.Len())
	}
	now = now.Add(time.Minute + Leeway + time.Second)
	if _, err := tokens.Verify(raw); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("cached token past its expiry: err = %v, want ErrTokenExpired", err)
	}
	if _, err := tokens.Verify(raw); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("after eviction: err = %v, want ErrTokenExpired", err)
	}
	// A token one character off is not the cached one.
	if _, err := tokens.Verify(raw[:len(raw)-1] + "A"); err == nil {
		t.Error("an altered token verified")
	}
}
