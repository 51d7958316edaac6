package auth

import (
	"context"
	"time"

	"github.com/coursehub/coursehub/internal/user"
)

// Events carries "access changed for user X" from where access changes to
// the long-lived connections of that user, which re-check at once instead
// of at their next periodic check.
type Events interface {
	// AccessChanged is called after a session of userID ended or their
	// role changed. It must never block.
	AccessChanged(ctx context.Context, userID string)
	// SubscribeAccessChanged signals userID's changes until ctx ends.
	SubscribeAccessChanged(ctx context.Context, userID string) <-chan struct{}
}

// AccessChanges signals each change of userID's access (a session ended, a
// role changed) until ctx ends; the receiver re-checks with Recheck.
func (s *Service) AccessChanges(ctx context.Context, userID string) <-chan struct{} {
	return s.events.SubscribeAccessChanged(ctx, userID)
}

// revoke ends the given sessions of userID and announces it. Every
// revocation goes through here, so that no open socket misses one.
func (s *Service) revoke(ctx context.Context, userID string, now time.Time, sessionIDs ...string) error {
	// Announced even when a later revocation fails: earlier ones stand.
	defer s.events.AccessChanged(ctx, userID)
	for _, id := range sessionIDs {
		if err := s.store.revokeSession(ctx, id, now); err != nil {
			return err
		}
	}
	return nil
}

// SetRole changes another user's role (the @auth directive has checked that
// the caller is an admin) and announces it, so that the user's open sockets
// lose or keep their subscriptions at once.
// Errors: UNAUTHENTICATED, BAD_USER_INPUT (malformed id, own role, unknown
// role), NOT_FOUND.
func (s *Service) SetRole(ctx context.Context, userID string, role user.Role) (user.User, error) {
	v, err := s.Viewer(ctx)
	if err != nil {
		return user.User{}, err
	}
	u, err := s.users.SetRole(ctx, v.User.ID, userID, role)
	if err != nil {
		return user.User{}, err
	}
	s.events.AccessChanged(ctx, u.ID)
	s.record(ctx, EventRoleChanged, u.ID, v.SessionID)
	return u, nil
}
