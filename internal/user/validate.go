package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Limits on account fields.
const (
	MaxEmailBytes = 254 // RFC 5321 path limit
	MaxNameRunes  = 100
)

// NormalizeEmail trims, NFKC-normalises and lower-cases an email and checks
// its shape. Two emails that differ only in case, surrounding space or
// Unicode compatibility form (a full-width "ａ" for "a") are one account.
// Characters that show nothing, or nothing but space, are refused, so that no
// two accounts can look the same: control and format characters (zero-width
// space and joiners, word joiner, byte order mark, soft hyphen, bidi
// controls, tags), every separator (inner spaces of any width, line and
// paragraph separators), variation selectors and the other default-ignorable
// code points (Hangul fillers, the combining grapheme joiner), private-use
// and unassigned code points, and the blank Braille pattern.
// Errors: BAD_USER_INPUT (email).
func NormalizeEmail(raw string) (string, error) {
	bad := apperr.Input("email", "invalid email address")
	// Check the encoding first: ToLower would turn invalid bytes into U+FFFD,
	// and two different inputs into one account.
	if !utf8.ValidString(raw) {
		return "", bad
	}
	email := strings.TrimSpace(raw)
	if strings.IndexFunc(email, invisible) >= 0 {
		return "", bad
	}
	// NFKC again after lower-casing, so that the result is NFKC whatever
	// ToLower made, and normalising it again changes nothing.
	email = norm.NFKC.String(strings.ToLower(norm.NFKC.String(email)))
	if email == "" || len(email) > MaxEmailBytes {
		return "", bad
	}
	// Again: normalisation makes spaces of U+00A0 and its kin.
	if strings.IndexFunc(email, invisible) >= 0 {
		return "", bad
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

// invisible reports whether r shows nothing, or only space, where an email
// address is written (see NormalizeEmail).
func invisible(r rune) bool {
	// Letters, marks, numbers, punctuation and symbols draw something;
	// controls, format characters, separators, private-use and unassigned
	// code points do not.
	if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) {
		return true
	}
	return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == '\u2800' // BRAILLE PATTERN BLANK, a symbol that draws nothing
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
