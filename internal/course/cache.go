package course

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/pagination"
)

// CacheConfig tunes a Cache.
type CacheConfig struct {
	// Size bounds the cache: at most Size published courses of the
	// newest-first list and Size courses by id.
	Size int
}

// Cache is a Store that keeps the public catalogue in memory in front of
// another Store: the newest published courses with their count, read in one
// query, which also answer by-id reads of those courses; and an LRU of the
// other courses read by id (drafts too: who may see one is the Service's
// rule, applied after the read, and missing ones). Admin listings, which
// include drafts, always go to the store.
//
// Every write through the Cache drops it at once; a write through another
// instance reaches it through the change feed (internal/feed), which calls
// Invalidate for every course event and whenever it lost track.
type Cache struct {
	store Store
	cfg   CacheConfig

	mu sync.Mutex
	// gen counts invalidations: a fill that began under an older gen may
	// hold what a write replaced, and is not kept.
	gen     uint64
	list    *publishedList // nil: not filled
	filling *listFill      // the fill under way, if any
	byID    map[string]*list.Element
	lru     *list.List // of *cacheEntry, most recent first
}

var _ Store = (*Cache)(nil)

// publishedList is the newest-first prefix of the published courses.
type publishedList struct {
	edges []pagination.Edge[Course]
	index map[string]int // id -> position in edges
	// complete: edges hold every published course.
	complete bool
	count    int
}

type cacheEntry struct {
	id     string
	course Course
	found  bool // false: the store said NOT_FOUND
}

// NewCache returns a Cache over store.
func NewCache(store Store, cfg CacheConfig) *Cache {
	if cfg.Size < 1 {
		cfg.Size = 1
	}
	return &Cache{store: store, cfg: cfg, byID: make(map[string]*list.Element), lru: list.New()}
}

// Invalidate drops everything cached. Reads that are under way when it is
// called do not put back what they read.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.list = nil
	clear(c.byID)
	c.lru.Init()
	c.mu.Unlock()
}

// Insert stores a new course through the store, then drops the cache (the
// Service tells the other instances).
func (c *Cache) Insert(ctx context.Context, co Course) (Course, error) {
	co, err := c.store.Insert(ctx, co)
	c.written(ctx, err)
	return co, err
}

// Update updates a course through the store, then drops the cache.
// Errors: those of the store (NOT_FOUND).
func (c *Cache) Update(ctx context.Context, id string, in UpdateInput, now time.Time) (Course, error) {
	co, err := c.store.Update(ctx, id, in, now)
	c.written(ctx, err)
	return co, err
}

// written follows every write, failed ones included (a write whose answer
// was lost may have been made), except one that found no course.
func (c *Cache) written(_ context.Context, err error) {
	if apperr.IsCode(err, apperr.NotFound) {
		return
	}
	c.Invalidate()
}

