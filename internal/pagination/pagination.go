// Package pagination holds the cursor rules shared by every connection:
// cursors are opaque (base64url of a versioned sort key) and validated, and
// page sizes are bounded.
package pagination

import (
	"encoding/base64"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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
	// After is the sort key to resume after; zero means from the start.
	After bson.ObjectID
}

// Parse validates first and after.
// Errors: BAD_USER_INPUT for first out of range or a bad cursor.
func Parse(first int, after *string) (Args, error) {
	if first < MinFirst || first > MaxFirst {
		return Args{}, apperr.Input("first", "first must be between 1 and 100")
	}
	a := Args{First: first}
	if after != nil && *after != "" {
		id, err := DecodeCursor(*after)
		if err != nil {
			return Args{}, err
		}
		a.After = id
	}
	return a, nil
}

// EncodeCursor makes the opaque cursor for a sort key.
func EncodeCursor(id bson.ObjectID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + id.Hex()))
}

// DecodeCursor reads a cursor made by EncodeCursor.
// Errors: BAD_USER_INPUT.
func DecodeCursor(cursor string) (bson.ObjectID, error) {
	bad := apperr.Input("after", "invalid cursor")
	if len(cursor) > 64 {
		return bson.ObjectID{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return bson.ObjectID{}, bad
	}
	hexID, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return bson.ObjectID{}, bad
	}
	id, err := bson.ObjectIDFromHex(hexID)
	// Only the one spelling EncodeCursor makes is accepted (no upper-case
	// hex, no line breaks that the base64 decoder would skip).
	if err != nil || id.IsZero() || EncodeCursor(id) != cursor {
		return bson.ObjectID{}, bad
	}
	return id, nil
}

// Filter adds the "after the cursor" condition to a newest-first query on _id.
func (a Args) Filter(f bson.D) bson.D {
	if a.After.IsZero() {
		return f
	}
	return append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: a.After}}})
}

// FindOptions sorts newest first and fetches one document more than the page
// holds, to learn whether there is a next page without a second query.
func (a Args) FindOptions() *options.FindOptionsBuilder {
	return options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(a.First + 1))
}

// NewPage builds a page from the rows a FindOptions query returned; key gives
// each row's sort key.
func NewPage[T any](rows []T, a Args, key func(T) bson.ObjectID) Page[T] {
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
