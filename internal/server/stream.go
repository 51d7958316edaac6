package server

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

// Subscriptions over plain HTTP: one request, one operation, its results
// streamed in the response until the operation ends, the client goes, or
// the access it runs on ends. Two framings share this: GraphQL over
// Server-Sent Events (sse.go) and Apollo's multipart subscriptions
// (multipart.go). They get the same auth as any request (the middleware's
// principal), the same limits (the handler's extensions), and the rules of
// subscription sockets: a signed-in stream ends when its access token
// expires, its session ends, or its subscription's @auth rule stops
// holding, checked at once on an announced change and every
// WS_SESSION_CHECK_INTERVAL.

// streamFraming writes one protocol's frames. Every method writes whole
// frames; the streamer flushes after each.
type streamFraming interface {
	// contentType is the media type of the stream.
	contentType() string
	// open is what goes first, so that the client and any proxy see the
	// stream is up before the first event.
	open(w io.Writer) error
	// result is one execution result.
	result(w io.Writer, resp *graphql.Response) error
	// ended says the server ends the stream for errs (the session ended).
	ended(w io.Writer, errs gqlerror.List) error
	keepAlive(w io.Writer) error
	// complete is the stream's last frame.
	complete(w io.Writer) error
	// keepAliveEvery is how often an idle stream sends keepAlive.
	keepAliveEvery() time.Duration
	// streamsOnlySubscriptions says a query or mutation gets one plain
	// JSON answer instead of a stream.
	streamsOnlySubscriptions() bool
	// refuse answers a request refused before it ran (unreadable, invalid,
	// over a limit, bad credentials) as the protocol says.
	refuse(w http.ResponseWriter, status int, errs gqlerror.List)
}

// streamer serves one streaming request.
type streamer struct {
	auth *auth.Service
	// checkEvery is WS_SESSION_CHECK_INTERVAL.
	checkEvery time.Duration
	// timeout bounds an operation that is not a subscription
	// (REQUEST_TIMEOUT), which the deadline middleware leaves to us.
	timeout time.Duration
	// stopping ends every stream when the server shuts down.
	stopping <-chan struct{}
	present  graphql.ErrorPresenterFunc
	logger   *slog.Logger
}

// streamAccepts reports whether r's Accept lists media type mt (with every
// parameter in params, matched case-insensitively), with a q above 0.
func streamAccepts(r *http.Request, mt string, params map[string]string) bool {
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
		got, ps, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || got != mt || ps["q"] == "0" {
			continue
		}
		ok := true
		for k, v := range params {
			// ParseMediaType lower-cases parameter names.
			if !strings.EqualFold(ps[strings.ToLower(k)], v) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// isStreamRequest reports whether r asks /graphql for a stream (SSE or
// multipart subscriptions): the middleware neither bounds it by
// REQUEST_TIMEOUT (the streamer bounds what is not a subscription) nor
// buffers it for the HTTP cache.
func isStreamRequest(r *http.Request) bool {
	return r.URL.Path == graphqlPath && (sseRequested(r) || multipartRequested(r))
}

// readStreamParams reads the operation of a streaming request: GET takes
// it from the query string (EventSource can do nothing else), POST from a
// JSON body.
func readStreamParams(r *http.Request) (*graphql.RawParams, *unreadable) {
	var params *graphql.RawParams
	var refused *unreadable
	if r.Method == http.MethodGet {
		params, refused = readGetParams(r)
	} else {
		params, refused = readPostParams(r)
	}
	if refused == nil && params.Query == "" && persistedHash(params.Extensions) == "" {
		refused = &unreadable{http.StatusBadRequest, "a query is required"}
	}
	return params, refused
}

func codedErrors(code apperr.Code, message string) gqlerror.List {
	return gqlerror.List{{Message: message, Extensions: map[string]any{"code": string(code)}}}
}

// serve runs the operation of r and streams its results with f.
func (s streamer) serve(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, f streamFraming) {
	params, refused := readStreamParams(r)
	if refused != nil {
		f.refuse(w, refused.status, codedErrors(apperr.GraphQLParseFailed, refused.message))
		return
	}
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		for _, e := range errs {
			if _, ok := e.Extensions["code"]; !ok {
				errcode.Set(e, errcode.ValidationFailed)
			}
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		f.refuse(w, http.StatusBadRequest, resp.Errors)
		return
	}
	kind := opCtx.Operation.Operation
	if r.Method == http.MethodGet && kind == ast.Mutation {
		// Never run a mutation over GET: a link or an <img> could trigger it.
		f.refuse(w, http.StatusMethodNotAllowed, codedErrors(apperr.GraphQLValidationFailed,
			"only queries and subscriptions may be sent with GET; send mutations with POST"))
		return
	}

	if kind != ast.Subscription && f.streamsOnlySubscriptions() {
		runCtx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		responses, execCtx := exec.DispatchOperation(runCtx, opCtx)
		writeResponse(w, http.StatusOK, mediaJSON, responses(execCtx))
		return
	}

	var viewer *auth.Viewer
	var expires time.Time
	var changes <-chan struct{}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if kind == ast.Subscription {
		var err error
		viewer, expires, err = s.auth.StreamViewer(ctx)
		if err != nil {
			f.refuse(w, http.StatusUnauthorized, gqlerror.List{s.present(ctx, err)})
			return
		}
		if viewer != nil {
			// Subscribed before the operation starts: no change that
			// concerns it is missed.
			changes = s.auth.AccessChanges(runCtx, viewer.User.ID)
		}
	} else {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeout(runCtx, s.timeout)
		defer stop()
	}

	// The server's read and write timeouts are for requests; a stream
	// lives as long as its access (keep-alives show it is not idle).
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", f.contentType())
	h.Set("Cache-Control", "no-store")
	// Asks nginx not to buffer the stream (see the README on proxies).
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(frame func(io.Writer) error) bool {
		if err := frame(w); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The subscription is registered by DispatchOperation: once the client
	// reads the opening frame, no event published later is missed.
	responses, execCtx := exec.DispatchOperation(runCtx, opCtx)
	if !write(f.open) {
		return
	}
	results := make(chan *graphql.Response)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		defer close(results)
		for {
			resp := responses(execCtx)
			if resp == nil {
				return
			}
			select {
			case results <- resp:
			case <-runCtx.Done():
				return
			}
		}
	}()
	// Stop the operation and wait for it, so nothing outlives the request.
	defer func() { cancel(nil); <-produced }()

	ended := make(chan error, 1)
	if viewer != nil {
		rules := subscriptionRules(opCtx.Operation)
		go func() {
			if err := watchAccess(runCtx, s.auth, *viewer, expires, rules, changes, s.checkEvery, s.logger); err != nil {
				ended <- err
			}
		}()
	}
	keepAlive := time.NewTicker(f.keepAliveEvery())
	defer keepAlive.Stop()
	for {
		select {
		case resp, ok := <-results:
			if !ok {
				write(f.complete)
				return
			}
			if !write(func(w io.Writer) error { return f.result(w, resp) }) {
				return
			}
			keepAlive.Reset(f.keepAliveEvery())
		case err := <-ended:
			cancel(err)
			errs := gqlerror.List{s.present(ctx, err)}
			if write(func(w io.Writer) error { return f.ended(w, errs) }) {
				write(f.complete)
			}
			return
		case <-keepAlive.C:
			if !write(f.keepAlive) {
				return
			}
		case <-ctx.Done():
			return // the client went away
		case <-s.stopping:
			return
		}
	}
}
