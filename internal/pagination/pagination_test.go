package pagination_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/pagination"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func ptr(s string) *string { return &s }

const sampleID = "65f0c0ffee0000000000abcd"

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

func TestParse(t *testing.T) {
	t.Parallel()
	cursor := pagination.EncodeCursor(sampleID)
	tests := []struct {
		name      string
		first     int
		after     *string
		want      pagination.Args
		wantField string // "" for success
	}{
		{"OKFirst1", 1, nil, pagination.Args{First: 1}, ""},
		{"OKFirst20", 20, nil, pagination.Args{First: 20}, ""},
		{"OKFirst100", 100, nil, pagination.Args{First: 100}, ""},
		{"OKEmptyAfter", 10, ptr(""), pagination.Args{First: 10}, ""},
		{"OKAfter", 10, &cursor, pagination.Args{First: 10, After: sampleID}, ""},
		{"ErrFirst0", 0, nil, pagination.Args{}, "first"},
		{"ErrFirstNegative", -1, nil, pagination.Args{}, "first"},
		{"ErrFirst101", 101, nil, pagination.Args{}, "first"},
		{"ErrFirstHuge", 1 << 30, nil, pagination.Args{}, "first"},
		{"ErrBadAfter", 10, ptr("not a cursor"), pagination.Args{}, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pagination.Parse(tt.first, tt.after)
			if tt.wantField != "" {
				wantInput(t, err, tt.wantField)
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, id := range []string{sampleID, "6a1b2c3d4e5f60718293a4b5", "000000000000000000000001", "ffffffffffffffffffffffff"} {
		c := pagination.EncodeCursor(id)
		if strings.ContainsAny(c, "+/=") {
			t.Errorf("cursor %q is not unpadded base64url", c)
		}
		if strings.Contains(c, id) {
			t.Errorf("cursor %q shows the id in clear", c)
		}
		got, err := pagination.DecodeCursor(c)
		if err != nil {
			t.Fatalf("DecodeCursor(%q): %v", c, err)
		}
		if got != id {
			t.Errorf("DecodeCursor(EncodeCursor(%s)) = %s", id, got)
		}
	}
}

func TestDecodeCursor(t *testing.T) {
	t.Parallel()
	valid := pagination.EncodeCursor(sampleID)
	tests := []struct {
		name   string
		cursor string
	}{
		{"ErrEmpty", ""},
		{"ErrNotBase64", "!!!!"},
		{"ErrPadded", valid + "="},
		{"ErrPlainHex", sampleID},
		{"ErrNoPrefix", b64(sampleID)},
		{"ErrWrongPrefix", b64("v2:" + sampleID)},
		{"ErrBadHex", b64("v1:zzzzzzzzzzzzzzzzzzzzzzzz")},
		{"ErrShortHex", b64("v1:" + sampleID[:23])},
		{"ErrLongHex", b64("v1:" + sampleID + "00")},
		{"ErrZeroID", b64("v1:000000000000000000000000")},
		{"ErrOperatorShaped", b64(`v1:{"$gt":""}`)},
		{"ErrTrailingGarbage", valid + "AA"},
		{"ErrTooLong", strings.Repeat("A", 65)},
		{"ErrHuge", strings.Repeat(valid, 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := pagination.DecodeCursor(tt.cursor)
			wantInput(t, err, "after")
			if id != "" {
				t.Errorf("DecodeCursor returned id %s with an error", id)
			}
			if len(tt.cursor) >= 4 && strings.Contains(apperr.MessageOf(err), tt.cursor) {
				t.Errorf("message %q repeats the cursor", apperr.MessageOf(err))
			}
		})
	}
}

func TestNewPage(t *testing.T) {
	t.Parallel()
	ids := []string{
		"65f0c0ffee00000000000005", "65f0c0ffee00000000000004",
		"65f0c0ffee00000000000003", "65f0c0ffee00000000000002",
	}
	key := func(id string) string { return id }
	tests := []struct {
		name     string
		rows     []string
		first    int
		wantRows []string
		wantNext bool
	}{
		{"OKEmpty", nil, 3, nil, false},
		{"OKFewerThanFirst", ids[:2], 3, ids[:2], false},
		{"OKExactlyFirst", ids[:3], 3, ids[:3], false},
		{"OKFirstPlusOne", ids[:4], 3, ids[:3], true},
		{"OKFirst1", ids[:2], 1, ids[:1], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := pagination.NewPage(tt.rows, pagination.Args{First: tt.first}, key)
			if p.HasNextPage != tt.wantNext {
				t.Errorf("HasNextPage = %v, want %v", p.HasNextPage, tt.wantNext)
			}
			if len(p.Edges) != len(tt.wantRows) {
				t.Fatalf("%d edges, want %d", len(p.Edges), len(tt.wantRows))
			}
			for i, e := range p.Edges {
				if e.Node != tt.wantRows[i] || e.Cursor != pagination.EncodeCursor(tt.wantRows[i]) {
					t.Errorf("edge %d = %+v, want node %s", i, e, tt.wantRows[i])
				}
			}
			end := p.EndCursor()
			if len(tt.wantRows) == 0 {
				if end != nil {
					t.Errorf("EndCursor = %q on an empty page, want nil", *end)
				}
				return
			}
			if end == nil || *end != pagination.EncodeCursor(tt.wantRows[len(tt.wantRows)-1]) {
				t.Errorf("EndCursor = %v, want the last edge's cursor", end)
			}
		})
	}
}

// FuzzDecodeCursor: DecodeCursor never panics, refuses with BAD_USER_INPUT,
// and accepts only the cursors EncodeCursor makes.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(pagination.EncodeCursor(sampleID))
	f.Add(pagination.EncodeCursor("6a1b2c3d4e5f60718293a4b5"))
	f.Add("")
	f.Add("!!!!")
	f.Add(b64("v1:000000000000000000000000"))
	f.Add(b64("v2:" + sampleID))
	f.Add(strings.Repeat("A", 65))
	// Two spellings that decode to the same key as the canonical cursor; a
	// decoder strict about what it accepts refuses them.
	f.Add(b64("v1:" + strings.ToUpper(sampleID)))
	// The base64 decoder skips CR and LF.
	f.Add(pagination.EncodeCursor(sampleID)[:10] + "\r\n" + pagination.EncodeCursor(sampleID)[10:])
	f.Fuzz(func(t *testing.T, cursor string) {
		id, err := pagination.DecodeCursor(cursor)
		if err != nil {
			if apperr.CodeOf(err) != apperr.BadUserInput {
				t.Fatalf("DecodeCursor(%q) error = %v, want BAD_USER_INPUT", cursor, err)
			}
			if id != "" {
				t.Fatalf("DecodeCursor(%q) returned id %s with an error", cursor, id)
			}
			return
		}
		if id == "" {
			t.Fatalf("DecodeCursor(%q) accepted the zero id", cursor)
		}
		if re := pagination.EncodeCursor(id); re != cursor {
			t.Fatalf("DecodeCursor(%q) = %s, which encodes to %q: a second spelling of one cursor", cursor, id, re)
		}
	})
}
