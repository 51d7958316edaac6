package server

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Apollo's multipart HTTP subscriptions
// (https://www.apollographql.com/docs/graphos/routing/operations/subscriptions/multipart-protocol),
// what Apollo Client's HttpLink speaks for a subscription: a POST with
// Accept: multipart/mixed;subscriptionSpec="1.0", application/json, answered
// with multipart/mixed parts under the boundary "graphql", each a JSON
// object: {"payload": <result>} per event, {} as a heartbeat every 5 s, and
// {"payload": null, "errors": [...]} when the server ends the stream (the
// client takes that as final). A request refused before it runs gets an
// ordinary JSON answer, as the spec's routers do. Anything but a
// subscription is answered as by postTransport.

// multipartHeartbeat is the spec's heartbeat interval.
const multipartHeartbeat = 5 * time.Second

// multipartRequested reports whether r asks for a multipart subscription.
func multipartRequested(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == "" &&
		streamAccepts(r, "multipart/mixed", map[string]string{"subscriptionSpec": "1.0"})
}

// multipartTransport serves multipart subscriptions on POST /graphql.
type multipartTransport struct{ streamer }

func (multipartTransport) Supports(r *http.Request) bool { return multipartRequested(r) }

func (t multipartTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.serve(w, r, exec, multipartFraming{})
}

type multipartFraming struct{}

// Every part is closed by the delimiter that follows it at once, so that a
// client (Apollo Client splits on CRLF "--graphql") reads each event as it
// is sent, not when the next one comes: the stream is a delimiter, then per
// part its header, body and the next delimiter, and "--" after the last.
const (
	multipartDelimiter = "\r\n--graphql"
	multipartHeader    = "\r\nContent-Type: application/json\r\n\r\n"
)

func (multipartFraming) contentType() string {
	return `multipart/mixed;boundary="graphql";subscriptionSpec="1.0"`
}
func (multipartFraming) keepAliveEvery() time.Duration { return multipartHeartbeat }

func (multipartFraming) part(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"payload":null,"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)
	}
	if _, err := io.WriteString(w, multipartHeader); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = io.WriteString(w, multipartDelimiter)
	return err
}

// open is the first delimiter and a heartbeat, so that the client sees the
// stream is up.
func (f multipartFraming) open(w io.Writer) error {
	if _, err := io.WriteString(w, multipartDelimiter); err != nil {
		return err
	}
	return f.keepAlive(w)
}
func (f multipartFraming) keepAlive(w io.Writer) error { return f.part(w, struct{}{}) }

func (f multipartFraming) result(w io.Writer, resp *graphql.Response) error {
	return f.part(w, struct {
		Payload *graphql.Response `json:"payload"`
	}{resp})
}

func (f multipartFraming) ended(w io.Writer, errs gqlerror.List) error {
	return f.part(w, struct {
		Payload *graphql.Response `json:"payload"`
		Errors  gqlerror.List     `json:"errors"`
	}{nil, errs})
}

func (multipartFraming) complete(w io.Writer) error {
	_, err := io.WriteString(w, "--\r\n")
	return err
}

func (multipartFraming) streamsOnlySubscriptions() bool { return true }

// Apollo Client does not retry a subscription by itself (a RetryLink
// does): it gets the reason, as {"payload": null, "errors": [...]}.
func (multipartFraming) retriesOnDrop() bool { return false }

func (multipartFraming) refuse(w http.ResponseWriter, _ int, errs gqlerror.List) {
	writeRequestErrors(w, http.StatusOK, mediaJSON, errs)
}
