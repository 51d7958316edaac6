package auth

import (
	"context"
	"errors"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Session is a live session as its owner sees it.
type Session struct {
	ID        string
	CreatedAt time.Time
	// LastUsedAt is when the session last signed in or refreshed.
	LastUsedAt time.Time
	ExpiresAt  time.Time
	UserAgent  *string
	IP         *string
	// Current marks the session of the request.
	Current bool
}

var errNoSuchSession = apperr.New(apperr.NotFound, "session not found")

// Sessions lists the caller's live sessions, newest first.
// Errors: UNAUTHENTICATED.
func (s *Service) Sessions(ctx context.Context) ([]Session, error) {
	v, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	list, lastUsed, err := s.store.liveSessions(ctx, v.User.ID, s.now().UTC())
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(list))
	for _, ss := range list {
		if !ss.holdsPassword(v.User) {
			continue
		}
		last := ss.CreatedAt
		if t, ok := lastUsed[ss.ID]; ok && t.After(last) {
			last = t
		}
		out = append(out, Session{
			ID: ss.ID, CreatedAt: ss.CreatedAt, LastUsedAt: last.UTC(), ExpiresAt: ss.ExpiresAt,
			UserAgent: nonEmpty(ss.Client.UserAgent), IP: nonEmpty(ss.Client.IP), Current: ss.ID == v.SessionID,
		})
	}
	return out, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RevokeSession ends one of the caller's own sessions (the current one too).
// Someone else's session is NOT_FOUND, exactly like a missing one.
// Errors: UNAUTHENTICATED, BAD_USER_INPUT (malformed id), NOT_FOUND.
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	v, err := s.Viewer(ctx)
	if err != nil {
		return err
	}
	ss, err := s.store.sessionByID(ctx, id)
	if errors.Is(err, errMalformedID) {
		return apperr.Input("id", "malformed id")
	}
	if errors.Is(err, errNoRow) || (err == nil && ss.UserID != v.User.ID) {
		return errNoSuchSession
	}
	if err != nil {
		return err
	}
	if err := s.revoke(ctx, v.User.ID, s.now().UTC(), ss.ID); err != nil {
		return err
	}
	s.record(ctx, EventSessionRevoked, v.User.ID, ss.ID)
	if ss.ID == v.SessionID {
		s.clearCookies(ctx)
	}
	return nil
}

// LogoutAll ends every session of the caller, the current one included.
// Errors: UNAUTHENTICATED.
func (s *Service) LogoutAll(ctx context.Context) error {
	v, err := s.Viewer(ctx)
	if err != nil {
		return err
	}
	if err := s.revokeAll(ctx, v.User.ID, ""); err != nil {
		return err
	}
	s.record(ctx, EventLogout, v.User.ID, v.SessionID)
	s.clearCookies(ctx)
	return nil
}

// revokeAll ends the user's live sessions except keep.
func (s *Service) revokeAll(ctx context.Context, userID, keep string) error {
	now := s.now().UTC()
	list, _, err := s.store.liveSessions(ctx, userID, now)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(list))
	for _, ss := range list {
		if ss.ID != keep {
			ids = append(ids, ss.ID)
		}
	}
	return s.revoke(ctx, userID, now, ids...)
}

// ChangePassword sets a new password and ends every other session of the
// user: whoever knew the old password is signed out, the caller is not.
// Wrong current passwords count towards the login limit of the account.
// Errors: UNAUTHENTICATED, RATE_LIMITED, BAD_USER_INPUT.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	v, err := s.Viewer(ctx)
	if err != nil {
		return err
	}
	failure, err := s.countLoginFailure(ctx, v.User.Email)
	if err != nil {
		return err
	}
	err = s.users.ChangePassword(ctx, v.User.ID, current, next, v.SessionID)
	if e, ok := apperr.As(err); !ok || e.Field != "currentPassword" {
		s.uncount(ctx, failure)
	}
	if err != nil {
		return err
	}
	if err := s.revokeAll(ctx, v.User.ID, v.SessionID); err != nil {
		return err
	}
	s.record(ctx, EventPasswordChanged, v.User.ID, v.SessionID)
	return nil
}
