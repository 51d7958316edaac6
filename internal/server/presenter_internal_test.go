package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
)

// Ensure the presenter tells the database's absence from the request's own
// deadline, and never shows driver text.
func TestPresentDatabaseErrors(t *testing.T) {
	driverErr := fmt.Errorf("courses: list: %w", topology.ServerSelectionError{Wrapped: fmt.Errorf("dial tcp 127.0.0.1:27017: connection refused")})
	live := context.Background()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	lost, lose := context.WithCancelCause(context.Background())
	lose(mongodb.ErrUnavailable)
	gone, leave := context.WithCancel(context.Background())
	leave()

	tests := []struct {
		name       string
		ctx        context.Context
		err        error
		code       apperr.Code
		retryAfter bool
	}{
		{"Unreachable", live, driverErr, apperr.ServiceUnavailable, true},
		{"DriverTimeout", live, fmt.Errorf("users: find: %w", context.DeadlineExceeded), apperr.ServiceUnavailable, true},
		{"LostWhileWaiting", lost, fmt.Errorf("users: find: %w", context.Canceled), apperr.ServiceUnavailable, true},
		{"RequestTimeoutIsNot", expired, driverErr, apperr.Internal, false},
		{"ClientGoneIsNot", gone, driverErr, apperr.Internal, false},
		{"OtherErrorIsNot", live, fmt.Errorf("boom"), apperr.Internal, false},
		{"Gate", live, errDatabaseUnavailable, apperr.ServiceUnavailable, true},
	}
	present := presentError(slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := present(tt.ctx, tt.err)
			if got := out.Extensions["code"]; got != string(tt.code) {
				t.Errorf("code = %v, want %s", got, tt.code)
			}
			if _, ok := out.Extensions["retryAfter"]; ok != tt.retryAfter {
				t.Errorf("retryAfter present = %v, want %v (%v)", ok, tt.retryAfter, out.Extensions)
			}
			for _, leak := range []string{"selection", "dial", "127.0.0.1", "deadline", "context", "courses:", "boom"} {
				if strings.Contains(strings.ToLower(out.Message), leak) {
					t.Errorf("message %q reveals %q", out.Message, leak)
				}
			}
		})
	}
}

// Ensure a request cut off by its own deadline, or abandoned by its client,
// is logged as what it is, below error level, and a timeout says so to the
// client; a real internal error stays at error level.
func TestPresentRequestEnded(t *testing.T) {
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	gone, leave := context.WithCancel(context.Background())
	leave()
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		level   slog.Level
		message string
	}{
		{"Timeout", expired, fmt.Errorf("users: find: %w", context.DeadlineExceeded), slog.LevelWarn, errRequestTimeout},
		{"ClientGone", gone, fmt.Errorf("users: find: %w", context.Canceled), slog.LevelInfo, "internal server error"},
		{"Internal", context.Background(), fmt.Errorf("boom"), slog.LevelError, "internal server error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logged levels
			out := presentError(slog.New(&logged), true)(tt.ctx, tt.err)
			if got := out.Extensions["code"]; got != string(apperr.Internal) {
				t.Errorf("code = %v, want %s", got, apperr.Internal)
			}
			if out.Message != tt.message {
				t.Errorf("message = %q, want %q", out.Message, tt.message)
			}
			if len(logged) != 1 || logged[0] != tt.level {
				t.Errorf("logged at %v, want once at %v", logged, tt.level)
			}
		})
	}
}

// levels is a slog.Handler that keeps the level of each record.
type levels []slog.Level

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	*l = append(*l, r.Level)
	return nil
}
func (l *levels) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levels) WithGroup(string) slog.Handler      { return l }
