package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/user"
)

// errAccessExpired ends a stream whose access token has expired; it wraps
// auth.ErrTokenExpired, which the transports tell apart: a client retries
// it with fresh credentials.
var errAccessExpired = &apperr.Error{Code: apperr.Unauthenticated, Message: auth.ErrTokenExpired.Error(), Err: auth.ErrTokenExpired}

// watchAccess waits until the access that a long-lived stream runs on ends,
// and says why: its access token expires or its session ends (logout,
// revocation, a password change): UNAUTHENTICATED; one of rules (those of
// its running subscriptions) no longer admits the user as stored now (a
// demoted admin's purchaseMade): FORBIDDEN. It re-checks at once when
// changes announces a change of the user's access, and every interval in
// any case, for changes made on other instances. It returns nil when ctx
// ends first, or changes is closed. This is the rule the WebSocket session
// watcher applies to sockets, for the HTTP streams (SSE, multipart).
func watchAccess(ctx context.Context, a *auth.Service, v auth.Viewer, expires time.Time, rules []auth.Rule,
	changes <-chan struct{}, every time.Duration, logger *slog.Logger) error {
	expiry := time.NewTimer(time.Until(expires))
	defer expiry.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	recheck := func() error {
		refused, err := a.Recheck(ctx, v, rules)
		switch {
		case err == nil:
			// A stream runs one subscription: any rule refused ends it.
			for _, r := range refused {
				if r != nil {
					return r
				}
			}
			return nil
		case apperr.IsCode(err, apperr.Unauthenticated), apperr.IsCode(err, apperr.Forbidden):
			return err
		case ctx.Err() == nil:
			// A database hiccup is not the end of a session: the next
			// check decides.
			logger.WarnContext(ctx, "stream session check failed", "err", err)
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-expiry.C:
			return errAccessExpired
		case _, ok := <-changes:
			if !ok {
				return nil
			}
			if err := recheck(); err != nil {
				return err
			}
		case <-tick.C:
			if err := recheck(); err != nil {
				return err
			}
		}
	}
}

// subscriptionRules are the @auth rules declared on the root fields of op,
// read from the schema, as the directive applies them: what a running
// subscription must keep satisfying. @public fields have none.
func subscriptionRules(op *ast.OperationDefinition) []auth.Rule {
	var rules []auth.Rule
	var walk func(set ast.SelectionSet, seen map[string]bool)
	walk = func(set ast.SelectionSet, seen map[string]bool) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Definition == nil {
					continue
				}
				d := s.Definition.Directives.ForName("auth")
				if d == nil {
					continue
				}
				// The schema's own literals; NewRule supplies the
				// defaults of arguments left out.
				var requires *user.Role
				if a := d.Arguments.ForName("requires"); a != nil && a.Value != nil {
					role := user.Role(a.Value.Raw)
					requires = &role
				}
				a := d.Arguments.ForName("allowOwner")
				allowOwner := a != nil && a.Value != nil && a.Value.Raw == "true"
				rules = append(rules, auth.NewRule(requires, allowOwner))
			case *ast.InlineFragment:
				walk(s.SelectionSet, seen)
			case *ast.FragmentSpread:
				if !seen[s.Name] && s.Definition != nil {
					seen[s.Name] = true
					walk(s.Definition.SelectionSet, seen)
				}
			}
		}
	}
	walk(op.SelectionSet, map[string]bool{})
	return rules
}
