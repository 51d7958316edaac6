// Package pagination holds the cursor rules shared by every connection:
// cursors are opaque (base64url of a versioned sort key) and validated, and
// page sizes are bounded. A sort key is a store's own string (a hex id, say);
// nothing here knows which database is behind it.
package pagination

import (
	"encoding/base64"
	"strings"

	"github.com/coursehub/coursehub/internal/apperr"
)

// Page size bounds.
const (
	MinFirst = 1
	MaxFirst = 100
)

// cursorPrefix versions the cursor format, so it can change without old
// cursors being misread.
const cursorPrefix = "v1:"

// keyLen is the length of a sort key: every store sorts by a 96-bit,
// time-ordered id, written as 24 lower-case hex digits.
const keyLen = 24

// Edge is one item of a page with the cursor that resumes after it.
type Edge[T any] struct {
	Cursor string
	Node   T
}

// Page is one page of a newest-first list.
type Page[T any] struct {
	Edges       []Edge[T]
	HasNextPage bool
}

// EndCursor is the cursor of the last edge, or nil on an empty page.
func (p Page[T]) EndCursor() *string {
	if len(p.Edges) == 0 {
		return nil
	}
	c := p.Edges[len(p.Edges)-1].Cursor
	return &c
}

// Args are validated pagination arguments.
type Args struct {
	First int
	// After is the sort key to resume after; empty means from the start.
	// The store that made the key checks that it is one of its own.
	After string
}

// ErrBadCursor is the answer to a cursor no store made.
var ErrBadCursor = apperr.Input("after", "invalid cursor")

// Parse validates first and after.
// Errors: BAD_USER_INPUT for first out of range or a bad cursor.
func Parse(first int, after *string) (Args, error) {
	if first < MinFirst || first > MaxFirst {
		return Args{}, apperr.Input("first", "first must be between 1 and 100")
	}
	a := Args{First: first}
	if after != nil && *after != "" {
		key, err := DecodeCursor(*after)
		if err != nil {
			return Args{}, err
		}
		a.After = key
	}
	return a, nil
}

// EncodeCursor makes the opaque cursor for a sort key (24 lower-case hex
// digits).
func EncodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + key))
}

// DecodeCursor reads a cursor made by EncodeCursor and returns its key.
// Errors: BAD_USER_INPUT.
func DecodeCursor(cursor string) (string, error) {
	if len(cursor) > 64 {
		return "", ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", ErrBadCursor
	}
	key, ok := strings.CutPrefix(string(raw), cursorPrefix)
	// Only the one spelling EncodeCursor makes is accepted (no upper-case
	// hex, no line breaks that the base64 decoder would skip).
	if !ok || !validKey(key) || EncodeCursor(key) != cursor {
		return "", ErrBadCursor
	}
	return key, nil
}

// validKey accepts keyLen lower-case hex digits, not all zeros (no store's
// key is: ids carry a time).
func validKey(key string) bool {
	if len(key) != keyLen {
		return false
	}
	zero := true
	for _, r := range key {
		switch {
		case r == '0':
		case r >= '1' && r <= '9', r >= 'a' && r <= 'f':
			zero = false
		default:
			return false
		}
	}
	return !zero
}

// NewPage builds a page from up to First+1 rows, newest first (one more
// than the page holds says whether there is a next page without a second
// query); key gives each row's sort key.
func NewPage[T any](rows []T, a Args, key func(T) string) Page[T] {
	var p Page[T]
	if len(rows) > a.First {
		rows, p.HasNextPage = rows[:a.First], true
	}
	p.Edges = make([]Edge[T], len(rows))
	for i, r := range rows {
		p.Edges[i] = Edge[T]{Cursor: EncodeCursor(key(r)), Node: r}
	}
	return p
}

// Map turns a page of one type into a page of another, keeping the cursors:
// a store pages its documents and hands out domain values.
func Map[T, U any](p Page[T], f func(T) U) Page[U] {
	out := Page[U]{HasNextPage: p.HasNextPage, Edges: make([]Edge[U], len(p.Edges))}
	for i, e := range p.Edges {
		out.Edges[i] = Edge[U]{Cursor: e.Cursor, Node: f(e.Node)}
	}
	return out
}
