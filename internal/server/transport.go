package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Our own HTTP transports replace gqlgen's POST and GET, whose defaults break
// the contract: they answer malformed JSON with 400 and the body echoed back,
// other content types with an uncoded 400, request errors with 422, and a
// mutation over GET with an uncoded 406.
//
// They follow the GraphQL-over-HTTP spec (and pass the graphql-http audit,
// scripts/audit.sh): a client that accepts application/graphql-response+json
// gets it, with 400 for request errors and no data entry; everyone else
// (no Accept, */*, application/json) gets application/json, with 200 for
// every well-formed request. Requests the server cannot read get 400 (bad
// JSON, bad parameters, no query), 405 (a mutation over GET), 406 (an Accept
// we cannot serve), 413 (too large) or 415 (not JSON). A subscription is a
// request error on both: it is served as a stream (WebSocket, SSE, multipart).

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// postTransport handles POST /graphql.
type postTransport struct{}

func (postTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == ""
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := responseMedia(r)
	if !ok {
		writeError(w, http.StatusNotAcceptable, mediaJSON, apperr.GraphQLParseFailed,
			"Accept must allow application/graphql-response+json or application/json")
		return
	}
	params, refused := readPostParams(r)
	if refused != nil {
		writeError(w, refused.status, media, apperr.GraphQLParseFailed, refused.message)
		return
	}
	execute(w, r, exec, params, media, false)
}

// unreadable is why a request's GraphQL parameters could not be read: the
// HTTP status and the message of its GRAPHQL_PARSE_FAILED error.
type unreadable struct {
	status  int
	message string
}

// readPostParams reads the parameters of a POST: a JSON object (never a
// batch) with query, operationName, variables, extensions and documentId.
func readPostParams(r *http.Request) (*graphql.RawParams, *unreadable) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != mediaJSON {
		return nil, &unreadable{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &unreadable{http.StatusRequestEntityTooLarge, "request body is too large"}
		}
		return nil, &unreadable{http.StatusBadRequest, "could not read the request body"}
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		// Batching multiplies the work of one request past every limit;
		// Apollo Client and urql do not need it. See docs/api.md.
		return nil, &unreadable{http.StatusBadRequest,
			"batched requests (a JSON array) are not supported; send one operation per request"}
	}
	var req struct {
		graphql.RawParams
		// DocumentID names a persisted document (GraphQL-over-HTTP
		// persisted documents); it is the same as an APQ hash.
		DocumentID string `json:"documentId"`
	}
	params := &req.RawParams
	params.ReadTime.Start = graphql.Now()
	if err := decodeJSON(body, &req); err != nil {
		// The body is not quoted back: it may hold a password.
		return nil, &unreadable{http.StatusBadRequest,
			"request body must be a JSON object with a query string, and optional operationName, variables and extensions"}
	}
	params.Headers = r.Header
	if req.DocumentID != "" {
		if params.Extensions == nil {
			params.Extensions = map[string]any{}
		}
		params.Extensions["persistedQuery"] = map[string]any{
			"version": int64(1), "sha256Hash": strings.TrimPrefix(req.DocumentID, "sha256:"),
		}
	}
	if err := typedNumbers(params.Variables); err != nil {
		return nil, &unreadable{http.StatusBadRequest, err.Error()}
	}
	params.ReadTime.End = graphql.Now()
	return params, nil
}

// getTransport handles GET /graphql, for queries only.
type getTransport struct{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := responseMedia(r)
	if !ok {
		writeError(w, http.StatusNotAcceptable, mediaJSON, apperr.GraphQLParseFailed,
			"Accept must allow application/graphql-response+json or application/json")
		return
	}
	params, refused := readGetParams(r)
	if refused != nil {
		writeError(w, refused.status, media, apperr.GraphQLParseFailed, refused.message)
		return
	}
	execute(w, r, exec, params, media, true)
}

// readGetParams reads the parameters of a GET from its query string.
func readGetParams(r *http.Request) (*graphql.RawParams, *unreadable) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &unreadable{http.StatusBadRequest, "query string is malformed"}
	}
	params := &graphql.RawParams{
		Query:         q.Get("query"),
		OperationName: q.Get("operationName"),
		Headers:       r.Header,
	}
	params.ReadTime.Start = graphql.Now()
	if v := q.Get("variables"); v != "" {
		if err := decodeJSON([]byte(v), &params.Variables); err != nil {
			return nil, &unreadable{http.StatusBadRequest, "variables must be a JSON object"}
		}
	}
	if v := q.Get("extensions"); v != "" {
		if err := decodeJSON([]byte(v), &params.Extensions); err != nil {
			return nil, &unreadable{http.StatusBadRequest, "extensions must be a JSON object"}
		}
	}
	if err := typedNumbers(params.Variables); err != nil {
		return nil, &unreadable{http.StatusBadRequest, err.Error()}
	}
	params.ReadTime.End = graphql.Now()
	return params, nil
}

