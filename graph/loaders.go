package graph

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/lesson"
	"github.com/coursehub/coursehub/internal/user"
)

// Loaders batch the lookups that list fields make per item.
type Loaders struct {
	Users   *dataloadgen.Loader[string, user.User]
	Courses *dataloadgen.Loader[string, course.Course]
	// Course is keyed by course id and answers one course with the
	// precise error (BAD_USER_INPUT for a malformed id, NOT_FOUND): the
	// @auth grants' lookups. Keys are few (a root field's argument, the
	// courses of the lessons in view), each read once per request. (Not
	// Courses: its batch read leaves malformed ids out, and the catalogue
	// cache then remembers them as missing.)
	Course *dataloadgen.Loader[string, course.Course]
	// Bought is keyed by purchaseKey(user, course): whether the user bought
	// the course. The @auth PURCHASER grant and viewerHasPurchased read it.
	Bought *dataloadgen.Loader[string, bool]
	// CourseLessons is keyed by course id: the course's lessons in order.
	CourseLessons *dataloadgen.Loader[string, []lesson.Lesson]
	// LessonBodies is keyed by lesson id: the bodies that lists leave out.
	LessonBodies *dataloadgen.Loader[string, string]
	// Completed is keyed by progressKey(user, lesson).
	Completed *dataloadgen.Loader[string, bool]
}

// progressKey is a Completed loader key.
func progressKey(userID, lessonID string) string { return userID + ":" + lessonID }

// perUser answers "<user>:<x>" keys with one fetch per user of which of
// its xs hold (bought, completed); a failed fetch fails the batch.
func perUser(ctx context.Context, keys []string, fetch func(ctx context.Context, userID string, xs []string) (map[string]bool, error)) ([]bool, []error) {
	byUser := map[string][]string{}
	for _, k := range keys {
		u, x, _ := strings.Cut(k, ":")
		byUser[u] = append(byUser[u], x)
	}
	holds := map[string]bool{}
	for u, xs := range byUser {
		m, err := fetch(ctx, u, xs)
		if err != nil {
			return nil, []error{err}
		}
		for x, ok := range m {
			holds[u+":"+x] = ok
		}
	}
	out := make([]bool, len(keys))
	for i, k := range keys {
		out[i] = holds[k]
	}
	return out, nil
}

// purchaseKey is a Bought loader key.
func purchaseKey(userID, courseID string) string { return userID + ":" + courseID }

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
		Course: dataloadgen.NewLoader(func(ctx context.Context, ids []string) ([]course.Course, []error) {
			// One read each (most from the catalogue cache), concurrently.
			out := make([]course.Course, len(ids))
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := r.Catalog.Get(ctx, id, true)
					switch {
					case err != nil:
						errs[i] = err
					case c == nil:
						errs[i] = errCourseNotFound
					default:
						out[i] = *c
					}
				}()
			}
			wg.Wait()
			return out, errs
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(maxBatch)),
		// Keys are "<user>:<course>"; one request has one viewer, so this
		// is one batch read per user.
		Bought: dataloadgen.NewLoader(func(ctx context.Context, keys []string) ([]bool, []error) {
			return perUser(ctx, keys, r.Purchases.Bought)
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(maxBatch)),
		CourseLessons: dataloadgen.NewLoader(func(ctx context.Context, ids []string) ([][]lesson.Lesson, []error) {
			// Each course's outline is its own document: the courses are
			// read concurrently, each in a few _id reads.
			out := make([][]lesson.Lesson, len(ids))
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out[i], errs[i] = r.Curriculum.OfCourse(ctx, id)
				}()
			}
			wg.Wait()
			return out, errs
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(maxBatch)),
		LessonBodies: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []string) (map[string]string, error) {
			return r.Curriculum.Bodies(ctx, ids)
		}, dataloadgen.WithWait(batchWait), dataloadgen.WithBatchCapacity(maxBatch)),
		// Keys are "<user>:<lesson>".
		Completed: dataloadgen.NewLoader(func(ctx context.Context, keys []string) ([]bool, []error) {
			return perUser(ctx, keys, r.Curriculum.Completed)
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
