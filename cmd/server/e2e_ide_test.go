package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Ensure the IDE is served from the binary, with nothing loaded from
// elsewhere and a CSP that forbids inline and foreign code.
func TestIDE(t *testing.T) {
	s := mustStartServer(t, nil)
	status, header, page := s.httpGet(t, "/")
	if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", status, header.Get("Content-Type"))
	}
	csp := header.Get("Content-Security-Policy")
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
		status, _, body := s.httpGet(t, ref[1])
		if status != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s = %d (%d bytes)", ref[1], status, len(body))
		}
	}
	// Our own boot script talks to this origin only; the vendored files are
	// held to that by the CSP above.
	_, _, js := s.httpGet(t, "/ide/ide.js")
	if !strings.Contains(js, `url: "/graphql"`) || regexp.MustCompile(`(https?|wss?)://`).MatchString(js) {
		t.Errorf("ide.js does not use this origin's /graphql only")
	}
	// Subscriptions go to this origin's socket (examples/web/e2e/ide.test.mjs
	// runs one in a browser).
	if !strings.Contains(js, `subscriptionUrl: socketScheme + "//" + location.host + "/graphql"`) {
		t.Errorf("ide.js gives GraphiQL no subscription URL on this origin")
	}
	if !strings.Contains(js, `"Authorization": "Bearer <accessToken>"`) {
		t.Errorf("the IDE does not show how to set the Authorization header")
	}

	t.Run("OffInProduction", func(t *testing.T) {
		p := mustStartServer(t, map[string]string{"APP_ENV": "production"})
		for _, path := range []string{"/", "/ide/ide.js"} {
			if status, _, _ := p.httpGet(t, path); status != http.StatusNotFound {
				t.Errorf("GET %s in production = %d, want 404", path, status)
			}
		}
	})
}
