// Package memindex is the in-process secondary index that stores keep in
// front of the embedded database, whose SQLite backend answers any filter
// but an exact `{_id: value}` by decoding the whole collection. An Index
// maps a key (a user id, say) to that key's entries, ordered by a sort
// string, highest first; the store answers "the entries of key" from memory
// and then reads documents by _id where it needs them.
//
// It is correct only while every write to the collection passes through
// this process, which holds for the embedded database: it lives inside the
// server. A store builds its index with one scan at start and updates it
// after every successful write. When a write's outcome is unknown (the
// database timed out), the store marks the key stale; the next reader of a
// stale key refills it from the database and the index is exact again.
package memindex

import (
	"cmp"
	"slices"
	"sync"
)

// Entry is one indexed document.
type Entry[V any] struct {
	// ID identifies the document (its _id, as the store spells it).
	ID string
	// Sort orders a key's entries: highest first.
	Sort string
	// Value is what the store keeps beside the id (it may cover a query).
	Value V
}

// Index is a concurrency-safe map from keys to ordered entries.
type Index[V any] struct {
	mu    sync.Mutex
	keys  map[string][]Entry[V] // each sorted by (Sort, ID) descending
	stale map[string]uint64     // key -> generation of its latest stale mark
	gen   uint64
}

// New returns an empty index.
func New[V any]() *Index[V] {
	return &Index[V]{keys: map[string][]Entry[V]{}, stale: map[string]uint64{}}
}

func less[V any](a, b Entry[V]) int {
	// Descending: the higher sort key comes first.
	if c := cmp.Compare(b.Sort, a.Sort); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// put inserts e, replacing an entry with the same ID.
func put[V any](es []Entry[V], e Entry[V]) []Entry[V] {
	if i := slices.IndexFunc(es, func(x Entry[V]) bool { return x.ID == e.ID }); i >= 0 {
		es = slices.Delete(es, i, i+1)
	}
	i, _ := slices.BinarySearchFunc(es, e, less[V])
	return slices.Insert(es, i, e)
}

// Put adds e under key, replacing the entry with the same ID if any.
func (ix *Index[V]) Put(key string, e Entry[V]) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.keys[key] = put(ix.keys[key], e)
}

// Delete removes the entry id from key.
func (ix *Index[V]) Delete(key, id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	es := slices.DeleteFunc(ix.keys[key], func(x Entry[V]) bool { return x.ID == id })
	ix.set(key, es)
}

func (ix *Index[V]) set(key string, es []Entry[V]) {
	if len(es) == 0 {
		delete(ix.keys, key)
		return
	}
	ix.keys[key] = es
}

// Entries returns a copy of key's entries, highest first.
func (ix *Index[V]) Entries(key string) []Entry[V] {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return slices.Clone(ix.keys[key])
}

// Page returns up to n entries of key whose Sort is below after (from the
// highest if after is empty), and whether more follow.
func (ix *Index[V]) Page(key, after string, n int) ([]Entry[V], bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	es := ix.keys[key]
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(es, after, func(e Entry[V], s string) int { return cmp.Compare(s, e.Sort) })
		for start < len(es) && es[start].Sort >= after {
			start++
		}
	}
	end := min(start+n, len(es))
	return slices.Clone(es[start:end]), end < len(es)
}

// Len counts key's entries.
func (ix *Index[V]) Len(key string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.keys[key])
}

// Update runs fn on key's entries (highest first) under the index's lock and
// stores what it returns, which must keep that order (Insert and Remove do).
// It is how a store decides and records in one step, so that no concurrent
// caller sees the state in between.
func (ix *Index[V]) Update(key string, fn func([]Entry[V]) []Entry[V]) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.set(key, fn(slices.Clone(ix.keys[key])))
}

// Insert adds e to es in order (for Update's fn).
func Insert[V any](es []Entry[V], e Entry[V]) []Entry[V] { return put(es, e) }

// Remove drops the entry id from es (for Update's fn).
func Remove[V any](es []Entry[V], id string) []Entry[V] {
	return slices.DeleteFunc(es, func(x Entry[V]) bool { return x.ID == id })
}

// DeleteFunc removes every entry for which drop reports true and returns how
// many it removed (expiry clean-ups).
func (ix *Index[V]) DeleteFunc(drop func(key string, e Entry[V]) bool) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	for k, es := range ix.keys {
		kept := slices.DeleteFunc(es, func(e Entry[V]) bool {
			if drop(k, e) {
				n++
				return true
			}
			return false
		})
		ix.set(k, kept)
	}
	return n
}

// MarkStale says that key may miss an entry: a write to it had an unknown
// outcome.
func (ix *Index[V]) MarkStale(key string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.gen++
	ix.stale[key] = ix.gen
}

// Stale reports whether key must be refilled before it is read, and the
// mark to hand to Refill.
func (ix *Index[V]) Stale(key string) (mark uint64, stale bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	mark, stale = ix.stale[key]
	return mark, stale
}

// Refill merges entries read from the database into key (entries added
// meanwhile stay) and clears the stale mark, unless a newer mark came while
// the store was reading: then the key stays stale for the next reader.
func (ix *Index[V]) Refill(key string, mark uint64, entries []Entry[V]) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	es := ix.keys[key]
	for _, e := range entries {
		es = put(es, e)
	}
	ix.set(key, es)
	if ix.stale[key] == mark {
		delete(ix.stale, key)
	}
}
