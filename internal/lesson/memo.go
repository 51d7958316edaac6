package lesson

import (
	"slices"
	"sync"
)

// memo is the embedded mode's in-process knowledge of lessons (the
// database lives inside the server, so every write passes through here):
// each lesson without its body, and each course's latest outline (the
// latest this process claimed or read: as every claim is made here, it is
// the latest there is, except after a claim of unknown outcome, which
// forgets the course). A warm course's lesson list needs no database read.
//
// Writes bump gen before and after they change a lesson; a read that
// fetched from the database stores what it read only if gen did not move
// meanwhile, so a read racing a write never puts back the older document.
type memo struct {
	mu       sync.Mutex
	gen      uint64
	lessons  map[string]Lesson
	outlines map[string]outlineDoc
}

func newMemo() *memo {
	return &memo{lessons: map[string]Lesson{}, outlines: map[string]outlineDoc{}}
}

// get returns the known lessons among ids, the ids it does not know, and
// the generation to pass to putRead.
func (m *memo) get(ids []string) (known []Lesson, missing []string, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if l, ok := m.lessons[id]; ok {
			known = append(known, l)
		} else {
			missing = append(missing, id)
		}
	}
	return known, missing, m.gen
}

// putRead stores lessons read from the database at generation gen.
func (m *memo) putRead(gen uint64, ls []Lesson) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return
	}
	for _, l := range ls {
		m.lessons[l.ID] = withoutBody(l)
	}
}

// written records a write of id: the lesson as it now is, or (nil) that
// it is gone or unknown (a write of unknown outcome).
func (m *memo) written(id string, l *Lesson) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	if l == nil {
		delete(m.lessons, id)
		return
	}
	m.lessons[id] = withoutBody(*l)
}

func withoutBody(l Lesson) Lesson {
	l.Body, l.HasBody, l.Position = "", false, 0
	return l
}

// outline returns courseID's latest outline, if known.
func (m *memo) outline(courseID string) (outlineDoc, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.outlines[courseID]
	d.Lessons = slices.Clone(d.Lessons)
	return d, ok
}

// saw records that outline d of courseID exists; a newer one stays.
func (m *memo) saw(courseID string, d outlineDoc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.outlines[courseID]; ok && old.Version >= d.Version {
		return
	}
	d.Lessons = slices.Clone(d.Lessons)
	m.outlines[courseID] = d
}

// forget drops courseID's outline: the next reader reads it from the
// database.
func (m *memo) forget(courseID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.outlines, courseID)
}
