package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/dataloader"
	"github.com/coursehub/coursehub/internal/user"
)

// Loaders batch the lookups that list fields make per item.
type Loaders struct {
	Users   *dataloader.Loader[string, user.User]
	Courses *dataloader.Loader[string, course.Course]
}

type loadersKey struct{}

// batchWait is how long a lookup waits for siblings to join its batch.
const batchWait = 500 * time.Microsecond

// WithLoaders returns ctx with fresh loaders; call it once per operation.
func (r *Resolver) WithLoaders(ctx context.Context) context.Context {
	l := &Loaders{
		Users: dataloader.New(func(ctx context.Context, ids []string) (map[string]user.User, error) {
			us, err := r.Users.ByIDs(ctx, ids)
			m := make(map[string]user.User, len(us))
			for _, u := range us {
				m[u.ID] = u
			}
			return m, err
		}, batchWait, 100, func(id string) error { return fmt.Errorf("user %s is missing", id) }),
		Courses: dataloader.New(func(ctx context.Context, ids []string) (map[string]course.Course, error) {
			cs, err := r.Catalog.ByIDs(ctx, ids)
			m := make(map[string]course.Course, len(cs))
			for _, c := range cs {
				m[c.ID] = c
			}
			return m, err
		}, batchWait, 100, func(id string) error { return fmt.Errorf("course %s is missing", id) }),
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
