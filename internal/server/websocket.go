package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

// The close codes this server ends a socket with (graphql-transport-ws).
// graphql-ws, and so Apollo Client's GraphQLWsLink and urql, treats 4401 as
// fatal and retries anything in 4000-4999 outside its own fatal list
// (4400, 4401, 4406, 4409, 4429, 4500); the codes are chosen for that.
const (
	// closeUnauthorized: no valid session (a bad token at connection_init,
	// or the session ended: logout, revocation, a password change). Fatal:
	// the client must not reconnect with the same credentials.
	closeUnauthorized = 4401
	// closeTokenExpired: the connection's access token expired (or was
	// already expired at connection_init) while its session may still be
	// live. Retried: graphql-ws reconnects, calls a lazy connectionParams
	// again for a fresh token, and re-subscribes its subscriptions. Not in
	// the protocol's list; 4419 echoes HTTP's unofficial 419 "authentication
	// timeout", and a code of its own lets a client tell it from 1013
	// (server overloaded) and from 4403 (forbidden).
	closeTokenExpired = 4419
	// closeTryAgainLater (RFC 6455 1013): connection_init came while the
	// database is unavailable, or could not check the credentials. Retried.
	closeTryAgainLater = 1013
)

// wsKeepAlive is how often the server pings an idle subscription socket.
const wsKeepAlive = 15 * time.Second

// wsConn is a handle on one WebSocket connection, so that code outside the
// transport (the @auth directive, the session watcher) can close it with a
// protocol close code, and its running subscriptions with their @auth
// rules, so that the watcher can end one whose rule no longer holds.
type wsConn struct {
	mu   sync.Mutex
	conn transport.WebsocketConn
	subs map[*wsSubscription]struct{}
}

type wsConnKey struct{}

func wsConnFrom(ctx context.Context) *wsConn {
	c, _ := ctx.Value(wsConnKey{}).(*wsConn)
	return c
}

// close ends the connection with code; the transport notices and cleans up.
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.WriteClose(code, reason)
	}
}

// wsSubscription is one subscription operation on a socket: its context,
// which ending stops the operation alone, and, once its root field's @auth
// rule admitted it, that rule and the field's path.
type wsSubscription struct {
	ctx context.Context
	end context.CancelCauseFunc
	// Set by trackSubscription, under the connection's lock.
	rule auth.Rule
	path ast.Path
}

type wsSubscriptionKey struct{}

// startWsSubscription gives a subscription operation on a socket its own
// context, which the session watcher can end (with the reason as cause)
// without touching the connection or its other operations.
func startWsSubscription(ctx context.Context) (context.Context, *wsSubscription) {
	ctx, end := context.WithCancelCause(ctx)
	sub := &wsSubscription{ctx: ctx, end: end}
	return context.WithValue(ctx, wsSubscriptionKey{}, sub), sub
}

// responses makes sub's outcome what graphql-transport-ws clients expect:
//   - a subscription that fails before it starts (its root field refused by
//     @auth, the database down, a resolver error) gets an `error` message
//     with those errors for its id, instead of gqlgen's `next` with the
//     errors and then `complete`, which graphql-ws hands to `next` and then
//     reports as a normal end;
//   - a subscription ended by the watcher (cause an *apperr.Error, e.g.
//     FORBIDDEN after a demotion) gets an `error` with that error, and
//     nothing it would have delivered after the end.
//
// gqlgen sends the `error` when the stream ends with errors added by
// transport.AddSubscriptionError (the transport reads them on the same
// goroutine, after the stream ended).
func (sub *wsSubscription) responses(h graphql.ResponseHandler, present graphql.ErrorPresenterFunc) graphql.ResponseHandler {
	first := true
	// The stream waits for its next event on the context it is given: the
	// transport's, which knows nothing of sub's end. callCtx is that one
	// ended with sub too; the transport gives the same one every call, so
	// it is made once, not per event.
	var (
		parent  context.Context
		callCtx context.Context
	)
	return func(ctx context.Context) *graphql.Response {
		if ctx != parent {
			var cancel context.CancelFunc
			parent = ctx
			callCtx, cancel = context.WithCancel(ctx)
			context.AfterFunc(sub.ctx, cancel)
		}
		r := h(callCtx)
		// The one response of an operation that never started has no data
		// at all (an event's always has some, null at worst).
		if first && r != nil && r.Data == nil && len(r.Errors) > 0 {
			for _, e := range r.Errors {
				transport.AddSubscriptionError(ctx, e)
			}
			sub.end(nil)
			return nil
		}
		first = false
		if ae, ok := apperr.As(context.Cause(sub.ctx)); ok && sub.ctx.Err() != nil {
			e := present(ctx, ae)
			e.Path = sub.path
			transport.AddSubscriptionError(ctx, e)
			return nil
		}
		return r
	}
}

// trackSubscription records the @auth rule of a subscription that is about
// to start on ctx's socket, until the subscription ends or release is
// called (when the rule refuses it). It is recorded before the rule is
// checked: a change announced after that check is then re-checked against
// it, and one announced before is what the check saw. Anything but a
// subscription's root field on a socket is not tracked.
func trackSubscription(ctx context.Context, r auth.Rule) (release func()) {
	c := wsConnFrom(ctx)
	sub, _ := ctx.Value(wsSubscriptionKey{}).(*wsSubscription)
	fc := graphql.GetFieldContext(ctx)
	if c == nil || sub == nil || fc == nil || fc.Object != "Subscription" {
		return func() {}
	}
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[*wsSubscription]struct{}{}
	}
	sub.rule, sub.path = r, fc.Path()
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	stop := context.AfterFunc(sub.ctx, func() { c.untrack(sub) })
	return func() {
		stop()
		c.untrack(sub)
	}
}

