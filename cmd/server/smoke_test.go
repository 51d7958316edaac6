package main

import (
	"net/http"
	"testing"
)

// Ensure the server starts with the test configuration, answers health
// checks, and serves a public query.
func TestRun(t *testing.T) {
	s := mustStartServer(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
	r := s.post(t, "", `{ courses { totalCount } }`, nil).mustNoErrors(t)
	if got, want := string(r.Data), `{"courses":{"totalCount":0}}`; got != want {
		t.Errorf("data = %s, want %s", got, want)
	}
}
