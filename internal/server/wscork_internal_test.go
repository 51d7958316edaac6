package server

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// recordingConn is a net.Conn that records each write call.
type recordingConn struct {
	net.Conn // nil: only Write and Close are used
	mu       sync.Mutex
	writes   [][]byte
	closed   bool
	fail     error
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recordingConn) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func (r *recordingConn) calls() (int, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes), bytes.Join(r.writes, nil)
}

// Ensure frames written back to back go out in one call, in order, within
// the delay; a lone frame goes out too; Close sends what is held first; a
// write past the limit goes out at once; a failed write is reported by the
// next one.
func TestCorkedConn(t *testing.T) {
	t.Run("OKBurstIsOneCall", func(t *testing.T) {
		rc := &recordingConn{}
		c := &corkedConn{Conn: rc}
		var want []byte
		for i := range 50 {
			frame := []byte{byte(i), 'x'}
			want = append(want, frame...)
			if _, err := c.Write(frame); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * corkDelay)
		n, got := rc.calls()
		if n != 1 || !bytes.Equal(got, want) {
			t.Fatalf("%d write calls with %q, want 1 with %q", n, got, want)
		}
		if _, err := c.Write([]byte("lone")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * corkDelay)
		if n, got := rc.calls(); n != 2 || !bytes.HasSuffix(got, []byte("lone")) {
			t.Fatalf("after a lone frame: %d calls ending %q", n, got)
		}
	})

	t.Run("OKCloseSendsHeld", func(t *testing.T) {
		rc := &recordingConn{}
		c := &corkedConn{Conn: rc}
		if _, err := c.Write([]byte("close frame")); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if n, got := rc.calls(); n != 1 || string(got) != "close frame" || !rc.closed {
			t.Fatalf("Close: %d calls with %q, closed %v; want the frame sent, then closed", n, got, rc.closed)
		}
	})

	t.Run("OKPastLimitAtOnce", func(t *testing.T) {
		rc := &recordingConn{}
		c := &corkedConn{Conn: rc}
		big := bytes.Repeat([]byte("b"), corkLimit)
		if _, err := c.Write(big); err != nil {
			t.Fatal(err)
		}
		if n, got := rc.calls(); n != 1 || len(got) != corkLimit {
			t.Fatalf("a write of the limit: %d calls, %d bytes; want it sent before Write returned", n, len(got))
		}
	})

	t.Run("ErrReportedByNextWrite", func(t *testing.T) {
		broken := errors.New("connection reset")
		rc := &recordingConn{fail: broken}
		c := &corkedConn{Conn: rc}
		if _, err := c.Write([]byte("a")); err != nil {
			t.Fatalf("first write: %v (the failure is only known at the flush)", err)
		}
		time.Sleep(10 * corkDelay)
		if _, err := c.Write([]byte("b")); !errors.Is(err, broken) {
			t.Fatalf("write after a failed flush = %v, want %v", err, broken)
		}
	})
}
