package course

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Limits on course fields.
const (
	MaxTitleRunes       = 200
	MaxDescriptionRunes = 10000
	MaxImageLinkBytes   = 2048
	// MaxPrice is 10 million in currency units: far above any course, far
	// below anything that overflows a client's number type.
	MaxPrice = 1_000_000_000
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

func normalizeDescription(raw string) (string, error) {
	d := strings.TrimSpace(raw)
	switch {
	case !utf8.ValidString(d):
		return "", apperr.Input("description", "description is not valid text")
	case utf8.RuneCountInString(d) > MaxDescriptionRunes:
		return "", apperr.Input("description", "description is too long (at most 10000 characters)")
	case strings.IndexFunc(d, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) >= 0:
		return "", apperr.Input("description", "description must not contain control characters")
	}
	return d, nil
}

func checkPrice(p int) error {
	if p < 0 || p > MaxPrice {
		return apperr.Input("price", "price must be a whole number of cents from 0 to 1000000000")
	}
	return nil
}

// normalizeImageLink accepts an absolute http or https URL; an empty string
// clears the link. Anything else (javascript:, data:, relative paths) is
// refused, since clients put this value into an <img src>.
func normalizeImageLink(raw *string) (*string, error) {
	if raw == nil {
		return nil, nil
	}
	s := strings.TrimSpace(*raw)
	if s == "" {
		return nil, nil
	}
	bad := apperr.Input("imageLink", "imageLink must be an absolute http or https URL")
	if len(s) > MaxImageLinkBytes || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, bad
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, bad
	}
	return &s, nil
}
