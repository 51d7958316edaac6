package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// The public catalogue through the real program over loopback HTTP, one
// client at a time, so that ns/op is a request's latency; p50-ms is the
// median of the measured requests. With 100 and 1,000 courses, to see how
// the time grows with the catalogue:
//
//	go test ./cmd/server -run '^$' -bench 'Catalog' -benchtime 200x -benchmem

// benchCatalogList is the benchmark harness's W2 request.
const benchCatalogList = `{"operationName":"Courses","query":"query Courses($first: Int) { courses(first: $first) { edges { cursor node { id title price } } pageInfo { hasNextPage endCursor } } }","variables":{"first":20}}`

// benchCatalogServer starts a quiet server with n published courses and
// returns it with their ids.
func benchCatalogServer(b *testing.B, n int) (*testServer, []string) {
	b.Helper()
	s := mustStartQuietServer(b, nil)
	admin := s.mustAdminToken(b)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.mustCreateCourse(b, admin, fmt.Sprintf("Course %d", i), 100*i, true).ID
	}
	return s, ids
}

// benchSequential runs body b.N times from one client and reports the
// median latency.
func benchSequential(b *testing.B, s *testServer, body func(i int) []byte) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	benchPost(b, client, s.URL+"/graphql", "", body(0)) // warm up
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		benchPost(b, client, s.URL+"/graphql", "", body(i))
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}

func BenchmarkCatalogCourses(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("courses=%d", n), func(b *testing.B) {
			s, _ := benchCatalogServer(b, n)
			body := []byte(benchCatalogList)
			benchSequential(b, s, func(int) []byte { return body })
		})
	}
}

func BenchmarkCatalogCourse(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("courses=%d", n), func(b *testing.B) {
			s, ids := benchCatalogServer(b, n)
			bodies := make([][]byte, len(ids))
			for i, id := range ids {
				bodies[i], _ = json.Marshal(map[string]any{
					"query":     `query($id: ID!) { course(id: $id) { id title description price } }`,
					"variables": map[string]any{"id": id},
				})
			}
			benchSequential(b, s, func(i int) []byte { return bodies[(i*7919)%len(bodies)] })
		})
	}
}
