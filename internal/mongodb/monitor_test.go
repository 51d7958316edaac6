package mongodb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/address"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// A step feeds the monitor one signal.
type step func(m *Monitor)

func heartbeatOK(addr string) step {
	return func(m *Monitor) {
		m.heartbeatSucceeded(&event.ServerHeartbeatSucceededEvent{Reply: event.ServerDescription{Addr: address.Address(addr)}})
	}
}

func heartbeatFailed() step {
	return func(m *Monitor) {
		m.heartbeatFailed(&event.ServerHeartbeatFailedEvent{Failure: errors.New("connection refused")})
	}
}

func pool(typ, addr string) step {
	return func(m *Monitor) { m.poolEvent(&event.PoolEvent{Type: typ, Address: addr}) }
}

func pinged(err error) step { return func(m *Monitor) { m.pinged(err) } }

// Ensure the monitor's verdict follows the driver's signals.
func TestMonitorVerdict(t *testing.T) {
	const a, b = "db-a:27017", "db-b:27017"
	tests := []struct {
		name    string
		steps   []step
		decided bool
		up      bool
	}{
		{"Undecided", nil, false, false},
		// The driver marks a new pool ready before any heartbeat.
		{"ReadyPoolProvesNothing", []step{pool(event.ConnectionPoolReady, a)}, false, false},
		{"ErrFirstHeartbeatFailed", []step{pool(event.ConnectionPoolReady, a), heartbeatFailed()}, true, false},
		{"OKHeartbeat", []step{heartbeatOK(a)}, true, true},
		{"ErrPoolCleared", []step{heartbeatOK(a), pool(event.ConnectionPoolCleared, a)}, true, false},
		{"ErrPoolClosed", []step{heartbeatOK(a), pool(event.ConnectionPoolClosed, a)}, true, false},
		{"OKBackAfterClear", []step{heartbeatOK(a), pool(event.ConnectionPoolCleared, a), heartbeatOK(a)}, true, true},
		{"OKOneOfTwoLost", []step{heartbeatOK(a), heartbeatOK(b), pool(event.ConnectionPoolCleared, b)}, true, true},
		{"ErrBothLost", []step{heartbeatOK(a), heartbeatOK(b), pool(event.ConnectionPoolCleared, b), pool(event.ConnectionPoolCleared, a)}, true, false},
		{"OKLaterHeartbeatFailureAlone", []step{heartbeatOK(a), heartbeatFailed()}, true, true},
		{"OKProbePinged", []step{heartbeatFailed(), pinged(nil)}, true, true},
		{"ErrProbeFailed", []step{heartbeatFailed(), pinged(errors.New("no"))}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMonitor(slog.New(slog.NewTextHandler(io.Discard, nil)))
			for _, s := range tt.steps {
				s(m)
			}
			decided, up, _ := m.state()
			if decided != tt.decided || up != tt.up || m.Up() != tt.up {
				t.Errorf("decided, up = %v, %v; want %v, %v", decided, up, tt.decided, tt.up)
			}
			if _, down := m.DownSince(); down == tt.up {
				t.Errorf("DownSince says down = %v with up = %v", down, tt.up)
			}
			upCtx := m.UpContext()
			if (upCtx.Err() == nil) != tt.up {
				t.Errorf("UpContext().Err() = %v with up = %v", upCtx.Err(), tt.up)
			}
			if !tt.up && !errors.Is(context.Cause(upCtx), ErrUnavailable) {
				t.Errorf("UpContext cause = %v, want ErrUnavailable", context.Cause(upCtx))
			}
		})
	}
}

// Ensure UpContext, taken while up, ends the moment the database is lost,
// and the waiters wake on the verdicts they wait for.
func TestMonitorWakesWaiters(t *testing.T) {
	m := NewMonitor(slog.New(slog.NewTextHandler(io.Discard, nil)))
	decided := make(chan bool, 1)
	go func() { decided <- m.WaitDecided(context.Background()) }()
	upErr := make(chan error, 1)
	go func() { upErr <- m.WaitUp(context.Background()) }()

	heartbeatOK("db:27017")(m)
	if up := <-decided; !up {
		t.Error("WaitDecided = false after a successful heartbeat")
	}
	if err := <-upErr; err != nil {
		t.Errorf("WaitUp = %v", err)
	}
	upCtx := m.UpContext()
	if upCtx.Err() != nil {
		t.Fatalf("UpContext ended while up: %v", upCtx.Err())
	}
	pool(event.ConnectionPoolCleared, "db:27017")(m)
	<-upCtx.Done()
	if !errors.Is(context.Cause(upCtx), ErrUnavailable) {
		t.Errorf("cause = %v, want ErrUnavailable", context.Cause(upCtx))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.WaitUp(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitUp while down with a canceled ctx = %v", err)
	}
}

// Ensure IsUnavailable tells an unreachable database from other errors.
func TestIsUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"Nil", nil, false},
		{"OtherError", errors.New("boom"), false},
		{"DuplicateKey", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000}}}, false},
		{"CommandRefused", mongo.CommandError{Code: 2, Message: "BadValue"}, false},
		{"ServerSelection", topology.ServerSelectionError{Wrapped: errors.New("no server")}, true},
		{"WrappedServerSelection", fmt.Errorf("users: find: %w", topology.ServerSelectionError{}), true},
		{"NetworkError", mongo.CommandError{Labels: []string{"NetworkError"}}, true},
		{"Timeout", fmt.Errorf("courses: list: %w", context.DeadlineExceeded), true},
		{"ClientDisconnected", mongo.ErrClientDisconnected, true},
		{"Canceled", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsUnavailable(tt.err); got != tt.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
