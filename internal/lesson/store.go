package lesson

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
)

// Collections of the store (cmd/server adds them to mongodb.IndexIDs).
const (
	LessonsCollection  = "lessons"
	OutlinesCollection = "lesson_outlines"
	ProgressCollection = "lesson_progress"
)

// The order of a course's lessons is an outline: the list of its lesson
// ids. Outlines are immutable and versioned, one document per version,
// _id "<course>:v<n>". A change (add, remove, move) reads the latest
// version n and inserts version n+1: of two concurrent changes only one
// insert succeeds (a unique _id is the one thing the embedded database
// settles atomically), and the other reads the winner's outline and tries
// again. Positions are the outline's order, so they are 1..n, dense and
// unique by construction, whatever the interleaving.
//
// Readers find the latest version from a hint document (_id "<course>"),
// which each writer sets to the version it claimed after claiming it. The
// hint is only a starting point, and may lag (its update is not atomic and
// a slow writer may set an older value); readers probe forward from it to
// the first version that does not exist. Versions are never deleted, so
// that forward probe meets no gaps: pruning old versions while readers may
// start below them made readers stop early (the concurrency test caught
// it). The cost is space: one small document (12 bytes per lesson) per
// change of a course's order.
//
// A read of the lessons of a course is thus 3 _id reads for the outline
// (hint, version, the next version's absence) plus one _id read per lesson
// (concurrent on the embedded database, one $in on MongoDB): never a scan.
// settleDelay is how long after a claim of unknown outcome the embedded
// mode forgets the course's outline once more, for a claim that landed late.
const settleDelay = 500 * time.Millisecond

const (
	// maxAttempts bounds the retries of a change that keeps losing the
	// race for the next version; past it the caller gets CONFLICT.
	maxAttempts = 200
)

type lessonDoc struct {
	ID              bson.ObjectID `bson:"_id"`
	CourseID        bson.ObjectID `bson:"courseId"`
	Title           string        `bson:"title"`
	Body            string        `bson:"body"`
	VideoURL        *string       `bson:"videoUrl,omitempty"`
	DurationMinutes *int64        `bson:"durationMinutes,omitempty"`
	Preview         bool          `bson:"preview"`
	CreatedAt       time.Time     `bson:"createdAt"`
	UpdatedAt       time.Time     `bson:"updatedAt"`
}

