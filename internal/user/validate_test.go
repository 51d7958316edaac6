package user_test

import (
	"strings"
	"testing"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/user"
)

// wantInput fails unless err is BAD_USER_INPUT about field whose message does
// not repeat the submitted value.
func wantInput(tb testing.TB, err error, field, submitted string) {
	tb.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.BadUserInput {
		tb.Fatalf("error = %v, want BAD_USER_INPUT", err)
	}
	if e.Field != field {
		tb.Errorf("error field = %q, want %q", e.Field, field)
	}
	if v := strings.TrimSpace(submitted); len(v) >= 3 && strings.Contains(e.Message, v) {
		tb.Errorf("message %q repeats the submitted value", e.Message)
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	// 64-byte local part and a domain that brings the address to 254 bytes.
	local := strings.Repeat("a", 64)
	domain254 := strings.Repeat("b", 254-len(local)-1-len(".com")) + ".com"
	tests := []struct {
		name string
		in   string
		want string // "" for an error
	}{
		{"OK", "alice@example.com", "alice@example.com"},
		{"OKTrimmed", "  alice@example.com\t", "alice@example.com"},
		{"OKLowerCased", "Alice@Example.COM", "alice@example.com"},
		{"OKTrimmedAndLowerCased", " ALICE@EXAMPLE.COM ", "alice@example.com"},
		{"OKPlusTag", "alice+courses@example.com", "alice+courses@example.com"},
		{"OKSubdomain", "a.b@mail.example.co.uk", "a.b@mail.example.co.uk"},
		{"OK254Bytes", local + "@" + domain254, local + "@" + domain254},
		{"ErrEmpty", "", ""},
		{"ErrBlank", "   ", ""},
		{"ErrNoAt", "alice.example.com", ""},
		{"ErrNoLocalPart", "@example.com", ""},
		{"ErrNoDomain", "alice@", ""},
		{"ErrTwoAts", "alice@bob@example.com", ""},
		{"ErrDomainWithoutDot", "alice@localhost", ""},
		{"ErrDomainLeadingDot", "alice@.example.com", ""},
		{"ErrDomainTrailingDot", "alice@example.com.", ""},
		{"ErrInnerSpace", "alice smith@example.com", ""},
		{"ErrDisplayName", "Alice <alice@example.com>", ""},
		{"ErrAngleBrackets", "<alice@example.com>", ""},
		{"ErrComment", "alice@example.com (Alice)", ""},
		{"ErrTwoAddresses", "alice@example.com, bob@example.com", ""},
		{"ErrQuotedLocalPart", `"alice smith"@example.com`, ""},
		{"ErrNUL", "alice\x00@example.com", ""},
		{"ErrNewline", "alice@example.com\nBcc: bob@example.com", ""},
		{"ErrCR", "alice\r@example.com", ""},
		{"ErrDEL", "alice\x7f@example.com", ""},
		{"ErrInvalidUTF8", "alice\xff@example.com", ""},
		{"ErrOperatorShaped", `{"$ne": null}`, ""},
		{"ErrRegexShaped", ".*@.*", ""},
		{"Err255Bytes", local + "@" + "c" + domain254, ""},

		// Unicode compatibility forms are the same account.
		{"OKFullWidthFolded", "\uff21lice@\uff25xample.com", "alice@example.com"},
		{"OKFullWidthAtSign", "alice\uff20example.com", "alice@example.com"},
		{"OKLigatureFolded", "\ufb01nn@example.com", "finn@example.com"},
		{"OKComposed", "jose\u0301@example.com", "jos\u00e9@example.com"},
		{"OKInternational", "J\u00f6rg@B\u00fccher.example", "j\u00f6rg@b\u00fccher.example"},
		{"OKNoBreakSpaceAround", "\u00a0alice@example.com\u00a0", "alice@example.com"},

		// Invisible characters (Cf, format): two accounts could look alike.
		{"ErrZeroWidthSpace", "ali\u200bce@example.com", ""},
		{"ErrZeroWidthNonJoiner", "ali\u200cce@example.com", ""},
		{"ErrZeroWidthJoiner", "alice\u200d@example.com", ""},
		{"ErrWordJoiner", "alice@exam\u2060ple.com", ""},
		{"ErrByteOrderMark", "\ufeffalice@example.com", ""},
		{"ErrByteOrderMarkAtEnd", "alice@example.com\ufeff", ""},
		{"ErrSoftHyphen", "al\u00adice@example.com", ""},
		{"ErrLeftToRightMark", "alice\u200e@example.com", ""},
		{"ErrRightToLeftMark", "alice@\u200fexample.com", ""},
		{"ErrArabicLetterMark", "alice\u061c@example.com", ""},
		{"ErrRightToLeftOverride", "alice\u202e@example.com", ""},
		{"ErrLeftToRightEmbedding", "\u202aalice@example.com", ""},
		{"ErrRightToLeftIsolate", "alice\u2067@example.com", ""},
		{"ErrPopDirectionalIsolate", "alice\u2069@example.com", ""},
		{"ErrMongolianVowelSeparator", "alice\u180e@example.com", ""},
		{"ErrInvisibleTimes", "alice\u2062@example.com", ""},
		{"ErrTagCharacter", "alice\U000e0041@example.com", ""},
		{"ErrInterlinearAnnotation", "alice\ufff9@example.com", ""},
		// Other spaces and separators (Z), inside the address.
		{"ErrNoBreakSpaceInside", "ali\u00a0ce@example.com", ""},
		{"ErrEmQuad", "alice\u2001@example.com", ""},
		{"ErrThinSpace", "alice\u2009@example.com", ""},
		{"ErrNarrowNoBreakSpace", "alice\u202f@example.com", ""},
		{"ErrIdeographicSpace", "alice\u3000@example.com", ""},
		{"ErrOghamSpace", "alice\u1680@example.com", ""},
		{"ErrLineSeparator", "alice\u2028@example.com", ""},
		{"ErrParagraphSeparator", "alice\u2029@example.com", ""},
		// Controls (Cc) beyond ASCII, and what draws nothing in other ways.
		{"ErrC1NextLine", "alice\u0085@example.com", ""},
		{"ErrC1Control", "alice\u009b@example.com", ""},
		{"ErrCombiningGraphemeJoiner", "alice\u034f@example.com", ""},
		{"ErrVariationSelector", "alice\ufe0f@example.com", ""},
		{"ErrVariationSelectorSupplement", "alice\U000e0100@example.com", ""},
		{"ErrHangulFiller", "alice\u3164@example.com", ""},
		{"ErrHalfwidthHangulFiller", "alice\uffa0@example.com", ""},
		{"ErrHangulChoseongFiller", "alice\u115f@example.com", ""},
		{"ErrBraillePatternBlank", "alice\u2800@example.com", ""},
		{"ErrPrivateUse", "alice\ue000@example.com", ""},
		{"ErrUnassigned", "alice\U000dffff@example.com", ""},
		{"ErrNoncharacter", "alice\uffff@example.com", ""},
		{"ErrHuge", strings.Repeat("a", 1<<16) + "@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.NormalizeEmail(tt.in)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if got != "" {
				t.Errorf("NormalizeEmail(%q) returned %q with an error", tt.in, got)
			}
			wantInput(t, err, "email", tt.in)
		})
	}
}

