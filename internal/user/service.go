package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
)

// ErrAuthenticationFailed is the one answer to a wrong email or password, so
// that the two cannot be told apart.
var ErrAuthenticationFailed = apperr.New(apperr.Unauthenticated, "invalid email or password")

// Service applies the account rules.
type Service struct {
	store  Store
	hasher PasswordHasher
	now    func() time.Time
}

// NewService returns a Service over store, hashing with hasher.
func NewService(store Store, hasher PasswordHasher) *Service {
	return &Service{store: store, hasher: hasher, now: time.Now}
}

// Signup creates a USER account.
// Errors: BAD_USER_INPUT (email, name, password), CONFLICT (email taken).
func (s *Service) Signup(ctx context.Context, in SignupInput) (User, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	name, err := NormalizeName(in.Name)
	if err != nil {
		return User{}, err
	}
	return s.create(ctx, email, name, in.Password, RoleUser)
}

func (s *Service) create(ctx context.Context, email, name, password string, role Role) (User, error) {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	u := User{
		Name: name, Email: email, Role: role, CreatedAt: now, UpdatedAt: now,
		PasswordVersion: PasswordVersion(hash),
	}
	return s.store.Insert(ctx, u, hash)
}

// Authenticate checks an email and password.
// Errors: BAD_USER_INPUT (malformed email, over-long password),
// UNAUTHENTICATED (ErrAuthenticationFailed, for an unknown email and a wrong
// password alike, after the same bcrypt work). With a wrong password the
// account is returned with the error, so that the failure can be recorded
// against it.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, hash, err := s.store.ByEmail(ctx, email)
	if apperr.IsCode(err, apperr.NotFound) {
		if err := s.hasher.CompareDummy(ctx, password); err != nil {
			return User{}, err
		}
		return User{}, ErrAuthenticationFailed
	}
	if err != nil {
		return User{}, err
	}
	ok, err := s.hasher.Compare(ctx, hash, password)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return u, ErrAuthenticationFailed
	}
	return u, nil
}

// ByID returns one user. Errors: NOT_FOUND.
func (s *Service) ByID(ctx context.Context, id string) (User, error) {
	return s.store.ByID(ctx, id)
}

// ByIDs returns the users that exist among ids, in no particular order.
func (s *Service) ByIDs(ctx context.Context, ids []string) ([]User, error) {
	return s.store.ByIDs(ctx, ids)
}

// SetRole changes a user's role; it takes effect on that user's next request.
// An admin cannot change their own role, so the last admin cannot lock
// everyone out by accident.
// Errors: BAD_USER_INPUT (malformed id, own role, unknown role), NOT_FOUND.
func (s *Service) SetRole(ctx context.Context, actorID, userID string, role Role) (User, error) {
	if !role.Valid() {
		return User{}, apperr.Input("role", "unknown role")
	}
	if actorID == userID {
		return User{}, apperr.Input("userId", "you cannot change your own role")
	}
	return s.store.SetRole(ctx, userID, role, s.now().UTC().Truncate(time.Millisecond))
}

// ChangePassword replaces a user's password after checking the current one;
// bySession is the session asking, which stays signed in.
// Errors: BAD_USER_INPUT (wrong current password, weak new one), NOT_FOUND.
func (s *Service) ChangePassword(ctx context.Context, id, current, next, bySession string) error {
	hash, err := s.store.PasswordHash(ctx, id)
	if err != nil {
		return err
	}
	wrong := apperr.Input("currentPassword", "current password is incorrect")
	ok, err := s.hasher.Compare(ctx, hash, current)
	if apperr.IsCode(err, apperr.BadUserInput) {
		return wrong // too long to be anyone's password: simply wrong
	}
	if err != nil {
		return err
	}
	if !ok {
		return wrong
	}
	newHash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Field == "password" {
			return apperr.Input("newPassword", e.Message)
		}
		return err
	}
	return s.store.SetPasswordHash(ctx, id, newHash, bySession, s.now().UTC().Truncate(time.Millisecond))
}

