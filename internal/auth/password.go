package auth

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/user"
)

// The password rule. bcrypt reads only the first 72 bytes, so a longer
// password is refused rather than silently truncated, on signup and on login
// alike. NIST SP 800-63B asks for at least 8 characters and room for 64.
const (
	MinPasswordRunes = 8
	MaxPasswordBytes = 72
)

// Passwords hashes and checks passwords with bcrypt at a fixed cost. At most
// a fixed number of hashes run at once: a flood of logins then queues here
// instead of taking every CPU from the rest of the API.
type Passwords struct {
	cost  int
	dummy []byte        // a hash of nothing anyone knows, for unknown emails
	slots chan struct{} // nil: unbounded
}

var _ user.PasswordHasher = (*Passwords)(nil)

// NewPasswords returns a hasher at the given bcrypt cost (4..31) running at
// most concurrency hashes at once (0: no bound).
func NewPasswords(cost, concurrency int) (*Passwords, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: bcrypt cost %d out of range", cost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(randomToken()), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: dummy hash: %w", err)
	}
	p := &Passwords{cost: cost, dummy: dummy}
	if concurrency > 0 {
		p.slots = make(chan struct{}, concurrency)
	}
	return p, nil
}

// run runs one bcrypt operation in a slot, giving up if ctx ends first.
func (p *Passwords) run(ctx context.Context, f func()) error {
	if p.slots != nil {
		select {
		case p.slots <- struct{}{}:
			defer func() { <-p.slots }()
		case <-ctx.Done():
			return fmt.Errorf("auth: waiting to hash a password: %w", ctx.Err())
		}
	}
	f()
	return nil
}

// normalize applies NFKC, as NIST SP 800-63B advises, so that the same
// password typed on two keyboards (composed or decomposed accents, full-width
// forms) is the same password.
func normalize(password string) ([]byte, error) {
	if !utf8.ValidString(password) {
		return nil, apperr.Input("password", "password is not valid UTF-8 text")
	}
	b := norm.NFKC.Bytes([]byte(password))
	if len(b) > MaxPasswordBytes {
		return nil, apperr.Input("password", fmt.Sprintf("password is too long (at most %d bytes)", MaxPasswordBytes))
	}
	return b, nil
}

// CheckPolicy reports whether password may be set as a new password.
func CheckPolicy(password string) error {
	b, err := normalize(password)
	if err != nil {
		return err
	}
	if utf8.RuneCount(b) < MinPasswordRunes {
		return apperr.Input("password", fmt.Sprintf("password is too short (at least %d characters)", MinPasswordRunes))
	}
	return nil
}

// Hash checks the policy and returns a bcrypt hash.
func (p *Passwords) Hash(ctx context.Context, password string) (string, error) {
	if err := CheckPolicy(password); err != nil {
		return "", err
	}
	b, _ := normalize(password)
	var h []byte
	var err error
	if rerr := p.run(ctx, func() { h, err = bcrypt.GenerateFromPassword(b, p.cost) }); rerr != nil {
		return "", rerr
	}
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// Compare reports whether password matches hash. A password longer than any
// that could have been set is BAD_USER_INPUT, as on signup.
func (p *Passwords) Compare(ctx context.Context, hash, password string) (bool, error) {
	b, err := normalize(password)
	if err != nil {
		return false, err
	}
	if rerr := p.run(ctx, func() { err = bcrypt.CompareHashAndPassword([]byte(hash), b) }); rerr != nil {
		return false, rerr
	}
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: compare password: %w", err)
	}
	return true, nil
}

// CompareDummy spends the same bcrypt work as Compare on no account.
func (p *Passwords) CompareDummy(ctx context.Context, password string) error {
	b, err := normalize(password)
	if err != nil {
		return err
	}
	return p.run(ctx, func() { _ = bcrypt.CompareHashAndPassword(p.dummy, b) })
}
