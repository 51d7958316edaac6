package main

// End-to-end tests of the GraphQL hardening: the document limits (depth,
// aliases, root fields, directives, cost, tokens, bytes, body) at, just over
// and far over each limit, in development and in production; the production
// posture (introspection, suggestions, IDE); GraphQL-over-HTTP status codes;
// automatic persisted queries; trusted documents; and the request deadline.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/mongodb"
)

// hlGenericRefusal is the whole message of a limit refusal in production.
const hlGenericRefusal = "operation refused: it is too large or too complex"

// hlQuick is how long a refusal of an abusive document may take.
const hlQuick = 2 * time.Second

// hlJWTSecret is a random-looking JWT_SECRET for servers on MONGODB_URI.
const hlJWTSecret = "Zr8vQ1mT4kLw9XyB2nHc6JpD3sFg7AeU0oKi5MbNq2WzRt8Y"

// hlPassword is a password that passes the policy.
const hlPassword = "hardening-pass-1"

// hlClientQuery is what the project's own clients send for the catalogue.
const hlClientQuery = `query Catalogue { courses(first: 100) { edges { node { id title createdBy { name } } } } }`

// hlIntrospectionQuery is graphql-js getIntrospectionQuery() with its
// defaults (descriptions on), which GraphiQL and codegen tools send.
const hlIntrospectionQuery = `
    query IntrospectionQuery {
      __schema {
        
        queryType { name kind }
        mutationType { name kind }
        subscriptionType { name kind }
        types {
          ...FullType
        }
        directives {
          name
          description
          
          
          
          locations
          args {
            ...InputValue
          }
        }
      }
      
    }

    fragment FullType on __Type {
      kind
      name
      description
      
      
      fields(includeDeprecated: true) {
        name
        description
        args {
          ...InputValue
        }
        type {
          ...TypeRef
        }
        isDeprecated
        deprecationReason
      }
      inputFields {
        ...InputValue
      }
      interfaces {
        ...TypeRef
      }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes {
        ...TypeRef
      }
    }

    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
      
      
    }

    fragment TypeRef on __Type {
      kind
      name
      ofType {
        name
        kind
        ofType {
          name
          kind
          ofType {
            name
            kind
            ofType {
              name
              kind
              ofType {
                name
                kind
                ofType {
                  name
                  kind
                  ofType {
                    name
                    kind
                    ofType {
                      name
                      kind
                      ofType {
                        name
                        kind
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  `

// ---------------------------------------------------------------------------
// Helpers

// hlDoc is a document with its variables.
type hlDoc struct {
	query string
	vars  map[string]any
}

