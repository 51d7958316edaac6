package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/events"
	"github.com/coursehub/coursehub/internal/feed"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// Load figures of the change feed (docs/performance.md, "Several
// instances"). Not part of go test ./... (benchmarks run only with -bench):
//
//	go test ./cmd/server -run '^$' -bench BenchmarkFeedThreeInstances -benchtime 1x
const (
	benchFeedSubscribers = 1000
	benchFeedRate        = 100 // events a second
	benchFeedFor         = 10 * time.Second
)

// BenchmarkFeedThreeInstances runs three servers on one FerretDB listener,
// with 1,000 coursePublished subscribers spread over them, and publishes 100
// courses a second for 10 s through the three in turn. It reports the
// events delivered a second (over all subscribers), the delay from the
// write's start to each delivery (p50, p99), duplicates (must be 0) and
// losses (deliveries missing 5 s after the last write).
//
// index=scan is FerretDB as the servers find it through MONGODB_URI: every
// read by _id scans the collection in SQLite. index=id adds the _id index
// the embedded mode creates (mongotest.Server.IndexIDs), so reads by _id are
// index lookups, as on MongoDB.
func BenchmarkFeedThreeInstances(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		for _, n := range []int{100, benchFeedSubscribers} {
			name := fmt.Sprintf("index=scan/subscribers=%d", n)
			if indexed {
				name = fmt.Sprintf("index=id/subscribers=%d", n)
			}
			b.Run(name, func(b *testing.B) { benchFeedInstances(b, n, indexed) })
		}
	}
}

func benchFeedInstances(b *testing.B, subscribers int, indexed bool) {
	db := mongotest.StartServer(b)
	env := outageEnv(db)
	env["CORS_ORIGINS"] = subOrigin
	servers := []*testServer{mustStartQuietServer(b, env), mustStartQuietServer(b, env), mustStartQuietServer(b, env)}
	admin := servers[0].mustAdminToken(b)
	if indexed {
		// The servers have set the database up: the collections exist.
		db.IndexIDs("coursehub", feed.Collection, "courses", "users", "sessions", "refresh_tokens")
	}

	type delivery struct {
		title string
		at    time.Time
	}
	var (
		mu        sync.Mutex
		received  = make([][]delivery, subscribers)
		writeTook []time.Duration
		sentAt    = map[string]time.Time{}
		connected sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	init, _ := json.Marshal(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	sub, _ := json.Marshal(wsMessage{ID: "1", Type: "subscribe", Payload: json.RawMessage(`{"query":"subscription { coursePublished { title } }"}`)})
	titleKey := []byte(`"title":"`)
	for i := range subscribers {
		connected.Add(1)
		go func() {
			s := servers[i%len(servers)]
			ws, err := dialBareWebsocket(s.URL, subOrigin)
			if err == nil {
				defer ws.conn.Close()
				context.AfterFunc(ctx, func() { ws.conn.Close() })
				err = ws.write(init)
			}
			if err == nil {
				_, err = ws.read() // the ack
			}
			if err == nil {
				err = ws.write(sub)
			}
			connected.Done()
			if err != nil {
				b.Errorf("subscriber %d: %v", i, err)
				return
			}
			for {
				msg, err := ws.read()
				if err != nil {
					return
				}
				at := time.Now()
				// Only the title is needed: a cheap scan, not a decode, so
				// that the 1,000 clients cost the machine little.
				j := bytes.Index(msg, titleKey)
				if j < 0 {
					continue
				}
				rest := msg[j+len(titleKey):]
				title := string(rest[:bytes.IndexByte(rest, '"')])
				mu.Lock()
				received[i] = append(received[i], delivery{title, at})
				mu.Unlock()
			}
		}()
	}
	connected.Wait()
	time.Sleep(time.Second) // every subscription running

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	create := func(s *testServer, title string) {
		body, _ := json.Marshal(map[string]any{"query": wsCreateCourse, "variables": map[string]any{
			"in": map[string]any{"title": title, "description": "load", "price": 100, "published": true}}})
		start := time.Now()
		benchPost(b, client, s.URL+"/graphql", admin, body)
		mu.Lock()
		writeTook = append(writeTook, time.Since(start))
		mu.Unlock()
	}
	b.ResetTimer()
	var titles []string
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / benchFeedRate)
	start := time.Now()
	for n := 0; time.Since(start) < benchFeedFor; n++ {
		<-tick.C
		title := fmt.Sprintf("Load %d", n)
		titles = append(titles, title)
		mu.Lock()
		sentAt[title] = time.Now()
		mu.Unlock()
		wg.Add(1)
		go func() { defer wg.Done(); create(servers[n%len(servers)], title) }()
	}
	tick.Stop()
	wg.Wait()
	writesDone := time.Since(start)
	// Everything in flight arrives, or counts as lost.
	want := len(titles) * subscribers
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := 0
		for _, r := range received {
			got += len(r)
		}
		mu.Unlock()
		if got >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	var delays []time.Duration
	dups, got := 0, 0
	var last time.Time
	// first is each event's earliest delivery on each instance: the delay
	// the feed adds (write, publish, poll), before the fan-out to that
	// instance's sockets.
	first := make([]map[string]time.Duration, len(servers))
	for i := range first {
		first[i] = map[string]time.Duration{}
	}
	for i, r := range received {
		seen := map[string]bool{}
		for _, d := range r {
			sent, ok := sentAt[d.title]
			if !ok {
				continue // a warm-up or foreign event
			}
			if seen[d.title] {
				dups++
				continue
			}
			seen[d.title] = true
			got++
			delays = append(delays, d.at.Sub(sent))
			if f, ok := first[i%len(servers)][d.title]; !ok || d.at.Sub(sent) < f {
				first[i%len(servers)][d.title] = d.at.Sub(sent)
			}
			if d.at.After(last) {
				last = d.at
			}
		}
	}
	slices.Sort(delays)
	slices.Sort(writeTook)
	var firsts []time.Duration
	for _, m := range first {
		for _, d := range m {
			firsts = append(firsts, d)
		}
	}
	slices.Sort(firsts)
	at := func(ds []time.Duration, p float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[min(len(ds)-1, int(float64(len(ds))*p))]
	}
	pct := func(p float64) time.Duration { return at(delays, p) }
	span := last.Sub(start)
	b.ReportMetric(float64(len(titles))/writesDone.Seconds(), "writes/s")
	b.ReportMetric(float64(got)/span.Seconds(), "deliveries/s")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(pct(1).Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(at(writeTook, 0.99).Microseconds())/1000, "write-p99-ms")
	b.ReportMetric(float64(at(firsts, 0.99).Microseconds())/1000, "first-p99-ms")
	b.ReportMetric(float64(dups), "duplicates")
	b.ReportMetric(float64(want-got), "lost")
	b.Logf("%d writes in %v through 3 instances (answered in p50 %v, p99 %v), %d subscribers: %d of %d deliveries, %d duplicates, delay from the write's start p50 %v, p99 %v, max %v; an event's first delivery on an instance p50 %v, p99 %v",
		len(titles), writesDone.Round(time.Millisecond), at(writeTook, 0.5), at(writeTook, 0.99), subscribers, got, want, dups, pct(0.5), pct(0.99), pct(1), at(firsts, 0.5), at(firsts, 0.99))
	for i, s := range servers {
		// Every loss must come with a warning (a flush that says so).
		for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
			if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
				b.Logf("server %d: %s", i, line)
			}
		}
	}
	if dups > 0 {
		b.Errorf("%d duplicate deliveries", dups)
	}
}

