package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkMeUnderLoginFlood measures what a flood of logins (correct
// passwords, so every one runs bcrypt) does to the latency of an ordinary
// authenticated request. Flood goroutines keep logging in for the whole
// benchmark while b.N `me` requests run one after another; the benchmark
// reports their p50, p95 and p99 latencies beside the p99 of as many `me`
// requests before the flood (idle-p99-ms, and p99/idle), and the logins per
// second the flood got through. It compares the bcrypt bound at its default
// (one less than the CPU count, so one core stays free for everything else:
// 1 on the reference machine) with one per CPU and with no bound. Rate
// limits are off, as a distributed flood would not trip them.
//
//	go test ./cmd/server -run '^$' -bench MeUnderLoginFlood -benchtime 200x
func BenchmarkMeUnderLoginFlood(b *testing.B) {
	const flooders = 8
	for _, c := range []struct{ name, concurrency string }{
		{"bcrypt-concurrency=default", ""},
		{"bcrypt-concurrency=2", "2"},
		{"bcrypt-concurrency=0", "0"},
	} {
		b.Run(c.name, func(b *testing.B) { rlBenchMeUnderFlood(b, c.concurrency, flooders) })
	}
}

// rlBenchMeUnderFlood runs one configuration of BenchmarkMeUnderLoginFlood.
func rlBenchMeUnderFlood(b *testing.B, concurrency string, flooders int) {
	b.Helper()
	s := mustStartQuietServer(b, map[string]string{"BCRYPT_COST": "10", "BCRYPT_CONCURRENCY": concurrency})
	const email, password = "flood@example.com", "flood-password-1"
	tok := s.mustSignup(b, email, password, "Flood").AccessToken
	meClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer meClient.CloseIdleConnections()
	meBody := []byte(`{"query":"{ me { id name role } }"}`)
	timeMe := func() []time.Duration {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			benchPost(b, meClient, s.URL+"/graphql", tok, meBody)
			lat = append(lat, time.Since(t0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat
	}
	idleP99 := rlPercentileMs(timeMe(), 0.99)

	loginBody, err := json.Marshal(map[string]any{"query": rlLoginMutation, "variables": map[string]any{
		"in": map[string]any{"email": email, "password": password}}})
	if err != nil {
		b.Fatal(err)
	}
	floodClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flooders}}
	defer floodClient.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var logins, failures atomic.Int64
	for i := 0; i < flooders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ok := rlFloodLogin(ctx, floodClient, s.URL+"/graphql", loginBody)
				switch {
				case ok:
					logins.Add(1)
				case ctx.Err() == nil:
					failures.Add(1)
				}
			}
		}()
	}
	stop := func() { cancel(); wg.Wait() }
	defer stop()

	// Let the flood fill the bcrypt queue before measuring.
	deadline := time.Now().Add(30 * time.Second)
	for logins.Load() < int64(flooders) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if logins.Load() < int64(flooders) {
		b.Fatalf("the flood did not get going: %d logins, %d failures", logins.Load(), failures.Load())
	}

	loginsBefore := logins.Load()
	start := time.Now()
	b.ResetTimer()
	lat := timeMe()
	b.StopTimer()
	elapsed := time.Since(start)
	floodLogins := logins.Load() - loginsBefore
	stop()
	if n := failures.Load(); n > 0 {
		b.Errorf("%d flood logins failed", n)
	}

	for _, p := range []struct {
		q    float64
		unit string
	}{{0.50, "p50-ms"}, {0.95, "p95-ms"}, {0.99, "p99-ms"}} {
		b.ReportMetric(rlPercentileMs(lat, p.q), p.unit)
	}
	b.ReportMetric(idleP99, "idle-p99-ms")
	b.ReportMetric(rlPercentileMs(lat, 0.99)/idleP99, "p99/idle")
	b.ReportMetric(float64(floodLogins)/elapsed.Seconds(), "logins/s")
}

// rlFloodLogin sends one prepared login and reports whether it succeeded.
// It is called from flood goroutines, so it reports instead of failing.
func rlFloodLogin(ctx context.Context, client *http.Client, url string, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK && !bytes.Contains(out, []byte(`"errors"`))
}

// rlPercentileMs is the q-quantile (nearest rank) of sorted latencies, in
// milliseconds.
func rlPercentileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}
