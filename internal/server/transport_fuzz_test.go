package server

// Fuzz targets for the POST /graphql body: the decoding path on its own
// (decodeJSON then typedNumbers) and the whole postTransport.Do with a fake
// executor, so that no schema or database is needed.
//
// The committed seed corpora are under testdata/fuzz/<FuzzName>/; a plain
// `go test` runs them together with the f.Add seeds.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/internal/apperr"
)

// requestBodySeeds are request bodies worth starting from: well-formed
// requests, every kind of JSON number, and the malformed bodies the
// transport must refuse. They stay small: the fuzzer spends up to a minute
// minimizing each new interesting input, and a large seed makes large ones.
var requestBodySeeds = []string{
	`{"query":"{ me { id } }"}`,
	`{"query":"query Q($id: ID!) { course(id: $id) { title } }","operationName":"Q","variables":{"id":"65f0c0ffee0000000000abcd"}}`,
	`{"query":"q","variables":{"first":10,"price":19.99,"neg":-3,"zero":-0,"exp":1e3,"big":12345678901234567890,"tiny":1e-400}}`,
	`{"query":"q","variables":{"in":{"list":[1,2.5,[3,{"deep":4}]],"s":"5","b":true,"n":null}}}`,
	`{"query":"q","variables":{"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808}}`,
	`{"query":"q","variables":null,"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`,
	`{"query":"q","variables":{"a":1,"a":"dup"}}`,
	`{"query":"q","variables":[1,2]}`,
	`{"query":1}`,
	`{"query":"q"} {"query":"r"}`,
	`{"query":"q"}x`,
	`{"query":"q"`,
	`[]`,
	`null`,
	`"query"`,
	``,
	" \n\t",
	"{\"query\":\"\xff\xfe\"}",
	`{"query":"q","variables":{"x":` + strings.Repeat(`[{"n":1.5,"a":`, 32) + `-7` + strings.Repeat(`}]`, 32) + `}}`,
}

