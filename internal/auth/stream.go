package auth

import (
	"context"
	"time"
)

// StreamInit authenticates a long-lived HTTP stream (GraphQL over
// Server-Sent Events, multipart subscriptions) from what its request
// carried, exactly as WebsocketInit does a socket whose connection_init
// has no Authorization: the request's bearer token or access cookie, or,
// when that is missing or expired, the refresh cookie. It returns the
// stream's context, its viewer (nil when the request carried no
// credentials: anonymous streams may run public subscriptions) and when
// its credentials expire.
// Errors: UNAUTHENTICATED (a bad, expired or revoked token, an ended
// session; for an expired one, errors.Is(err, ErrTokenExpired)).
func (s *Service) StreamInit(ctx context.Context) (context.Context, *Viewer, time.Time, error) {
	return s.WebsocketInit(ctx, "")
}
