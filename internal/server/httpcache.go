package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// publicGetCache lets browsers, proxies and CDNs keep anonymous GET
// /graphql answers for maxAge: one that is 200 with no errors gets
// "public, max-age" and a strong ETag over its body, and a request whose
// If-None-Match names that tag gets 304 with no body. Any other anonymous
// GET answer is no-store, so an error is never replayed. Requests with
// credentials (noSharedCache made them private, no-store), POSTs,
// WebSocket upgrades and event streams pass through untouched. maxAge 0 turns it off.
//
// The answer is buffered to hash it; GET answers are queries whose size the
// operation limits bound.
func publicGetCache(maxAge time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if maxAge <= 0 {
			return next
		}
		cacheControl := "public, max-age=" + strconv.Itoa(int(maxAge/time.Second))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != graphqlPath || r.Header.Get("Upgrade") != "" || isStreamRequest(r) || carriesCredentials(r) {
				next.ServeHTTP(w, r)
				return
			}
			buf := &bufferedResponse{header: w.Header()}
			next.ServeHTTP(buf, r)
			if buf.status == 0 {
				buf.status = http.StatusOK
			}
			h := w.Header()
			if buf.status != http.StatusOK || hasErrors(buf.body.Bytes()) {
				h.Set("Cache-Control", "no-store")
				w.WriteHeader(buf.status)
				_, _ = w.Write(buf.body.Bytes())
				return
			}
			sum := sha256.Sum256(buf.body.Bytes())
			etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
			h.Set("Cache-Control", cacheControl)
			h.Set("ETag", etag)
			// The media type follows Accept, so a shared cache must key on it.
			h.Add("Vary", "Accept")
			if etagMatches(r.Header.Values("If-None-Match"), etag) {
				h.Del("Content-Type")
				h.Del("Content-Length")
				w.WriteHeader(http.StatusNotModified)
				return
			}
			h.Set("Content-Length", strconv.Itoa(buf.body.Len()))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(buf.body.Bytes())
		})
	}
}

// bufferedResponse holds an answer until its headers can be decided.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// hasErrors reports whether a GraphQL response body has an errors member
// (or is not a JSON object at all, which is not worth keeping either).
func hasErrors(body []byte) bool {
	var resp struct {
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return true
	}
	return len(resp.Errors) > 0 && string(resp.Errors) != "null"
}

// etagMatches applies If-None-Match (RFC 9110 13.1.2): "*" or any listed
// tag equal to etag under the weak comparison.
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}