// hlSHA is the sha256 hex of a document, as APQ and codegen compute it.
func hlSHA(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// hlAPQ is the persistedQuery extension for hash.
func hlAPQ(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

// hlPostRaw posts body with contentType and accept (none when empty).
func (s *testServer) hlPostRaw(tb testing.TB, contentType, accept string, body io.Reader) gqlResponse {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", body)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	r := s.do(tb, req)
	r.mustContractCodes(tb)
	return r
}

// hlPostJSON posts body, marshalled to JSON, with accept (none when empty).
func (s *testServer) hlPostJSON(tb testing.TB, accept string, body any) gqlResponse {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return s.hlPostRaw(tb, "application/json", accept, bytes.NewReader(b))
}

// hlPost posts a document with its variables.
func (s *testServer) hlPost(tb testing.TB, d hlDoc) gqlResponse {
	tb.Helper()
	body := map[string]any{"query": d.query}
	if d.vars != nil {
		body["variables"] = d.vars
	}
	return s.hlPostJSON(tb, "", body)
}

// hlGet sends GET /graphql with params and accept (none when empty).
func (s *testServer) hlGet(tb testing.TB, accept string, params url.Values) gqlResponse {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+params.Encode(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	r := s.do(tb, req)
	r.mustContractCodes(tb)
	return r
}

// hlTimed runs f and fails if it took longer than max.
func hlTimed(tb testing.TB, max time.Duration, f func() gqlResponse) gqlResponse {
	tb.Helper()
	start := time.Now()
	r := f()
	if took := time.Since(start); took > max {
		tb.Errorf("the answer took %v, want at most %v", took, max)
	}
	return r
}

// hlHasData reports whether the response JSON has a data entry (even null).
func hlHasData(tb testing.TB, r gqlResponse) bool {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Raw), &m); err != nil {
		tb.Fatalf("response is not a JSON object: %.500s", r.Raw)
	}
	_, ok := m["data"]
	return ok
}

// hlMustRefused fails unless r has errors, all with code, and no data entry
// (nothing was executed). It returns the errors.
func hlMustRefused(tb testing.TB, r gqlResponse, code string) []gqlError {
	tb.Helper()
	if len(r.Errors) == 0 {
		tb.Fatalf("want a %s refusal, got no errors (status %d): %.500s", code, r.Status, r.Raw)
	}
	for _, e := range r.Errors {
		if e.Code() != code {
			tb.Errorf("want code %s, got %q (status %d): %.500s", code, e.Code(), r.Status, r.Raw)
			break
		}
	}
	if hlHasData(tb, r) {
		tb.Errorf("a refused request has a data entry: %.500s", r.Raw)
	}
	return r.Errors
}

// hlMustRefusedOne is hlMustRefused for exactly one error, returned.
func hlMustRefusedOne(tb testing.TB, r gqlResponse, code string) gqlError {
	tb.Helper()
	errs := hlMustRefused(tb, r, code)
	if len(errs) != 1 {
		tb.Fatalf("want exactly one error, got %d: %.500s", len(errs), r.Raw)
	}
	return errs[0]
}

// hlMustMention fails unless msg contains keyword (case-insensitively) and
// each number as a whole number.
func hlMustMention(tb testing.TB, msg, keyword string, nums ...int) {
	tb.Helper()
	if !strings.Contains(strings.ToLower(msg), strings.ToLower(keyword)) {
		tb.Errorf("message %q does not mention %q", msg, keyword)
	}
	for _, n := range nums {
		if !regexp.MustCompile(`(^|\D)` + strconv.Itoa(n) + `(\D|$)`).MatchString(msg) {
			tb.Errorf("message %q does not name %d", msg, n)
		}
	}
}

var hlDigits = regexp.MustCompile(`[0-9]`)

// hlMustNoDigits fails if msg contains a digit (it would reveal a limit).
func hlMustNoDigits(tb testing.TB, msg string) {
	tb.Helper()
	if hlDigits.MatchString(msg) {
		tb.Errorf("message %q contains digits; production must not reveal limits", msg)
	}
}

// hlMustServe checks that the server still answers an ordinary query.
func (s *testServer) hlMustServe(tb testing.TB) {
	tb.Helper()
	hlTimed(tb, hlQuick, func() gqlResponse {
		return s.hlPost(tb, hlDoc{query: `{ courses { totalCount } }`})
	}).mustNoErrors(tb)
}

// hlMustNotExist checks, with a listed login document or plain login, that
// email has no account: a request that should not have run did not run.
func (s *testServer) hlMustNotExist(tb testing.TB, email string) {
	tb.Helper()
	s.hlPost(tb, hlDoc{
		query: `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		vars:  map[string]any{"in": map[string]any{"email": email, "password": hlPassword}},
	}).mustCode(tb, "UNAUTHENTICATED")
}

// hlSignupVars are the variables of a signup mutation for email.
func hlSignupVars(email string) map[string]any {
	return map[string]any{"in": map[string]any{"email": email, "password": hlPassword, "name": "Hardening"}}
}

// hlSignupDoc is a signup mutation with its input inline.
func hlSignupDoc(email string) string {
	return fmt.Sprintf(`mutation { signup(input: {email: %q, password: %q, name: "Sneaky"}) { accessToken } }`, email, hlPassword)
}

// hlPad pads doc with spaces to exactly size bytes.
func hlPad(tb testing.TB, doc string, size int) string {
	tb.Helper()
	if len(doc) > size {
		tb.Fatalf("document is %d bytes, cannot pad to %d", len(doc), size)
	}
	return doc + strings.Repeat(" ", size-len(doc))
}

// hlRepeat joins n copies of format (with %d replaced by the index).
func hlRepeat(format string, n int) string {
	var b strings.Builder
	for i := range n {
		if strings.Contains(format, "%d") {
			fmt.Fprintf(&b, format, i)
		} else {
			b.WriteString(format)
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// hlAliasDoc selects n aliased ids under one course node.
func hlAliasDoc(n int) string {
	return `{ courses { edges { node { ` + hlRepeat("a%d: id", n) + `} } } }`
}

// hlRootDoc repeats a root field n times without aliases.
func hlRootDoc(n int) string {
	return `{ ` + hlRepeat("courses { totalCount }", n) + `}`
}

// hlTokenDoc has exactly n tokens (n >= 6), each field a totalCount.
func hlTokenDoc(n int) string {
	return `{courses{` + hlRepeat("totalCount", n-5) + `}}`
}

// hlFragmentBomb spreads fragment F0 twice per level down to F<levels>,
// which selects leaf: 2^levels uses of leaf, in a short document.
func hlFragmentBomb(root, on string, levels int, leaf string) string {
	var b strings.Builder
	b.WriteString(root + "\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on %s { ...F%d ...F%d }\n", i, on, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on %s { %s }\n", levels, on, leaf)
	return b.String()
}

// ---------------------------------------------------------------------------
// Limits

// hlLimitCase is one limit with a small value: a document at the limit, one
// just over and one far over.
type hlLimitCase struct {
	name string
	env  map[string]string
	code string
	at   hlDoc
	over hlDoc
	far  hlDoc
	// keyword and overNums are what the development message of over names.
	keyword  string
	overNums []int
	// farByValidation: far is refused by the standard validation rules
	// before the limit is measured (its message is theirs).
	farByValidation bool
}

func hlSmallLimitCases() []hlLimitCase {
	return []hlLimitCase{
		{
			name: "Depth", env: map[string]string{"GRAPHQL_MAX_DEPTH": "2"}, code: "GRAPHQL_VALIDATION_FAILED",
			at:      hlDoc{query: `{ courses { totalCount } }`},
			over:    hlDoc{query: `{ courses { pageInfo { hasNextPage } } }`},
			far:     hlDoc{query: `{ courses { edges { node { createdBy { name } } } } }`},
			keyword: "deep", overNums: []int{3, 2},
		},
		{
			name: "Aliases", env: map[string]string{"GRAPHQL_MAX_ALIASES": "2"}, code: "GRAPHQL_VALIDATION_FAILED",
			at:      hlDoc{query: `{ a: courses { totalCount } b: courses { totalCount } }`},
			over:    hlDoc{query: `{ a: courses { totalCount } b: courses { totalCount } c: courses { totalCount } }`},
			far:     hlDoc{query: hlAliasDoc(500)},
			keyword: "alias", overNums: []int{3, 2},
		},
		{
			name: "RootFields", env: map[string]string{"GRAPHQL_MAX_ROOT_FIELDS": "2"}, code: "GRAPHQL_VALIDATION_FAILED",
			at:      hlDoc{query: hlRootDoc(2)},
			over:    hlDoc{query: hlRootDoc(3)},
			far:     hlDoc{query: `{ ` + hlRepeat("__typename", 1000) + `}`},
			keyword: "root", overNums: []int{3, 2},
		},
		{
			name: "Directives", env: map[string]string{"GRAPHQL_MAX_DIRECTIVES": "1"}, code: "GRAPHQL_VALIDATION_FAILED",
			// One directive on each of two fields: the limit is per field.
			at:      hlDoc{query: `{ courses @include(if: true) { totalCount @skip(if: false) } }`},
			over:    hlDoc{query: `{ courses @include(if: true) @skip(if: false) { totalCount } }`},
			far:     hlDoc{query: `{ courses ` + hlRepeat("@include(if: true)", 200) + `{ totalCount } }`},
			keyword: "directive", overNums: []int{2, 1},
			// @include is not repeatable: the standard rule refuses first.
			farByValidation: true,
		},
		{
			name: "Cost", env: map[string]string{"GRAPHQL_MAX_COST": "52"}, code: "GRAPHQL_VALIDATION_FAILED",
			// courses(first: n) { totalCount } costs 2 + n.
			at:      hlDoc{query: `query($n: Int) { courses(first: $n) { totalCount } }`, vars: map[string]any{"n": 50}},
			over:    hlDoc{query: `query($n: Int) { courses(first: $n) { totalCount } }`, vars: map[string]any{"n": 51}},
			far:     hlDoc{query: hlClientQuery}, // 902
			keyword: "cost", overNums: []int{53, 52},
		},
		{
			name: "Tokens", env: map[string]string{"GRAPHQL_MAX_TOKENS": "100"}, code: "GRAPHQL_PARSE_FAILED",
			at:   hlDoc{query: hlTokenDoc(100)},
			over: hlDoc{query: hlTokenDoc(101)},
			// 7002 tokens in 14 KB: the parser stops counting at the limit.
			far: hlDoc{query: `{ ` + strings.Repeat("a ", 7000) + `}`},
			// The parser stops at the limit, so only the limit can be named.
			keyword: "token", overNums: []int{100},
		},
		{
			name: "QueryBytes", env: map[string]string{"GRAPHQL_MAX_QUERY_BYTES": "100"}, code: "GRAPHQL_PARSE_FAILED",
			at:      hlDoc{query: `{ courses { totalCount } }` + strings.Repeat(" ", 100-len(`{ courses { totalCount } }`))},
			over:    hlDoc{query: `{ courses { totalCount } }` + strings.Repeat(" ", 101-len(`{ courses { totalCount } }`))},
			far:     hlDoc{query: `{ courses { totalCount } }` + strings.Repeat(" ", 900_000)},
			keyword: "bytes", overNums: []int{101, 100},
		},
	}
}

// TestHardeningLimitsSmall sets each limit to a small value and checks the
// document at the limit, just over and far over, in development: refusals
// carry the code, no data, and a message naming the limit and the value.
func TestHardeningLimitsSmall(t *testing.T) {
	for _, c := range hlSmallLimitCases() {
		t.Run(c.name, func(t *testing.T) {
			s := mustStartServer(t, c.env)
			t.Run("OKAtLimit", func(t *testing.T) {
				s.hlPost(t, c.at).mustNoErrors(t)
			})
			t.Run("ErrJustOver", func(t *testing.T) {
				e := hlMustRefusedOne(t, s.hlPost(t, c.over), c.code)
				hlMustMention(t, e.Message, c.keyword, c.overNums...)
			})
			t.Run("ErrFarOver", func(t *testing.T) {
				r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, c.far) })
				errs := hlMustRefused(t, r, c.code)
				if !c.farByValidation && !strings.Contains(strings.ToLower(errs[0].Message), c.keyword) {
					t.Errorf("message %q does not mention %q", errs[0].Message, c.keyword)
				}
				s.hlMustServe(t)
			})
		})
	}
}

// TestHardeningLimitsProduction repeats the small limits with
// APP_ENV=production: the same codes, but a message that names nothing.
func TestHardeningLimitsProduction(t *testing.T) {
	for _, c := range hlSmallLimitCases() {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"APP_ENV": "production"}
			for k, v := range c.env {
				env[k] = v
			}
			s := mustStartServer(t, env)
			t.Run("OKAtLimit", func(t *testing.T) {
				s.hlPost(t, c.at).mustNoErrors(t)
			})
			t.Run("ErrJustOver", func(t *testing.T) {
				e := hlMustRefusedOne(t, s.hlPost(t, c.over), c.code)
				if e.Message != hlGenericRefusal {
					t.Errorf("message = %q, want %q", e.Message, hlGenericRefusal)
				}
				hlMustNoDigits(t, e.Message)
			})
			t.Run("ErrFarOver", func(t *testing.T) {
				r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, c.far) })
				for _, e := range hlMustRefused(t, r, c.code) {
					if !c.farByValidation && e.Message != hlGenericRefusal {
						t.Errorf("message = %q, want %q", e.Message, hlGenericRefusal)
					}
					hlMustNoDigits(t, e.Message)
				}
				s.hlMustServe(t)
			})
		})
	}
}

// TestHardeningLimitsDefaults checks every limit at its default value.
func TestHardeningLimitsDefaults(t *testing.T) {
	s := mustStartServer(t, nil)
	admin := s.mustAdminToken(t)
	s.mustCreateCourse(t, admin, "Hardening 101", 100, true)

	t.Run("OKClientQuery", func(t *testing.T) {
		r := s.hlPost(t, hlDoc{query: hlClientQuery}).mustNoErrors(t)
		var d struct {
			Courses struct {
				Edges []struct {
					Node struct {
						Title     string
						CreatedBy struct{ Name string }
					}
				}
			}
		}
		r.decode(t, &d)
		if len(d.Courses.Edges) != 1 || d.Courses.Edges[0].Node.Title != "Hardening 101" || d.Courses.Edges[0].Node.CreatedBy.Name == "" {
			t.Errorf("data = %s", r.Data)
		}
	})

	t.Run("OKIntrospectionQuery", func(t *testing.T) {
		r := s.hlPost(t, hlDoc{query: hlIntrospectionQuery}).mustNoErrors(t)
		var d struct {
			Schema struct {
				QueryType struct{ Name string }
				Types     []struct{ Name string }
			} `json:"__schema"`
		}
		r.decode(t, &d)
		names := map[string]bool{}
		for _, ty := range d.Schema.Types {
			names[ty.Name] = true
		}
		if d.Schema.QueryType.Name != "Query" || !names["Course"] || !names["CourseConnection"] {
			t.Errorf("introspection result lacks the schema's types: %.300s", r.Data)
		}
	})

	t.Run("Depth", func(t *testing.T) {
		// No document of this schema is valid deeper than five fields
		// (courses edges node createdBy name), so ten cannot be reached by
		// a valid document; the deepest one must pass.
		t.Run("OKDeepestPath", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: `{ courses(first: 100) { edges { node { createdBy { name } } } } }`}).mustNoErrors(t)
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			doc := strings.Repeat("{ courses ", 900) + "{ id" + strings.Repeat(" }", 901)
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			hlMustRefused(t, r, "GRAPHQL_VALIDATION_FAILED")
			s.hlMustServe(t)
		})
	})

	t.Run("Aliases", func(t *testing.T) {
		t.Run("OKAtLimit", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: hlAliasDoc(15)}).mustNoErrors(t)
		})
		t.Run("ErrJustOver", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: hlAliasDoc(16)}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "alias", 16, 15)
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: hlAliasDoc(1000)}) })
			e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "alias", 1000, 15)
			s.hlMustServe(t)
		})
	})

	t.Run("RootFields", func(t *testing.T) {
		t.Run("OKAtLimit", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: hlRootDoc(20)}).mustNoErrors(t)
		})
		t.Run("ErrJustOver", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: hlRootDoc(21)}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "root", 21, 20)
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			doc := `{ ` + hlRepeat("__typename", 1200) + `}`
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "root", 1200, 20)
			s.hlMustServe(t)
		})
	})

	t.Run("Directives", func(t *testing.T) {
		// The only executable directives are @include and @skip, neither
		// repeatable, so a valid field has at most two: the default of five
		// cannot be reached by a valid document.
		t.Run("OKTwoOnEveryField", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: `{ courses @include(if: true) @skip(if: false) { totalCount @include(if: true) @skip(if: false) edges @skip(if: false) @include(if: true) { node @include(if: true) @skip(if: false) { id } } } }`}).mustNoErrors(t)
		})
		t.Run("ErrSixOnAField", func(t *testing.T) {
			doc := `{ courses ` + hlRepeat("@include(if: true) @skip(if: false)", 3) + `{ totalCount } }`
			hlMustRefused(t, s.hlPost(t, hlDoc{query: doc}), "GRAPHQL_VALIDATION_FAILED")
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			doc := `{ courses ` + hlRepeat("@include(if: true)", 500) + `{ totalCount } }`
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			hlMustRefused(t, r, "GRAPHQL_VALIDATION_FAILED")
			s.hlMustServe(t)
		})
	})

	t.Run("Cost", func(t *testing.T) {
		// Five client queries (902 each), four courses(first: 100) { totalCount }
		// (102 each) and courses(first: $b) { totalCount } (2 + b).
		costDoc := `query($b: Int) { ` + hlRepeat("c%d: courses(first: 100) { edges { node { id title createdBy { name } } } }", 5) +
			hlRepeat("t%d: courses(first: 100) { totalCount }", 4) + `last: courses(first: $b) { totalCount } }`
		t.Run("OKAtLimit", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: costDoc, vars: map[string]any{"b": 80}}).mustNoErrors(t)
		})
		t.Run("ErrJustOver", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: costDoc, vars: map[string]any{"b": 81}}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "cost", 5001, 5000)
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			// Twenty root fields of 2302 each: every field of a page of 100.
			fat := `courses(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id title description price imageLink published createdAt createdBy { id name role createdAt } } } }`
			doc := `{ ` + hlRepeat("f%d: "+fat, 15) + hlRepeat(fat, 5) + `}`
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "cost", 20*2302, 5000)
			s.hlMustServe(t)
		})
		t.Run("ErrFirstClampedTo100", func(t *testing.T) {
			// A huge first counts as 100 (the resolver refuses it anyway).
			doc := `{ ` + hlRepeat("c%d: courses(first: 1000000) { edges { node { id title createdBy { name } } } }", 6) + `}`
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: doc}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "cost", 6*902, 5000)
		})
		t.Run("ErrDefaultFirstIs20", func(t *testing.T) {
			// Without first, a page counts 20 items: 2 + 20*18 = 362 each.
			doc := `{ ` + hlRepeat("c%d: courses { totalCount pageInfo { hasNextPage } edges { cursor node { id title description price published createdBy { id name } } } }", 15) + `}`
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: doc}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "cost", 15*362, 5000)
		})
	})

	t.Run("Tokens", func(t *testing.T) {
		// courses(first: 1) with n spreads of a one-field fragment and k
		// plain ids: 24 + 2n + (k - 1) tokens, well under 15,000 bytes.
		tokenDoc := func(spreads, ids int) string {
			return `{courses(first:1){edges{node{` + strings.Repeat("id ", ids) + strings.Repeat("...F", spreads) +
				`}}}}fragment F on Course{id}`
		}
		t.Run("OKAtLimit", func(t *testing.T) {
			doc := tokenDoc(2488, 1) // 5000 tokens
			if len(doc) > 15000 {
				t.Fatalf("document is %d bytes", len(doc))
			}
			s.hlPost(t, hlDoc{query: doc}).mustNoErrors(t)
		})
		t.Run("ErrJustOver", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: tokenDoc(2488, 2)}), "GRAPHQL_PARSE_FAILED")
			hlMustMention(t, e.Message, "token", 5000)
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			// 400,000 tokens: the byte limit is raised so that the token
			// limit is what refuses it.
			big := mustStartServer(t, map[string]string{"GRAPHQL_MAX_QUERY_BYTES": "1000000"})
			doc := `{ ` + strings.Repeat("a ", 400_000) + `}`
			r := hlTimed(t, hlQuick, func() gqlResponse { return big.hlPost(t, hlDoc{query: doc}) })
			e := hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
			hlMustMention(t, e.Message, "token", 5000)
			big.hlMustServe(t)
		})
	})

	t.Run("QueryBytes", func(t *testing.T) {
		doc := `{ courses { totalCount } }`
		t.Run("OKAtLimit", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: hlPad(t, doc, 15000)}).mustNoErrors(t)
		})
		t.Run("ErrJustOver", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: hlPad(t, doc, 15001)}), "GRAPHQL_PARSE_FAILED")
			hlMustMention(t, e.Message, "bytes", 15001, 15000)
		})
		t.Run("ErrBytesNotCharacters", func(t *testing.T) {
			// 7,501 two-byte characters in a comment: 15,000 characters in
			// all but more than 15,000 bytes.
			d := doc + " #" + strings.Repeat("é", 7501)
			if n := len([]rune(d)); n > 15000 {
				t.Fatalf("document has %d characters", n)
			}
			hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: d}), "GRAPHQL_PARSE_FAILED")
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: hlPad(t, doc, 1_000_000)}) })
			e := hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
			hlMustMention(t, e.Message, "bytes", 1_000_000, 15000)
			s.hlMustServe(t)
		})
	})

	t.Run("Body", func(t *testing.T) {
		const limit = 1 << 20
		padded := func(size int) []byte {
			head := `{"query":"{ courses { totalCount } }"`
			return append(append([]byte(head), bytes.Repeat([]byte(" "), size-len(head)-1)...), '}')
		}
		t.Run("OKAtLimit", func(t *testing.T) {
			s.hlPostRaw(t, "application/json", "", bytes.NewReader(padded(limit))).mustNoErrors(t)
		})
		t.Run("ErrJustOver", func(t *testing.T) {
			r := s.hlPostRaw(t, "application/json", "", bytes.NewReader(padded(limit+1)))
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d, want 413: %.300s", r.Status, r.Raw)
			}
			hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
		})
		t.Run("ErrJustOverChunked", func(t *testing.T) {
			r := s.hlPostRaw(t, "application/json", "", struct{ io.Reader }{bytes.NewReader(padded(limit + 1))})
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d, want 413: %.300s", r.Status, r.Raw)
			}
			hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
		})
		t.Run("ErrFarOver", func(t *testing.T) {
			r := hlTimed(t, hlQuick, func() gqlResponse {
				return s.hlPostRaw(t, "application/json", "", bytes.NewReader(padded(16*limit)))
			})
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d, want 413: %.300s", r.Status, r.Raw)
			}
			hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
			s.hlMustServe(t)
		})
	})
}

// TestHardeningBodyLimitSmall checks MAX_BODY_BYTES at its minimum.
func TestHardeningBodyLimitSmall(t *testing.T) {
	s := mustStartServer(t, map[string]string{"MAX_BODY_BYTES": "1024"})
	padded := func(size int) []byte {
		head := `{"query":"{ courses { totalCount } }"`
		return append(append([]byte(head), bytes.Repeat([]byte("\n"), size-len(head)-1)...), '}')
	}
	t.Run("OKAtLimit", func(t *testing.T) {
		s.hlPostRaw(t, "application/json", "", bytes.NewReader(padded(1024))).mustNoErrors(t)
	})
	t.Run("ErrJustOver", func(t *testing.T) {
		r := s.hlPostRaw(t, "application/json", "", bytes.NewReader(padded(1025)))
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413: %.300s", r.Status, r.Raw)
		}
		hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
	})
	t.Run("ErrFarOver", func(t *testing.T) {
		r := hlTimed(t, hlQuick, func() gqlResponse {
			return s.hlPostRaw(t, "application/json", "", struct{ io.Reader }{bytes.NewReader(padded(8 << 20))})
		})
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413: %.300s", r.Status, r.Raw)
		}
		hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
		s.hlMustServe(t)
	})
}

// TestHardeningFragments checks that fragments (named and inline) cannot
// hide depth or aliases, and that exponential fragment reuse stays cheap.
func TestHardeningFragments(t *testing.T) {
	t.Run("Depth", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"GRAPHQL_MAX_DEPTH": "3"})
		t.Run("OKAtLimitThroughFragments", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: `{ ...A } fragment A on Query { courses { ...B } } fragment B on CourseConnection { pageInfo { hasNextPage } }`}).mustNoErrors(t)
		})
		t.Run("ErrThroughFragments", func(t *testing.T) {
			doc := `query { ...A }
				fragment A on Query { courses { ...B } }
				fragment B on CourseConnection { edges { ...C } }
				fragment C on CourseEdge { node { createdBy { name } } }`
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: doc}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "deep", 5, 3)
		})
		t.Run("ErrThroughInlineFragments", func(t *testing.T) {
			doc := `{ ... on Query { courses { ... on CourseConnection { edges { ... { node { id } } } } } } }`
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: doc}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "deep", 4, 3)
		})
	})

	t.Run("Aliases", func(t *testing.T) {
		s := mustStartServer(t, nil)
		// G has three aliases, each over F's four: fifteen in all.
		frags := ` fragment G on CourseEdge { n1: node { ...F } n2: node { ...F } n3: node { ...F } }
			fragment F on Course { a: id b: title c: price d: published }`
		t.Run("OKAtLimitThroughFragments", func(t *testing.T) {
			s.hlPost(t, hlDoc{query: `{ courses { edges { ...G } } }` + frags}).mustNoErrors(t)
		})
		t.Run("ErrJustOverThroughFragments", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: `{ x: courses { edges { ...G } } }` + frags}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "alias", 16, 15)
		})
		t.Run("ErrFragmentReusedCounts", func(t *testing.T) {
			doc := `{ courses { edges { ...G } } purchasedCourses { edges { ...G } } }` + frags
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: doc}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "alias", 30, 15)
		})
		t.Run("ErrAliasBombThroughNestedSpreads", func(t *testing.T) {
			doc := hlFragmentBomb(`{ courses { edges { node { ...F0 } } } }`, "Course", 20, "a: id")
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "alias", 1<<20, 15)
			s.hlMustServe(t)
		})
		t.Run("ErrInsideIntrospection", func(t *testing.T) {
			// Each aliased types repeats the whole schema: aliases under an
			// introspection field amplify as much as any others.
			doc := `{ __schema { ` + hlRepeat("t%d: types { name fields { name } }", 16) + `} }`
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: doc}), "GRAPHQL_VALIDATION_FAILED")
			hlMustMention(t, e.Message, "alias", 16, 15)
		})
	})

	t.Run("ExponentialSpreads", func(t *testing.T) {
		s := mustStartServer(t, nil)
		t.Run("OKOrRefusedQuickly", func(t *testing.T) {
			// 2^20 uses of a fragment with a nested field, in 1.5 KB.
			doc := hlFragmentBomb(`{ courses { edges { node { ...F0 } } } }`, "Course", 20, "id createdBy { name }")
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			if len(r.Errors) > 0 {
				hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
			}
			s.hlMustServe(t)
		})
		t.Run("OKIntrospectionOrRefusedQuickly", func(t *testing.T) {
			doc := hlFragmentBomb(`{ __schema { types { ...F0 } } }`, "__Type", 20, "name fields { name }")
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			if len(r.Errors) > 0 {
				hlMustRefused(t, r, "GRAPHQL_VALIDATION_FAILED")
			}
			s.hlMustServe(t)
		})
		t.Run("ErrCycle", func(t *testing.T) {
			doc := `{ courses { edges { node { ...A } } } } fragment A on Course { id ...B } fragment B on Course { title ...A }`
			r := hlTimed(t, hlQuick, func() gqlResponse { return s.hlPost(t, hlDoc{query: doc}) })
			hlMustRefused(t, r, "GRAPHQL_VALIDATION_FAILED")
			s.hlMustServe(t)
		})
	})
}

// ---------------------------------------------------------------------------
// Production posture

// TestHardeningPosture checks introspection, field suggestions and the IDE
// in both environments, and that each can be overridden.
func TestHardeningPosture(t *testing.T) {
	const typo = `{ cours { id } }`
	introspection := []string{`{ __schema { types { name } } }`, `{ __type(name: "Course") { name } }`}

	mustOn := func(t *testing.T, s *testServer) {
		t.Helper()
		t.Run("OKIntrospection", func(t *testing.T) {
			for _, q := range introspection {
				s.hlPost(t, hlDoc{query: q}).mustNoErrors(t)
			}
		})
		t.Run("OKSuggestions", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: typo}), "GRAPHQL_VALIDATION_FAILED")
			if !strings.Contains(e.Message, "Did you mean") {
				t.Errorf("message %q has no suggestion", e.Message)
			}
		})
		t.Run("OKIDE", func(t *testing.T) {
			status, _, body := s.httpGet(t, "/")
			if status != http.StatusOK || !strings.Contains(strings.ToLower(body), "<html") {
				t.Errorf("GET / = %d, want 200 and the IDE: %.200s", status, body)
			}
		})
	}
	mustOff := func(t *testing.T, s *testServer) {
		t.Helper()
		t.Run("ErrIntrospection", func(t *testing.T) {
			for _, q := range introspection {
				hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: q}), "GRAPHQL_VALIDATION_FAILED")
			}
		})
		t.Run("OKTypename", func(t *testing.T) {
			r := s.hlPost(t, hlDoc{query: `{ __typename }`}).mustNoErrors(t)
			if string(r.Data) != `{"__typename":"Query"}` {
				t.Errorf("data = %s", r.Data)
			}
		})
		t.Run("ErrNoSuggestions", func(t *testing.T) {
			e := hlMustRefusedOne(t, s.hlPost(t, hlDoc{query: typo}), "GRAPHQL_VALIDATION_FAILED")
			if strings.Contains(e.Message, "Did you mean") || strings.Contains(e.Message, `"course"`) {
				t.Errorf("message %q suggests a field", e.Message)
			}
		})
		t.Run("ErrNoIDE", func(t *testing.T) {
			if status, _, body := s.httpGet(t, "/"); status != http.StatusNotFound {
				t.Errorf("GET / = %d, want 404: %.200s", status, body)
			}
		})
	}

	t.Run("ProductionDefault", func(t *testing.T) {
		mustOff(t, mustStartServer(t, map[string]string{"APP_ENV": "production"}))
	})
	t.Run("ProductionOverridden", func(t *testing.T) {
		mustOn(t, mustStartServer(t, map[string]string{
			"APP_ENV": "production", "INTROSPECTION": "true", "FIELD_SUGGESTIONS": "true", "IDE": "true",
		}))
	})
	t.Run("DevelopmentDefault", func(t *testing.T) {
		mustOn(t, mustStartServer(t, nil))
	})
	t.Run("DevelopmentOverridden", func(t *testing.T) {
		mustOff(t, mustStartServer(t, map[string]string{
			"INTROSPECTION": "false", "FIELD_SUGGESTIONS": "false", "IDE": "false",
		}))
	})
}

// ---------------------------------------------------------------------------
// Status codes

// TestHardeningStatusCodes checks GraphQL-over-HTTP status codes and media
// types.
func TestHardeningStatusCodes(t *testing.T) {
	s := mustStartServer(t, nil)
	const gqlResp = "application/graphql-response+json"
	mustType := func(t *testing.T, r gqlResponse, media string) {
		t.Helper()
		if ct := r.Header.Get("Content-Type"); ct != media+"; charset=utf-8" {
			t.Errorf("Content-Type = %q, want %q", ct, media+"; charset=utf-8")
		}
	}
	mustStatus := func(t *testing.T, r gqlResponse, want int) {
		t.Helper()
		if r.Status != want {
			t.Errorf("status = %d, want %d: %.300s", r.Status, want, r.Raw)
		}
	}

	t.Run("OKGraphQLResponse", func(t *testing.T) {
		r := s.hlPostJSON(t, gqlResp, map[string]any{"query": `{ courses { totalCount } }`}).mustNoErrors(t)
		mustType(t, r, gqlResp)
	})
	t.Run("ErrParseGraphQLResponse", func(t *testing.T) {
		r := s.hlPostJSON(t, gqlResp, map[string]any{"query": `{ courses { `})
		mustStatus(t, r, http.StatusBadRequest)
		mustType(t, r, gqlResp)
		hlMustRefused(t, r, "GRAPHQL_PARSE_FAILED")
	})
	t.Run("ErrValidationGraphQLResponse", func(t *testing.T) {
		r := s.hlPostJSON(t, gqlResp, map[string]any{"query": `{ nope }`})
		mustStatus(t, r, http.StatusBadRequest)
		mustType(t, r, gqlResp)
		hlMustRefused(t, r, "GRAPHQL_VALIDATION_FAILED")
	})
	t.Run("ErrLimitGraphQLResponse", func(t *testing.T) {
		r := s.hlPostJSON(t, gqlResp, map[string]any{"query": hlAliasDoc(16)})
		mustStatus(t, r, http.StatusBadRequest)
		hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
	})
	t.Run("OKGraphQLResponsePreferred", func(t *testing.T) {
		r := s.hlPostJSON(t, gqlResp+", application/json;q=0.9", map[string]any{"query": `{ nope }`})
		mustStatus(t, r, http.StatusBadRequest)
		mustType(t, r, gqlResp)
	})
	for i, accept := range []string{"application/json", "", "*/*", "application/graphql-response+json;q=0, application/json"} {
		t.Run(fmt.Sprintf("OKJSON%d", i), func(t *testing.T) {
			r := s.hlPostJSON(t, accept, map[string]any{"query": `{ courses { totalCount } }`}).mustNoErrors(t)
			mustType(t, r, "application/json")
			r = s.hlPostJSON(t, accept, map[string]any{"query": `{ courses { `})
			mustStatus(t, r, http.StatusOK)
			mustType(t, r, "application/json")
			hlMustRefused(t, r, "GRAPHQL_PARSE_FAILED")
			r = s.hlPostJSON(t, accept, map[string]any{"query": `{ nope }`})
			mustStatus(t, r, http.StatusOK)
			hlMustRefused(t, r, "GRAPHQL_VALIDATION_FAILED")
		})
	}
	for i, accept := range []string{"text/html", "application/json;q=0", "application/xml, text/plain"} {
		t.Run(fmt.Sprintf("ErrNotAcceptable%d", i), func(t *testing.T) {
			r := s.hlPostJSON(t, accept, map[string]any{"query": `{ courses { totalCount } }`})
			mustStatus(t, r, http.StatusNotAcceptable)
			mustType(t, r, "application/json")
			if len(r.Errors) != 1 || !contractCodes[r.Errors[0].Code()] {
				t.Errorf("want one coded error: %s", r.Raw)
			}
		})
	}
	t.Run("ErrMissingQuery", func(t *testing.T) {
		for _, body := range []string{`{}`, `{"query": ""}`, `{"variables": {"a": 1}}`} {
			for _, accept := range []string{"", gqlResp} {
				r := s.hlPostRaw(t, "application/json", accept, strings.NewReader(body))
				mustStatus(t, r, http.StatusBadRequest)
				hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
			}
		}
	})
	t.Run("ErrBatch", func(t *testing.T) {
		emails := []string{uniqueEmail(t, 1), uniqueEmail(t, 2)}
		batch := []map[string]any{
			{"query": `mutation($in: SignupInput!) { signup(input: $in) { accessToken } }`, "variables": hlSignupVars(emails[0])},
			{"query": `mutation($in: SignupInput!) { signup(input: $in) { accessToken } }`, "variables": hlSignupVars(emails[1])},
		}
		for _, accept := range []string{"", gqlResp} {
			r := s.hlPostJSON(t, accept, batch)
			mustStatus(t, r, http.StatusBadRequest)
			e := hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
			if !strings.Contains(strings.ToLower(e.Message), "batch") {
				t.Errorf("message %q does not mention batched requests", e.Message)
			}
		}
		for _, email := range emails {
			s.hlMustNotExist(t, email)
		}
	})
	t.Run("ErrGetMutation", func(t *testing.T) {
		email := uniqueEmail(t, 3)
		r := s.hlGet(t, "", url.Values{"query": {hlSignupDoc(email)}})
		mustStatus(t, r, http.StatusMethodNotAllowed)
		if allow := r.Header.Get("Allow"); allow != http.MethodPost {
			t.Errorf("Allow = %q, want POST", allow)
		}
		hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		mustType(t, r, "application/json")
		s.hlMustNotExist(t, email)
	})
	t.Run("ErrTextPlain", func(t *testing.T) {
		email := uniqueEmail(t, 4)
		body, _ := json.Marshal(map[string]any{"query": hlSignupDoc(email)})
		r := s.hlPostRaw(t, "text/plain", "", bytes.NewReader(body))
		mustStatus(t, r, http.StatusUnsupportedMediaType)
		mustType(t, r, "application/json")
		hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
		s.hlMustNotExist(t, email)
	})
}

// ---------------------------------------------------------------------------
// Automatic persisted queries

// TestHardeningAPQ checks the Apollo/urql persisted query protocol.
func TestHardeningAPQ(t *testing.T) {
	s := mustStartServer(t, nil)
	const q = `query HlAPQ { courses { totalCount } }`
	hash := hlSHA(q)

	t.Run("ErrNotFound", func(t *testing.T) {
		r := s.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(hash)})
		e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		if e.Message != "PersistedQueryNotFound" {
			t.Errorf("message = %q, want PersistedQueryNotFound", e.Message)
		}
	})
	t.Run("OKRegister", func(t *testing.T) {
		r := s.hlPostJSON(t, "", map[string]any{"query": q, "extensions": hlAPQ(hash)}).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":0}}` {
			t.Errorf("data = %s", r.Data)
		}
	})
	t.Run("OKFromCache", func(t *testing.T) {
		r := s.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(hash)}).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":0}}` {
			t.Errorf("data = %s", r.Data)
		}
	})
	t.Run("OKGet", func(t *testing.T) {
		ext, _ := json.Marshal(hlAPQ(hash))
		r := s.hlGet(t, "", url.Values{"extensions": {string(ext)}}).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":0}}` {
			t.Errorf("data = %s", r.Data)
		}
	})
	t.Run("OKGetRegisters", func(t *testing.T) {
		const q2 = `query HlAPQGet { courses(first: 1) { totalCount } }`
		ext, _ := json.Marshal(hlAPQ(hlSHA(q2)))
		r := s.hlGet(t, "", url.Values{"extensions": {string(ext)}})
		if e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED"); e.Message != "PersistedQueryNotFound" {
			t.Errorf("message = %q, want PersistedQueryNotFound", e.Message)
		}
		s.hlGet(t, "", url.Values{"query": {q2}, "extensions": {string(ext)}}).mustNoErrors(t)
		s.hlGet(t, "", url.Values{"extensions": {string(ext)}}).mustNoErrors(t)
	})
	t.Run("ErrWrongHash", func(t *testing.T) {
		other := hlSHA("something else")
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"query": q, "extensions": hlAPQ(other)}), "GRAPHQL_VALIDATION_FAILED")
		// Nothing was stored under the wrong hash.
		r := s.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(other)})
		if e := hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED"); e.Message != "PersistedQueryNotFound" {
			t.Errorf("message = %q, want PersistedQueryNotFound", e.Message)
		}
	})
	t.Run("ErrWrongHashNothingRuns", func(t *testing.T) {
		email := uniqueEmail(t, 1)
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{
			"query": hlSignupDoc(email), "extensions": hlAPQ(hash),
		}), "GRAPHQL_VALIDATION_FAILED")
		s.hlMustNotExist(t, email)
	})
	t.Run("ErrBadExtension", func(t *testing.T) {
		for _, ext := range []map[string]any{
			{"persistedQuery": map[string]any{"version": 2, "sha256Hash": hash}},
			{"persistedQuery": "not an object"},
		} {
			r := s.hlPostJSON(t, "", map[string]any{"query": q, "extensions": ext})
			hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		}
	})
	t.Run("ErrMutationFromCacheOverGET", func(t *testing.T) {
		const m = `mutation HlAPQSignup($in: SignupInput!) { signup(input: $in) { accessToken } }`
		s.hlPostJSON(t, "", map[string]any{
			"query": m, "variables": hlSignupVars(uniqueEmail(t, 2)), "extensions": hlAPQ(hlSHA(m)),
		}).mustNoErrors(t)
		email := uniqueEmail(t, 3)
		ext, _ := json.Marshal(hlAPQ(hlSHA(m)))
		vars, _ := json.Marshal(hlSignupVars(email))
		r := s.hlGet(t, "", url.Values{"extensions": {string(ext)}, "variables": {string(vars)}})
		if r.Status != http.StatusMethodNotAllowed {
			t.Errorf("status = %d, want 405: %s", r.Status, r.Raw)
		}
		hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		s.hlMustNotExist(t, email)
	})
	t.Run("ErrOversizeDocumentNotCached", func(t *testing.T) {
		// A document over GRAPHQL_MAX_QUERY_BYTES is refused; it must not
		// be kept either, or 1,000 cache entries of a MiB each fill memory.
		big := hlPad(t, `query HlBig { courses { totalCount } }`, 20000)
		r := s.hlPostJSON(t, "", map[string]any{"query": big, "extensions": hlAPQ(hlSHA(big))})
		hlMustRefusedOne(t, r, "GRAPHQL_PARSE_FAILED")
		r = s.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(hlSHA(big))})
		if len(r.Errors) != 1 || r.Errors[0].Message != "PersistedQueryNotFound" {
			t.Errorf("the refused oversize document was kept in the APQ cache: a hash-only request answers %.300s, want PersistedQueryNotFound", r.Raw)
		}
	})

	t.Run("LimitsApplyToCachedDocuments", func(t *testing.T) {
		ls := mustStartServer(t, map[string]string{"GRAPHQL_MAX_DEPTH": "2"})
		const deep = `query HlDeep { courses { edges { node { id } } } }`
		h := hlSHA(deep)
		e := hlMustRefusedOne(t, ls.hlPostJSON(t, "", map[string]any{"query": deep, "extensions": hlAPQ(h)}), "GRAPHQL_VALIDATION_FAILED")
		hlMustMention(t, e.Message, "deep", 4, 2)
		for range 2 {
			hlMustRefusedOne(t, ls.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(h)}), "GRAPHQL_VALIDATION_FAILED")
		}
		ext, _ := json.Marshal(hlAPQ(h))
		hlMustRefusedOne(t, ls.hlGet(t, "", url.Values{"extensions": {string(ext)}}), "GRAPHQL_VALIDATION_FAILED")
	})

	t.Run("Off", func(t *testing.T) {
		off := mustStartServer(t, map[string]string{"APQ_CACHE_SIZE": "0"})
		t.Run("ErrHashOnly", func(t *testing.T) {
			off.hlPostJSON(t, "", map[string]any{"query": q, "extensions": hlAPQ(hash)})
			for range 2 {
				r := off.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(hash)})
				if len(r.Errors) != 1 || !contractCodes[r.Errors[0].Code()] || hlHasData(t, r) {
					t.Errorf("want one coded error and no data: %s", r.Raw)
				}
			}
		})
		t.Run("OKFullQuery", func(t *testing.T) {
			off.hlPostJSON(t, "", map[string]any{"query": q}).mustNoErrors(t)
		})
	})
}