func (c *wsConn) untrack(sub *wsSubscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.subs, sub)
}

// running returns the running subscriptions and their rules, in one order.
func (c *wsConn) running() ([]*wsSubscription, []auth.Rule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	subs := make([]*wsSubscription, 0, len(c.subs))
	rules := make([]auth.Rule, 0, len(c.subs))
	for s := range c.subs {
		subs = append(subs, s)
		rules = append(rules, s.rule)
	}
	return subs, rules
}

// wsAccept accepts the upgrade and records the connection in its handle. The
// origin has been checked already (checkWebsocketOrigin).
type wsAccept struct {
	inner transport.CoderWebsocketImplementation
}

func (a wsAccept) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	// The server's read and write timeouts are for requests; a hijacked
	// connection keeps them unless they are cleared. Keep-alive pings and the
	// session watcher bound an idle or dead socket instead.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	// corkingWriter: a socket's frames are sent in batches (wscork.go).
	conn, err := a.inner.Accept(corkingWriter{w}, r, opts)
	if err == nil {
		if h := wsConnFrom(r.Context()); h != nil {
			h.mu.Lock()
			h.conn = conn
			h.mu.Unlock()
		}
	}
	return conn, err
}

// checkWebsocketOrigin refuses a WebSocket handshake from a browser origin
// that is neither this server nor listed in CORS_ORIGINS: a page on another
// site must not be able to open a socket with our user's cookie. It also
// gives the request its connection handle.
func checkWebsocketOrigin(origins []string) func(http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[o] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				next.ServeHTTP(w, r)
				return
			}
			origin := strings.ToLower(r.Header.Get("Origin"))
			if origin != "" && !allowed[origin] && origin != "http://"+strings.ToLower(r.Host) && origin != "https://"+strings.ToLower(r.Host) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), wsConnKey{}, &wsConn{})))
		})
	}
}

// websocketTransport is graphql-transport-ws (and the legacy protocol) on
// /graphql, authenticated at connection_init.
func websocketTransport(a *auth.Service, db Database, checkEvery time.Duration, logger *slog.Logger) transport.Websocket {
	return transport.Websocket{
		Implementation: wsAccept{inner: transport.CoderWebsocketImplementation{
			// The origin is checked before the upgrade, against CORS_ORIGINS.
			AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true},
		}},
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: wsKeepAlive,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if !db.Available() {
				// Checking credentials would wait for DB_TIMEOUT, and no
				// operation could run anyway: retry later (1013), as an
				// HTTP client is told with SERVICE_UNAVAILABLE.
				ctx = transport.WithWebsocketCloseCode(ctx, closeTryAgainLater)
				msg := errDatabaseUnavailable.Message
				return transport.AppendCloseReason(ctx, msg), nil, errors.New(msg)
			}
			ctx, viewer, expires, err := a.WebsocketInit(ctx, payload.Authorization())
			if err != nil {
				code := closeUnauthorized
				switch {
				case errors.Is(err, auth.ErrTokenExpired):
					// The session may be live: the client can get a fresh
					// token and retry (a lazy connectionParams does).
					code = closeTokenExpired
				case !apperr.IsCode(err, apperr.Unauthenticated):
					// Not a verdict on the credentials (the database is
					// down): the client should try again, not give up.
					code = closeTryAgainLater
					logger.WarnContext(ctx, "websocket connection_init failed", "err", err)
				}
				ctx = transport.WithWebsocketCloseCode(ctx, code)
				// gqlgen writes the error's text to the client: only the
				// client-facing message, never a cause.
				msg := apperr.MessageOf(err)
				return transport.AppendCloseReason(ctx, msg), nil, errors.New(msg)
			}
			if viewer != nil {
				if c := wsConnFrom(ctx); c != nil {
					// Subscribed before the ack, so before any subscription
					// can start: no change that concerns one is missed.
					changes := a.AccessChanges(ctx, viewer.User.ID)
					go watchSession(ctx, c, a, *viewer, expires, changes, checkEvery, logger)
				}
			}
			return ctx, nil, nil
		},
	}
}

// watchSession ends what a signed-in connection may no longer do:
//   - its access token expires: the socket closes with 4419, which clients
//     retry with fresh credentials (a socket never outlives its token);
//   - its session ends (logout, revocation, a password change): the socket
//     closes with 4401, which clients do not retry;
//   - a running subscription's @auth rule no longer admits its user (a
//     demoted admin's purchaseMade): that subscription alone ends with an
//     `error` (FORBIDDEN); the socket and its other subscriptions go on.
//
// It re-checks at once when changes announces a change of the user's
// access, and every interval in any case, for changes made on other
// instances.
func watchSession(ctx context.Context, c *wsConn, a *auth.Service, v auth.Viewer, expires time.Time, changes <-chan struct{}, every time.Duration, logger *slog.Logger) {
	expiry := time.NewTimer(time.Until(expires))
	defer expiry.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	// recheck reports whether it closed the connection.
	recheck := func() bool {
		subs, rules := c.running()
		refused, err := a.Recheck(ctx, v, rules)
		switch {
		case err == nil:
			for i, r := range refused {
				if r != nil {
					subs[i].end(r)
				}
			}
			return false
		case apperr.IsCode(err, apperr.Unauthenticated):
			c.close(closeUnauthorized, "session ended")
			return true
		case ctx.Err() == nil:
			logger.WarnContext(ctx, "websocket session check failed", "err", err)
		}
		return false
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-expiry.C:
			c.close(closeTokenExpired, "access token expired")
			return
		case _, ok := <-changes:
			if !ok || recheck() {
				return
			}
		case <-tick.C:
			if recheck() {
				return
			}
		}
	}
}
