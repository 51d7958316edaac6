package fieldcheck

import (
	"strings"
	"testing"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Ensure each rule names its field and says its bound; the domains' own
// tests (course, lesson) cover the cases field by field.
func TestMessages(t *testing.T) {
	link := "javascript:alert(1)"
	for _, tt := range []struct {
		name string
		err  func() error
		want string
	}{
		{"LineRequired", func() error { _, err := Line("title", "  ", 5); return err }, "title is required"},
		{"LineTooLong", func() error { _, err := Line("name", "abcdef", 5); return err }, "name is too long (at most 5 characters)"},
		{"LineControl", func() error { _, err := Line("title", "a\nb", 5); return err }, "title must not contain control characters"},
		{"TextRequired", func() error { _, err := Text("body", "\n", true, TextLimit{}); return err }, "body is required"},
		{"TextRunes", func() error { _, err := Text("about", "ééé", false, TextLimit{Runes: 2}); return err }, "about is too long (at most 2 characters)"},
		{"TextBytes", func() error {
			_, err := Text("body", strings.Repeat("a", 2049), true, TextLimit{Bytes: 2048})
			return err
		}, "body is too long (at most 2 KB)"},
		{"TextControl", func() error { _, err := Text("body", "a\x00b", true, TextLimit{}); return err }, "body must not contain control characters"},
		{"WebURLScheme", func() error { _, err := WebURL("videoUrl", &link, 100); return err }, "videoUrl must be an absolute http or https URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if !apperr.IsCode(err, apperr.BadUserInput) || apperr.MessageOf(err) != tt.want {
				t.Fatalf("got %v, want BAD_USER_INPUT %q", err, tt.want)
			}
		})
	}
}

// Ensure what passes comes back trimmed, multi-line text keeps its line
// breaks, and an empty link is no link.
func TestAccepted(t *testing.T) {
	if got, err := Line("title", "  Go  ", 5); err != nil || got != "Go" {
		t.Errorf("Line = %q, %v", got, err)
	}
	if got, err := Text("body", " a\n\tb ", true, TextLimit{Bytes: 100}); err != nil || got != "a\n\tb" {
		t.Errorf("Text = %q, %v", got, err)
	}
	empty, ok := " ", "https://example.com/v.mp4"
	if got, err := WebURL("videoUrl", &empty, 100); err != nil || got != nil {
		t.Errorf("WebURL(empty) = %v, %v; want nil", got, err)
	}
	if got, err := WebURL("videoUrl", &ok, 100); err != nil || got == nil || *got != ok {
		t.Errorf("WebURL(%q) = %v, %v", ok, got, err)
	}
}
