package lesson

import (
	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/fieldcheck"
)

// Limits on lesson fields.
const (
	MaxTitleRunes   = 200
	MaxBodyBytes    = 100 * 1024
	MaxVideoURLLen  = 2048
	MaxDurationMins = 10000
)

func normalizeTitle(raw string) (string, error) {
	return fieldcheck.Line("title", raw, MaxTitleRunes)
}

func normalizeBody(raw string) (string, error) {
	return fieldcheck.Text("body", raw, true, fieldcheck.TextLimit{Bytes: MaxBodyBytes})
}

// normalizeVideoURL accepts an absolute http or https URL; an empty string
// is no link (nil).
func normalizeVideoURL(raw *string) (*string, error) {
	return fieldcheck.WebURL("videoUrl", raw, MaxVideoURLLen)
}

func checkDuration(d *int) error {
	if d != nil && (*d < 0 || *d > MaxDurationMins) {
		return apperr.Input("durationMinutes", "durationMinutes must be from 0 to 10000")
	}
	return nil
}
