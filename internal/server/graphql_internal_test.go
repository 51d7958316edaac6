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
		{`Cannot query field "nope" on type "Query".`, `Cannot query field "nope" on type "Query".`},
	}
	for _, tt := range tests {
		if got := withoutValues(tt.in); got != tt.want {
			t.Errorf("withoutValues(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
