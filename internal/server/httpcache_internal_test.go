package server

import "testing"

func TestETagMatches(t *testing.T) {
	t.Parallel()
	const tag = `"abc"`
	tests := []struct {
		name   string
		values []string
		want   bool
	}{
		{"OKExact", []string{`"abc"`}, true},
		{"OKWeak", []string{`W/"abc"`}, true},
		{"OKInList", []string{`"x", "abc"`}, true},
		{"OKInSecondHeader", []string{`"x"`, ` "abc" `}, true},
		{"OKStar", []string{"*"}, true},
		{"ErrNone", nil, false},
		{"ErrOther", []string{`"abd"`}, false},
		{"ErrUnquoted", []string{`abc`}, false},
		{"ErrPrefixOnly", []string{`"ab`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := etagMatches(tt.values, tag); got != tt.want {
				t.Errorf("etagMatches(%q) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}

func TestHasErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"OKData", `{"data":{"courses":{"totalCount":1}}}`, false},
		{"OKErrorsNull", `{"errors":null,"data":{}}`, false},
		{"OKWordInData", `{"data":{"course":{"title":"errors"}}}`, false},
		{"ErrErrors", `{"errors":[{"message":"x"}],"data":null}`, true},
		{"ErrErrorsLast", `{"data":null,"errors":[{"message":"x"}]}`, true},
		{"ErrNotJSON", `not json`, true},
		{"ErrEmpty", ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := hasErrors([]byte(tt.body)); got != tt.want {
				t.Errorf("hasErrors(%s) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}
