package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Limits on account fields.
const (
	MaxEmailBytes = 254 // RFC 5321 path limit
	MaxNameRunes  = 100
)

// NormalizeEmail trims and lower-cases an email and checks its shape. Two
// emails that differ only in case or surrounding space are one account.
func NormalizeEmail(raw string) (string, error) {
	bad := apperr.Input("email", "invalid email address")
	// Check the encoding first: ToLower would turn invalid bytes into U+FFFD,
	// and two different inputs into one account.
	if !utf8.ValidString(raw) {
		return "", bad
	}
	email := strings.ToLower(strings.TrimSpace(raw))
	if email == "" || len(email) > MaxEmailBytes {
		return "", bad
	}
	for _, r := range email {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", bad
		}
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", bad
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", bad
	}
	return email, nil
}

// NormalizeName trims a display name and checks it.
func NormalizeName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if !utf8.ValidString(name) {
		return "", apperr.Input("name", "name is not valid text")
	}
	n := utf8.RuneCountInString(name)
	if n == 0 {
		return "", apperr.Input("name", "name is required")
	}
	if n > MaxNameRunes {
		return "", apperr.Input("name", "name is too long (at most 100 characters)")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", apperr.Input("name", "name must not contain control characters")
		}
	}
	return name, nil
}