func (d lessonDoc) toLesson() Lesson {
	l := Lesson{
		ID: d.ID.Hex(), CourseID: d.CourseID.Hex(), Title: d.Title, Body: d.Body, HasBody: d.Body != "",
		VideoURL: d.VideoURL, Preview: d.Preview, UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.DurationMinutes != nil {
		n := int(*d.DurationMinutes)
		l.DurationMinutes = &n
	}
	return l
}

type outlineDoc struct {
	Key     string          `bson:"_id"`
	Version int64           `bson:"v"`
	Lessons []bson.ObjectID `bson:"lessons"`
}

type hintDoc struct {
	Key     string `bson:"_id"`
	Version int64  `bson:"v"`
}

type progressDoc struct {
	Key         string        `bson:"_id"`
	UserID      bson.ObjectID `bson:"userId"`
	LessonID    bson.ObjectID `bson:"lessonId"`
	CompletedAt time.Time     `bson:"completedAt"`
}

// Outline is a course's lessons in order, at one version.
type Outline struct {
	CourseID string
	Version  int64
	// LessonIDs are in position order: position i+1 is LessonIDs[i].
	LessonIDs []string
}

// Position returns the 1-based position of lessonID, or 0 when the lesson
// is not in the outline.
func (o Outline) Position(lessonID string) int {
	return slices.Index(o.LessonIDs, lessonID) + 1
}

// MongoStore keeps lessons, outlines and progress on MongoDB or the
// embedded database.
type MongoStore struct {
	lessons, outlines, progress *mongo.Collection
	lookups                     mongodb.Lookups
	// memo is the in-process knowledge of lessons (InProcessIndexes only).
	memo *memo
}

// NewMongoStore returns a store over db; lookups says how batches are read.
func NewMongoStore(db *mongo.Database, lookups mongodb.Lookups) *MongoStore {
	s := &MongoStore{
		lessons: db.Collection(LessonsCollection), outlines: db.Collection(OutlinesCollection),
		progress: db.Collection(ProgressCollection), lookups: lookups,
	}
	if lookups == mongodb.InProcessIndexes {
		s.memo = newMemo()
	}
	return s
}

// EnsureIndexes: every lookup of the store is by _id; none is needed.
func (s *MongoStore) EnsureIndexes(context.Context, *slog.Logger) error { return nil }

// MaxLessonsPerCourse bounds a course's lessons, and so what one
// Course.lessons costs (the operation cost limit counts list fields with a
// `first` argument only) and the size of an outline version.
const MaxLessonsPerCourse = 500

var (
	errTooMany  = apperr.Input("courseId", "a course has at most 500 lessons")
	errNotFound = apperr.New(apperr.NotFound, "lesson not found")
	errBusy     = apperr.New(apperr.Conflict, "the course's lessons are being changed by others right now; try again")
)

func versionKey(course bson.ObjectID, v int64) string {
	return course.Hex() + ":v" + strconv.FormatInt(v, 10)
}

// Outline returns the latest outline of courseID (empty, version 0, for a
// course without lessons). Errors: BAD_USER_INPUT (malformed id).
func (s *MongoStore) Outline(ctx context.Context, courseID string) (Outline, error) {
	cid, err := mongodb.ParseID("courseId", courseID)
	if err != nil {
		return Outline{}, err
	}
	d, err := s.latest(ctx, cid)
	if err != nil {
		return Outline{}, err
	}
	return toOutline(cid, d), nil
}

func toOutline(cid bson.ObjectID, d outlineDoc) Outline {
	o := Outline{CourseID: cid.Hex(), Version: d.Version, LessonIDs: make([]string, len(d.Lessons))}
	for i, id := range d.Lessons {
		o.LessonIDs[i] = id.Hex()
	}
	return o
}

// version reads one outline version; ok is false when it does not exist.
func (s *MongoStore) version(ctx context.Context, cid bson.ObjectID, v int64) (outlineDoc, bool, error) {
	if v == 0 {
		return outlineDoc{Key: versionKey(cid, 0)}, true, nil
	}
	var d outlineDoc
	err := s.outlines.FindOne(ctx, bson.D{{Key: "_id", Value: versionKey(cid, v)}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return outlineDoc{}, false, nil
	}
	if err != nil {
		return outlineDoc{}, false, fmt.Errorf("lessons: outline: %w", err)
	}
	return d, true, nil
}

// latest finds the latest outline version, from the hint onwards.
func (s *MongoStore) latest(ctx context.Context, cid bson.ObjectID) (outlineDoc, error) {
	if s.memo != nil {
		if d, ok := s.memo.outline(cid.Hex()); ok {
			return d, nil
		}
	}
	var h hintDoc
	err := s.outlines.FindOne(ctx, bson.D{{Key: "_id", Value: cid.Hex()}}).Decode(&h)
	if err != nil && !mongodb.IsNoDocuments(err) {
		return outlineDoc{}, fmt.Errorf("lessons: outline hint: %w", err)
	}
	d, err := s.forward(ctx, cid, h.Version)
	if err == nil && s.memo != nil {
		s.memo.saw(cid.Hex(), d)
	}
	return d, err
}

// forward returns the latest version at or after v (which exists: it is
// never ahead of the latest, and versions are never deleted).
func (s *MongoStore) forward(ctx context.Context, cid bson.ObjectID, v int64) (outlineDoc, error) {
	cur, ok, err := s.version(ctx, cid, v)
	if err != nil {
		return outlineDoc{}, err
	}
	if !ok {
		return outlineDoc{}, fmt.Errorf("lessons: outline %s of course %s is missing", versionKey(cid, v), cid.Hex())
	}
	for {
		next, ok, err := s.version(ctx, cid, cur.Version+1)
		if err != nil {
			return outlineDoc{}, err
		}
		if !ok {
			return cur, nil
		}
		cur = next
	}
}

// change applies edit to the latest outline and claims the next version
// with the result, retrying on a lost race. edit must not keep state
// between calls: it runs once per attempt, on the outline as it then is.
func (s *MongoStore) change(ctx context.Context, cid bson.ObjectID, edit func([]bson.ObjectID) ([]bson.ObjectID, error)) (outlineDoc, error) {
	cur, err := s.latest(ctx, cid)
	if err != nil {
		return outlineDoc{}, err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		ids, err := edit(slices.Clone(cur.Lessons))
		if err != nil {
			return outlineDoc{}, err
		}
		next := outlineDoc{Key: versionKey(cid, cur.Version+1), Version: cur.Version + 1, Lessons: ids}
		if next.Lessons == nil {
			next.Lessons = []bson.ObjectID{}
		}
		_, err = s.outlines.InsertOne(ctx, next)
		if err == nil {
			if s.memo != nil {
				s.memo.saw(cid.Hex(), next)
			}
			s.settle(ctx, cid, next.Version)
			return next, nil
		}
		if !mongodb.IsDuplicateKey(err) {
			if s.memo != nil {
				// The claim may have landed, now or in a moment: the
				// readers go to the database until then.
				s.memo.forget(cid.Hex())
				time.AfterFunc(settleDelay, func() { s.memo.forget(cid.Hex()) })
			}
			return outlineDoc{}, fmt.Errorf("lessons: claim outline: %w", err)
		}
		// Lost the race: continue from the winner's outline, after a
		// short random pause that spreads out the next round.
		if err := sleep(ctx, time.Duration(rand.IntN(1000*(1+min(attempt, 10))))*time.Microsecond); err != nil {
			return outlineDoc{}, err
		}
		if cur, err = s.forward(ctx, cid, cur.Version+1); err != nil {
			return outlineDoc{}, err
		}
		if s.memo != nil {
			s.memo.saw(cid.Hex(), cur)
		}
	}
	return outlineDoc{}, errBusy
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// settle moves the hint to v. Best effort: a stale hint costs readers a
// few probes.
func (s *MongoStore) settle(ctx context.Context, cid bson.ObjectID, v int64) {
	_, _ = s.outlines.ReplaceOne(ctx, bson.D{{Key: "_id", Value: cid.Hex()}},
		hintDoc{Key: cid.Hex(), Version: v}, options.Replace().SetUpsert(true))
}

// Add stores l as the last lesson of its course and returns it with its id
// and position. Errors: BAD_USER_INPUT (courseId: malformed), CONFLICT
// (too many concurrent changes).
func (s *MongoStore) Add(ctx context.Context, l Lesson, now time.Time) (Lesson, error) {
	cid, err := mongodb.ParseID("courseId", l.CourseID)
	if err != nil {
		return Lesson{}, err
	}
	d := lessonDoc{
		ID: bson.NewObjectID(), CourseID: cid, Title: l.Title, Body: l.Body, VideoURL: l.VideoURL,
		Preview: l.Preview, CreatedAt: now, UpdatedAt: now,
	}
	if l.DurationMinutes != nil {
		n := int64(*l.DurationMinutes)
		d.DurationMinutes = &n
	}
	// The lesson exists before the outline names it, so no reader finds
	// a position without its lesson; until then it is in no outline, and
	// a lesson in no outline is not found.
	if _, err := s.lessons.InsertOne(ctx, d); err != nil {
		return Lesson{}, fmt.Errorf("lessons: insert: %w", err)
	}
	if s.memo != nil {
		l := d.toLesson()
		s.memo.written(l.ID, &l)
	}
	o, err := s.change(ctx, cid, func(ids []bson.ObjectID) ([]bson.ObjectID, error) {
		if len(ids) >= MaxLessonsPerCourse {
			return nil, errTooMany
		}
		return append(ids, d.ID), nil
	})
	if errors.Is(err, errBusy) || errors.Is(err, errTooMany) {
		if s.memo != nil {
			s.memo.written(d.ID.Hex(), nil)
		}
		// Surely in no outline. (After another error the claim's outcome
		// may be unknown, and the document stays for the outline that may
		// name it.)
		_, _ = s.lessons.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: d.ID}})
	}
	if err != nil {
		return Lesson{}, err
	}
	out := d.toLesson()
	out.Position = toOutline(cid, o).Position(out.ID)
	return out, nil
}

