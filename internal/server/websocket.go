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
// protocol close code.
type wsConn struct {
	mu   sync.Mutex
	conn transport.WebsocketConn
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
					go watchSession(ctx, c, a, *viewer, expires, checkEvery, logger)
				}
			}
			return ctx, nil, nil
		},
	}
}

// watchSession closes a signed-in connection with 4401 when its access token
// expires or its session ends (logout, revocation, a password change): the
// client reconnects with a fresh token, or not at all.
func watchSession(ctx context.Context, c *wsConn, a *auth.Service, v auth.Viewer, expires time.Time, every time.Duration, logger *slog.Logger) {
	expiry := time.NewTimer(time.Until(expires))
	defer expiry.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-expiry.C:
			c.close(closeUnauthorized, "access token expired")
			return
		case <-tick.C:
			err := a.StillLive(ctx, v)
			if apperr.IsCode(err, apperr.Unauthenticated) {
				c.close(closeUnauthorized, "session ended")
				return
			}
			if err != nil {
				logger.WarnContext(ctx, "websocket session check failed", "err", err)
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
