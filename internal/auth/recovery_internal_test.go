package auth

import (
	"testing"
	"time"
)

func TestWords(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Minute, "30 minutes"},
		{time.Minute, "1 minute"},
		{time.Hour, "1 hour"},
		{24 * time.Hour, "24 hours"},
		{90 * time.Minute, "90 minutes"},
		{45 * time.Second, "45s"},
	} {
		if got := words(tt.d); got != tt.want {
			t.Errorf("words(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
