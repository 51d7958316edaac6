package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/coursehub/coursehub/internal/user"
)

// Ensure the Accept headers that real clients send pick the right stream,
// and nothing else does.
func TestStreamRequested(t *testing.T) {
	tests := []struct {
		method, accept string
		sse, multipart bool
	}{
		{"POST", "text/event-stream", true, false}, // graphql-sse
		{"GET", "text/event-stream", true, false},  // EventSource
		{"POST", "text/event-stream;q=0, application/json", false, false},
		{"POST", `multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json`, false, true}, // Apollo Client
		{"POST", `multipart/mixed;subscriptionSpec="1.0", application/json`, false, true},                 // the spec's example
		{"POST", `multipart/mixed;deferSpec=20220824, application/json`, false, false},                    // @defer, not served
		{"GET", `multipart/mixed;subscriptionSpec="1.0"`, false, false},
		{"POST", "application/graphql-response+json, application/json", false, false},
		{"PUT", "text/event-stream", false, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/graphql", nil)
		r.Header.Set("Accept", tt.accept)
		if got := sseRequested(r); got != tt.sse {
			t.Errorf("%s %q: sseRequested = %v, want %v", tt.method, tt.accept, got, tt.sse)
		}
		if got := multipartRequested(r); got != tt.multipart {
			t.Errorf("%s %q: multipartRequested = %v, want %v", tt.method, tt.accept, got, tt.multipart)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/graphql?token=abc", nil)
	if !isStreamRequest(r) {
		t.Error("a single-connection GET with ?token= and no Accept is not taken for a stream")
	}
}

// Ensure a subscription's @auth rules are read from the schema as the
// directive applies them, through fragments.
func TestSubscriptionRules(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		directive @auth(requires: Role = USER, allowOwner: Boolean! = false) on FIELD_DEFINITION
		enum Role { USER ADMIN }
		type Query { x: Int }
		type Subscription {
			open: Int
			signedIn: Int @auth
			admins: Int @auth(requires: ADMIN)
		}`})
	for _, tt := range []struct {
		doc  string
		want []user.Role
	}{
		{`subscription { open }`, nil},
		{`subscription { signedIn }`, []user.Role{user.RoleUser}},
		{`subscription { admins }`, []user.Role{user.RoleAdmin}},
		{`subscription { ...F } fragment F on Subscription { admins }`, []user.Role{user.RoleAdmin}},
	} {
		doc := gqlparser.MustLoadQuery(schema, tt.doc)
		rules := subscriptionRules(doc.Operations[0])
		if len(rules) != len(tt.want) {
			t.Errorf("%s: rules %+v, want roles %v", tt.doc, rules, tt.want)
			continue
		}
		for i, r := range rules {
			if r.Requires != tt.want[i] || r.AllowOwner {
				t.Errorf("%s: rule %+v, want %s without allowOwner", tt.doc, r, tt.want[i])
			}
		}
	}
}