// Move puts lessonID at position (1 to the number of lessons), shifting
// the ones between. Errors: NOT_FOUND, BAD_USER_INPUT (position), CONFLICT.
func (s *MongoStore) Move(ctx context.Context, courseID, lessonID string, position int) (Outline, error) {
	cid, lid, err := parseIDs(courseID, lessonID)
	if err != nil {
		return Outline{}, err
	}
	o, err := s.change(ctx, cid, func(ids []bson.ObjectID) ([]bson.ObjectID, error) {
		i := slices.Index(ids, lid)
		if i < 0 {
			return nil, errNotFound
		}
		if position < 1 || position > len(ids) {
			return nil, apperr.Input("position", fmt.Sprintf("position must be from 1 to %d, the number of lessons", len(ids)))
		}
		ids = slices.Delete(ids, i, i+1)
		return slices.Insert(ids, position-1, lid), nil
	})
	if err != nil {
		return Outline{}, err
	}
	return toOutline(cid, o), nil
}

// Remove takes lessonID out of its course; later lessons move up.
// Errors: NOT_FOUND, CONFLICT.
func (s *MongoStore) Remove(ctx context.Context, courseID, lessonID string) error {
	cid, lid, err := parseIDs(courseID, lessonID)
	if err != nil {
		return err
	}
	_, err = s.change(ctx, cid, func(ids []bson.ObjectID) ([]bson.ObjectID, error) {
		i := slices.Index(ids, lid)
		if i < 0 {
			return nil, errNotFound
		}
		return slices.Delete(ids, i, i+1), nil
	})
	if err != nil {
		return err
	}
	// In no outline it is gone already; the document only takes space.
	if s.memo != nil {
		defer s.memo.written(lid.Hex(), nil)
	}
	if _, err := s.lessons.DeleteOne(ctx, bson.D{{Key: "_id", Value: lid}}); err != nil {
		return fmt.Errorf("lessons: delete: %w", err)
	}
	return nil
}

