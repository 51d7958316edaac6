package lesson

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Limits on lesson fields.
const (
	MaxTitleRunes   = 200
	MaxBodyBytes    = 100 * 1024
	MaxVideoURLLen  = 2048
	MaxDurationMins = 10000
)

func normalizeTitle(raw string) (string, error) {
	t := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(t)
	switch {
	case !utf8.ValidString(t):
		return "", apperr.Input("title", "title is not valid text")
	case n == 0:
		return "", apperr.Input("title", "title is required")
	case n > MaxTitleRunes:
		return "", apperr.Input("title", "title is too long (at most 200 characters)")
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		return "", apperr.Input("title", "title must not contain control characters")
	}
	return t, nil
}

func normalizeBody(raw string) (string, error) {
	b := strings.TrimSpace(raw)
	switch {
	case !utf8.ValidString(b):
		return "", apperr.Input("body", "body is not valid text")
	case b == "":
		return "", apperr.Input("body", "body is required")
	case len(b) > MaxBodyBytes:
		return "", apperr.Input("body", "body is too long (at most 100 KB)")
	case strings.IndexFunc(b, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) >= 0:
		return "", apperr.Input("body", "body must not contain control characters")
	}
	return b, nil
}

// normalizeVideoURL accepts an absolute http or https URL; an empty string
// is no link (nil). Anything else is refused: clients put it into a <video
// src> or a link.
func normalizeVideoURL(raw *string) (*string, error) {
	if raw == nil {
		return nil, nil
	}
	s := strings.TrimSpace(*raw)
	if s == "" {
		return nil, nil
	}
	bad := apperr.Input("videoUrl", "videoUrl must be an absolute http or https URL")
	if len(s) > MaxVideoURLLen || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, bad
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, bad
	}
	return &s, nil
}

func checkDuration(d *int) error {
	if d != nil && (*d < 0 || *d > MaxDurationMins) {
		return apperr.Input("durationMinutes", "durationMinutes must be from 0 to 10000")
	}
	return nil
}
