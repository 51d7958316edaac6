package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Ensure the IDE is served from the binary, with nothing loaded from
// elsewhere and a CSP that forbids inline and foreign code.
func TestIDE(t *testing.T) {
	s := mustStartServer(t, nil)
	get := func(t *testing.T, path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get(t, "/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval: %q", csp)
	}
	if strings.Contains(page, "<script>") || regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(page) {
		t.Errorf("the page has inline script or loads from another origin:\n%s", page)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 5 {
		t.Fatalf("want the page's scripts and styles, found %v", refs)
	}
	for _, ref := range refs {
		r, body := get(t, ref[1])
		if r.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s = %d (%d bytes)", ref[1], r.StatusCode, len(body))
		}
	}
	// Our own boot script talks to this origin only; the vendored files are
	// held to that by the CSP above.
	_, js := get(t, "/ide/ide.js")
	if !strings.Contains(js, `url: "/graphql"`) || strings.Contains(js, "http") {
		t.Errorf("ide.js does not use this origin's /graphql only")
	}
	if !strings.Contains(js, `"Authorization": "Bearer <accessToken>"`) {
		t.Errorf("the IDE does not show how to set the Authorization header")
	}

	t.Run("OffInProduction", func(t *testing.T) {
		p := mustStartServer(t, map[string]string{"APP_ENV": "production"})
		for _, path := range []string{"/", "/ide/ide.js"} {
			resp, err := http.Get(p.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s in production = %d, want 404", path, resp.StatusCode)
			}
		}
	})
}