func parseIDs(courseID, lessonID string) (bson.ObjectID, bson.ObjectID, error) {
	cid, err := bson.ObjectIDFromHex(courseID)
	if err != nil {
		return cid, cid, errNotFound
	}
	lid, err := mongodb.ParseID("id", lessonID)
	return cid, lid, err
}

// ByID returns a lesson's document (without its position, which is its
// outline's business). Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND.
func (s *MongoStore) ByID(ctx context.Context, id string) (Lesson, error) {
	oid, err := mongodb.ParseID("id", id)
	if err != nil {
		return Lesson{}, err
	}
	var d lessonDoc
	err = s.lessons.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return Lesson{}, errNotFound
	}
	if err != nil {
		return Lesson{}, fmt.Errorf("lessons: by id: %w", err)
	}
	return d.toLesson(), nil
}

// ByIDs returns the lessons among ids (malformed ones skipped), without
// positions and without their bodies (up to 100 KB each: a list of
// titles must not read them; Bodies does), in no particular order: _id
// reads on the embedded database, one $in on MongoDB.
func (s *MongoStore) ByIDs(ctx context.Context, ids []string) ([]Lesson, error) {
	var known []Lesson
	var gen uint64
	if s.memo != nil {
		known, ids, gen = s.memo.get(ids)
		if len(ids) == 0 {
			return known, nil
		}
	}
	docs, err := s.byIDs(ctx, ids, options.FindOne().SetProjection(bson.D{{Key: "body", Value: 0}}),
		options.Find().SetProjection(bson.D{{Key: "body", Value: 0}}))
	if err != nil {
		return nil, err
	}
	read := make([]Lesson, len(docs))
	for i, d := range docs {
		read[i] = d.toLesson()
	}
	if s.memo != nil {
		s.memo.putRead(gen, read)
	}
	return append(known, read...), nil
}