// ---------------------------------------------------------------------------
// Trusted documents

// TestHardeningTrustedDocuments checks that only allow-listed documents run.
func TestHardeningTrustedDocuments(t *testing.T) {
	const (
		qCount  = `query HlCount { courses { totalCount } }`
		qTitles = `query HlTitles($n: Int) { courses(first: $n) { edges { node { title } } } }`
		mSignup = `mutation HlSignup($in: SignupInput!) { signup(input: $in) { accessToken } }`
		mLogin  = `mutation HlLogin($in: LoginInput!) { login(input: $in) { accessToken } }`
	)
	qWide := `query HlWide ` + hlAliasDoc(16)
	docs := map[string]string{
		hlSHA(qCount):                   qCount,
		"sha256:" + hlSHA(qTitles):      qTitles, // the prefix codegen may write
		strings.ToUpper(hlSHA(mSignup)): mSignup,
		hlSHA(mLogin):                   mLogin,
		hlSHA(qWide):                    qWide,
	}
	b, err := json.Marshal(docs)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "persisted-documents.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustStartServer(t, map[string]string{"TRUSTED_DOCUMENTS_FILE": file})

	mustExist := func(t *testing.T, email string, want bool) {
		t.Helper()
		r := s.hlPostJSON(t, "", map[string]any{"documentId": hlSHA(mLogin),
			"variables": map[string]any{"in": map[string]any{"email": email, "password": hlPassword}}})
		if want {
			r.mustNoErrors(t)
		} else {
			r.mustCode(t, "UNAUTHENTICATED")
		}
	}

	t.Run("OKByText", func(t *testing.T) {
		r := s.hlPostJSON(t, "", map[string]any{"query": qCount}).mustNoErrors(t)
		if string(r.Data) != `{"courses":{"totalCount":0}}` {
			t.Errorf("data = %s", r.Data)
		}
	})
	t.Run("OKByDocumentID", func(t *testing.T) {
		for _, id := range []string{hlSHA(qCount), "sha256:" + hlSHA(qCount)} {
			r := s.hlPostJSON(t, "", map[string]any{"documentId": id}).mustNoErrors(t)
			if string(r.Data) != `{"courses":{"totalCount":0}}` {
				t.Errorf("documentId %s: data = %s", id, r.Data)
			}
		}
		s.hlPostJSON(t, "", map[string]any{"documentId": hlSHA(qTitles), "variables": map[string]any{"n": 5}}).mustNoErrors(t)
	})
	t.Run("OKByAPQExtension", func(t *testing.T) {
		s.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(hlSHA(qCount))}).mustNoErrors(t)
		ext, _ := json.Marshal(hlAPQ(hlSHA(qCount)))
		s.hlGet(t, "", url.Values{"extensions": {string(ext)}}).mustNoErrors(t)
	})
	t.Run("OKMutationByDocumentID", func(t *testing.T) {
		email := uniqueEmail(t, 1)
		s.hlPostJSON(t, "", map[string]any{"documentId": hlSHA(mSignup), "variables": hlSignupVars(email)}).mustNoErrors(t)
		mustExist(t, email, true)
	})
	t.Run("ErrTextNotExact", func(t *testing.T) {
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"query": qCount + " "}), "GRAPHQL_VALIDATION_FAILED")
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"query": `{ courses { totalCount } }`}), "GRAPHQL_VALIDATION_FAILED")
	})
	t.Run("ErrUnlistedMutation", func(t *testing.T) {
		email := uniqueEmail(t, 2)
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"query": hlSignupDoc(email)}), "GRAPHQL_VALIDATION_FAILED")
		// Not even as a would-be APQ registration.
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{
			"query": hlSignupDoc(email), "extensions": hlAPQ(hlSHA(hlSignupDoc(email))),
		}), "GRAPHQL_VALIDATION_FAILED")
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(hlSHA(hlSignupDoc(email)))}), "GRAPHQL_VALIDATION_FAILED")
		// Nor under the hash of a listed document.
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{
			"query": hlSignupDoc(email), "extensions": hlAPQ(hlSHA(qCount)),
		}), "GRAPHQL_VALIDATION_FAILED")
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{
			"query": hlSignupDoc(email), "documentId": hlSHA(mSignup),
		}), "GRAPHQL_VALIDATION_FAILED")
		mustExist(t, email, false)
	})
	t.Run("ErrUnknownID", func(t *testing.T) {
		unknown := hlSHA("query Unknown { courses { totalCount } }")
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"documentId": unknown}), "GRAPHQL_VALIDATION_FAILED")
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"documentId": "sha256:" + unknown}), "GRAPHQL_VALIDATION_FAILED")
		hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"extensions": hlAPQ(unknown)}), "GRAPHQL_VALIDATION_FAILED")
		ext, _ := json.Marshal(hlAPQ(unknown))
		hlMustRefusedOne(t, s.hlGet(t, "", url.Values{"extensions": {string(ext)}}), "GRAPHQL_VALIDATION_FAILED")
	})
	t.Run("ErrLimitsStillApply", func(t *testing.T) {
		e := hlMustRefusedOne(t, s.hlPostJSON(t, "", map[string]any{"documentId": hlSHA(qWide)}), "GRAPHQL_VALIDATION_FAILED")
		hlMustMention(t, e.Message, "alias", 16, 15)
	})
	t.Run("ErrListedMutationOverGET", func(t *testing.T) {
		email := uniqueEmail(t, 3)
		ext, _ := json.Marshal(hlAPQ(hlSHA(mSignup)))
		vars, _ := json.Marshal(hlSignupVars(email))
		r := s.hlGet(t, "", url.Values{"extensions": {string(ext)}, "variables": {string(vars)}})
		if r.Status != http.StatusMethodNotAllowed {
			t.Errorf("status = %d, want 405: %s", r.Status, r.Raw)
		}
		hlMustRefusedOne(t, r, "GRAPHQL_VALIDATION_FAILED")
		mustExist(t, email, false)
	})
}

