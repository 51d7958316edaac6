package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

// The graphql-transport-ws close codes for refusals. graphql-ws (and so
// Apollo Client and urql) does not retry 4401, so a refused client does not
// reconnect in a loop; it gets a fresh token first.
const (
	closeUnauthorized = 4401
	closeForbidden    = 4403
)

// wsKeepAlive is how often the server pings an idle subscription socket.
const wsKeepAlive = 15 * time.Second

// wsConn is a handle on one WebSocket connection, so that code outside the
// transport (the @auth directive, the session watcher) can close it with a
// protocol close code, and the @auth rules of its running subscriptions, so
// that the watcher can tell when one no longer holds.
type wsConn struct {
	mu    sync.Mutex
	conn  transport.WebsocketConn
	rules map[*auth.Rule]struct{}
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

// trackSubscription records the @auth rule of a subscription that is about
// to start on ctx's socket, until the subscription ends or release is
// called (when the rule refuses it). It is recorded before the rule is
// checked: a change announced after that check is then re-checked against
// it, and one announced before is what the check saw. Anything but a
// subscription's root field on a socket is not tracked.
func trackSubscription(ctx context.Context, r auth.Rule) (release func()) {
	c := wsConnFrom(ctx)
	if fc := graphql.GetFieldContext(ctx); c == nil || fc == nil || fc.Object != "Subscription" {
		return func() {}
	}
	key := &r
	c.mu.Lock()
	if c.rules == nil {
		c.rules = map[*auth.Rule]struct{}{}
	}
	c.rules[key] = struct{}{}
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { c.untrack(key) })
	return func() {
		stop()
		c.untrack(key)
	}
}

func (c *wsConn) untrack(key *auth.Rule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rules, key)
}

// runningRules returns the rules of the running subscriptions.
func (c *wsConn) runningRules() []auth.Rule {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]auth.Rule, 0, len(c.rules))
	for r := range c.rules {
		out = append(out, *r)
	}
	return out
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
	conn, err := a.inner.Accept(w, r, opts)
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
func websocketTransport(a *auth.Service, checkEvery time.Duration, logger *slog.Logger) transport.Websocket {
	return transport.Websocket{
		Implementation: wsAccept{inner: transport.CoderWebsocketImplementation{
			// The origin is checked before the upgrade, against CORS_ORIGINS.
			AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true},
		}},
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: wsKeepAlive,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx, viewer, expires, err := a.WebsocketInit(ctx, payload.Authorization())
			if err != nil {
				ctx = transport.WithWebsocketCloseCode(ctx, closeUnauthorized)
				return transport.AppendCloseReason(ctx, apperr.MessageOf(err)), nil, err
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

// watchSession closes a signed-in connection with 4401 when its access token
// expires or its session ends (logout, revocation, a password change), and
// with 4403 when a running subscription's @auth rule no longer admits its
// user (a demoted admin's purchaseMade): the client reconnects with a fresh
// token, or not at all. It re-checks at once when changes announces a change
// of the user's access, and every interval in any case, for changes made on
// other instances.
func watchSession(ctx context.Context, c *wsConn, a *auth.Service, v auth.Viewer, expires time.Time, changes <-chan struct{}, every time.Duration, logger *slog.Logger) {
	expiry := time.NewTimer(time.Until(expires))
	defer expiry.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	// recheck reports whether it closed the connection.
	recheck := func() bool {
		err := a.Recheck(ctx, v, c.runningRules())
		switch {
		case err == nil:
			return false
		case apperr.IsCode(err, apperr.Unauthenticated):
			c.close(closeUnauthorized, "session ended")
			return true
		case apperr.IsCode(err, apperr.Forbidden):
			c.close(closeForbidden, apperr.MessageOf(err))
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
			c.close(closeUnauthorized, "access token expired")
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

// closeOnRefusal closes the socket of a subscription that @auth refused, with
// 4401 or 4403, as the graphql-transport-ws protocol expects.
func closeOnRefusal(ctx context.Context, err error) {
	c := wsConnFrom(ctx)
	if c == nil || err == nil {
		return
	}
	// Only a refused subscription field closes the socket; a field refused
	// inside an event (User.email, say) is an error in that event's payload.
	if fc := graphql.GetFieldContext(ctx); fc == nil || fc.Object != "Subscription" {
		return
	}
	switch apperr.CodeOf(err) {
	case apperr.Unauthenticated:
		c.close(closeUnauthorized, apperr.MessageOf(err))
	case apperr.Forbidden:
		c.close(closeForbidden, apperr.MessageOf(err))
	}
}
