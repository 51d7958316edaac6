package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
)

// GraphQL over SSE, "single connection mode": one event stream carries the
// results of many operations, for browsers on HTTP/1.1, which open at most
// six connections to one origin. The graphql-sse client's
// singleConnection option speaks it:
//
//   - PUT /graphql reserves a stream: 201 and a one-time token (text/plain);
//   - GET /graphql with the token (the X-GraphQL-Event-Stream-Token header,
//     or ?token= for EventSource) and Accept: text/event-stream opens it;
//     only one stream may fulfil a reservation;
//   - POST /graphql with the token and extensions.operationId starts an
//     operation: 202, its results go to the stream as
//     `next` {id, payload} and `complete` {id}; a request refused before it
//     runs is answered as any POST (GraphQL over HTTP);
//   - DELETE /graphql?operationId= with the token stops one.
//
// Each operation runs with the credentials of its own POST, under the same
// rules as a stream of its own (stream.go). A reservation lives in the
// memory of the instance that made it: behind a load balancer, single
// connection mode needs sticky sessions (distinct connections mode, over
// HTTP/2, does not).

const (
	sseTokenHeader = "X-GraphQL-Event-Stream-Token"
	sseTokenQuery  = "token"
	// sseReservationTTL is how long a reservation waits for its stream.
	sseReservationTTL = 30 * time.Second
	// sseMaxReservations bounds the reservations (waiting or streaming) of
	// one instance, so that a flood of PUTs cannot fill its memory.
	sseMaxReservations = 10000
	// sseMaxOperations bounds the operations running on one stream.
	sseMaxOperations = 100
	// sseMaxOperationID bounds an operation id's length.
	sseMaxOperationID = 128
)

// sseHub holds one instance's single-connection reservations.
type sseHub struct {
	mu      sync.Mutex
	streams map[[32]byte]*sseSingle // by SHA-256 of the token
	swept   time.Time
}

func newSSEHub() *sseHub { return &sseHub{streams: map[[32]byte]*sseSingle{}} }

// sseSingle is one reservation and, once connected, its stream.
type sseSingle struct {
	created time.Time
	// frames go to the stream; closed never (done says the stream ended).
	frames chan sseFrame
	done   chan struct{}

	// dropped is closed to end the stream without a last frame.
	dropped  chan struct{}
	dropOnce sync.Once

	mu        sync.Mutex
	connected bool
	ops       map[string]*runningOp
}

// sseFrame is one event of the stream.
type sseFrame struct {
	event string
	data  any
}

func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// reserve makes a reservation and returns its token, or "" when the
// instance holds too many.
func (h *sseHub) reserve(now time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Sub(h.swept) > time.Second || len(h.streams) >= sseMaxReservations {
		h.swept = now
		for k, st := range h.streams {
			st.mu.Lock()
			stale := !st.connected && now.Sub(st.created) > sseReservationTTL
			st.mu.Unlock()
			if stale {
				delete(h.streams, k)
			}
		}
	}
	if len(h.streams) >= sseMaxReservations {
		return ""
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	h.streams[tokenKey(token)] = &sseSingle{created: now, frames: make(chan sseFrame, 64),
		done: make(chan struct{}), dropped: make(chan struct{}), ops: map[string]*runningOp{}}
	return token
}

func (h *sseHub) get(token string) *sseSingle {
	if token == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams[tokenKey(token)]
}

func (h *sseHub) drop(token string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.streams, tokenKey(token))
}

// connect marks st as streaming; false if a stream has it already.
func (st *sseSingle) connect() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.connected {
		return false
	}
	st.connected = true
	return true
}

func (st *sseSingle) isConnected() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.connected
}

// add registers op under id; false if id runs already or st has too many.
func (st *sseSingle) add(id string, op *runningOp) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, dup := st.ops[id]; dup || len(st.ops) >= sseMaxOperations {
		return false
	}
	st.ops[id] = op
	return true
}

// reserveOperation registers id for an operation that runs to its end
// within the request (a query or mutation), so that its id is taken.
func (st *sseSingle) reserveOperation(id string) bool {
	done := make(chan struct{})
	close(done)
	return st.add(id, &runningOp{cancel: func(error) {}, done: done})
}

// remove unregisters id and returns its operation, nil if it had none.
func (st *sseSingle) remove(id string) *runningOp {
	st.mu.Lock()
	defer st.mu.Unlock()
	op := st.ops[id]
	delete(st.ops, id)
	return op
}

// drop ends the stream as a lost connection would.
func (st *sseSingle) drop() { st.dropOnce.Do(func() { close(st.dropped) }) }

// send queues a frame for the stream; false once the stream has ended.
func (st *sseSingle) send(f sseFrame) bool {
	select {
	case st.frames <- f:
		return true
	case <-st.done:
		return false
	}
}

// sseSingleTransport serves single connection mode on /graphql.
type sseSingleTransport struct {
	streamer
	hub *sseHub
}

// streamToken is the reservation token r carries.
func streamToken(r *http.Request) string {
	if t := r.Header.Get(sseTokenHeader); t != "" {
		return t
	}
	if r.Method == http.MethodGet {
		return r.URL.Query().Get(sseTokenQuery)
	}
	return ""
}

func (sseSingleTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	switch r.Method {
	case http.MethodPut, http.MethodDelete:
		return true
	case http.MethodGet, http.MethodPost:
		return streamToken(r) != ""
	}
	return false
}

func (t sseSingleTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodPut:
		token := t.hub.reserve(time.Now())
		if token == "" {
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, mediaJSON, apperr.ServiceUnavailable, "too many event streams; try again shortly")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, token)
	case http.MethodGet:
		t.stream(w, r)
	case http.MethodPost:
		t.operation(w, r, exec)
	case http.MethodDelete:
		st := t.hub.get(streamToken(r))
		if st == nil {
			writeError(w, http.StatusNotFound, mediaJSON, apperr.NotFound, "no event stream has this token")
			return
		}
		if op := st.remove(r.URL.Query().Get("operationId")); op != nil {
			op.stop()
		}
		w.WriteHeader(http.StatusOK)
	}
}