// BenchmarkFeedIdle measures what one idle instance's feed sends the
// database, with the driver's command monitoring, and the CPU the database
// and the poller spend meanwhile:
//
//	go test ./cmd/server -run '^$' -bench BenchmarkFeedIdle -benchtime 1x
func BenchmarkFeedIdle(b *testing.B) {
	db := mongotest.StartServer(b)
	var cmds atomic.Int64
	mon := &event.CommandMonitor{Started: func(context.Context, *event.CommandStartedEvent) { cmds.Add(1) }}
	client, err := mongo.Connect(options.Client().ApplyURI(db.URI()).SetMonitor(mon))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	f := feed.New(client.Database("idle"), events.NewBus(), nil, feed.Config{}, benchQuietLogger())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	// A full collection: what an idle poll costs does not grow with it.
	for range feed.DefaultMaxEvents {
		f.CourseChanged(ctx, courseForBench())
	}
	go f.Run(ctx)
	for f.Position() < feed.DefaultMaxEvents {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(feed.DefaultHotFor + 2*time.Second) // idle again
	const window = 10 * time.Second
	b.ResetTimer()
	before, cpu := cmds.Load(), processCPU()
	time.Sleep(window)
	n, used := cmds.Load()-before, processCPU()-cpu
	b.StopTimer()
	b.ReportMetric(float64(n)/window.Seconds(), "queries/s")
	b.ReportMetric(100*used.Seconds()/window.Seconds(), "cpu-%")
	b.Logf("idle for %v with %d events stored: %d commands (%.2f/s); process CPU (server and poller) %v (%.2f%% of a core)",
		window, feed.DefaultMaxEvents, n, float64(n)/window.Seconds(), used, 100*used.Seconds()/window.Seconds())
}

// bareWebsocket is a graphql-transport-ws client cut to what the load
// benchmark needs: the handshake by hand, then frames read straight off the
// connection into one buffer. A subscriber of coder/websocket costs two
// goroutine hand-offs and an allocation per message (its read deadline
// loop); at 100,000 messages a second that was a quarter of the machine
// the servers share with the clients, work that clients on their own
// machines would not take from a server. The behaviour tests use the real
// client libraries.
type bareWebsocket struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func dialBareWebsocket(serverURL, origin string) (*bareWebsocket, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(conn, "GET /graphql HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\nOrigin: %s\r\n\r\n",
		u.Host, base64.StdEncoding.EncodeToString(key[:]), origin)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	return &bareWebsocket{conn: conn, r: r}, nil
}

// write sends p as one masked text frame (a client must mask).
func (w *bareWebsocket) write(p []byte) error {
	frame := []byte{0x81}
	switch n := len(p); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n < 1<<16:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	default:
		return fmt.Errorf("a %d-byte message", n)
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	frame = append(frame, mask[:]...)
	for i, c := range p {
		frame = append(frame, c^mask[i%4])
	}
	_, err := w.conn.Write(frame)
	return err
}

// read returns the next text message, valid until the next read.
func (w *bareWebsocket) read() ([]byte, error) {
	w.buf = w.buf[:0]
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return nil, err
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(w.r, l[:]); err != nil {
				return nil, err
			}
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(w.r, l[:]); err != nil {
				return nil, err
			}
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		start := len(w.buf)
		w.buf = slices.Grow(w.buf, n)[:start+n]
		if _, err := io.ReadFull(w.r, w.buf[start:]); err != nil {
			return nil, err
		}
		switch op := h[0] & 0x0f; {
		case op == 8:
			return nil, io.EOF // a close frame
		case op >= 8: // a ping or pong frame: not part of a message
			w.buf = w.buf[:start]
		case h[0]&0x80 != 0: // the message's last frame
			return w.buf, nil
		}
	}
}

func benchQuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func courseForBench() course.Course { return course.Course{ID: "bench", Title: "Bench"} }

// processCPU is the CPU time this process has used (the embedded database
// runs in it).
func processCPU() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