// jsonNumberPath returns the path of a json.Number anywhere in v, or "".
func jsonNumberPath(v any, path string) string {
	switch x := v.(type) {
	case json.Number:
		return fmt.Sprintf("%s = json.Number(%q)", path, string(x))
	case map[string]any:
		for k, e := range x {
			if p := jsonNumberPath(e, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := jsonNumberPath(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// postRequest has the shape postTransport.Do decodes a body into.
type postRequest struct {
	graphql.RawParams
	DocumentID string `json:"documentId"`
}

// FuzzDecodeRequest: decoding a POST body never panics. decodeJSON keeps its
// promise, "exactly one JSON value": a body it accepts is valid JSON. Then
// typedNumbers refuses exactly the variables that hold a number no float64
// can hold, with errNumberRange; when it accepts, the variables re-marshal
// as JSON and hold no json.Number (every number has become an int64 or a
// float64).
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestBodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req postRequest
		if err := decodeJSON(body, &req); err != nil {
			return
		}
		if !json.Valid(body) {
			t.Errorf("decodeJSON accepted %q, which is not one JSON value", body)
		}
		vars := req.Variables
		outOfRange := outOfRangePath(vars, "variables")
		if err := typedNumbers(vars); err != nil {
			if !errors.Is(err, errNumberRange) {
				t.Fatalf("typedNumbers(variables of %q) error = %v, want errNumberRange", body, err)
			}
			if outOfRange == "" {
				t.Fatalf("typedNumbers refused the variables of %q, which hold no out-of-range number: %v", body, err)
			}
			return
		}
		if outOfRange != "" {
			t.Errorf("typedNumbers accepted the variables of %q with %s", body, outOfRange)
		}
		if p := jsonNumberPath(vars, "variables"); p != "" {
			t.Errorf("after typedNumbers, %s is left in the variables of %q", p, body)
		}
		if _, err := json.Marshal(vars); err != nil {
			t.Errorf("variables of %q do not re-marshal: %v", body, err)
		}
	})
}

// outOfRangePath returns the path of a json.Number in v that no float64
// holds (1e400), or "".
func outOfRangePath(v any, path string) string {
	switch x := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return fmt.Sprintf("%s = %s", path, string(x))
		}
	case map[string]any:
		for k, e := range x {
			if p := outOfRangePath(e, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := outOfRangePath(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// fakeExecutor is a graphql.GraphExecutor that parses nothing: a request
// without query text (a persisted document id) is a request error, anything
// else succeeds with the variables it was given as the data. It records what the transport handed it.
type fakeExecutor struct {
	calls        int
	variables    map[string]any
	requestError bool
}

func (e *fakeExecutor) CreateOperationContext(_ context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	e.calls++
	e.variables = params.Variables
	if params.Query == "" {
		// Only a persisted document id got here; the fake knows none.
		e.requestError = true
		return nil, gqlerror.List{{Message: "unknown document id"}}
	}
	return &graphql.OperationContext{
		RawQuery:      params.Query,
		Variables:     params.Variables,
		OperationName: params.OperationName,
		Operation:     &ast.OperationDefinition{Operation: ast.Query},
	}, nil
}

func (e *fakeExecutor) DispatchOperation(ctx context.Context, opCtx *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	return func(context.Context) *graphql.Response {
		data, err := json.Marshal(map[string]any{"variables": opCtx.Variables})
		if err != nil {
			return &graphql.Response{Errors: gqlerror.List{{Message: err.Error()}}}
		}
		return &graphql.Response{Data: data}
	}, ctx
}

func (e *fakeExecutor) DispatchError(_ context.Context, list gqlerror.List) *graphql.Response {
	return &graphql.Response{Errors: list}
}

var _ graphql.GraphExecutor = (*fakeExecutor)(nil)

// refusals are the messages of the requests postTransport refuses before
// the executor sees them: fixed sentences that never quote the body.
var refusals = map[string]bool{
	"batched requests (a JSON array) are not supported; send one operation per request":                            true,
	"request body must be a JSON object with a query string, and optional operationName, variables and extensions": true,
	"a query is required":  true,
	errNumberRange.Error(): true,
}

// FuzzPostTransport: postTransport.Do never panics on any body and always
// answers with a JSON body in the negotiated media type. A request it
// refuses itself gets 400 GRAPHQL_PARSE_FAILED with one of the fixed
// messages and never reaches the executor; a body that is not one JSON
// value never reaches it; a decodable body with a query and in-range numbers
// always does, with variables that hold no json.Number; executor request
// errors get 200 (application/json) or 400 (graphql-response+json) and no
// data entry.
func FuzzPostTransport(f *testing.F) {
	for _, s := range requestBodySeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"query":""}`), true)
	f.Add([]byte(`{"documentId":"sha256:abc"}`), false)
	f.Add([]byte(`{"documentId":"sha256:"}`), true)
	f.Add([]byte(`{"query":"q","variables":{"password":"hunter2"}}`), true)
	f.Fuzz(func(t *testing.T, body []byte, graphqlResponse bool) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		wantMedia := mediaJSON
		if graphqlResponse {
			r.Header.Set("Accept", mediaGraphQLResponse+", application/json;q=0.9")
			wantMedia = mediaGraphQLResponse
		}
		w := httptest.NewRecorder()
		exec := &fakeExecutor{}
		postTransport{}.Do(w, r, exec)

		var resp struct {
			Data   *json.RawMessage `json:"data"`
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("body %q: response %q is not JSON: %v", body, w.Body.Bytes(), err)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, wantMedia+";") {
			t.Errorf("body %q: Content-Type %q, want %s", body, ct, wantMedia)
		}

		var req postRequest
		decoded := decodeJSON(body, &req) == nil
		if exec.calls == 0 {
			if w.Code != http.StatusBadRequest || len(resp.Errors) != 1 ||
				resp.Errors[0].Extensions["code"] != string(apperr.GraphQLParseFailed) || !refusals[resp.Errors[0].Message] {
				t.Fatalf("body %q: status %d, errors %+v; want 400 and one GRAPHQL_PARSE_FAILED with a fixed message", body, w.Code, resp.Errors)
			}
			if resp.Data != nil {
				t.Fatalf("body %q: a refused request has a data entry", body)
			}
			if decoded && req.Query != "" && bytes.TrimSpace(body)[0] != '[' && typedNumbers(req.Variables) == nil {
				t.Fatalf("body %q has a query but never reached the executor", body)
			}
			return
		}

		if exec.calls != 1 {
			t.Fatalf("body %q: %d executor calls, want 1", body, exec.calls)
		}
		if !decoded || !json.Valid(body) {
			t.Fatalf("body %q is not one JSON value but reached the executor", body)
		}
		if p := jsonNumberPath(exec.variables, "variables"); p != "" {
			t.Errorf("body %q: the executor got %s", body, p)
		}
		wantStatus := http.StatusOK
		if exec.requestError {
			if graphqlResponse {
				wantStatus = http.StatusBadRequest
			}
			if resp.Data != nil {
				t.Errorf("body %q: a request error has a data entry", body)
			}
		}
		if w.Code != wantStatus {
			t.Errorf("body %q: status %d, want %d (errors %+v)", body, w.Code, wantStatus, resp.Errors)
		}
	})
}
