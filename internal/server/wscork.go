package server

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// Coalescing a socket's writes. The WebSocket library flushes every frame
// with its own write system call, and a subscription fan-out is many small
// frames: at 100 events a second to 1,000 sockets, the write calls alone
// were a quarter of the server's CPU (docs/performance.md). corkedConn
// holds a socket's bytes for at most corkDelay and sends what gathered in
// one call, so that frames queued back to back (a burst of events, a
// subscriber catching up) cost one call. An idle socket's lone frame waits
// corkDelay at most.
const (
	corkDelay = 2 * time.Millisecond
	// corkLimit bounds what a socket holds: past it a write is sent at once
	// and blocks as it would unbuffered, so that a slow client pushes back
	// on its writer instead of growing the buffer.
	corkLimit = 64 << 10
)

// corkedConn is a net.Conn whose writes are gathered for corkDelay. A write
// error is reported by the next Write or Close.
type corkedConn struct {
	net.Conn

	mu      sync.Mutex
	buf     []byte
	pending bool  // a flush is scheduled
	err     error // the first write error
}

func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= corkLimit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if !c.pending {
		c.pending = true
		time.AfterFunc(corkDelay, c.flush)
	}
	return len(p), nil
}

func (c *corkedConn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = false
	_ = c.flushLocked()
}

func (c *corkedConn) flushLocked() error {
	if len(c.buf) == 0 || c.err != nil {
		return c.err
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	if cap(c.buf) > corkLimit*2 {
		c.buf = nil
	}
	if err != nil {
		c.err = err
	}
	return err
}

// Close sends what is held (a close frame, say) before it closes.
func (c *corkedConn) Close() error {
	c.mu.Lock()
	err := c.flushLocked()
	c.mu.Unlock()
	if cerr := c.Conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// corkingWriter hands the WebSocket library a corkedConn when it hijacks
// the connection.
type corkingWriter struct {
	http.ResponseWriter
}

func (w corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The library writes through the returned writer, not the conn: give
	// it one over the corked conn (after anything already buffered).
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	cc := &corkedConn{Conn: conn}
	return cc, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(cc)), nil
}