// stream is the GET that fulfils a reservation: it writes what the
// operations send until the client goes or the server stops, then stops
// them all.
func (t sseSingleTransport) stream(w http.ResponseWriter, r *http.Request) {
	token := streamToken(r)
	st := t.hub.get(token)
	if st == nil {
		writeError(w, http.StatusNotFound, mediaJSON, apperr.NotFound, "no event stream has this token; reserve one with PUT")
		return
	}
	if !st.connect() {
		writeError(w, http.StatusConflict, mediaJSON, apperr.Conflict, "this reservation has its event stream already")
		return
	}
	defer func() {
		t.hub.drop(token)
		close(st.done)
		st.mu.Lock()
		ops := st.ops
		st.ops = map[string]*runningOp{}
		st.mu.Unlock()
		for _, op := range ops {
			op.stop()
		}
	}()
	write := startStreaming(w, mediaEventStream+"; charset=utf-8")
	if !write(sseFraming{}.open) {
		return
	}
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case f := <-st.frames:
			if !write(func(w io.Writer) error { return writeSSEEvent(w, f.event, f.data) }) {
				return
			}
			keepAlive.Reset(sseKeepAlive)
		case <-keepAlive.C:
			if !write(sseFraming{}.keepAlive) {
				return
			}
		case <-r.Context().Done():
			return
		case <-st.dropped:
			return
		case <-t.stopping:
			return
		}
	}
}

// operation is a POST that starts an operation on a connected stream.
func (t sseSingleTransport) operation(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := responseMedia(r)
	if !ok {
		writeError(w, http.StatusNotAcceptable, mediaJSON, apperr.GraphQLParseFailed,
			"Accept must allow application/graphql-response+json or application/json")
		return
	}
	st := t.hub.get(streamToken(r))
	if st == nil || !st.isConnected() {
		writeError(w, http.StatusNotFound, media, apperr.NotFound, "no event stream is open with this token")
		return
	}
	params, refused := readPostParams(r)
	if refused != nil {
		writeError(w, refused.status, media, apperr.GraphQLParseFailed, refused.message)
		return
	}
	id, _ := params.Extensions["operationId"].(string)
	if id == "" || len(id) > sseMaxOperationID {
		writeError(w, http.StatusBadRequest, media, apperr.GraphQLParseFailed,
			"extensions.operationId must be a string of 1 to 128 characters in single connection mode")
		return
	}
	if params.Query == "" && persistedHash(params.Extensions) == "" {
		writeError(w, http.StatusBadRequest, media, apperr.GraphQLParseFailed, "a query is required")
		return
	}
	ctx := r.Context()
	opCtx, errs := validate(ctx, exec, params)
	if errs != nil {
		writeRequestErrors(w, requestErrorStatus(media), media, errs)
		return
	}
	adm := t.admit(ctx, r.Method, opCtx)
	if adm.refused != nil {
		// An expired token too: the client reconnects with fresh headers.
		writeRequestErrors(w, requestErrorStatus(media), media, adm.refused)
		return
	}
	ctx = adm.ctx
	if opCtx.Operation.Operation != ast.Subscription {
		// One result, run while this POST is answered, so that what it
		// sets on the response (a login's cookies) goes out with the 202.
		if !st.reserveOperation(id) {
			writeError(w, http.StatusConflict, media, apperr.Conflict,
				"an operation with this operationId runs already, or the stream runs too many")
			return
		}
		resp := t.runOnce(ctx, exec, opCtx)
		if st.remove(id) == nil {
			w.WriteHeader(http.StatusAccepted) // stopped meanwhile (DELETE)
			return
		}
		_ = st.send(sseFrame{"next", map[string]any{"id": id, "payload": resp}}) &&
			st.send(sseFrame{"complete", map[string]any{"id": id}})
		w.WriteHeader(http.StatusAccepted)
		return
	}
	// A subscription outlives this POST (its credentials and client info
	// stay with it) and ends with the stream.
	opBase, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-st.done:
		case <-opBase.Done():
		}
		cancel()
	}()
	op := t.start(opBase, exec, opCtx, adm.viewer, adm.expires)
	if !st.add(id, op) {
		op.stop()
		cancel()
		writeError(w, http.StatusConflict, media, apperr.Conflict,
			"an operation with this operationId runs already, or the stream runs too many")
		return
	}
	go func() {
		defer cancel()
		for resp := range op.results {
			if !st.send(sseFrame{"next", map[string]any{"id": id, "payload": resp}}) {
				return
			}
		}
		if st.remove(id) == nil {
			return // stopped by the client (DELETE), or the stream ended
		}
		select {
		case err := <-op.ended:
			if errors.Is(err, auth.ErrTokenExpired) {
				// The client's credentials went stale: drop the stream,
				// which graphql-sse takes for a lost connection and
				// reconnects, with fresh headers, re-sending its
				// operations (a socket's 4419).
				st.drop()
				return
			}
			resp := &graphql.Response{Errors: gqlerror.List{t.present(ctx, err)}}
			if !st.send(sseFrame{"next", map[string]any{"id": id, "payload": resp}}) {
				return
			}
		default:
		}
		st.send(sseFrame{"complete", map[string]any{"id": id}})
	}()
	w.WriteHeader(http.StatusAccepted)
}

// writeSSEEvent writes one event with data as JSON.
func writeSSEEvent(w io.Writer, event string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "event: "+event+"\ndata: "); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n\n")
	return err
}
