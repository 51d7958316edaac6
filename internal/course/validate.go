package course

import (
	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/fieldcheck"
)

// Limits on course fields.
const (
	MaxTitleRunes       = 200
	MaxDescriptionRunes = 10000
	MaxImageLinkBytes   = 2048
	// MaxPrice is 10 million in currency units: far above any course, far
	// below anything that overflows a client's number type.
	MaxPrice = 1_000_000_000
)

func normalizeTitle(raw string) (string, error) {
	return fieldcheck.Line("title", raw, MaxTitleRunes)
}

func normalizeDescription(raw string) (string, error) {
	return fieldcheck.Text("description", raw, false, fieldcheck.TextLimit{Runes: MaxDescriptionRunes})
}

func checkPrice(p int) error {
	if p < 0 || p > MaxPrice {
		return apperr.Input("price", "price must be a whole number of cents from 0 to 1000000000")
	}
	return nil
}

// normalizeImageLink accepts an absolute http or https URL; an empty string
// clears the link (see fieldcheck.WebURL).
func normalizeImageLink(raw *string) (*string, error) {
	return fieldcheck.WebURL("imageLink", raw, MaxImageLinkBytes)
}
