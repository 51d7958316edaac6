package graph_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// schemaFile is the project's schema, relative to this package.
var schemaFile = filepath.Join("..", "schema.graphqls")

// loadSchema parses and validates a schema document.
func loadSchema(tb testing.TB, name, input string) *ast.Schema {
	tb.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: name, Input: input})
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return s
}

// unguardedFields returns a problem for every root field (Query, Mutation,
// Subscription) that has neither @auth nor @public, or both: every entry
// point must say who may call it.
func unguardedFields(s *ast.Schema) []string {
	var problems []string
	for _, root := range []*ast.Definition{s.Query, s.Mutation, s.Subscription} {
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if strings.HasPrefix(f.Name, "__") { // introspection, added by the parser
				continue
			}
			auth := f.Directives.ForName("auth") != nil
			public := f.Directives.ForName("public") != nil
			switch {
			case !auth && !public:
				problems = append(problems, fmt.Sprintf("%s.%s has neither @auth nor @public", root.Name, f.Name))
			case auth && public:
				problems = append(problems, fmt.Sprintf("%s.%s has both @auth and @public", root.Name, f.Name))
			}
		}
	}
	return problems
}

// testDirectives declares the two directives as schema.graphqls does.
const testDirectives = `
enum Role { USER ADMIN }
directive @auth(requires: Role = USER, allowOwner: Boolean! = false) on FIELD_DEFINITION
directive @public on FIELD_DEFINITION
`

func TestSchemaDenyByDefault(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		src, err := os.ReadFile(schemaFile)
		if err != nil {
			t.Fatalf("read schema: %v", err)
		}
		s := loadSchema(t, schemaFile, string(src))
		if s.Query == nil || s.Mutation == nil {
			t.Fatalf("schema has no Query or no Mutation type")
		}
		for _, p := range unguardedFields(s) {
			t.Error(p)
		}
		// The check saw the fields it guards.
		for _, root := range []*ast.Definition{s.Query, s.Mutation} {
			if len(root.Fields) == 0 {
				t.Errorf("%s has no fields", root.Name)
			}
		}
	})

	tests := []struct {
		name   string
		schema string
		want   []string
	}{
		{"OKInline", testDirectives + `
type Query { a: Int @public  b: Int @auth }
type Mutation { c: Int @auth(requires: ADMIN) }
type Subscription { d: Int @auth }`, nil},
		{"ErrUnmarkedQueryField", testDirectives + `
type Query { a: Int @public  open: Int }`, []string{"Query.open has neither @auth nor @public"}},
		{"ErrUnmarkedMutationField", testDirectives + `
type Query { a: Int @public }
type Mutation { m: Int }`, []string{"Mutation.m has neither @auth nor @public"}},
		{"ErrUnmarkedSubscriptionField", testDirectives + `
type Query { a: Int @public }
type Subscription { s: Int }`, []string{"Subscription.s has neither @auth nor @public"}},
		{"ErrBoth", testDirectives + `
type Query { a: Int @public @auth }`, []string{"Query.a has both @auth and @public"}},
		{"ErrRenamedRoot", testDirectives + `
schema { query: Q }
type Q { x: Int }`, []string{"Q.x has neither @auth nor @public"}},
		{"OKNonRootFieldsIgnored", testDirectives + `
type Query { u: User @auth }
type User { id: ID! name: String }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := unguardedFields(loadSchema(t, tt.name, tt.schema))
			if !slices.Equal(got, tt.want) {
				t.Errorf("unguardedFields = %q, want %q", got, tt.want)
			}
		})
	}
}
