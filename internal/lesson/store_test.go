package lesson_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/lesson"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

func newService(t *testing.T) *lesson.Service {
	t.Helper()
	return lesson.NewService(lesson.NewMongoStore(mongotest.NewDatabase(t), mongodb.InProcessIndexes))
}

func in(title string) lesson.Input { return lesson.Input{Title: title, Body: "body of " + title} }

// checkDense fails unless courseID's lessons are at positions 1..want.
func checkDense(t *testing.T, svc *lesson.Service, courseID string, want int) []lesson.Lesson {
	t.Helper()
	ls, err := svc.OfCourse(context.Background(), courseID)
	if err != nil {
		t.Fatalf("OfCourse: %v", err)
	}
	if len(ls) != want {
		t.Fatalf("%d lessons, want %d", len(ls), want)
	}
	seen := map[string]bool{}
	for i, l := range ls {
		if l.Position != i+1 {
			t.Errorf("lesson %d has position %d", i, l.Position)
		}
		if seen[l.ID] {
			t.Errorf("lesson %s twice", l.ID)
		}
		seen[l.ID] = true
	}
	return ls
}

func titles(ls []lesson.Lesson) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Title
	}
	return out
}

func TestLessonOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AddMoveRemove", func(t *testing.T) {
		t.Parallel()
		svc := newService(t)
		cid := bson.NewObjectID().Hex()
		var ids []string
		for _, n := range []string{"a", "b", "c", "d"} {
			l, err := svc.Add(ctx, cid, in(n))
			if err != nil {
				t.Fatal(err)
			}
			if l.Position != len(ids)+1 {
				t.Errorf("%s added at %d, want %d", n, l.Position, len(ids)+1)
			}
			ids = append(ids, l.ID)
		}
		m, err := svc.Move(ctx, ids[3], 1)
		if err != nil || m.Position != 1 {
			t.Fatalf("Move = %d, %v", m.Position, err)
		}
		if got := titles(checkDense(t, svc, cid, 4)); !slices.Equal(got, []string{"d", "a", "b", "c"}) {
			t.Errorf("after move: %q", got)
		}
		if err := svc.Remove(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		if got := titles(checkDense(t, svc, cid, 3)); !slices.Equal(got, []string{"d", "b", "c"}) {
			t.Errorf("after remove: %q", got)
		}
		if _, err := svc.Get(ctx, ids[0]); !apperr.IsCode(err, apperr.NotFound) {
			t.Errorf("removed lesson: %v, want NOT_FOUND", err)
		}
		for _, p := range []int{0, 4, -1} {
			_, err := svc.Move(ctx, ids[1], p)
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.BadUserInput || ae.Field != "position" {
				t.Errorf("Move to %d: %v, want BAD_USER_INPUT on position", p, err)
			}
		}
	})

	t.Run("ManyVersions", func(t *testing.T) {
		// Many versions: readers still find the latest one.
		t.Parallel()
		svc := newService(t)
		cid := bson.NewObjectID().Hex()
		a, _ := svc.Add(ctx, cid, in("a"))
		if _, err := svc.Add(ctx, cid, in("b")); err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			if _, err := svc.Move(ctx, a.ID, 1+(i%2)); err != nil {
				t.Fatal(err)
			}
		}
		checkDense(t, svc, cid, 2)
	})

	t.Run("Concurrent", func(t *testing.T) {
		// 20 goroutines add and move at once: every call succeeds or
		// fails clearly, and the positions end 1..n, dense and unique.
		t.Parallel()
		db := mongotest.NewDatabase(t)
		svc := lesson.NewService(lesson.NewMongoStore(db, mongodb.InProcessIndexes))
		cid := bson.NewObjectID().Hex()
		var seed []string
		for i := range 5 {
			l, err := svc.Add(ctx, cid, in(fmt.Sprintf("seed%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			seed = append(seed, l.ID)
		}
		const workers = 20
		var wg sync.WaitGroup
		errs := make([]error, workers)
		added := make([]bool, workers)
		start := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if w%2 == 0 {
					_, errs[w] = svc.Add(ctx, cid, in(fmt.Sprintf("w%d", w)))
					added[w] = errs[w] == nil
				} else {
					_, errs[w] = svc.Move(ctx, seed[w%len(seed)], 1+w%5)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d concurrent adds and moves took %v", workers, time.Since(start))
		n, conflicts := len(seed), 0
		for w, err := range errs {
			if err != nil && apperr.CodeOf(err) != apperr.Conflict {
				t.Errorf("worker %d: %v", w, err)
			}
			if err != nil {
				conflicts++
			}
			if added[w] {
				n++
			}
		}
		t.Logf("%d calls answered CONFLICT", conflicts)
		ls := checkDense(t, svc, cid, n)
		// The same from the database, through a store whose memo is empty,
		// on both lookup modes.
		for _, mode := range []mongodb.Lookups{mongodb.InProcessIndexes, mongodb.ServerIndexes} {
			fresh := checkDense(t, lesson.NewService(lesson.NewMongoStore(db, mode)), cid, n)
			if !slices.EqualFunc(ls, fresh, func(a, b lesson.Lesson) bool { return a.ID == b.ID && a.Position == b.Position }) {
				t.Errorf("the database's order differs from the memo's")
			}
		}
		for _, id := range seed {
			if !slices.ContainsFunc(ls, func(l lesson.Lesson) bool { return l.ID == id }) {
				t.Errorf("seed lesson %s lost", id)
			}
		}
	})
}

func TestLessonLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.NewDatabase(t)
	st := lesson.NewMongoStore(db, mongodb.InProcessIndexes)
	cid := bson.NewObjectID()
	// A course one lesson short of the limit, as its outline document
	// (adding 499 lessons one by one takes a minute on the embedded DB).
	ids := make([]bson.ObjectID, lesson.MaxLessonsPerCourse-1)
	for i := range ids {
		ids[i] = bson.NewObjectID()
	}
	if _, err := db.Collection(lesson.OutlinesCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: cid.Hex() + ":v1"}, {Key: "v", Value: int64(1)}, {Key: "lessons", Value: ids},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(ctx, lesson.Lesson{CourseID: cid.Hex(), Title: "last", Body: "b"}, time.Now()); err != nil {
		t.Fatalf("lesson %d: %v", lesson.MaxLessonsPerCourse, err)
	}
	_, err := st.Add(ctx, lesson.Lesson{CourseID: cid.Hex(), Title: "one too many", Body: "b"}, time.Now())
	if ae, ok := apperr.As(err); !ok || ae.Code != apperr.BadUserInput || ae.Field != "courseId" {
		t.Errorf("lesson %d: %v, want BAD_USER_INPUT on courseId", lesson.MaxLessonsPerCourse+1, err)
	}
	o, err := st.Outline(ctx, cid.Hex())
	if err != nil || len(o.LessonIDs) != lesson.MaxLessonsPerCourse {
		t.Errorf("outline has %d lessons, %v", len(o.LessonIDs), err)
	}
}

func TestLessonValidation(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	cid := bson.NewObjectID().Hex()
	big := make([]byte, lesson.MaxBodyBytes+1)
	for i := range big {
		big[i] = 'x'
	}
	bad := func(s string) *string { return &s }
	neg := -1
	for _, tc := range []struct {
		name  string
		in    lesson.Input
		field string
	}{
		{"EmptyTitle", lesson.Input{Title: "  ", Body: "b"}, "title"},
		{"EmptyBody", lesson.Input{Title: "t", Body: " "}, "body"},
		{"BodyTooBig", lesson.Input{Title: "t", Body: string(big)}, "body"},
		{"VideoNotHTTP", lesson.Input{Title: "t", Body: "b", VideoURL: bad("javascript:alert(1)")}, "videoUrl"},
		{"VideoRelative", lesson.Input{Title: "t", Body: "b", VideoURL: bad("/v.mp4")}, "videoUrl"},
		{"NegativeDuration", lesson.Input{Title: "t", Body: "b", DurationMinutes: &neg}, "durationMinutes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Add(ctx, cid, tc.in)
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.BadUserInput || ae.Field != tc.field {
				t.Errorf("Add: %v, want BAD_USER_INPUT on %s", err, tc.field)
			}
		})
	}
	t.Run("OKBodyAtLimit", func(t *testing.T) {
		if _, err := svc.Add(ctx, cid, lesson.Input{Title: "t", Body: string(big[1:]), VideoURL: bad("https://v.example/a.mp4")}); err != nil {
			t.Errorf("Add: %v", err)
		}
	})
}

func TestLessonProgress(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	cid := bson.NewObjectID().Hex()
	uid := bson.NewObjectID().Hex()
	a, _ := svc.Add(ctx, cid, in("a"))
	if _, err := svc.Add(ctx, cid, in("b")); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if _, err := svc.Complete(ctx, uid, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	p, err := svc.Progress(ctx, uid, cid)
	if err != nil || p != (lesson.Progress{CompletedLessons: 1, TotalLessons: 2}) {
		t.Errorf("Progress = %+v, %v", p, err)
	}
	other, err := svc.Progress(ctx, bson.NewObjectID().Hex(), cid)
	if err != nil || other.CompletedLessons != 0 {
		t.Errorf("another user's progress = %+v, %v", other, err)
	}
}

// Ensure every path of the store is _id reads and writes on the embedded
// database (which decodes the whole collection for any other filter), and
// log what they cost there.
func TestLessonHotPathsAreIDReads(t *testing.T) {
	ctx := context.Background()
	db, filters := mongotest.NewRecordingDatabase(t)
	svc := lesson.NewService(lesson.NewMongoStore(db, mongodb.InProcessIndexes))
	cid, uid := bson.NewObjectID().Hex(), bson.NewObjectID().Hex()
	filters.Reset()
	const n = 50
	var ids []string
	start := time.Now()
	for i := range n {
		l, err := svc.Add(ctx, cid, in(fmt.Sprintf("l%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	t.Logf("addLesson: %v each (%d lessons; through a recording client)", time.Since(start)/n, n)
	// Timed on a plain client: the recording one is slower.
	plain := lesson.NewService(lesson.NewMongoStore(db.Client().Database(db.Name()), mongodb.InProcessIndexes))
	ls, err := plain.OfCourse(ctx, cid)
	if err != nil || len(ls) != n || ls[0].HasBody {
		t.Fatalf("OfCourse: %d lessons (with body: %v), %v", len(ls), len(ls) > 0 && ls[0].HasBody, err)
	}
	start = time.Now()
	for range 10 {
		if _, err := plain.OfCourse(ctx, cid); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("lessons of a course of %d, without bodies: %v", n, time.Since(start)/10)
	start = time.Now()
	if _, err := plain.Get(ctx, ids[7]); err != nil {
		t.Fatal(err)
	}
	t.Logf("one lesson with its position: %v", time.Since(start))
	if _, err := svc.Move(ctx, ids[0], n); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, ids[1], lesson.UpdateInput{Title: &ids[1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Complete(ctx, uid, ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Progress(ctx, uid, cid); err != nil {
		t.Fatal(err)
	}
	if b, err := svc.Bodies(ctx, ids[:3]); err != nil || b[ids[2]] != "body of l2" {
		t.Fatalf("Bodies = %v, %v", b, err)
	}
	if err := svc.Remove(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	if bad := filters.NotByID(); len(bad) > 0 {
		t.Errorf("commands other than _id reads and writes:\n%v", bad)
	}
}
