// Package fieldcheck holds the input rules that several domains' fields
// share (titles, free text, web links), so that a course's title and a
// lesson's title are refused for the same reasons with the same words.
// Every error is BAD_USER_INPUT naming the field.
package fieldcheck

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Line normalises a required one-line text: trimmed, valid UTF-8, 1 to
// maxRunes characters, no control characters.
func Line(field, raw string, maxRunes int) (string, error) {
	t := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(t)
	switch {
	case !utf8.ValidString(t):
		return "", apperr.Input(field, field+" is not valid text")
	case n == 0:
		return "", apperr.Input(field, field+" is required")
	case n > maxRunes:
		return "", apperr.Input(field, fmt.Sprintf("%s is too long (at most %d characters)", field, maxRunes))
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		return "", apperr.Input(field, field+" must not contain control characters")
	}
	return t, nil
}

// TextLimit bounds a Text: by characters, or (for bodies stored whole) by
// bytes, as its message says.
type TextLimit struct {
	Runes int // at most this many characters, when > 0
	Bytes int // at most this many bytes, when > 0 (said in KB)
}

func (l TextLimit) exceeded(s string) (bool, string) {
	if l.Runes > 0 && utf8.RuneCountInString(s) > l.Runes {
		return true, fmt.Sprintf("at most %d characters", l.Runes)
	}
	if l.Bytes > 0 && len(s) > l.Bytes {
		return true, fmt.Sprintf("at most %d KB", l.Bytes/1024)
	}
	return false, ""
}

// Text normalises a multi-line text: trimmed, valid UTF-8, within limit,
// no control characters but line breaks and tabs; empty only when not
// required.
func Text(field, raw string, required bool, limit TextLimit) (string, error) {
	t := strings.TrimSpace(raw)
	if !utf8.ValidString(t) {
		return "", apperr.Input(field, field+" is not valid text")
	}
	if required && t == "" {
		return "", apperr.Input(field, field+" is required")
	}
	if over, bound := limit.exceeded(t); over {
		return "", apperr.Input(field, fmt.Sprintf("%s is too long (%s)", field, bound))
	}
	if strings.IndexFunc(t, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) >= 0 {
		return "", apperr.Input(field, field+" must not contain control characters")
	}
	return t, nil
}

// WebURL accepts an absolute http or https URL of at most maxBytes, with no
// credentials in it; nil or an empty string is no link (nil). Anything else
// (javascript:, data:, relative paths) is refused: clients put the value
// into an <img src>, a <video src> or a link.
func WebURL(field string, raw *string, maxBytes int) (*string, error) {
	if raw == nil {
		return nil, nil
	}
	s := strings.TrimSpace(*raw)
	if s == "" {
		return nil, nil
	}
	bad := apperr.Input(field, field+" must be an absolute http or https URL")
	if len(s) > maxBytes || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, bad
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, bad
	}
	return &s, nil
}
