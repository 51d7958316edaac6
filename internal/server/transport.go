package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Our own HTTP transports replace gqlgen's POST and GET, whose defaults break
// the contract: they answer malformed JSON with 400 and the body echoed back,
// other content types with an uncoded 400, request errors with 422, and a
// mutation over GET with an uncoded 406.
//
// Media types follow the GraphQL-over-HTTP spec: a client that accepts
// application/graphql-response+json gets it, with 4xx statuses for request
// errors; everyone else gets application/json, with 200 for every
// well-formed request.

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
	media := responseMedia(r)
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != mediaJSON {
		writeError(w, http.StatusUnsupportedMediaType, apperr.GraphQLParseFailed,
			"Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.GraphQLParseFailed, "request body is too large")
			return
		}
		writeError(w, http.StatusBadRequest, apperr.GraphQLParseFailed, "could not read the request body")
		return
	}
	params := &graphql.RawParams{Headers: r.Header}
	params.ReadTime.Start = graphql.Now()
	if err := decodeJSON(body, params); err != nil {
		// The body is not quoted back: it may hold a password.
		writeError(w, http.StatusBadRequest, apperr.GraphQLParseFailed,
			"request body must be a JSON object with a query string, and optional operationName, variables and extensions")
		return
	}
	params.Variables = typedNumbers(params.Variables)
	params.ReadTime.End = graphql.Now()
	execute(w, r, exec, params, media, false)
}

// getTransport handles GET /graphql, for queries only.
type getTransport struct{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(r)
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, apperr.GraphQLParseFailed, "query string is malformed")
		return
	}
	params := &graphql.RawParams{
		Query:         q.Get("query"),
		OperationName: q.Get("operationName"),
		Headers:       r.Header,
	}
	params.ReadTime.Start = graphql.Now()
	if v := q.Get("variables"); v != "" {
		if err := decodeJSON([]byte(v), &params.Variables); err != nil {
			writeError(w, http.StatusBadRequest, apperr.GraphQLParseFailed, "variables must be a JSON object")
			return
		}
	}
	if v := q.Get("extensions"); v != "" {
		if err := decodeJSON([]byte(v), &params.Extensions); err != nil {
			writeError(w, http.StatusBadRequest, apperr.GraphQLParseFailed, "extensions must be a JSON object")
			return
		}
	}
	params.Variables = typedNumbers(params.Variables)
	params.ReadTime.End = graphql.Now()
	execute(w, r, exec, params, media, true)
}

// execute parses, validates and runs one operation and writes the response.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, media string, queryOnly bool) {
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		writeResponse(w, status, media, resp)
		return
	}
	if queryOnly && opCtx.Operation.Operation != ast.Query {
		// Never run a mutation over GET: a link or an <img> could trigger it.
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, apperr.GraphQLValidationFailed,
			"only queries may be sent with GET; send mutations with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, http.StatusOK, media, responses(ctx))
}

// responseMedia picks the response media type from Accept.
func responseMedia(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == mediaGraphQLResponse {
			return mediaGraphQLResponse
		}
	}
	return mediaJSON
}

// typedNumbers replaces the json.Number values decodeJSON leaves in the
// variables with int64 (whole numbers that fit) or float64. gqlparser tells
// types apart by reflect.Kind, and json.Number's kind is string: left alone,
// a number would pass as a String variable (and a password as a number).
func typedNumbers(vars map[string]any) map[string]any {
	for k, v := range vars {
		vars[k] = typedNumber(v)
	}
	return vars
}

func typedNumber(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x
	case map[string]any:
		return typedNumbers(x)
	case []any:
		for i := range x {
			x[i] = typedNumber(x[i])
		}
		return x
	}
	return v
}

// decodeJSON decodes exactly one JSON value, keeping numbers exact.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func writeResponse(w http.ResponseWriter, status int, media string, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, apperr.Internal, "internal server error")
		return
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes a request-level error (one the executor never saw).
func writeError(w http.ResponseWriter, status int, code apperr.Code, message string) {
	writeResponse(w, status, mediaJSON, &graphql.Response{Errors: gqlerror.List{{
		Message:    message,
		Extensions: map[string]any{"code": string(code)},
	}}})
}
