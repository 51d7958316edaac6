package server

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// GraphQL over Server-Sent Events, "distinct connections mode"
// (https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md), what
// the graphql-sse client and urql with it speak by default: one POST (or a
// GET, for EventSource) to /graphql with Accept: text/event-stream, answered
// with a text/event-stream of `next` events, one per result, and a last
// `complete`. As the protocol says, even a request refused before it runs
// is answered with an accepted stream, its errors in a `next` event, so
// that the client can read them. gqlgen's transport.SSE is not used: it
// quotes the body back in errors (a password, say), logs through the
// standard logger, and writes keep-alives from a goroutine that can outlive
// the request.

const mediaEventStream = "text/event-stream"

// sseKeepAlive is how often an idle stream gets a comment line, well under
// the idle timeouts of common proxies (60 s for nginx and AWS ALB).
const sseKeepAlive = 15 * time.Second

// sseRequested reports whether r asks for an event stream.
func sseRequested(r *http.Request) bool {
	return (r.Method == http.MethodPost || r.Method == http.MethodGet) &&
		r.Header.Get("Upgrade") == "" && streamAccepts(r, mediaEventStream, nil)
}

// sseTransport serves GraphQL over SSE on /graphql.
type sseTransport struct{ streamer }

func (sseTransport) Supports(r *http.Request) bool { return sseRequested(r) }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.serve(w, r, exec, sseFraming{})
}

type sseFraming struct{}

func (sseFraming) contentType() string           { return mediaEventStream + "; charset=utf-8" }
func (sseFraming) keepAliveEvery() time.Duration { return sseKeepAlive }

func (sseFraming) open(w io.Writer) error {
	_, err := io.WriteString(w, ":\n\n")
	return err
}

func (sseFraming) keepAlive(w io.Writer) error {
	_, err := io.WriteString(w, ":\n\n")
	return err
}

// JSON never holds a raw line break, so one data line carries it.
func (sseFraming) result(w io.Writer, resp *graphql.Response) error {
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(graphql.Response{Errors: codedErrors("INTERNAL_SERVER_ERROR", "internal server error")})
	}
	if _, err := io.WriteString(w, "event: next\ndata: "); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n\n")
	return err
}

func (f sseFraming) ended(w io.Writer, errs gqlerror.List) error {
	return f.result(w, &graphql.Response{Errors: errs})
}

// complete carries an empty data line: EventSource drops an event with no
// data at all.
func (sseFraming) complete(w io.Writer) error {
	_, err := io.WriteString(w, "event: complete\ndata:\n\n")
	return err
}

// graphql-sse retries a stream that ends without complete (retryAttempts,
// 5 by default), calling its headers function again.
func (sseFraming) retriesOnDrop() bool { return true }

// Queries and mutations are streams of one result.
func (sseFraming) streamsOnlySubscriptions() bool { return false }

func (f sseFraming) refuse(w http.ResponseWriter, _ int, errs gqlerror.List) {
	w.Header().Set("Content-Type", f.contentType())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = f.open(w)
	_ = f.ended(w, errs)
	_ = f.complete(w)
}
