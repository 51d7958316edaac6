package course

// An internal test: the validators are unexported.

import (
	"strings"
	"testing"

	"github.com/coursehub/coursehub/internal/apperr"
)

// wantInput fails unless err is BAD_USER_INPUT about field.
func wantInput(tb testing.TB, err error, field string) {
	tb.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.BadUserInput {
		tb.Fatalf("error = %v, want BAD_USER_INPUT", err)
	}
	if e.Field != field {
		tb.Errorf("error field = %q, want %q", e.Field, field)
	}
}

func strp(s string) *string { return &s }

func TestNormalizeTitle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" for an error
	}{
		{"OK", "Go in Depth", "Go in Depth"},
		{"OKTrimmed", "  Go in Depth \n", "Go in Depth"},
		{"OK200Runes", strings.Repeat("é", 200), strings.Repeat("é", 200)},
		{"OKMarkupIsText", "<script>alert(1)</script>", "<script>alert(1)</script>"},
		{"ErrEmpty", "", ""},
		{"ErrBlank", " \t ", ""},
		{"Err201Runes", strings.Repeat("é", 201), ""},
		{"ErrHuge", strings.Repeat("a", 1<<20), ""},
		{"ErrNewline", "Go\nin Depth", ""},
		{"ErrTab", "Go\tin Depth", ""},
		{"ErrNUL", "Go\x00", ""},
		{"ErrESC", "Go \x1b[2J", ""},
		{"ErrInvalidUTF8", "Go \xff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := normalizeTitle(tt.in)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("normalizeTitle(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if got != "" {
				t.Errorf("normalizeTitle returned %q with an error", got)
			}
			wantInput(t, err, "title")
		})
	}
}

func TestNormalizeDescription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"OKEmpty", "", "", false},
		{"OKBlankBecomesEmpty", "  \n ", "", false},
		{"OK", "Learn Go.", "Learn Go.", false},
		{"OKTrimmed", "\n Learn Go. \n", "Learn Go.", false},
		{"OKNewlinesAndTabs", "Line 1\n\tLine 2\r\nLine 3", "Line 1\n\tLine 2\r\nLine 3", false},
		{"OK10000Runes", strings.Repeat("é", 10000), strings.Repeat("é", 10000), false},
		{"Err10001Runes", strings.Repeat("é", 10001), "", true},
		{"ErrNUL", "Learn\x00Go", "", true},
		{"ErrESC", "Learn \x1b[31mGo", "", true},
		{"ErrBEL", "Learn\aGo", "", true},
		{"ErrInvalidUTF8", "Learn \xff", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := normalizeDescription(tt.in)
			if tt.wantErr {
				if got != "" {
					t.Errorf("normalizeDescription returned %q with an error", got)
				}
				wantInput(t, err, "description")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("normalizeDescription(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCheckPrice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		price   int
		wantErr bool
	}{
		{"OKFree", 0, false},
		{"OKOneCent", 1, false},
		{"OKTypical", 4999, false},
		{"OKMax", MaxPrice, false},
		{"ErrNegative", -1, true},
		{"ErrMinInt", -1 << 63, true},
		{"ErrAboveMax", MaxPrice + 1, true},
		{"ErrBeyondInt32", 1 << 40, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkPrice(tt.price)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("checkPrice(%d) = %v", tt.price, err)
				}
				return
			}
			wantInput(t, err, "price")
		})
	}
}

func TestNormalizeImageLink(t *testing.T) {
	t.Parallel()
	long := "https://cdn.example.com/" + strings.Repeat("a", MaxImageLinkBytes-len("https://cdn.example.com/"))
	tests := []struct {
		name    string
		in      *string
		want    *string // nil: no link
		wantErr bool
	}{
		{"OKNil", nil, nil, false},
		{"OKEmptyClears", strp(""), nil, false},
		{"OKBlankClears", strp("   "), nil, false},
		{"OKHTTPS", strp("https://cdn.example.com/img/go.png"), strp("https://cdn.example.com/img/go.png"), false},
		{"OKHTTP", strp("http://cdn.example.com/go.png"), strp("http://cdn.example.com/go.png"), false},
		{"OKTrimmed", strp("  https://cdn.example.com/go.png\n"), strp("https://cdn.example.com/go.png"), false},
		{"OKQueryAndFragment", strp("https://cdn.example.com/go.png?w=200#x"), strp("https://cdn.example.com/go.png?w=200#x"), false},
		{"OKPort", strp("https://cdn.example.com:8443/go.png"), strp("https://cdn.example.com:8443/go.png"), false},
		{"OKUpperCaseScheme", strp("HTTPS://cdn.example.com/go.png"), strp("HTTPS://cdn.example.com/go.png"), false},
		{"OKMaxLength", strp(long), strp(long), false},
		{"ErrTooLong", strp(long + "a"), nil, true},
		{"ErrJavaScript", strp("javascript:alert(1)"), nil, true},
		{"ErrJavaScriptMixedCase", strp("JaVaScRiPt:alert(1)"), nil, true},
		{"ErrJavaScriptLeadingSpace", strp(" javascript:alert(1)"), nil, true},
		{"ErrJavaScriptWithSlashes", strp("javascript://cdn.example.com/%0Aalert(1)"), nil, true},
		{"ErrData", strp("data:image/png;base64,iVBORw0KGgo="), nil, true},
		{"ErrDataSVG", strp("data:image/svg+xml,<svg onload=alert(1)>"), nil, true},
		{"ErrVBScript", strp("vbscript:msgbox(1)"), nil, true},
		{"ErrFile", strp("file:///etc/passwd"), nil, true},
		{"ErrFTP", strp("ftp://cdn.example.com/go.png"), nil, true},
		{"ErrRelative", strp("/img/go.png"), nil, true},
		{"ErrRelativeNoSlash", strp("img/go.png"), nil, true},
		{"ErrSchemeRelative", strp("//cdn.example.com/go.png"), nil, true},
		{"ErrNoHost", strp("https:///go.png"), nil, true},
		{"ErrOpaque", strp("https:cdn.example.com/go.png"), nil, true},
		{"ErrUserInfo", strp("https://user:pass@cdn.example.com/go.png"), nil, true},
		{"ErrUserOnly", strp("https://user@cdn.example.com/go.png"), nil, true},
		{"ErrInnerSpace", strp("https://cdn.example.com/my image.png"), nil, true},
		{"ErrNewline", strp("https://cdn.example.com/\ngo.png"), nil, true},
		{"ErrNUL", strp("https://cdn.example.com/\x00.png"), nil, true},
		{"ErrNotAURL", strp("not a url"), nil, true},
		{"ErrBadEscape", strp("https://cdn.example.com/%zz"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := normalizeImageLink(tt.in)
			if tt.wantErr {
				if got != nil {
					t.Errorf("normalizeImageLink returned %q with an error", *got)
				}
				wantInput(t, err, "imageLink")
				return
			}
			if err != nil {
				t.Fatalf("normalizeImageLink: %v", err)
			}
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("normalizeImageLink = %q, want nil", *got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("normalizeImageLink = %v, want %q", got, *tt.want)
			}
		})
	}
}
