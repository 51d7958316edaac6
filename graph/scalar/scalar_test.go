package scalar_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/coursehub/coursehub/graph/scalar"
	"github.com/coursehub/coursehub/internal/apperr"
)

// wantRefused fails unless err is GRAPHQL_VALIDATION_FAILED.
func wantRefused(tb testing.TB, err error, in any) {
	tb.Helper()
	if !apperr.IsCode(err, apperr.GraphQLValidationFailed) {
		tb.Fatalf("error for %#v = %v, want GRAPHQL_VALIDATION_FAILED", in, err)
	}
}

func TestUnmarshalInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want int
		ok   bool
	}{
		{"OKInt", 2, 2, true},
		{"OKInt64", int64(-7), -7, true},
		{"OKInt32", int32(9), 9, true},
		{"OKMaxInt32", int64(math.MaxInt32), math.MaxInt32, true},
		{"OKMinInt32", int64(math.MinInt32), math.MinInt32, true},
		{"OKWholeFloat", 3.0, 3, true},
		{"OKNegativeZero", math.Copysign(0, -1), 0, true},
		{"OKJSONNumber", json.Number("42"), 42, true},
		{"OKJSONNumberWholeFloat", json.Number("4.0e1"), 40, true},

		{"ErrNumericString", "2", 0, false},
		{"ErrString", "two", 0, false},
		{"ErrEmptyString", "", 0, false},
		{"ErrBool", true, 0, false},
		{"ErrNil", nil, 0, false},
		{"ErrFraction", 2.5, 0, false},
		{"ErrNaN", math.NaN(), 0, false},
		{"ErrInf", math.Inf(1), 0, false},
		{"ErrOverInt32", int64(math.MaxInt32) + 1, 0, false},
		{"ErrUnderInt32", int64(math.MinInt32) - 1, 0, false},
		{"ErrOverInt32Float", 2147483648.0, 0, false},
		{"ErrHugeFloat", 1e300, 0, false},
		{"ErrJSONNumberOverInt32", json.Number("2147483648"), 0, false},
		{"ErrJSONNumberFraction", json.Number("1.5"), 0, false},
		{"ErrJSONNumberOverInt64", json.Number("99999999999999999999"), 0, false},
		{"ErrJSONNumberGarbage", json.Number("0x10"), 0, false},
		{"ErrList", []any{int64(1)}, 0, false},
		{"ErrObject", map[string]any{"n": int64(1)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scalar.UnmarshalInt(tt.in)
			if !tt.ok {
				wantRefused(t, err, tt.in)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("UnmarshalInt(%#v) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestUnmarshalFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want float64
		ok   bool
	}{
		{"OKFloat", 2.5, 2.5, true},
		{"OKInt", 2, 2, true},
		{"OKInt64", int64(1) << 40, 1 << 40, true},
		{"OKJSONNumber", json.Number("-1.25e2"), -125, true},

		{"ErrNumericString", "2.5", 0, false},
		{"ErrBool", false, 0, false},
		{"ErrNil", nil, 0, false},
		{"ErrNaN", math.NaN(), 0, false},
		{"ErrInf", math.Inf(-1), 0, false},
		{"ErrJSONNumberOverflow", json.Number("1e400"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scalar.UnmarshalFloatContext(context.Background(), tt.in)
			if !tt.ok {
				wantRefused(t, err, tt.in)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("UnmarshalFloatContext(%#v) = %g, %v; want %g", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestUnmarshalBoolean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want bool
		ok   bool
	}{
		{"OKTrue", true, true, true},
		{"OKFalse", false, false, true},

		{"ErrStringTrue", "true", false, false},
		{"ErrStringTRUE", "TRUE", false, false},
		{"ErrOne", 1, false, false},
		{"ErrZero", int64(0), false, false},
		{"ErrNil", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scalar.UnmarshalBoolean(tt.in)
			if !tt.ok {
				wantRefused(t, err, tt.in)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("UnmarshalBoolean(%#v) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestMarshal: output is unchanged from gqlgen's.
func TestMarshal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		got  string
		want string
	}{
		{"Int", marshal(t, scalar.MarshalInt(-42)), "-42"},
		{"BooleanTrue", marshal(t, scalar.MarshalBoolean(true)), "true"},
		{"BooleanFalse", marshal(t, scalar.MarshalBoolean(false)), "false"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: marshalled %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func marshal(tb testing.TB, m interface{ MarshalGQL(w io.Writer) }) string {
	tb.Helper()
	var b strings.Builder
	m.MarshalGQL(&b)
	return b.String()
}