// ByEmail finds a user by email. Errors: BAD_USER_INPUT (malformed
// email), NOT_FOUND.
func (s *Service) ByEmail(ctx context.Context, email string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, _, err := s.store.ByEmail(ctx, email)
	return u, err
}

// CheckPassword reports whether password is the user's, as
// BAD_USER_INPUT on field currentPassword if not.
// Errors: BAD_USER_INPUT, NOT_FOUND.
func (s *Service) CheckPassword(ctx context.Context, id, password string) error {
	hash, err := s.store.PasswordHash(ctx, id)
	if err != nil {
		return err
	}
	wrong := apperr.Input("currentPassword", "current password is incorrect")
	ok, err := s.hasher.Compare(ctx, hash, password)
	if apperr.IsCode(err, apperr.BadUserInput) || (err == nil && !ok) {
		return wrong
	}
	return err
}

// ResetPassword sets a new password without the old one (the caller has
// proved the right to) and returns the user with the new password version.
// Errors: BAD_USER_INPUT (newPassword), NOT_FOUND.
func (s *Service) ResetPassword(ctx context.Context, id, next string) (User, error) {
	newHash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Field == "password" {
			return User{}, apperr.Input("newPassword", e.Message)
		}
		return User{}, err
	}
	if err := s.store.SetPasswordHash(ctx, id, newHash, "", s.now().UTC().Truncate(time.Millisecond)); err != nil {
		return User{}, err
	}
	return s.store.ByID(ctx, id)
}

// SetEmailVerified records that a mailed link proved email to be the
// user's; it counts while it is the user's email. Errors: NOT_FOUND.
func (s *Service) SetEmailVerified(ctx context.Context, id, email string) error {
	return s.store.SetEmailVerified(ctx, id, email, s.now().UTC().Truncate(time.Millisecond))
}

// SetEmail changes the user's email to email, which a mailed link proved.
// Errors: BAD_USER_INPUT, NOT_FOUND, CONFLICT (taken, also by a concurrent
// change: the unique index has one winner).
func (s *Service) SetEmail(ctx context.Context, id, email string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	return s.store.SetEmail(ctx, id, email, s.now().UTC().Truncate(time.Millisecond))
}

// ErrAdminPasswordMismatch is EnsureAdmin's refusal to promote an account
// whose password is not ADMIN_PASSWORD: whoever signed up first with the
// future admin's address would otherwise become admin.
var ErrAdminPasswordMismatch = errors.New("ADMIN_EMAIL names an existing account whose password is not ADMIN_PASSWORD, " +
	"so it is not made an admin: if the account is yours, sign in as it and change its password to ADMIN_PASSWORD, " +
	"then restart; otherwise set ADMIN_EMAIL to another address")

// EnsureAdmin makes email an admin: it creates the account with password if
// it is missing, and promotes an existing USER or INSTRUCTOR account only
// if password is its password. An account that is already ADMIN is left as it is, whatever
// its password (its admin may have changed it since).
// Errors: ErrAdminPasswordMismatch; BAD_USER_INPUT (email, password).
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, fmt.Errorf("ADMIN_EMAIL: %w", err)
	}
	u, hash, err := s.store.ByEmail(ctx, email)
	if apperr.IsCode(err, apperr.NotFound) {
		u, err = s.create(ctx, email, "Admin", password, RoleAdmin)
		if !apperr.IsCode(err, apperr.Conflict) {
			if err != nil {
				return User{}, fmt.Errorf("ADMIN_PASSWORD: %w", err)
			}
			return u, nil
		}
		// Someone created the account first: another instance starting
		// with the same settings (an admin already, with this password),
		// or a signup, which the password check below keeps out.
		u, hash, err = s.store.ByEmail(ctx, email)
	}
	if err != nil {
		return User{}, err
	}
	if u.Role == RoleAdmin {
		return u, nil
	}
	ok, err := s.hasher.Compare(ctx, hash, password)
	if err != nil {
		return User{}, fmt.Errorf("ADMIN_PASSWORD: %w", err)
	}
	if !ok {
		return User{}, ErrAdminPasswordMismatch
	}
	return s.store.SetRole(ctx, u.ID, RoleAdmin, s.now().UTC().Truncate(time.Millisecond))
}