// execute parses, validates and runs one operation and writes the response.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, media string, queryOnly bool) {
	ctx := r.Context()
	if params.Query == "" && persistedHash(params.Extensions) == "" {
		writeError(w, http.StatusBadRequest, media, apperr.GraphQLParseFailed, "a query is required")
		return
	}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		for _, e := range errs {
			// Refusals from extensions (APQ, limits) that carry no code are
			// problems with the request, not with the server.
			if _, ok := e.Extensions["code"]; !ok {
				errcode.Set(e, errcode.ValidationFailed)
			}
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		writeRequestErrors(w, requestErrorStatus(media), media, resp.Errors)
		return
	}
	if opCtx.Operation.Operation == ast.Subscription {
		// As one JSON answer a subscription would wait for its first event
		// until the request deadline and then answer null; the streaming
		// transports (sse.go, multipart.go) serve it instead.
		writeRequestErrors(w, requestErrorStatus(media), media, gqlerror.List{{
			Message:    "subscriptions are served as streams on /graphql: over WebSocket (graphql-transport-ws), Server-Sent Events (Accept: text/event-stream) or multipart (Accept: multipart/mixed;subscriptionSpec=1.0), not as one JSON response",
			Extensions: map[string]any{"code": string(apperr.GraphQLValidationFailed)},
		}})
		return
	}
	if queryOnly && opCtx.Operation.Operation != ast.Query {
		// Never run a mutation over GET: a link or an <img> could trigger it.
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, media, apperr.GraphQLValidationFailed,
			"only queries may be sent with GET; send mutations with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	status := http.StatusOK
	if unavailable(resp) {
		// Refused before execution for want of a database: say when to
		// come back in the header too, which proxies and load balancers
		// read, and with the GraphQL-over-HTTP media type use 503.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		if media == mediaGraphQLResponse {
			status = http.StatusServiceUnavailable
		}
	}
	writeResponse(w, status, media, resp)
}

// unavailable reports whether resp is the database gate's refusal: no data,
// and only SERVICE_UNAVAILABLE errors.
func unavailable(resp *graphql.Response) bool {
	if resp == nil || len(resp.Errors) == 0 || (len(resp.Data) > 0 && string(resp.Data) != "null") {
		return false
	}
	for _, e := range resp.Errors {
		if e.Extensions["code"] != string(apperr.ServiceUnavailable) {
			return false
		}
	}
	return true
}

// requestErrorStatus is the status of a well-formed request that is refused
// before it runs: 400 for the GraphQL-over-HTTP media type, 200 for
// application/json (whose clients read the errors from the body).
func requestErrorStatus(media string) int {
	if media == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// responseMedia picks the response media type from Accept: the
// GraphQL-over-HTTP type when the client lists it (before application/json,
// or alone), application/json when it lists that, */* or application/*, or
// sends no Accept at all. ok is false when Accept allows neither.
func responseMedia(r *http.Request) (media string, ok bool) {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return mediaJSON, true
	}
	for _, part := range strings.Split(strings.Join(accept, ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse, true
		case mediaJSON, "*/*", "application/*":
			return mediaJSON, true
		}
	}
	return "", false
}

// typedNumbers replaces the json.Number values decodeJSON leaves in the
// variables with int64 (whole numbers that fit) or float64. gqlparser tells
// types apart by reflect.Kind, and json.Number's kind is string: left alone,
// a number would pass as a String variable (and a password as a number). A
// number no float64 can hold (1e400) is refused.
func typedNumbers(vars map[string]any) error {
	for k, v := range vars {
		t, err := typedNumber(v)
		if err != nil {
			return err
		}
		vars[k] = t
	}
	return nil
}

var errNumberRange = errors.New("a number in the variables is out of range")

func typedNumber(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		if f, err := x.Float64(); err == nil {
			return f, nil
		}
		return nil, errNumberRange
	case map[string]any:
		return x, typedNumbers(x)
	case []any:
		for i := range x {
			t, err := typedNumber(x[i])
			if err != nil {
				return nil, err
			}
			x[i] = t
		}
		return x, nil
	}
	return v, nil
}

// decodeJSON decodes exactly one JSON value, keeping numbers exact. Anything
// but white space after the value is an error (json.Decoder.More alone lets
// a stray closing brace through).
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// JSON's own white space only: bytes.TrimSpace would also skip Unicode
	// spaces such as U+00A0, which are not JSON.
	if len(bytes.Trim(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func writeResponse(w http.ResponseWriter, status int, media string, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, media, apperr.Internal, "internal server error")
		return
	}
	writeBody(w, status, media, b)
}

func writeBody(w http.ResponseWriter, status int, media string, b []byte) {
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeRequestErrors answers a request that was not executed: errors and no
// data entry, as the GraphQL-over-HTTP spec says.
func writeRequestErrors(w http.ResponseWriter, status int, media string, errs gqlerror.List) {
	b, err := json.Marshal(struct {
		Errors gqlerror.List `json:"errors"`
	}{errs})
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)
	}
	writeBody(w, status, media, b)
}

// writeError writes a request-level error (one the executor never saw).
func writeError(w http.ResponseWriter, status int, media string, code apperr.Code, message string) {
	writeRequestErrors(w, status, media, gqlerror.List{{
		Message:    message,
		Extensions: map[string]any{"code": string(code)},
	}})
}
