package graph

import (
	"context"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/user"
)

// Loaders batch the lookups that list fields make per item.
type Loaders struct {
	Users   *dataloadgen.Loader[string, user.User]
	Courses *dataloadgen.Loader[string, course.Course]
}

type loadersKey struct{}

// Batching: gqlgen resolves list items concurrently, so siblings arrive
// within microseconds of each other; a page holds at most 100 items.
const (
	batchWait = 500 * time.Microsecond
	maxBatch  = 100
)

// WithLoaders returns ctx with fresh loaders; call it once per operation.
// A key the fetch does not return is dataloadgen.ErrNotFound, an internal
// error (every id a loader is asked for comes from a stored reference).
func (r *Resolver) WithLoaders(ctx context.Context) context.Context {
	l := &Loaders{
		Users: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []string) (map[string]user.User, error) {
			us, err := r.Users.ByIDs(ctx, ids)
			m := make(map[string]user.User, len(us))
			for _, u := range us {
				m[u.ID] = u
			}
			return m, err
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(maxBatch)),
		Courses: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []string) (map[string]course.Course, error) {
			cs, err := r.Catalog.ByIDs(ctx, ids)
			m := make(map[string]course.Course, len(cs))
			for _, c := range cs {
				m[c.ID] = c
			}
			return m, err
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(maxBatch)),
	}
	return context.WithValue(ctx, loadersKey{}, l)
}

// loadersFor returns the operation's loaders.
func loadersFor(ctx context.Context) *Loaders {
	l, ok := ctx.Value(loadersKey{}).(*Loaders)
	if !ok {
		panic("graph: loaders missing from context; wire Resolver.WithLoaders into the handler")
	}
	return l
}
