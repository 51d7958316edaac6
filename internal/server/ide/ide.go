// Package ide serves GraphiQL from files embedded in the binary: it works
// offline and under a strict Content-Security-Policy. The vendored files in
// vendor/ come from npm (graphiql 3.9.0, react and react-dom 18.3.1, MIT,
// licenses beside them); scripts/vendor-ide.sh refreshes them.
package ide

import (
	"embed"
	"net/http"
)

//go:embed index.html ide.js ide.css vendor
var files embed.FS

// csp allows only this origin's scripts, styles and API: no inline script,
// no CDN, no frames. GraphiQL styles elements through the DOM, which
// style-src does not restrict, so no 'unsafe-inline' is needed.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the IDE page at / and its assets under /ide/.
func Handler() http.Handler {
	assets := http.StripPrefix("/ide/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == "/" {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			b, _ := files.ReadFile("index.html")
			_, _ = w.Write(b)
			return
		}
		h.Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(w, r)
	})
}
