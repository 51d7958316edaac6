package lesson

import "sync"

// memo is the embedded mode's in-process knowledge of lessons (the
// database lives inside the server, so every write passes through here):
// each lesson without its body, and the latest outline version this
// process claimed or read per course. It turns a course's lesson list into
// the outline reads alone once warm.
//
// Writes bump gen before and after they change a lesson; a read that
// fetched from the database stores what it read only if gen did not move
// meanwhile, so a read racing a write never puts back the older document.
type memo struct {
	mu       sync.Mutex
	gen      uint64
	lessons  map[string]Lesson
	versions map[string]int64
}

func newMemo() *memo {
	return &memo{lessons: map[string]Lesson{}, versions: map[string]int64{}}
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

// version returns the latest outline version known for courseID (0: none).
func (m *memo) version(courseID string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.versions[courseID]
}

// saw records that version v of courseID's outline exists.
func (m *memo) saw(courseID string, v int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v > m.versions[courseID] {
		m.versions[courseID] = v
	}
}
