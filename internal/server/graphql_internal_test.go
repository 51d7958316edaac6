package server

import "testing"

// Ensure no gqlparser message that quotes a submitted value survives.
func TestWithoutValues(t *testing.T) {
	tests := []struct{ in, want string }{
		{"String cannot represent a non string value: 918273645", "String cannot represent a non string value"},
		{"Int cannot represent non-integer value: \"hunter2\"", "Int cannot represent non-integer value"},
		{"Int cannot represent non 32-bit signed integer value: 99999999999", "Int cannot represent non 32-bit signed integer value"},
		{`Enum "Role" cannot represent non-enum value: "hunter2".`, `Enum "Role" cannot represent non-enum value`},
		{`Expected value of type "String!", found null.`, `Expected value of type "String!"`},
		{`Expected value of type "LoginInput!", found {a: "hunter2"}.`, `Expected value of type "LoginInput!"`},
		{`Value "hunter2" does not exist in "Role!" enum.`, `Value does not exist in "Role!" enum`},
		{"hunter2 is not a valid Role", "value is not a valid Role"},
		{`Value "hunter2" does not exist in "Role!" enum. Did you mean the enum value "ADMIN"?`,
			`Value does not exist in "Role!" enum. Did you mean the enum value "ADMIN"?`},
		{`Value "ADMN" does not exist in "Role!" enum. Did you mean the enum value "ADMIN" or "USER"?`,
			`Value does not exist in "Role!" enum. Did you mean the enum value "ADMIN" or "USER"?`},
		{"operation hunter2 not found", "the document has no operation of the given operationName"},
		{"operation <b>hunter2\nis not a valid Role not found", "the document has no operation of the given operationName"},
		{"operation x cannot represent y value: hunter2 not found", "the document has no operation of the given operationName"},
		{"operation  not found", "the document has several operations: operationName must name the one to run"},
		{"cannot use 7.3317331e+300 as ID: integers beyond 2^53-1 may have been rounded; decode variables with json.Decoder.UseNumber",
			"cannot use a number beyond 2^53-1 as ID"},
		{"cannot use float64 as ID", "cannot use float64 as ID"},
		{`Cannot query field "nope" on type "Query".`, `Cannot query field "nope" on type "Query".`},
	}
	for _, tt := range tests {
		if got := withoutValues(tt.in); got != tt.want {
			t.Errorf("withoutValues(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
