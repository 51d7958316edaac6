package lesson

import (
	"context"
	"time"
)

// Store persists lessons, their order and progress (MongoStore).
type Store interface {
	Outline(ctx context.Context, courseID string) (Outline, error)
	Add(ctx context.Context, l Lesson, now time.Time) (Lesson, error)
	Move(ctx context.Context, courseID, lessonID string, position int) (Outline, error)
	Remove(ctx context.Context, courseID, lessonID string) error
	ByID(ctx context.Context, id string) (Lesson, error)
	ByIDs(ctx context.Context, ids []string) ([]Lesson, error)
	Bodies(ctx context.Context, ids []string) (map[string]string, error)
	Update(ctx context.Context, id string, in UpdateInput, now time.Time) (Lesson, error)
	Complete(ctx context.Context, userID, lessonID string, now time.Time) error
	Completed(ctx context.Context, userID string, lessonIDs []string) (map[string]bool, error)
}

// Service applies the lesson rules. Who may call what (the course's
// instructor or an admin edits, buyers complete) is declared in the schema
// with @auth and checked before any method here runs.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now}
}

func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Add appends a lesson to courseID. Errors: BAD_USER_INPUT (title, body,
// videoUrl, durationMinutes), CONFLICT.
func (s *Service) Add(ctx context.Context, courseID string, in Input) (Lesson, error) {
	title, err := normalizeTitle(in.Title)
	if err != nil {
		return Lesson{}, err
	}
	body, err := normalizeBody(in.Body)
	if err != nil {
		return Lesson{}, err
	}
	video, err := normalizeVideoURL(in.VideoURL)
	if err != nil {
		return Lesson{}, err
	}
	if err := checkDuration(in.DurationMinutes); err != nil {
		return Lesson{}, err
	}
	return s.store.Add(ctx, Lesson{
		CourseID: courseID, Title: title, Body: body, VideoURL: video,
		DurationMinutes: in.DurationMinutes, Preview: in.Preview != nil && *in.Preview,
	}, s.stamp())
}

// Get returns a lesson with its position. A lesson its course's outline
// does not name (removed, or an add that failed) is NOT_FOUND.
// Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND.
func (s *Service) Get(ctx context.Context, id string) (Lesson, error) {
	l, err := s.store.ByID(ctx, id)
	if err != nil {
		return Lesson{}, err
	}
	o, err := s.store.Outline(ctx, l.CourseID)
	if err != nil {
		return Lesson{}, err
	}
	if l.Position = o.Position(l.ID); l.Position == 0 {
		return Lesson{}, errNotFound
	}
	return l, nil
}

// Update changes the fields set in in.
// Errors: BAD_USER_INPUT (title, body, videoUrl, durationMinutes), NOT_FOUND.
func (s *Service) Update(ctx context.Context, id string, in UpdateInput) (Lesson, error) {
	if in.Title != nil {
		t, err := normalizeTitle(*in.Title)
		if err != nil {
			return Lesson{}, err
		}
		in.Title = &t
	}
	if in.Body != nil {
		b, err := normalizeBody(*in.Body)
		if err != nil {
			return Lesson{}, err
		}
		in.Body = &b
	}
	if in.VideoURL != nil {
		v, err := normalizeVideoURL(in.VideoURL)
		if err != nil {
			return Lesson{}, err
		}
		empty := ""
		if v == nil {
			v = &empty // removes the link
		}
		in.VideoURL = v
	}
	if err := checkDuration(in.DurationMinutes); err != nil {
		return Lesson{}, err
	}
	if _, err := s.Get(ctx, id); err != nil {
		return Lesson{}, err
	}
	if _, err := s.store.Update(ctx, id, in, s.stamp()); err != nil {
		return Lesson{}, err
	}
	return s.Get(ctx, id)
}

// Remove takes a lesson out of its course; later lessons move up.
// Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND, CONFLICT.
func (s *Service) Remove(ctx context.Context, id string) error {
	l, err := s.store.ByID(ctx, id)
	if err != nil {
		return err
	}
	return s.store.Remove(ctx, l.CourseID, id)
}

// Move puts a lesson at position; the ones between shift by one.
// Errors: BAD_USER_INPUT (id, position), NOT_FOUND, CONFLICT.
func (s *Service) Move(ctx context.Context, id string, position int) (Lesson, error) {
	l, err := s.store.ByID(ctx, id)
	if err != nil {
		return Lesson{}, err
	}
	o, err := s.store.Move(ctx, l.CourseID, id, position)
	if err != nil {
		return Lesson{}, err
	}
	l.Position = o.Position(id)
	return l, nil
}

// Complete marks a lesson completed for userID; again is a no-op.
// Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND.
func (s *Service) Complete(ctx context.Context, userID, id string) (Lesson, error) {
	l, err := s.Get(ctx, id)
	if err != nil {
		return Lesson{}, err
	}
	if err := s.store.Complete(ctx, userID, id, s.stamp()); err != nil {
		return Lesson{}, err
	}
	return l, nil
}

// CourseID returns the course of a lesson its course's outline names.
// Errors: BAD_USER_INPUT (id: malformed), NOT_FOUND.
func (s *Service) CourseID(ctx context.Context, id string) (string, error) {
	l, err := s.Get(ctx, id)
	return l.CourseID, err
}

// OfCourse returns a course's lessons in order, without their bodies.
// Errors: BAD_USER_INPUT (courseId: malformed).
func (s *Service) OfCourse(ctx context.Context, courseID string) ([]Lesson, error) {
	for attempt := 0; ; attempt++ {
		o, err := s.store.Outline(ctx, courseID)
		if err != nil {
			return nil, err
		}
		ls, err := s.store.ByIDs(ctx, o.LessonIDs)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]Lesson, len(ls))
		for _, l := range ls {
			byID[l.ID] = l
		}
		out := make([]Lesson, 0, len(o.LessonIDs))
		for _, id := range o.LessonIDs {
			l, ok := byID[id]
			if !ok {
				continue
			}
			l.Position = len(out) + 1
			out = append(out, l)
		}
		// A lesson missing from its outline was removed after the outline
		// was read: read the newer one once. Should it miss again, the
		// rest is still in order and densely numbered.
		if len(out) == len(o.LessonIDs) || attempt == 1 {
			return out, nil
		}
	}
}

// Bodies returns the bodies of lessons by id (OfCourse leaves them out).
func (s *Service) Bodies(ctx context.Context, ids []string) (map[string]string, error) {
	return s.store.Bodies(ctx, ids)
}

// Completed returns which of lessonIDs userID completed.
func (s *Service) Completed(ctx context.Context, userID string, lessonIDs []string) (map[string]bool, error) {
	return s.store.Completed(ctx, userID, lessonIDs)
}

// Progress counts userID's completed lessons among the course's current ones.
func (s *Service) Progress(ctx context.Context, userID, courseID string) (Progress, error) {
	o, err := s.store.Outline(ctx, courseID)
	if err != nil {
		return Progress{}, err
	}
	done, err := s.store.Completed(ctx, userID, o.LessonIDs)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{TotalLessons: len(o.LessonIDs)}
	for _, id := range o.LessonIDs {
		if done[id] {
			p.CompletedLessons++
		}
	}
	return p, nil
}
