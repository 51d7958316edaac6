package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/internal/pagination"
)

// Limits bound what one operation may ask for. Zero values switch a check
// off (MaxAliases and MaxDirectives 0 mean "none allowed").
type Limits struct {
	MaxDepth      int
	MaxAliases    int
	MaxRootFields int
	MaxDirectives int
	MaxCost       int
	MaxQueryBytes int
	// Verbose says which limit and by how much (development); otherwise the
	// refusal says only that the operation is too large.
	Verbose bool
}

// defaultListSize is what a list field costs per item when the operation
// does not say `first` (the schema's default page size).
const defaultListSize = 20

// limitExtension enforces Limits after validation, before execution.
type limitExtension struct{ Limits }

var (
	_ graphql.HandlerExtension          = limitExtension{}
	_ graphql.OperationParameterMutator = limitExtension{}
	_ graphql.OperationContextMutator   = limitExtension{}
)

func (limitExtension) ExtensionName() string                          { return "Limits" }
func (limitExtension) Validate(schema graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters refuses an over-long document before the parser
// sees it.
func (l limitExtension) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if l.MaxQueryBytes > 0 && len(p.Query) > l.MaxQueryBytes {
		err := l.refusal(fmt.Sprintf("the document has %d bytes; the limit is %d", len(p.Query), l.MaxQueryBytes))
		errcode.Set(err, errcode.ParseFailed)
		return err
	}
	return nil
}

// MutateOperationContext measures the validated operation.
func (l limitExtension) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	m := measure(oc.Operation, oc.Variables)
	var why string
	switch {
	case l.MaxDepth > 0 && m.depth > l.MaxDepth:
		why = fmt.Sprintf("the operation is %d fields deep; the limit is %d", m.depth, l.MaxDepth)
	case m.aliases > l.MaxAliases:
		why = fmt.Sprintf("the operation has %d aliases; the limit is %d", m.aliases, l.MaxAliases)
	case l.MaxRootFields > 0 && m.rootFields > l.MaxRootFields:
		why = fmt.Sprintf("the operation has %d root fields; the limit is %d", m.rootFields, l.MaxRootFields)
	case m.directives > l.MaxDirectives:
		why = fmt.Sprintf("a field has %d directives; the limit is %d", m.directives, l.MaxDirectives)
	case l.MaxCost > 0 && m.cost > l.MaxCost:
		why = fmt.Sprintf("the operation costs %d; the limit is %d", m.cost, l.MaxCost)
	default:
		return nil
	}
	err := l.refusal(why)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

func (l limitExtension) refusal(why string) *gqlerror.Error {
	if l.Verbose {
		return gqlerror.Errorf("operation refused: %s", why)
	}
	return gqlerror.Errorf("operation refused: it is too large or too complex")
}

// measurement is what the limits look at.
type measurement struct {
	depth, aliases, rootFields, directives, cost int
}

// measure walks an operation. Each field costs 1, or 2 if it has a selection
// set; what is below a field with a `first` argument costs `first` times
// (defaultListSize when not given), as GraphQL Armor counts. Introspection
// fields (__schema, __type, __typename) and what is below them count towards
// neither depth nor cost, so IDEs and codegen keep working; their aliases and
// directives count. Fragments are measured once and reused, so spreading
// a fragment many times cannot make the walk itself expensive.
func measure(op *ast.OperationDefinition, vars map[string]any) measurement {
	w := walker{vars: vars, frags: map[string]fragMeasure{}}
	root := w.selections(op.SelectionSet)
	return measurement{
		depth: root.depth, aliases: root.aliases, rootFields: root.fields,
		directives: root.directives, cost: root.cost,
	}
}

// fragMeasure is the measure of a selection set relative to where it stands.
type fragMeasure struct {
	depth, aliases, fields, directives, cost int
}

type walker struct {
	vars  map[string]any
	frags map[string]fragMeasure
}

func (w *walker) selections(set ast.SelectionSet) fragMeasure {
	var out fragMeasure
	add := func(m fragMeasure) {
		out.depth = max(out.depth, m.depth)
		out.aliases += m.aliases
		out.fields += m.fields
		out.directives = max(out.directives, m.directives)
		out.cost = saturatingAdd(out.cost, m.cost)
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			add(w.field(s))
		case *ast.InlineFragment:
			add(w.selections(s.SelectionSet))
		case *ast.FragmentSpread:
			m, ok := w.frags[s.Name]
			if !ok {
				w.frags[s.Name] = fragMeasure{} // cycles are refused by validation; this just ends them
				if s.Definition != nil {
					m = w.selections(s.Definition.SelectionSet)
				}
				w.frags[s.Name] = m
			}
			add(m)
		}
	}
	return out
}

func (w *walker) field(f *ast.Field) fragMeasure {
	m := fragMeasure{fields: 1, directives: len(f.Directives)}
	if f.Alias != "" && f.Alias != f.Name {
		m.aliases = 1
	}
	child := w.selections(f.SelectionSet)
	m.aliases += child.aliases
	m.directives = max(m.directives, child.directives)
	if strings.HasPrefix(f.Name, "__") {
		// Introspection is exempt from depth and cost (its own query is deep),
		// not from aliases and directives, which are what make it expensive.
		return m
	}
	m.depth = 1 + child.depth
	m.cost = 1
	if len(f.SelectionSet) > 0 {
		m.cost = 2
	}
	m.cost = saturatingAdd(m.cost, saturatingMul(child.cost, w.listSize(f)))
	return m
}

// listSize is the `first` argument of a paginated field, or 1.
func (w *walker) listSize(f *ast.Field) int {
	if f.Definition == nil || f.Definition.Arguments.ForName("first") == nil {
		return 1
	}
	switch v := f.ArgumentMap(w.vars)["first"].(type) {
	case int64:
		return clampSize(v)
	case int:
		return clampSize(int64(v))
	case float64:
		return clampSize(int64(v))
	}
	return defaultListSize
}

// clampSize bounds a `first` to the page sizes the resolvers accept: one
// outside them is refused there, with BAD_USER_INPUT naming the argument,
// which says more than a cost refusal would.
func clampSize(n int64) int {
	return int(max(pagination.MinFirst, min(n, pagination.MaxFirst)))
}

const maxCost = 1 << 40

func saturatingAdd(a, b int) int { return min(a+b, maxCost) }
func saturatingMul(a, b int) int {
	if a != 0 && b > maxCost/a {
		return maxCost
	}
	return min(a*b, maxCost)
}

// introspectionOff refuses __schema and __type at validation time when
// introspection is disabled. Without it gqlgen fails such fields only while
// executing, with an error that is not the client's fault in our vocabulary.
type introspectionOff struct{}

var _ graphql.OperationContextMutator = introspectionOff{}

func (introspectionOff) ExtensionName() string                          { return "IntrospectionOff" }
func (introspectionOff) Validate(schema graphql.ExecutableSchema) error { return nil }

func (introspectionOff) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if asksIntrospection(oc.Operation.SelectionSet, map[string]bool{}) {
		err := gqlerror.Errorf("introspection is disabled on this server")
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	return nil
}

// asksIntrospection looks for __schema and __type, which exist only on the
// query root, through root-level fragments.
func asksIntrospection(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if asksIntrospection(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if !seen[s.Name] && s.Definition != nil {
				seen[s.Name] = true
				if asksIntrospection(s.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}
