// Package lesson owns a course's lessons (their order within the course)
// and each user's progress through them.
package lesson

import "time"

// Lesson is one lesson of a course.
type Lesson struct {
	ID       string
	CourseID string
	Title    string
	// Position is 1-based, dense and unique within the course.
	Position        int
	DurationMinutes *int
	// Preview lessons are open to everyone.
	Preview bool
	// Body is set when HasBody: lists leave it out (Service.Bodies).
	Body      string
	HasBody   bool
	VideoURL  *string
	UpdatedAt time.Time
}

// Guarded makes a lesson a subject of the @auth(anyOf:) grants: its course,
// and whether it is a preview.
func (l *Lesson) Guarded() (courseID string, preview bool) { return l.CourseID, l.Preview }

// Input is a new lesson.
type Input struct {
	Title           string
	Body            string
	VideoURL        *string
	DurationMinutes *int
	Preview         *bool
}

// UpdateInput changes the fields that are set; an empty VideoURL removes
// the link.
type UpdateInput struct {
	Title           *string
	Body            *string
	VideoURL        *string
	DurationMinutes *int
	Preview         *bool
}

// Progress is one user's progress through one course.
type Progress struct {
	CompletedLessons int
	TotalLessons     int
}
