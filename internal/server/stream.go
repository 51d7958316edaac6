package server

import (
	"context"
	"errors"
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
	// retriesOnDrop says the protocol's clients take a stream that ends
	// without its last frame for a lost connection and retry it, reading
	// their credentials afresh: an expired access token ends a stream so.
	retriesOnDrop() bool
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
	return r.URL.Path == graphqlPath && (sseRequested(r) || multipartRequested(r) ||
		(r.Method == http.MethodGet && streamToken(r) != ""))
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

// validate parses and validates params. Refusals that carry no code are
// problems with the request (GRAPHQL_VALIDATION_FAILED), as in execute.
func validate(ctx context.Context, exec graphql.GraphExecutor, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs == nil {
		return opCtx, nil
	}
	for _, e := range errs {
		if _, ok := e.Extensions["code"]; !ok {
			errcode.Set(e, errcode.ValidationFailed)
		}
	}
	return nil, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs).Errors
}

// admission is who a stream's operation runs for, or why it may not run.
type admission struct {
	ctx     context.Context // the operation's (the stream's credentials)
	viewer  *auth.Viewer    // nil: anonymous
	expires time.Time       // when the viewer's credentials expire
	status  int
	refused gqlerror.List
	// expired says the refusal is an expired access token, which a client
	// retries with a fresh one.
	expired bool
}

// admit decides whether a validated operation may start as a stream, and
// for whom: a mutation never over GET; a subscription for the request's
// stream credentials (StreamInit), refused when they do not hold.
func (s streamer) admit(ctx context.Context, method string, opCtx *graphql.OperationContext) admission {
	switch opCtx.Operation.Operation {
	case ast.Mutation:
		if method == http.MethodGet {
			// Never run a mutation over GET: a link or an <img> could
			// trigger it.
			return admission{status: http.StatusMethodNotAllowed, refused: codedErrors(apperr.GraphQLValidationFailed,
				"only queries and subscriptions may be sent with GET; send mutations with POST")}
		}
	case ast.Subscription:
		sctx, viewer, expires, err := s.auth.StreamInit(ctx)
		if err == nil && viewer != nil && !time.Now().Before(expires) {
			// Verified within the token check's leeway, but past its exp:
			// the stream would end at once.
			err = errAccessExpired
		}
		if err != nil {
			return admission{status: http.StatusUnauthorized, refused: gqlerror.List{s.present(ctx, err)},
				expired: errors.Is(err, auth.ErrTokenExpired)}
		}
		return admission{ctx: sctx, viewer: viewer, expires: expires}
	}
	return admission{ctx: ctx}
}

// runningOp is an operation running for a stream: its results, in order,
// until results is closed; ended says why the server ends it (the access
// it runs on ended) and is followed by nothing else.
type runningOp struct {
	results <-chan *graphql.Response
	ended   <-chan error
	cancel  context.CancelCauseFunc
	done    <-chan struct{}
}

// stop ends the operation and waits for it, so that nothing outlives it.
func (op *runningOp) stop() {
	op.cancel(nil)
	<-op.done
}

// start dispatches the subscription opCtx under ctx for viewer (nil:
// anonymous). When start returns, the subscription is registered: no event
// published later is missed. (Queries and mutations go through runOnce.)
func (s streamer) start(ctx context.Context, exec graphql.GraphExecutor, opCtx *graphql.OperationContext, viewer *auth.Viewer, expires time.Time) *runningOp {
	runCtx, cancel := context.WithCancelCause(ctx)
	var changes <-chan struct{}
	if viewer != nil {
		// Subscribed before the operation starts: no change that concerns
		// it is missed.
		changes = s.auth.AccessChanges(runCtx, viewer.User.ID)
	}
	responses, execCtx := exec.DispatchOperation(runCtx, opCtx)
	results := make(chan *graphql.Response)
	ended := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	if viewer != nil {
		rules := subscriptionRules(opCtx.Operation)
		go func() {
			if err := watchAccess(runCtx, s.auth, *viewer, expires, rules, changes, s.checkEvery, s.logger); err != nil {
				ended <- err
				cancel(err)
			}
		}()
	}
	return &runningOp{results: results, ended: ended, cancel: cancel, done: done}
}

