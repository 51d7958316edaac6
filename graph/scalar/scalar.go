// Package scalar holds strict versions of GraphQL's built-in Int, Float and
// Boolean, bound in gqlgen.yml in place of gqlgen's own.
//
// gqlgen's unmarshalers are lax: graphql.UnmarshalInt takes the string "2"
// and any int64, UnmarshalFloat takes "2.5", UnmarshalBoolean takes "true",
// 1 and null. gqlparser's variable check lets numeric strings through for
// Int and Float variables ({"first": "2"}) and does not bound Int literals
// to 32 bits, so those values reach the unmarshalers, which the GraphQL
// spec's input coercion forbids. The strict ones here accept numbers only,
// as JSON and GraphQL literals carry them. Their errors are
// GRAPHQL_VALIDATION_FAILED, like the variable checks before them, and
// never quote the value.
package scalar

import (
	"context"
	"encoding/json"
	"io"
	"math"

	"github.com/99designs/gqlgen/graphql"

	"github.com/coursehub/coursehub/internal/apperr"
)

var (
	errNotInt     = apperr.New(apperr.GraphQLValidationFailed, "Int cannot represent a value that is not a whole number")
	errIntRange   = apperr.New(apperr.GraphQLValidationFailed, "Int cannot represent a number outside the signed 32-bit range")
	errNotFloat   = apperr.New(apperr.GraphQLValidationFailed, "Float cannot represent a value that is not a finite number")
	errNotBoolean = apperr.New(apperr.GraphQLValidationFailed, "Boolean cannot represent a value that is not true or false")
)

// MarshalInt writes an Int.
func MarshalInt(i int) graphql.Marshaler { return graphql.MarshalInt(i) }

// UnmarshalInt accepts a whole number in the signed 32-bit range: an integer
// (a literal, or a variable the transport decoded as int64), a float64 with
// no fractional part (JSON has one number type: 2.0 is 2), or a json.Number
// of either kind. Strings, booleans and null are refused.
// Errors: GRAPHQL_VALIDATION_FAILED.
func UnmarshalInt(v any) (int, error) {
	var i int64
	switch x := v.(type) {
	case int:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return 0, errNotInt
		}
		if x < math.MinInt32 || x > math.MaxInt32 {
			return 0, errIntRange
		}
		i = int64(x)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return UnmarshalInt(n)
		}
		f, err := x.Float64()
		if err != nil {
			return 0, errNotInt
		}
		return UnmarshalInt(f)
	default:
		return 0, errNotInt
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		return 0, errIntRange
	}
	return int(i), nil
}

// MarshalFloatContext writes a Float; infinities and NaN are errors.
func MarshalFloatContext(f float64) graphql.ContextMarshaler { return graphql.MarshalFloatContext(f) }

// UnmarshalFloatContext accepts a finite number: a float64, an integer or a
// json.Number. Strings, booleans and null are refused.
// Errors: GRAPHQL_VALIDATION_FAILED.
func UnmarshalFloatContext(_ context.Context, v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, errNotFloat
		}
	default:
		return 0, errNotFloat
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errNotFloat
	}
	return f, nil
}

// MarshalBoolean writes a Boolean.
func MarshalBoolean(b bool) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if b {
			_, _ = io.WriteString(w, "true")
		} else {
			_, _ = io.WriteString(w, "false")
		}
	})
}

// UnmarshalBoolean accepts true and false only.
// Errors: GRAPHQL_VALIDATION_FAILED.
func UnmarshalBoolean(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, errNotBoolean
	}
	return b, nil
}
