package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// benchPost sends one prepared request body and fails on a non-200 answer
// or an errors entry.
func benchPost(b *testing.B, client *http.Client, url, token string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) {
		b.Fatalf("status %d: %s", resp.StatusCode, out)
	}
}

// BenchmarkMe measures the authenticated hot path over real HTTP on
// loopback: token verification, the session and user reads (by _id), and
// the response. go test ./cmd/server -run '^$' -bench . -benchtime 3s
func BenchmarkMe(b *testing.B) {
	s := mustStartQuietServer(b, nil)
	tok := s.mustSignup(b, "bench@example.com", "bench-password", "Bench").AccessToken
	body := []byte(`{"query":"{ me { id name role } }"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, client, s.URL+"/graphql", tok, body)
		}
	})
}

// BenchmarkCourses measures a public page of 20 courses with createdBy,
// loaded through the data loader (two queries whatever the page size).
func BenchmarkCourses(b *testing.B) {
	s := mustStartQuietServer(b, nil)
	admin := s.mustAdminToken(b)
	for i := 0; i < 100; i++ {
		s.mustCreateCourse(b, admin, fmt.Sprintf("Course %d", i), 100*i, true)
	}
	body := []byte(`{"query":"{ courses(first: 20) { edges { node { id title price createdBy { name } } } pageInfo { hasNextPage endCursor } } }"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, client, s.URL+"/graphql", "", body)
		}
	})
}