// TestHardeningTrustedDocumentsFile checks that a bad allow-list stops the
// program at start.
func TestHardeningTrustedDocumentsFile(t *testing.T) {
	write := func(t *testing.T, content string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "docs.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const doc = `query HlCount { courses { totalCount } }`
	for _, c := range []struct {
		name string
		path func(t *testing.T) string
	}{
		{"ErrHashMismatch", func(t *testing.T) string {
			b, _ := json.Marshal(map[string]string{hlSHA(doc): doc, hlSHA("query A { me { id } }"): "query B { me { id } }"})
			return write(t, string(b))
		}},
		{"ErrNotJSON", func(t *testing.T) string { return write(t, `["not", "an", "object"]`) }},
		{"ErrMissing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing.json") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := mustFailToStart(t, map[string]string{"TRUSTED_DOCUMENTS_FILE": c.path(t)})
			if !strings.Contains(err.Error(), "TRUSTED_DOCUMENTS_FILE") {
				t.Errorf("error %q does not name TRUSTED_DOCUMENTS_FILE", err)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Request deadline

// TestHardeningRequestTimeoutConfig checks REQUEST_TIMEOUT's bounds.
func TestHardeningRequestTimeoutConfig(t *testing.T) {
	for _, v := range []string{"0s", "999ms", "-1s", "soon"} {
		t.Run("Err/"+v, func(t *testing.T) {
			err := mustFailToStart(t, map[string]string{"REQUEST_TIMEOUT": v})
			if !strings.Contains(err.Error(), "REQUEST_TIMEOUT") {
				t.Errorf("error %q does not name REQUEST_TIMEOUT", err)
			}
		})
	}
	t.Run("OKMinimum", func(t *testing.T) {
		mustStartServer(t, map[string]string{"REQUEST_TIMEOUT": "1s"}).hlMustServe(t)
	})
}

// TestHardeningRequestDeadline hangs an external database under a running
// server whose DB_TIMEOUT is long: the database still holds its
// connections but answers nothing, so the monitor has no reason to call it
// down. The request deadline, not DB_TIMEOUT, must end the request, and the
// answer and the log must say what happened: a request that ran too long,
// not an internal error.
func TestHardeningRequestDeadline(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	emb, err := mongodb.StartEmbedded(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop) // runs after the server's own clean-up
	proxy := mustStallProxy(t, emb.URI())
	s := mustStartServer(t, map[string]string{
		"MONGODB_URI":     proxy.uri,
		"JWT_SECRET":      hlJWTSecret,
		"DB_TIMEOUT":      "30s",
		"REQUEST_TIMEOUT": "1s",
		// Closing the client waits for the hung connections until then.
		"SHUTDOWN_TIMEOUT": "1s",
	})
	// The signed-in viewer needs the database on every request (the
	// public catalogue may be served from the cache).
	const q = `{ me { id } }`
	tok := s.mustSignup(t, uniqueEmail(t, 1), "deadline-password-1", "Deadline").AccessToken

	t.Run("OKWhileUp", func(t *testing.T) {
		s.post(t, tok, q, nil).mustNoErrors(t)
	})

	proxy.stall()

	t.Run("ErrCutOff", func(t *testing.T) {
		start := time.Now()
		r := s.post(t, tok, q, nil)
		// About REQUEST_TIMEOUT (1 s), not DB_TIMEOUT (30 s).
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the request took %v, want about REQUEST_TIMEOUT (1s)", took)
		}
		e := r.mustCode(t, "INTERNAL_SERVER_ERROR")
		if !strings.Contains(e.Message, "took too long") {
			t.Errorf("message %q does not say the request took too long", e.Message)
		}
		logs := s.logs.String()
		if !strings.Contains(logs, `"level":"WARN","msg":"request ran past REQUEST_TIMEOUT"`) {
			t.Errorf("no warning that a request ran past REQUEST_TIMEOUT in the log:\n%s", logs)
		}
		if strings.Contains(logs, `"level":"ERROR","msg":"internal error"`) {
			t.Errorf("a request cut off by its deadline was logged as an internal error:\n%s", logs)
		}
	})

	t.Run("OKHealthz", func(t *testing.T) {
		if status, _, _ := s.httpGet(t, "/healthz"); status != http.StatusOK {
			t.Errorf("/healthz = %d, want 200", status)
		}
	})
}

// stallProxy forwards TCP connections to a database until stall is
// called; from then on it keeps every connection open and passes nothing
// on, as a hung database server does.
type stallProxy struct {
	uri     string
	stalled chan struct{}
	once    sync.Once
}

// mustStallProxy listens on 127.0.0.1 in front of the database at target
// (a mongodb:// URI) and returns the URI that reaches it through the proxy.
func mustStallProxy(tb testing.TB, target string) *stallProxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	p := &stallProxy{stalled: make(chan struct{})}
	tb.Cleanup(func() { close(done); _ = ln.Close() })
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			select {
			case <-p.stalled:
				<-done // hold the connection, answer nothing
				return
			default:
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				db, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer db.Close()
				go pipe(db, c)
				pipe(c, db)
			}()
		}
	}()
	pu := *u
	pu.Host = ln.Addr().String()
	p.uri = pu.String()
	return p
}

// stall makes the database behind the proxy stop answering.
func (p *stallProxy) stall() { p.once.Do(func() { close(p.stalled) }) }