// generation returns the current generation, for a fill to present later.
func (c *Cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// ByID returns a course by id, from the cache when it can.
// Errors: NOT_FOUND, and those of the store.
func (c *Cache) ByID(ctx context.Context, id string) (Course, error) {
	l := c.publishedOrNil(ctx)
	if co, ok := l.byID(id); ok {
		return co, nil
	}
	c.mu.Lock()
	e, ok := c.lookupLocked(id)
	gen := c.gen
	c.mu.Unlock()
	if ok {
		if !e.found {
			return Course{}, errNotFound
		}
		return e.course, nil
	}
	co, err := c.store.ByID(ctx, id)
	switch {
	case err == nil:
		c.put(gen, cacheEntry{id: id, course: co, found: true})
	case apperr.IsCode(err, apperr.NotFound):
		c.put(gen, cacheEntry{id: id})
	}
	return co, err
}

// ByIDs returns the courses among ids, reading only the missing ones from
// the store, in one query.
func (c *Cache) ByIDs(ctx context.Context, ids []string) ([]Course, error) {
	l := c.publishedOrNil(ctx)
	out := make([]Course, 0, len(ids))
	var missing []string
	c.mu.Lock()
	gen := c.gen
	for _, id := range ids {
		if co, ok := l.byID(id); ok {
			out = append(out, co)
			continue
		}
		e, ok := c.lookupLocked(id)
		switch {
		case !ok:
			missing = append(missing, id)
		case e.found:
			out = append(out, e.course)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	got, err := c.store.ByIDs(ctx, missing)
	if err != nil {
		return nil, err
	}
	entries := make([]cacheEntry, 0, len(missing))
	found := make(map[string]bool, len(got))
	for _, co := range got {
		found[co.ID] = true
		entries = append(entries, cacheEntry{id: co.ID, course: co, found: true})
	}
	for _, id := range missing {
		if !found[id] {
			entries = append(entries, cacheEntry{id: id})
		}
	}
	c.put(gen, entries...)
	return append(out, got...), nil
}

// lookupLocked finds id in the LRU and marks it used.
func (c *Cache) lookupLocked(id string) (cacheEntry, bool) {
	el, ok := c.byID[id]
	if !ok {
		return cacheEntry{}, false
	}
	c.lru.MoveToFront(el)
	return *el.Value.(*cacheEntry), true
}

// put keeps entries read under gen, unless the cache was invalidated since,
// evicting the least recently used past Size.
func (c *Cache) put(gen uint64, entries ...cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	for _, e := range entries {
		if el, ok := c.byID[e.id]; ok {
			*el.Value.(*cacheEntry) = e
			c.lru.MoveToFront(el)
			continue
		}
		e := e
		c.byID[e.id] = c.lru.PushFront(&e)
		for c.lru.Len() > c.cfg.Size {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.byID, old.Value.(*cacheEntry).id)
		}
	}
}

// List returns a newest-first page. Published pages within the cached
// prefix come from the cache; admin listings (drafts included) and pages
// past the prefix come from the store.
func (c *Cache) List(ctx context.Context, publishedOnly bool, args pagination.Args) (pagination.Page[Course], error) {
	if !publishedOnly {
		return c.store.List(ctx, publishedOnly, args)
	}
	l, err := c.published(ctx)
	if err != nil {
		return pagination.Page[Course]{}, err
	}
	if page, ok := l.page(args); ok {
		return page, nil
	}
	return c.store.List(ctx, publishedOnly, args)
}

// ListByCreator is the store's: an instructor's own list (drafts included)
// is per viewer, never served from the shared cache.
func (c *Cache) ListByCreator(ctx context.Context, creatorID string, args pagination.Args) (pagination.Page[Course], error) {
	return c.store.ListByCreator(ctx, creatorID, args)
}

// CountByCreator is the store's, as ListByCreator.
func (c *Cache) CountByCreator(ctx context.Context, creatorID string) (int, error) {
	return c.store.CountByCreator(ctx, creatorID)
}

// Count counts courses; the published count comes from the cache.
func (c *Cache) Count(ctx context.Context, publishedOnly bool) (int, error) {
	if !publishedOnly {
		return c.store.Count(ctx, publishedOnly)
	}
	l, err := c.published(ctx)
	if err != nil {
		return 0, err
	}
	return l.count, nil
}

// published returns the cached list, filling it when missing: one query for
// the newest Size published courses, and a count only if there are more.
// Readers that find a fill under way wait for it rather than repeat it.
func (c *Cache) published(ctx context.Context) (*publishedList, error) {
	for {
		c.mu.Lock()
		if l := c.list; l != nil {
			c.mu.Unlock()
			return l, nil
		}
		if f := c.filling; f != nil && f.gen == c.gen {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err == nil {
				return f.list, nil
			}
			// The filler's failure may be its own (its client left): try
			// again, filling if nobody else does.
			c.mu.Lock()
			if c.filling == f {
				c.filling = nil
			}
			c.mu.Unlock()
			continue
		}
		f := &listFill{gen: c.gen, done: make(chan struct{})}
		c.filling = f
		c.mu.Unlock()

		f.list, f.err = c.loadPublished(ctx)
		c.mu.Lock()
		if f.err == nil && f.gen == c.gen {
			c.list = f.list
		}
		if c.filling == f {
			c.filling = nil
		}
		c.mu.Unlock()
		close(f.done)
		return f.list, f.err
	}
}

// listFill is a fill of the published list under way.
type listFill struct {
	gen  uint64
	done chan struct{}
	list *publishedList
	err  error
}

func (c *Cache) loadPublished(ctx context.Context) (*publishedList, error) {
	page, err := c.store.List(ctx, true, pagination.Args{First: c.cfg.Size})
	if err != nil {
		return nil, err
	}
	l := &publishedList{edges: page.Edges, complete: !page.HasNextPage, count: len(page.Edges)}
	if !l.complete {
		if l.count, err = c.store.Count(ctx, true); err != nil {
			return nil, err
		}
	}
	l.index = make(map[string]int, len(l.edges))
	for i, e := range l.edges {
		l.index[e.Node.ID] = i
	}
	return l, nil
}

// publishedOrNil is the published list, or nil when it cannot be read:
// by-id reads then go on without it.
func (c *Cache) publishedOrNil(ctx context.Context) *publishedList {
	l, err := c.published(ctx)
	if err != nil {
		return nil
	}
	return l
}

// byID finds a course in the list; l may be nil.
func (l *publishedList) byID(id string) (Course, bool) {
	if l == nil {
		return Course{}, false
	}
	i, ok := l.index[id]
	if !ok {
		return Course{}, false
	}
	return l.edges[i].Node, true
}

// page cuts the page args asks for out of the list; false when it reaches
// past an incomplete prefix.
func (l *publishedList) page(args pagination.Args) (pagination.Page[Course], bool) {
	start := 0
	if args.After != "" {
		// A cursor of a course in the list: the page starts after it. Any
		// other cursor (a course unpublished since, or one the store would
		// refuse) is the store's to answer.
		i, ok := l.index[args.After]
		if !ok {
			return pagination.Page[Course]{}, false
		}
		start = i + 1
	}
	end := start + args.First
	var p pagination.Page[Course]
	switch {
	case end <= len(l.edges):
		p.HasNextPage = end < len(l.edges) || !l.complete
	case l.complete:
		end = len(l.edges)
	default:
		return p, false
	}
	// A copy, so that no caller can reach into the cache.
	p.Edges = append([]pagination.Edge[Course](nil), l.edges[start:end]...)
	return p, true
}
