package mongodb

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Probing while the database is down. The driver checks a server it lost
// only every heartbeat (10 s) unless an operation asks for it, and the gate
// lets no operation through while the database is down, so the monitor asks
// itself: every probeEvery, with pings that give up after probeTimeout.
// The driver rate-limits those checks to one per 500 ms, so recovery is
// noticed within about 750 ms.
const (
	probeEvery   = 250 * time.Millisecond
	probeTimeout = 500 * time.Millisecond
)

// Monitor knows whether the database is reachable, and since when not. Its
// signals are the driver's own: a heartbeat that reached a server makes it
// up; a cleared connection pool (after a failed heartbeat, or an operation
// that lost its connection) makes it down. While the database is down it
// also pings it (see probeEvery); while it is up it adds no load of its own.
type Monitor struct {
	logger *slog.Logger
	now    func() time.Time

	mu sync.Mutex
	// reached holds the servers whose last heartbeat succeeded and whose
	// pool was not cleared since: the database is up when at least one is
	// (a lost secondary does not make it unavailable).
	reached map[string]bool
	// decided is set by the first verdict: a heartbeat or a ping that
	// succeeded, or a heartbeat that failed.
	decided bool
	up      bool
	since   time.Time
	// changed is closed, and replaced, on every change of verdict.
	changed chan struct{}
	// lastCause is the driver error that made the database down, for logs.
	lastCause error
	// closing silences the monitor while the client disconnects.
	closing bool
	// upCtx is canceled, with cause ErrUnavailable, when the database goes
	// down; a fresh one is made when it comes back.
	upCtx    context.Context
	upCancel context.CancelCauseFunc
}

// ErrUnavailable is the cause of UpContext's cancellation.
var ErrUnavailable = errors.New("mongodb: the database became unreachable")

// NewMonitor returns a Monitor that believes the database down until the
// driver says otherwise.
func NewMonitor(logger *slog.Logger) *Monitor {
	m := &Monitor{
		logger: logger, now: time.Now,
		reached: map[string]bool{}, since: time.Now(), changed: make(chan struct{}),
	}
	m.upCtx, m.upCancel = context.WithCancelCause(context.Background())
	m.upCancel(ErrUnavailable)
	return m
}

// ClientOptions installs the monitor's listeners on opts.
func (m *Monitor) ClientOptions(opts *options.ClientOptions) {
	opts.SetPoolMonitor(&event.PoolMonitor{Event: m.poolEvent})
	opts.SetServerMonitor(&event.ServerMonitor{
		ServerHeartbeatSucceeded: m.heartbeatSucceeded,
		ServerHeartbeatFailed:    m.heartbeatFailed,
	})
}

// The driver marks a new pool ready before any heartbeat (to start faster),
// so a ready pool proves nothing; a cleared or closed one does.
func (m *Monitor) poolEvent(e *event.PoolEvent) {
	switch e.Type {
	case event.ConnectionPoolCleared, event.ConnectionPoolClosed:
		m.set(e.Address, false, e.Error)
	}
}

func (m *Monitor) heartbeatSucceeded(e *event.ServerHeartbeatSucceededEvent) {
	m.set(e.Reply.Addr.String(), true, nil)
}

// heartbeatFailed decides the first verdict; later on, the pool clear that
// follows a failed heartbeat is the signal.
func (m *Monitor) heartbeatFailed(e *event.ServerHeartbeatFailedEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Failure != nil {
		m.lastCause = e.Failure
	}
	if !m.decided {
		m.updateLocked(false)
	}
}

// set records whether addr was reached and updates the verdict.
func (m *Monitor) set(addr string, ready bool, cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ready {
		m.reached[addr] = true
	} else {
		delete(m.reached, addr)
	}
	if cause != nil {
		m.lastCause = cause
	}
	m.updateLocked(len(m.reached) > 0)
}

// pinged records the outcome of a probe: a ping that went through proves
// the database up whatever the pool events said.
func (m *Monitor) pinged(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.updateLocked(true)
	}
}

func (m *Monitor) updateLocked(up bool) {
	if m.closing || (m.decided && up == m.up) {
		return
	}
	first := !m.decided
	wasUp := m.up
	m.decided, m.up = true, up
	now := m.now()
	switch {
	case up && !first:
		m.logger.Info("database reachable again", "unavailable_for", now.Sub(m.since).Round(time.Millisecond).String())
	case !up && (first || wasUp):
		m.logger.Warn("database unreachable; serving SERVICE_UNAVAILABLE until it answers", "err", m.lastCause)
	}
	m.since = now
	if up {
		m.upCtx, m.upCancel = context.WithCancelCause(context.Background())
	} else {
		m.upCancel(ErrUnavailable)
	}
	m.notifyLocked()
}

func (m *Monitor) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// close marks the database down without a word: the client is going away.
func (m *Monitor) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closing, m.up = true, false
	m.upCancel(ErrUnavailable)
	m.notifyLocked()
}

// Up reports whether the database is believed reachable.
func (m *Monitor) Up() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up
}

// UpContext returns a context that is canceled, with cause ErrUnavailable,
// as soon as the database is found unreachable (at once if it is now), so
// that calls in flight give up instead of waiting for their timeout.
func (m *Monitor) UpContext() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.upCtx
}

// DownSince returns when the database became unreachable, and false while
// it is reachable.
func (m *Monitor) DownSince() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.since, !m.up
}

// state returns the verdict and a channel closed at its next change.
func (m *Monitor) state() (decided, up bool, changed <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.decided, m.up, m.changed
}

// WaitUp waits until the database is reachable or ctx ends.
func (m *Monitor) WaitUp(ctx context.Context) error {
	for {
		_, up, changed := m.state()
		if up {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// WaitDecided waits for the first verdict (up, or a failed heartbeat) or
// ctx's end, and reports whether the database is up.
func (m *Monitor) WaitDecided(ctx context.Context) bool {
	for {
		decided, up, changed := m.state()
		if decided {
			return up
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// probe pings the database while it is down, until ctx ends.
func (m *Monitor) probe(ctx context.Context, ping func(context.Context) error) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		_, up, changed := m.state()
		if up {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				continue
			}
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		m.pinged(ping(pctx))
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// IsUnavailable reports whether err means the database could not be reached
// or did not answer in time: no server to select, a lost or refused
// connection, a cleared pool, a client-side timeout. The caller must tell a
// deadline of its own (the request's) from these: context.DeadlineExceeded
// counts here whoever set it.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) {
		return true
	}
	var pool driver.RetryablePoolError
	if errors.As(err, &pool) && pool.Retryable() {
		return true
	}
	return mongo.IsNetworkError(err) || mongo.IsTimeout(err) ||
		errors.Is(err, mongo.ErrClientDisconnected)
}
