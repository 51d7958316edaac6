package auth

import (
	"context"
	"errors"
	"time"
)

// StreamViewer is who a long-lived HTTP stream (GraphQL over Server-Sent
// Events, multipart subscriptions) acts for, from what its request carried
// (the principal the middleware found): nil when it carried no credentials
// at all, since anonymous streams may run public subscriptions, and when
// its access token expires. Credentials that do not hold (a bad or expired
// token, an ended session, an access cookie the CSRF check refused) refuse
// the stream, as they refuse a socket at connection_init: a stream must not
// start on credentials it could not outlive.
// Errors: UNAUTHENTICATED (with the reason).
func (s *Service) StreamViewer(ctx context.Context) (*Viewer, time.Time, error) {
	st := stateFrom(ctx)
	if st == nil || (st.principal == nil && (st.failure == nil || errors.Is(st.failure, ErrTokenMissing))) {
		return nil, time.Time{}, nil
	}
	v, err := s.Viewer(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	return &v, st.principal.ExpiresAt, nil
}