// TestNormalizeEmailIdempotent: a normalised email normalises to itself, so
// stored and presented emails compare equal.
func TestNormalizeEmailIdempotent(t *testing.T) {
	t.Parallel()
	for _, in := range []string{" Alice@Example.com ", "BOB+x@EXAMPLE.ORG", "\uff21LICE@example.com",
		"\u1d2clice@example.com", "JOS\u0045\u0301@example.com", "\u0130stanbul@example.com", "\u1e9e@example.com",
		"\u2126@example.com", "\u212b@example.com", "\u01c5@example.com"} {
		once, err := user.NormalizeEmail(in)
		if err != nil {
			t.Fatalf("NormalizeEmail(%q): %v", in, err)
		}
		twice, err := user.NormalizeEmail(once)
		if err != nil || twice != once {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", once, twice, err, once)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" for an error
	}{
		{"OK", "Alice Smith", "Alice Smith"},
		{"OKTrimmed", "  Alice \t", "Alice"},
		{"OKCaseKept", "aLiCe", "aLiCe"},
		{"OKUnicode", "Zoë Ångström 李", "Zoë Ångström 李"},
		{"OK100Runes", strings.Repeat("é", 100), strings.Repeat("é", 100)},
		{"OKOperatorShapedIsText", `{"$ne": null}`, `{"$ne": null}`},
		{"ErrEmpty", "", ""},
		{"ErrBlank", " \t\n ", ""},
		{"Err101Runes", strings.Repeat("é", 101), ""},
		{"ErrHuge", strings.Repeat("a", 1<<16), ""},
		{"ErrNUL", "Ali\x00ce", ""},
		{"ErrNewline", "Alice\nSmith", ""},
		{"ErrTab", "Alice\tSmith", ""},
		{"ErrESC", "Alice\x1b[31m", ""},
		{"ErrDEL", "Alice\x7f", ""},
		{"ErrC1Control", "Alice\u0085Smith", ""},
		{"ErrInvalidUTF8", "Alice\xff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.NormalizeName(tt.in)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if got != "" {
				t.Errorf("NormalizeName(%q) returned %q with an error", tt.in, got)
			}
			wantInput(t, err, "name", tt.in)
		})
	}
}