// startStreaming clears the request's deadlines, writes the stream's
// headers, and returns a writer of whole frames that flushes each and says
// whether the client still reads.
func startStreaming(w http.ResponseWriter, contentType string) func(frame func(io.Writer) error) bool {
	// The server's read and write timeouts are for requests; a stream
	// lives as long as its access (keep-alives show it is not idle).
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	// Asks nginx not to buffer the stream (see the README on proxies).
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return func(frame func(io.Writer) error) bool {
		if err := frame(w); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
}

// serve runs the operation of r and streams its results with f.
func (s streamer) serve(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, f streamFraming) {
	params, refused := readStreamParams(r)
	if refused != nil {
		f.refuse(w, refused.status, codedErrors(apperr.GraphQLParseFailed, refused.message))
		return
	}
	ctx := r.Context()
	opCtx, errs := validate(ctx, exec, params)
	if errs != nil {
		f.refuse(w, http.StatusBadRequest, errs)
		return
	}
	adm := s.admit(ctx, r.Method, opCtx)
	if adm.expired && f.retriesOnDrop() {
		// As a socket's 4419: the client retries, with fresh credentials.
		write := startStreaming(w, f.contentType())
		write(f.open)
		return
	}
	if adm.refused != nil {
		f.refuse(w, adm.status, adm.refused)
		return
	}
	ctx = adm.ctx
	if opCtx.Operation.Operation != ast.Subscription {
		// One result: it runs before anything is written, so that what it
		// sets on the response (a login's cookies) goes out with it.
		resp := s.runOnce(ctx, exec, opCtx)
		if f.streamsOnlySubscriptions() {
			writeResponse(w, http.StatusOK, mediaJSON, resp)
			return
		}
		write := startStreaming(w, f.contentType())
		_ = write(f.open) && write(func(w io.Writer) error { return f.result(w, resp) }) && write(f.complete)
		return
	}

	write := startStreaming(w, f.contentType())
	op := s.start(ctx, exec, opCtx, adm.viewer, adm.expires)
	defer op.stop()
	if !write(f.open) {
		return
	}
	keepAlive := time.NewTicker(f.keepAliveEvery())
	defer keepAlive.Stop()
	for {
		select {
		case resp, ok := <-op.results:
			if !ok {
				select {
				case err := <-op.ended:
					// The results stopped because the access ended.
					s.writeEnded(ctx, write, f, err)
				default:
					write(f.complete)
				}
				return
			}
			if !write(func(w io.Writer) error { return f.result(w, resp) }) {
				return
			}
			keepAlive.Reset(f.keepAliveEvery())
		case err := <-op.ended:
			s.writeEnded(ctx, write, f, err)
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

// runOnce runs a query or mutation under REQUEST_TIMEOUT and returns its
// result.
func (s streamer) runOnce(ctx context.Context, exec graphql.GraphExecutor, opCtx *graphql.OperationContext) *graphql.Response {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	responses, execCtx := exec.DispatchOperation(ctx, opCtx)
	return responses(execCtx)
}

// writeEnded writes the server's end of a stream for err, then complete;
// for an expired access token it writes nothing where the protocol's
// clients retry a dropped stream (they come back with fresh credentials).
func (s streamer) writeEnded(ctx context.Context, write func(func(io.Writer) error) bool, f streamFraming, err error) {
	if errors.Is(err, auth.ErrTokenExpired) && f.retriesOnDrop() {
		return
	}
	errs := gqlerror.List{s.present(ctx, err)}
	if write(func(w io.Writer) error { return f.ended(w, errs) }) {
		write(f.complete)
	}
}
