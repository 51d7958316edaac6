// Package user owns accounts: the User type, the rules for emails, names and
// roles, and the users collection.
package user

import (
	"context"
	"time"
)

// Role is what a user may do. The GraphQL enum Role binds to it.
type Role string

// The roles, lowest first.
const (
	RoleUser Role = "USER"
	// RoleInstructor creates courses and edits their own.
	RoleInstructor Role = "INSTRUCTOR"
	RoleAdmin      Role = "ADMIN"
)

var rank = map[Role]int{RoleUser: 1, RoleInstructor: 2, RoleAdmin: 3}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return rank[r] > 0 }

// Satisfies reports whether r is at least min.
func (r Role) Satisfies(min Role) bool { return r.Valid() && rank[r] >= rank[min] }

// User is an account as the rest of the program sees it: no password hash.
type User struct {
	ID        string
	Name      string
	Email     string
	Role      Role
	CreatedAt time.Time
	UpdatedAt time.Time
	// PasswordVersion identifies the current password: it changes whenever
	// the password does. A session records the version it signed in with,
	// and a session of an older version is over (internal/auth). Empty
	// where the store did not read the hash (ByIDs).
	PasswordVersion string
	// PasswordSetBy is the session that set the current password; it stays
	// signed in through the change.
	PasswordSetBy string
	// EmailVerified is whether Email is the address a mailed link proved.
	EmailVerified bool
}

// OwnerID makes a User ownable for the @auth(allowOwner: true) rule: a user
// owns their own record.
func (u *User) OwnerID() string { return u.ID }

// SignupInput is what a new account starts from.
type SignupInput struct {
	Email    string
	Password string
	Name     string
}

// PasswordHasher hashes and checks passwords; the rules (length, encoding,
// cost) live in internal/auth.
type PasswordHasher interface {
	// Hash checks the password against the policy (BAD_USER_INPUT) and hashes it.
	Hash(ctx context.Context, password string) (string, error)
	// Compare reports whether password matches hash. It refuses a password no
	// hash could match (too long) with BAD_USER_INPUT.
	Compare(ctx context.Context, hash, password string) (bool, error)
	// CompareDummy does the same work as Compare against no account, so that an
	// unknown email costs as much as a wrong password.
	CompareDummy(ctx context.Context, password string) error
}

// Store persists users. Ids are opaque strings: the store makes and parses
// them. Its methods map driver errors to apperr codes.
type Store interface {
	// Insert stores a new user under a new id and returns it with that id.
	// Errors: CONFLICT (the email is taken).
	Insert(ctx context.Context, u User, passwordHash string) (User, error)
	// ByID returns one user. Errors: NOT_FOUND (also for a malformed id).
	ByID(ctx context.Context, id string) (User, error)
	// ByIDs returns the users that exist among ids, in no particular order,
	// without their password versions; malformed ids are skipped.
	ByIDs(ctx context.Context, ids []string) ([]User, error)
	// ByEmail returns a user and their password hash by normalised email.
	// Errors: NOT_FOUND.
	ByEmail(ctx context.Context, email string) (User, string, error)
	// SetRole sets a user's role and returns the user.
	// Errors: BAD_USER_INPUT (userId: malformed), NOT_FOUND.
	SetRole(ctx context.Context, id string, role Role, now time.Time) (User, error)
	// PasswordHash returns a user's password hash. Errors: NOT_FOUND.
	PasswordHash(ctx context.Context, id string) (string, error)
	// SetPasswordHash stores a new password hash set by session bySession.
	// Errors: NOT_FOUND.
	SetPasswordHash(ctx context.Context, id, hash, bySession string, now time.Time) error
	// SetEmailVerified records that email was proved to be the user's.
	// Errors: NOT_FOUND.
	SetEmailVerified(ctx context.Context, id, email string, now time.Time) error
	// SetEmail changes the user's email to a proved address.
	// Errors: NOT_FOUND, CONFLICT (email taken).
	SetEmail(ctx context.Context, id, email string, now time.Time) error
}
