package auth_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

var (
	passwordsOnce sync.Once
	passwords     *auth.Passwords
	passwordsErr  error
)

// testPasswords returns a hasher at the lowest cost, shared by the tests.
func testPasswords(tb testing.TB) *auth.Passwords {
	tb.Helper()
	passwordsOnce.Do(func() { passwords, passwordsErr = auth.NewPasswords(bcrypt.MinCost, 2) })
	if passwordsErr != nil {
		tb.Fatalf("NewPasswords: %v", passwordsErr)
	}
	return passwords
}

// mustHash hashes password or fails the test.
func mustHash(tb testing.TB, p *auth.Passwords, password string) string {
	tb.Helper()
	h, err := p.Hash(context.Background(), password)
	if err != nil {
		tb.Fatalf("Hash(%q): %v", password, err)
	}
	return h
}

// wantCode fails the test unless err carries code and does not repeat the
// submitted password.
func wantCode(tb testing.TB, err error, code apperr.Code, password string) {
	tb.Helper()
	if got := apperr.CodeOf(err); got != code {
		tb.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	if len(password) >= 4 && strings.Contains(err.Error(), password) {
		tb.Errorf("error %q repeats the submitted password", err)
	}
	if len(password) >= 4 && strings.Contains(apperr.MessageOf(err), password) {
		tb.Errorf("client message %q repeats the submitted password", apperr.MessageOf(err))
	}
}

func TestNewPasswords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cost    int
		wantErr bool
	}{
		{"OKMinCost", bcrypt.MinCost, false},
		{"OKCost5", 5, false},
		{"ErrCost3", bcrypt.MinCost - 1, true},
		{"ErrCost0", 0, true},
		{"ErrCostNegative", -1, true},
		{"ErrCost32", bcrypt.MaxCost + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := auth.NewPasswords(tt.cost, 2)
			if tt.wantErr {
				if err == nil || p != nil {
					t.Fatalf("NewPasswords(%d) = %v, %v; want nil and an error", tt.cost, p, err)
				}
				return
			}
			if err != nil || p == nil {
				t.Fatalf("NewPasswords(%d) = %v, %v", tt.cost, p, err)
			}
			h := mustHash(t, p, "correct horse")
			if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != tt.cost {
				t.Errorf("hash cost = %d, %v; want %d", cost, err, tt.cost)
			}
		})
	}
}

func TestCheckPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"OK8ASCII", "abcdefgh", false},
		{"OK72Bytes", strings.Repeat("a", 72), false},
		{"OK8TwoByteRunes", strings.Repeat("é", 8), false},    // 16 bytes
		{"OK36TwoByteRunes", strings.Repeat("é", 36), false},  // 72 bytes
		{"OK18FourByteRunes", strings.Repeat("😀", 18), false}, // 72 bytes
		{"OKFullWidth", "ｐａｓｓｗｏｒｄ", false},                    // 24 bytes, 8 bytes after NFKC
		{"ErrEmpty", "", true},
		{"Err7ASCII", "abcdefg", true},
		{"Err7TwoByteRunes", strings.Repeat("é", 7), true}, // 14 bytes, but 7 characters
		{"Err7DecomposedRunes", strings.Repeat("e\u0301", 7), true},
		{"Err73Bytes", strings.Repeat("a", 73), true},
		{"Err37TwoByteRunes", strings.Repeat("é", 37), true},           // 74 bytes, 37 characters
		{"Err19FourByteRunes", strings.Repeat("😀", 19), true},          // 76 bytes
		{"ErrHuge", strings.Repeat("a", 1<<20), true},                  // 1 MiB
		{"ErrLongAfterNFKC", strings.Repeat("a", 60) + "\uFDFA", true}, // 63 bytes in, 93 bytes after NFKC
		{"ErrInvalidUTF8", "abcdefgh\xff", true},
		{"ErrInvalidUTF8Only", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := auth.CheckPolicy(tt.password)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("CheckPolicy(%q) = %v, want nil", tt.password, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckPolicy(%q) = nil, want BAD_USER_INPUT", tt.password)
			}
			wantCode(t, err, apperr.BadUserInput, tt.password)
			if e, ok := apperr.As(err); !ok || e.Field != "password" {
				t.Errorf("error field = %+v, want password", e)
			}
		})
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	p := testPasswords(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h1 := mustHash(t, p, "correct horse")
		h2 := mustHash(t, p, "correct horse")
		if h1 == h2 {
			t.Errorf("two hashes of one password are equal: no salt")
		}
		if strings.Contains(h1, "correct horse") {
			t.Errorf("hash contains the password")
		}
	})
	t.Run("OK72Bytes", func(t *testing.T) {
		t.Parallel()
		mustHash(t, p, strings.Repeat("b", 72))
	})
	for name, pw := range map[string]string{
		"ErrTooShort":    "abc1234",
		"ErrTooLong":     strings.Repeat("c", 73),
		"ErrInvalidUTF8": "abcdefgh\xc3",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, err := p.Hash(context.Background(), pw)
			if h != "" {
				t.Errorf("Hash returned %q with an error", h)
			}
			wantCode(t, err, apperr.BadUserInput, pw)
		})
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	p := testPasswords(t)
	hash := mustHash(t, p, "correct horse battery")
	hash72 := mustHash(t, p, strings.Repeat("z", 72))
	composed := mustHash(t, p, "caf\u00e9-au-lait")    // é as one code point
	decomposed := mustHash(t, p, "cafe\u0301-au-lait") // e + combining acute
	ascii := mustHash(t, p, "password")
	fullWidth := mustHash(t, p, "ｐａｓｓｗｏｒｄ")

	tests := []struct {
		name     string
		hash     string
		password string
		want     bool
		wantCode apperr.Code // "" for no error
	}{
		{"OK", hash, "correct horse battery", true, ""},
		{"OK72Bytes", hash72, strings.Repeat("z", 72), true, ""},
		{"OKComposedAgainstDecomposed", composed, "cafe\u0301-au-lait", true, ""},
		{"OKDecomposedAgainstComposed", decomposed, "caf\u00e9-au-lait", true, ""},
		{"OKFullWidthAgainstASCII", ascii, "ｐａｓｓｗｏｒｄ", true, ""},
		{"OKASCIIAgainstFullWidth", fullWidth, "password", true, ""},
		{"OKWrongPassword", hash, "correct horse battery!", false, ""},
		{"OKCaseMatters", hash, "Correct horse battery", false, ""},
		{"OKEmptyPassword", hash, "", false, ""},
		{"OK71OfThe72Bytes", hash72, strings.Repeat("z", 71), false, ""},
		{"ErrTooLong", hash, strings.Repeat("a", 73), false, apperr.BadUserInput},
		// bcrypt alone would ignore the 73rd byte and say true.
		{"ErrTooLongNoTruncation", hash72, strings.Repeat("z", 72) + "x", false, apperr.BadUserInput},
		{"ErrHuge", hash, strings.Repeat("a", 1<<20), false, apperr.BadUserInput},
		{"ErrInvalidUTF8", hash, "correct horse battery\xff", false, apperr.BadUserInput},
		{"ErrCorruptHash", "not-a-bcrypt-hash", "correct horse battery", false, apperr.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := p.Compare(context.Background(), tt.hash, tt.password)
			if ok != tt.want {
				t.Errorf("Compare = %v, want %v", ok, tt.want)
			}
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Compare error = %v, want nil", err)
				}
				return
			}
			wantCode(t, err, tt.wantCode, tt.password)
		})
	}
}

func TestCompareDummy(t *testing.T) {
	t.Parallel()
	p := testPasswords(t)
	tests := []struct {
		name     string
		password string
		wantCode apperr.Code
	}{
		{"OK", "correct horse battery", ""},
		{"OKShort", "x", ""},
		{"OK72Bytes", strings.Repeat("a", 72), ""},
		{"ErrTooLong", strings.Repeat("a", 73), apperr.BadUserInput},
		{"ErrInvalidUTF8", "abcdefgh\xff", apperr.BadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := p.CompareDummy(context.Background(), tt.password)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("CompareDummy = %v, want nil", err)
				}
				return
			}
			wantCode(t, err, tt.wantCode, tt.password)
		})
	}
}