// Bodies returns the bodies of the lessons among ids, by id.
func (s *MongoStore) Bodies(ctx context.Context, ids []string) (map[string]string, error) {
	docs, err := s.byIDs(ctx, ids, options.FindOne().SetProjection(bson.D{{Key: "body", Value: 1}}),
		options.Find().SetProjection(bson.D{{Key: "body", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(docs))
	for _, d := range docs {
		out[d.ID.Hex()] = d.Body
	}
	return out, nil
}

func (s *MongoStore) byIDs(ctx context.Context, ids []string, one *options.FindOneOptionsBuilder, many *options.FindOptionsBuilder) ([]lessonDoc, error) {
	oids := make([]any, 0, len(ids))
	for _, id := range ids {
		if oid, err := bson.ObjectIDFromHex(id); err == nil {
			oids = append(oids, oid)
		}
	}
	if len(oids) == 0 {
		return nil, nil
	}
	var docs []lessonDoc
	var err error
	if s.lookups == mongodb.InProcessIndexes {
		docs, err = mongodb.FindEachByID[lessonDoc](ctx, s.lessons, oids, one)
	} else {
		var cur *mongo.Cursor
		if cur, err = s.lessons.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids}}}}, many); err == nil {
			err = cur.All(ctx, &docs)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lessons: by ids: %w", err)
	}
	return docs, nil
}

// Update sets the fields set in in (an empty VideoURL removes the link).
// Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND.
func (s *MongoStore) Update(ctx context.Context, id string, in UpdateInput, now time.Time) (Lesson, error) {
	oid, err := mongodb.ParseID("id", id)
	if err != nil {
		return Lesson{}, err
	}
	set := bson.D{{Key: "updatedAt", Value: now}}
	var unset bson.D
	if in.Title != nil {
		set = append(set, bson.E{Key: "title", Value: *in.Title})
	}
	if in.Body != nil {
		set = append(set, bson.E{Key: "body", Value: *in.Body})
	}
	if in.DurationMinutes != nil {
		set = append(set, bson.E{Key: "durationMinutes", Value: int64(*in.DurationMinutes)})
	}
	if in.Preview != nil {
		set = append(set, bson.E{Key: "preview", Value: *in.Preview})
	}
	if in.VideoURL != nil {
		if *in.VideoURL == "" {
			unset = bson.D{{Key: "videoUrl", Value: ""}}
		} else {
			set = append(set, bson.E{Key: "videoUrl", Value: *in.VideoURL})
		}
	}
	update := bson.D{{Key: "$set", Value: set}}
	if unset != nil {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if s.memo != nil {
		// Forgotten until the write is read back: a failed or unknown
		// write leaves the next reader to read it from the database.
		s.memo.written(id, nil)
	}
	res, err := s.lessons.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, update)
	if err != nil {
		return Lesson{}, fmt.Errorf("lessons: update: %w", err)
	}
	if res.MatchedCount == 0 {
		return Lesson{}, errNotFound
	}
	l, err := s.ByID(ctx, id)
	if err == nil && s.memo != nil {
		s.memo.written(id, &l)
	}
	return l, err
}

func progressKey(uid, lid bson.ObjectID) string { return uid.Hex() + ":" + lid.Hex() }

// Complete records that userID completed lessonID; completing again
// changes nothing (the insert of the same _id fails as a duplicate).
func (s *MongoStore) Complete(ctx context.Context, userID, lessonID string, now time.Time) error {
	uid, err1 := bson.ObjectIDFromHex(userID)
	lid, err2 := bson.ObjectIDFromHex(lessonID)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("lessons: complete: %w", err)
	}
	_, err := s.progress.InsertOne(ctx, progressDoc{Key: progressKey(uid, lid), UserID: uid, LessonID: lid, CompletedAt: now})
	if err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("lessons: complete: %w", err)
	}
	return nil
}

// Completed returns which of lessonIDs userID completed: _id reads keyed
// "<user>:<lesson>" (concurrent on the embedded database, one $in on
// MongoDB), never a scan.
func (s *MongoStore) Completed(ctx context.Context, userID string, lessonIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	uid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		return out, nil
	}
	keys := make([]any, 0, len(lessonIDs))
	for _, id := range lessonIDs {
		if lid, err := bson.ObjectIDFromHex(id); err == nil {
			keys = append(keys, progressKey(uid, lid))
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	var docs []progressDoc
	if s.lookups == mongodb.InProcessIndexes {
		docs, err = mongodb.FindEachByID[progressDoc](ctx, s.progress, keys)
	} else {
		var cur *mongo.Cursor
		if cur, err = s.progress.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}); err == nil {
			err = cur.All(ctx, &docs)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lessons: progress: %w", err)
	}
	for _, d := range docs {
		_, lid, _ := strings.Cut(d.Key, ":")
		out[lid] = true
	}
	return out, nil
}
