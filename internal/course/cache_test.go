package course_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/pagination"
)

// memStore is a Store in memory that counts the calls made to it. Its
// reads can be slowed down to widen the windows in which a write can land
// during a read.
type memStore struct {
	mu      sync.Mutex
	courses map[string]course.Course
	calls   map[string]int
	delay   time.Duration
	fail    error
	// afterRead, when set, is called once by the first read of its method
	// after that read took its data: a test lands a write there.
	afterRead struct {
		method string
		fn     func()
	}
}

// readDone calls the afterRead hook of method once.
func (s *memStore) readDone(method string) {
	s.mu.Lock()
	fn := s.afterRead.fn
	if s.afterRead.method != method {
		fn = nil
	}
	if fn != nil {
		s.afterRead.fn = nil
	}
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func newMemStore() *memStore {
	return &memStore{courses: map[string]course.Course{}, calls: map[string]int{}}
}

func (s *memStore) enter(method string) error {
	s.mu.Lock()
	s.calls[method]++
	d, err := s.delay, s.fail
	s.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	return err
}

// called returns how many times method was called and resets the count.
func (s *memStore) called(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls[method]
	s.calls[method] = 0
	return n
}

func (s *memStore) Insert(ctx context.Context, c course.Course) (course.Course, error) {
	if err := s.enter("Insert"); err != nil {
		return course.Course{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == "" {
		c.ID = bson.NewObjectID().Hex()
	}
	s.courses[c.ID] = c
	return c, nil
}

func (s *memStore) ByID(ctx context.Context, id string) (course.Course, error) {
	if err := s.enter("ByID"); err != nil {
		return course.Course{}, err
	}
	s.mu.Lock()
	c, ok := s.courses[id]
	s.mu.Unlock()
	s.readDone("ByID")
	if !ok {
		return course.Course{}, apperr.New(apperr.NotFound, "course not found")
	}
	return c, nil
}

func (s *memStore) ByIDs(ctx context.Context, ids []string) ([]course.Course, error) {
	if err := s.enter("ByIDs"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []course.Course
	for _, id := range ids {
		if c, ok := s.courses[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) Update(ctx context.Context, id string, in course.UpdateInput, now time.Time) (course.Course, error) {
	if err := s.enter("Update"); err != nil {
		return course.Course{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.courses[id]
	if !ok {
		return course.Course{}, apperr.New(apperr.NotFound, "course not found")
	}
	if in.Title != nil {
		c.Title = *in.Title
	}
	if in.Price != nil {
		c.Price = *in.Price
	}
	if in.Published != nil {
		c.Published = *in.Published
	}
	c.UpdatedAt = now
	s.courses[id] = c
	return c, nil
}

// sorted returns the courses newest first.
func (s *memStore) sorted(publishedOnly bool) []course.Course {
	var out []course.Course
	for _, c := range s.courses {
		if c.Published || !publishedOnly {
			out = append(out, c)
		}
	}
	// Ids are lower-case hex of one length: as strings they sort as ids.
	slices.SortFunc(out, func(a, b course.Course) int { return -strings.Compare(a.ID, b.ID) })
	return out
}

func (s *memStore) List(ctx context.Context, publishedOnly bool, args pagination.Args) (pagination.Page[course.Course], error) {
	if err := s.enter("List"); err != nil {
		return pagination.Page[course.Course]{}, err
	}
	s.mu.Lock()
	var rows []course.Course
	for _, c := range s.sorted(publishedOnly) {
		if args.After == "" || c.ID < args.After {
			rows = append(rows, c)
		}
		if len(rows) == args.First+1 {
			break
		}
	}
	s.mu.Unlock()
	s.readDone("List")
	return pagination.NewPage(rows, args, func(c course.Course) string { return c.ID }), nil
}

func (s *memStore) Count(ctx context.Context, publishedOnly bool) (int, error) {
	if err := s.enter("Count"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sorted(publishedOnly)), nil
}

func seed(tb testing.TB, s *memStore, n int, pub func(int) bool) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = bson.NewObjectID().Hex()
		if _, err := s.Insert(context.Background(), course.Course{
			ID: ids[i], Title: fmt.Sprintf("Course %d", i), Price: 100 * i, Published: pub(i),
		}); err != nil {
			tb.Fatal(err)
		}
	}
	s.called("Insert")
	return ids
}

func all(int) bool { return true }

func mustList(tb testing.TB, st course.Store, publishedOnly bool, first int, after *string) pagination.Page[course.Course] {
	tb.Helper()
	args, err := pagination.Parse(first, after)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := st.List(context.Background(), publishedOnly, args)
	if err != nil {
		tb.Fatalf("List: %v", err)
	}
	return p
}

func pageIDs(p pagination.Page[course.Course]) []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node.ID
	}
	return out
}

func mustByID(tb testing.TB, st course.Store, id string) course.Course {
	tb.Helper()
	c, err := st.ByID(context.Background(), id)
	if err != nil {
		tb.Fatalf("ByID(%s): %v", id, err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestCacheHits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newMemStore()
	ids := seed(t, s, 30, func(i int) bool { return i%3 != 0 })
	c := course.NewCache(s, course.CacheConfig{Size: 100})

	t.Run("OKListOneQuery", func(t *testing.T) {
		first := mustList(t, c, true, 5, nil)
		second := mustList(t, c, true, 5, first.EndCursor())
		want := mustList(t, s, true, 10, nil)
		s.called("List")
		if got := append(pageIDs(first), pageIDs(second)...); !slices.Equal(got, pageIDs(want)) {
			t.Errorf("two cached pages = %v, want %v", got, pageIDs(want))
		}
		if n, err := c.Count(ctx, true); err != nil || n != 20 {
			t.Errorf("Count = %d, %v; want 20", n, err)
		}
		if n := s.called("List") + s.called("Count"); n != 0 {
			t.Errorf("%d more store reads after the first fill, want 0", n)
		}
	})
	t.Run("OKListMatchesStoreEveryPage", func(t *testing.T) {
		var after *string
		for {
			got := mustList(t, c, true, 7, after)
			want := mustList(t, s, true, 7, after)
			if !slices.Equal(pageIDs(got), pageIDs(want)) || got.HasNextPage != want.HasNextPage {
				t.Fatalf("cached page after %v = %v (next %v), store says %v (next %v)",
					after, pageIDs(got), got.HasNextPage, pageIDs(want), want.HasNextPage)
			}
			for i := range got.Edges {
				if got.Edges[i].Cursor != want.Edges[i].Cursor {
					t.Fatalf("cursor %d = %q, store says %q", i, got.Edges[i].Cursor, want.Edges[i].Cursor)
				}
			}
			if !got.HasNextPage {
				break
			}
			after = got.EndCursor()
		}
	})
	t.Run("OKByIDOneRead", func(t *testing.T) {
		s.called("ByID")
		for range 3 {
			if got := mustByID(t, c, ids[0]); got.ID != ids[0] || got.Published {
				t.Fatalf("ByID = %+v, want the draft %s", got, ids[0])
			}
		}
		if n := s.called("ByID"); n != 1 {
			t.Errorf("store ByID called %d times for three reads, want 1", n)
		}
	})
	t.Run("OKPublishedByIDFromList", func(t *testing.T) {
		c.Invalidate()
		mustList(t, c, true, 1, nil)
		s.called("ByID")
		s.called("List")
		for _, id := range ids[1:] {
			if got := mustByID(t, c, id); got.ID != id {
				t.Fatalf("ByID(%s) = %s", id, got.ID)
			}
		}
		if n, l := s.called("ByID"), s.called("List"); l != 0 || n != 9 {
			t.Errorf("by-id reads of 20 published and 9 drafts made %d ByID and %d List calls, want 9 (the drafts) and 0", n, l)
		}
	})
	t.Run("OKNotFoundRemembered", func(t *testing.T) {
		missing := bson.NewObjectID().Hex()
		for range 2 {
			if _, err := c.ByID(ctx, missing); !apperr.IsCode(err, apperr.NotFound) {
				t.Fatalf("ByID of a missing course: %v, want NOT_FOUND", err)
			}
		}
		if n := s.called("ByID"); n != 1 {
			t.Errorf("store ByID called %d times, want 1", n)
		}
	})
	t.Run("OKByIDsReadsOnlyMisses", func(t *testing.T) {
		c.Invalidate()
		mustByID(t, c, ids[1])
		s.called("ByID")
		got, err := c.ByIDs(ctx, []string{ids[1], ids[2], ids[3]})
		if err != nil || len(got) != 3 {
			t.Fatalf("ByIDs = %d courses, %v; want 3", len(got), err)
		}
		if n := s.called("ByIDs"); n != 1 {
			t.Fatalf("store ByIDs called %d times, want 1", n)
		}
		if _, err := c.ByIDs(ctx, []string{ids[1], ids[2], ids[3]}); err != nil {
			t.Fatal(err)
		}
		if n := s.called("ByIDs"); n != 0 {
			t.Errorf("store ByIDs called %d times for cached courses, want 0", n)
		}
	})
	t.Run("OKAdminListsFromStore", func(t *testing.T) {
		s.called("List")
		s.called("Count")
		for range 2 {
			if p := mustList(t, c, false, 100, nil); len(p.Edges) != 30 {
				t.Fatalf("admin list has %d courses, want 30 (drafts included)", len(p.Edges))
			}
			if n, err := c.Count(ctx, false); err != nil || n != 30 {
				t.Fatalf("admin Count = %d, %v; want 30", n, err)
			}
		}
		if l, n := s.called("List"), s.called("Count"); l != 2 || n != 2 {
			t.Errorf("admin reads made %d List and %d Count calls, want 2 and 2", l, n)
		}
	})
}

func TestCacheWritesInvalidate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		write func(t *testing.T, c *course.Cache, ids []string) string // returns the course to look at
		check func(t *testing.T, c *course.Cache, id string)
	}{
		{"OKInsertPublished", func(t *testing.T, c *course.Cache, _ []string) string {
			id := bson.NewObjectID().Hex()
			if _, err := c.Insert(ctx, course.Course{ID: id, Title: "New", Published: true}); err != nil {
				t.Fatal(err)
			}
			return id
		}, func(t *testing.T, c *course.Cache, id string) {
			if p := mustList(t, c, true, 1, nil); pageIDs(p)[0] != id {
				t.Errorf("newest = %v, want the new course %s", pageIDs(p), id)
			}
			if n, _ := c.Count(ctx, true); n != 6 {
				t.Errorf("Count = %d, want 6", n)
			}
		}},
		{"OKUnpublish", func(t *testing.T, c *course.Cache, ids []string) string {
			if _, err := c.Update(ctx, ids[4], course.UpdateInput{Published: ptr(false)}, time.Now()); err != nil {
				t.Fatal(err)
			}
			return ids[4]
		}, func(t *testing.T, c *course.Cache, id string) {
			if p := mustList(t, c, true, 100, nil); slices.Contains(pageIDs(p), id) {
				t.Errorf("the unpublished course is still listed: %v", pageIDs(p))
			}
			if got := mustByID(t, c, id); got.Published {
				t.Errorf("ByID says published after unpublishing")
			}
		}},
		{"OKPriceChange", func(t *testing.T, c *course.Cache, ids []string) string {
			if _, err := c.Update(ctx, ids[2], course.UpdateInput{Price: ptr(12345)}, time.Now()); err != nil {
				t.Fatal(err)
			}
			return ids[2]
		}, func(t *testing.T, c *course.Cache, id string) {
			if got := mustByID(t, c, id); got.Price != 12345 {
				t.Errorf("price = %d, want 12345", got.Price)
			}
			got, _ := c.ByIDs(ctx, []string{id})
			if len(got) != 1 || got[0].Price != 12345 {
				t.Errorf("ByIDs = %+v, want price 12345", got)
			}
			for _, e := range mustList(t, c, true, 100, nil).Edges {
				if e.Node.ID == id && e.Node.Price != 12345 {
					t.Errorf("listed price = %d, want 12345", e.Node.Price)
				}
			}
		}},
		{"OKPublishDraft", func(t *testing.T, c *course.Cache, _ []string) string {
			id := bson.NewObjectID().Hex()
			if _, err := c.Insert(ctx, course.Course{ID: id, Title: "Draft"}); err != nil {
				t.Fatal(err)
			}
			mustList(t, c, true, 100, nil)
			mustByID(t, c, id)
			if _, err := c.Update(ctx, id, course.UpdateInput{Published: ptr(true)}, time.Now()); err != nil {
				t.Fatal(err)
			}
			return id
		}, func(t *testing.T, c *course.Cache, id string) {
			if p := mustList(t, c, true, 1, nil); pageIDs(p)[0] != id {
				t.Errorf("newest = %v, want the published draft %s", pageIDs(p), id)
			}
			if !mustByID(t, c, id).Published {
				t.Errorf("ByID says draft after publishing")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newMemStore()
			ids := seed(t, s, 5, all)
			c := course.NewCache(s, course.CacheConfig{Size: 100})
			// Warm every part of the cache.
			mustList(t, c, true, 100, nil)
			if _, err := c.Count(ctx, true); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				mustByID(t, c, id)
			}
			id := tt.write(t, c, ids)
			tt.check(t, c, id)
		})
	}

	t.Run("OKUpdateOfMissingKeepsCache", func(t *testing.T) {
		t.Parallel()
		s := newMemStore()
		seed(t, s, 2, all)
		c := course.NewCache(s, course.CacheConfig{Size: 100})
		mustList(t, c, true, 10, nil)
		if _, err := c.Update(ctx, bson.NewObjectID().Hex(), course.UpdateInput{Price: ptr(1)}, time.Now()); !apperr.IsCode(err, apperr.NotFound) {
			t.Fatalf("Update of a missing course: %v, want NOT_FOUND", err)
		}
		s.called("List")
		mustList(t, c, true, 10, nil)
		if n := s.called("List"); n != 0 {
			t.Errorf("cache dropped by a write that wrote nothing (%d store reads)", n)
		}
	})
}

func TestCacheBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newMemStore()
	ids := seed(t, s, 10, all)
	c := course.NewCache(s, course.CacheConfig{Size: 4})

	t.Run("OKByIDEvictsLeastRecentlyUsed", func(t *testing.T) {
		for _, id := range ids[:4] {
			mustByID(t, c, id)
		}
		mustByID(t, c, ids[0]) // now the most recent
		mustByID(t, c, ids[4]) // evicts ids[1]
		s.called("ByID")
		for _, id := range []string{ids[0], ids[2], ids[3], ids[4]} {
			mustByID(t, c, id)
		}
		if n := s.called("ByID"); n != 0 {
			t.Errorf("%d store reads for the four cached courses, want 0", n)
		}
		mustByID(t, c, ids[1])
		if n := s.called("ByID"); n != 1 {
			t.Errorf("%d store reads for the evicted course, want 1", n)
		}
	})
	t.Run("OKListPrefix", func(t *testing.T) {
		c.Invalidate()
		s.called("List")
		s.called("Count")
		p := mustList(t, c, true, 2, nil)
		if !p.HasNextPage {
			t.Errorf("first page of 2 of 10 has no next page")
		}
		p = mustList(t, c, true, 2, p.EndCursor()) // courses 3 and 4: still the prefix
		if n, err := c.Count(ctx, true); err != nil || n != 10 {
			t.Errorf("Count = %d, %v; want 10", n, err)
		}
		if l, n := s.called("List"), s.called("Count"); l != 1 || n != 1 {
			t.Errorf("prefix fill made %d List and %d Count calls, want 1 and 1", l, n)
		}
		if !p.HasNextPage {
			t.Errorf("page ending the prefix has no next page")
		}
		// Past the prefix: the store answers.
		got := mustList(t, c, true, 3, p.EndCursor())
		want := mustList(t, s, true, 3, p.EndCursor())
		if !slices.Equal(pageIDs(got), pageIDs(want)) {
			t.Errorf("page past the prefix = %v, want %v", pageIDs(got), pageIDs(want))
		}
		if n := s.called("List"); n != 2 {
			t.Errorf("page past the prefix made %d store List calls, want 1 (plus the comparison)", n-1)
		}
	})
}

// Ensure a write made elsewhere (another instance) is served from the cache
// until Invalidate, the feed's signal, and fresh right after it.
func TestCacheInvalidate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newMemStore()
	ids := seed(t, s, 3, all)
	c := course.NewCache(s, course.CacheConfig{Size: 100})
	mustList(t, c, true, 10, nil)
	mustByID(t, c, ids[0])
	// Another instance changes a price.
	if _, err := s.Update(ctx, ids[0], course.UpdateInput{Price: ptr(777)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.called("List")
	s.called("ByID")
	mustList(t, c, true, 10, nil)
	if n := s.called("List"); n != 0 {
		t.Fatalf("%d store reads before Invalidate, want 0", n)
	}
	c.Invalidate()
	if got := mustByID(t, c, ids[0]); got.Price != 777 {
		t.Errorf("price after Invalidate = %d, want 777", got.Price)
	}
	mustList(t, c, true, 10, nil)
	if n := s.called("List"); n != 1 {
		t.Errorf("%d store List calls after Invalidate, want 1", n)
	}
}

func TestCacheFillOverlappingWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		method    string
		published bool
		price     func(t *testing.T, c *course.Cache, id string) int
	}{
		{"OKByIDOfDraft", "ByID", false, func(t *testing.T, c *course.Cache, id string) int {
			return mustByID(t, c, id).Price
		}},
		{"OKList", "List", true, func(t *testing.T, c *course.Cache, id string) int {
			return mustList(t, c, true, 10, nil).Edges[0].Node.Price
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newMemStore()
			ids := seed(t, s, 1, func(int) bool { return tt.published })
			c := course.NewCache(s, course.CacheConfig{Size: 10})
			s.mu.Lock()
			s.afterRead.method = tt.method
			s.afterRead.fn = func() {
				if _, err := c.Update(ctx, ids[0], course.UpdateInput{Price: ptr(4242)}, time.Now()); err != nil {
					t.Error(err)
				}
			}
			s.mu.Unlock()
			tt.price(t, c, ids[0]) // reads the old price; the write lands meanwhile
			if got := tt.price(t, c, ids[0]); got != 4242 {
				t.Errorf("price after the overlapping write = %d, want 4242", got)
			}
		})
	}
}

// TestCacheConcurrentReadersAndWriters runs readers against a writer; every
// read the writer makes after its write returns must see that write, and
// nothing may race (go test -race).
func TestCacheConcurrentReadersAndWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newMemStore()
	ids := seed(t, s, 20, all)
	s.mu.Lock()
	s.delay = 200 * time.Microsecond // reads overlap the writes
	s.mu.Unlock()
	c := course.NewCache(s, course.CacheConfig{Size: 8})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch (r + i) % 4 {
				case 0:
					_, err = c.List(ctx, true, pagination.Args{First: 5})
				case 1:
					_, err = c.ByID(ctx, ids[(r+i)%len(ids)])
				case 2:
					_, err = c.ByIDs(ctx, ids[i%10:i%10+5])
				case 3:
					_, err = c.Count(ctx, true)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 1; i <= 60; i++ {
		id := ids[i%len(ids)]
		if _, err := c.Update(ctx, id, course.UpdateInput{Price: ptr(i)}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got := mustByID(t, c, id); got.Price != i {
			t.Fatalf("ByID after write %d = price %d", i, got.Price)
		}
		found := false
		for _, e := range mustList(t, c, true, 20, nil).Edges {
			if e.Node.ID == id {
				found = true
				if e.Node.Price != i {
					t.Fatalf("List after write %d = price %d", i, e.Node.Price)
				}
			}
		}
		if !found {
			t.Fatalf("course %s missing from the list", id)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("reader: %v", err)
	}
}

// ListByCreator and CountByCreator pass through the cache untouched; the
// cache's tests do not call them.
func (s *memStore) ListByCreator(context.Context, string, pagination.Args) (pagination.Page[course.Course], error) {
	return pagination.Page[course.Course]{}, errors.New("memStore: ListByCreator is not used by these tests")
}

func (s *memStore) CountByCreator(context.Context, string) (int, error) {
	return 0, errors.New("memStore: CountByCreator is not used by these tests")
}
