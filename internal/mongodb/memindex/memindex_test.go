package memindex_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/coursehub/coursehub/internal/mongodb/memindex"
)

func ids[V any](es []memindex.Entry[V]) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func e(id, sort string) memindex.Entry[int] { return memindex.Entry[int]{ID: id, Sort: sort} }

// Ensure entries come highest sort first, a Put with a known ID replaces
// it, and Delete removes only that entry.
func TestPutDeleteOrder(t *testing.T) {
	ix := memindex.New[int]()
	ix.Put("k", e("a", "1"))
	ix.Put("k", e("c", "3"))
	ix.Put("k", e("b", "2"))
	ix.Put("other", e("x", "9"))
	if got, want := ids(ix.Entries("k")), []string{"c", "b", "a"}; !slices.Equal(got, want) {
		t.Fatalf("Entries = %v, want %v", got, want)
	}
	ix.Put("k", e("a", "4")) // same id, new sort: moves, no duplicate
	if got, want := ids(ix.Entries("k")), []string{"a", "c", "b"}; !slices.Equal(got, want) {
		t.Fatalf("after replace: %v, want %v", got, want)
	}
	ix.Delete("k", "c")
	ix.Delete("k", "missing")
	if got, want := ids(ix.Entries("k")), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("after delete: %v, want %v", got, want)
	}
	if n := ix.Len("other"); n != 1 {
		t.Errorf("Len(other) = %d, want 1", n)
	}
}

func TestPage(t *testing.T) {
	ix := memindex.New[int]()
	for i := 1; i <= 5; i++ {
		ix.Put("k", e(fmt.Sprint("id", i), fmt.Sprint(i)))
	}
	tests := []struct {
		name     string
		after    string
		n        int
		want     []string
		wantMore bool
	}{
		{"OKFromStart", "", 2, []string{"id5", "id4"}, true},
		{"OKAfter", "4", 2, []string{"id3", "id2"}, true},
		{"OKLastPage", "2", 2, []string{"id1"}, false},
		{"OKExactEnd", "3", 2, []string{"id2", "id1"}, false},
		{"OKAfterUnknownSort", "35", 1, []string{"id3"}, true},
		{"OKPastEnd", "1", 2, []string{}, false},
		{"OKAll", "", 10, []string{"id5", "id4", "id3", "id2", "id1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more := ix.Page("k", tt.after, tt.n)
			if !slices.Equal(ids(got), tt.want) || more != tt.wantMore {
				t.Errorf("Page(%q, %d) = %v, %v; want %v, %v", tt.after, tt.n, ids(got), more, tt.want, tt.wantMore)
			}
		})
	}
}

// Ensure Update decides and records under one lock: concurrent callers each
// taking "the next number" never take the same one.
func TestUpdateIsAtomic(t *testing.T) {
	ix := memindex.New[int]()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix.Update("k", func(es []memindex.Entry[int]) []memindex.Entry[int] {
				next := 1
				if len(es) > 0 {
					next = es[0].Value + 1
				}
				return memindex.Insert(es, memindex.Entry[int]{ID: fmt.Sprint(next), Sort: fmt.Sprintf("%04d", next), Value: next})
			})
		}()
	}
	wg.Wait()
	es := ix.Entries("k")
	if len(es) != 50 || es[0].Value != 50 {
		t.Fatalf("%d entries, highest %d; want 50 distinct numbers", len(es), es[0].Value)
	}
	ix.Update("k", func(es []memindex.Entry[int]) []memindex.Entry[int] { return memindex.Remove(es, "50") })
	if ix.Len("k") != 49 {
		t.Errorf("Remove did not remove")
	}
}

func TestDeleteFunc(t *testing.T) {
	ix := memindex.New[int]()
	for i := range 6 {
		ix.Put(fmt.Sprint("k", i%2), memindex.Entry[int]{ID: fmt.Sprint(i), Sort: fmt.Sprint(i), Value: i})
	}
	if n := ix.DeleteFunc(func(_ string, e memindex.Entry[int]) bool { return e.Value < 3 }); n != 3 {
		t.Errorf("DeleteFunc removed %d, want 3", n)
	}
	if ix.Len("k0")+ix.Len("k1") != 3 {
		t.Errorf("%d entries left, want 3", ix.Len("k0")+ix.Len("k1"))
	}
}

// Ensure a refill merges (keeping entries added meanwhile), clears the
// mark it was read under, and keeps a newer mark for the next reader.
func TestStaleRefill(t *testing.T) {
	ix := memindex.New[int]()
	if _, stale := ix.Stale("k"); stale {
		t.Fatal("a fresh key is stale")
	}
	ix.MarkStale("k")
	mark, stale := ix.Stale("k")
	if !stale {
		t.Fatal("MarkStale did not mark")
	}
	ix.Put("k", e("added-meanwhile", "2"))
	ix.Refill("k", mark, []memindex.Entry[int]{e("from-db", "1")})
	if _, stale := ix.Stale("k"); stale {
		t.Error("still stale after a refill under the latest mark")
	}
	if got, want := ids(ix.Entries("k")), []string{"added-meanwhile", "from-db"}; !slices.Equal(got, want) {
		t.Errorf("Entries = %v, want %v", got, want)
	}

	ix.MarkStale("k")
	old, _ := ix.Stale("k")
	ix.MarkStale("k") // a second unknown outcome while the first refill reads
	ix.Refill("k", old, nil)
	if _, stale := ix.Stale("k"); !stale {
		t.Error("a refill under an older mark cleared a newer one")
	}
}
