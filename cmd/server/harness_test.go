package main

// The end-to-end harness: each test starts the real program (run) on
// 127.0.0.1:0 with its own embedded database in a temporary directory, and
// talks to it over HTTP like a client.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Test credentials of the first admin.
const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-1"
)

// testServer is one running instance of the program.
type testServer struct {
	URL     string
	DataDir string
	logs    *logBuffer
	cancel  context.CancelFunc
	done    chan error
	client  *http.Client
}

// logBuffer collects the server's log and reports the listen address.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrc chan string
	once  sync.Once
	// quiet drops everything below a warning once the server listens (for
	// benchmarks).
	quiet bool
	ready bool
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.quiet && l.ready && !bytes.Contains(p, []byte(`"level":"WARN"`)) && !bytes.Contains(p, []byte(`"level":"ERROR"`)) {
		return len(p), nil
	}
	l.buf.Write(p)
	for _, line := range strings.Split(string(p), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			l.once.Do(func() { l.addrc <- rec.Addr })
			l.ready = true
		}
	}
	return len(p), nil
}

// String returns everything logged so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testEnv is the environment every test server gets unless overridden.
func testEnv(dataDir string) map[string]string {
	return map[string]string{
		"HOST":           "127.0.0.1",
		"PORT":           "0",
		"DATA_DIR":       dataDir,
		"BCRYPT_COST":    "4",
		"ADMIN_EMAIL":    adminEmail,
		"ADMIN_PASSWORD": adminPassword,
		"LOG_LEVEL":      "info",
		// Tests send many signups and logins from one address; the rate
		// limit tests switch the limits they test back on.
		"RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS": "off",
		"RATE_LIMIT_LOGIN_ACCOUNT":         "off",
		"RATE_LIMIT_LOGIN_ADDRESS":         "off",
		"RATE_LIMIT_SIGNUP_ACCOUNT":        "off",
		"RATE_LIMIT_SIGNUP_ADDRESS":        "off",
		"RATE_LIMIT_REFRESH_SESSION":       "off",
		"RATE_LIMIT_REFRESH_ADDRESS":       "off",
	}
}

// mustStartServer starts the program with testEnv plus env (an empty value
// removes a variable) and waits until it listens. It stops in Cleanup.
func mustStartServer(tb testing.TB, env map[string]string) *testServer {
	tb.Helper()
	return startServer(tb, env, false)
}

// mustStartQuietServer is mustStartServer for benchmarks: the log is
// dropped once the server listens.
func mustStartQuietServer(tb testing.TB, env map[string]string) *testServer {
	tb.Helper()
	return startServer(tb, env, true)
}

func startServer(tb testing.TB, env map[string]string, quiet bool) *testServer {
	tb.Helper()
	dataDir := env["DATA_DIR"]
	if dataDir == "" {
		dataDir = tb.TempDir()
	}
	vars := testEnv(dataDir)
	for k, v := range env {
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }
	logs := &logBuffer{addrc: make(chan string, 1), quiet: quiet}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{DataDir: dataDir, logs: logs, cancel: cancel, done: make(chan error, 1),
		client: &http.Client{Timeout: 30 * time.Second}}
	go func() { s.done <- run(ctx, []string{"server"}, getenv, logs, io.Discard) }()
	select {
	case addr := <-logs.addrc:
		s.URL = "http://" + addr
	case err := <-s.done:
		cancel()
		tb.Fatalf("server exited before listening: %v\nlog:\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		cancel()
		tb.Fatalf("server did not start in time\nlog:\n%s", logs.String())
	}
	tb.Cleanup(func() { s.stop(tb) })
	return s
}

// mustFailToStart runs the program with testEnv plus env and returns the
// error it stops with; it fails the test if the program starts listening.
func mustFailToStart(tb testing.TB, env map[string]string) error {
	tb.Helper()
	vars := testEnv(tb.TempDir())
	for k, v := range env {
		vars[k] = v
	}
	logs := &logBuffer{addrc: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"server"}, func(k string) string { return vars[k] }, logs, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil {
			tb.Fatalf("the program stopped without an error\nlog:\n%s", logs.String())
		}
		return err
	case <-logs.addrc:
		cancel()
		<-done
		tb.Fatalf("the program started with %v although it should have refused to", env)
	case <-time.After(60 * time.Second):
		cancel()
		<-done
		tb.Fatalf("the program neither started nor stopped\nlog:\n%s", logs.String())
	}
	return nil
}

// stop shuts the server down and checks that it stopped cleanly. It is safe
// to call twice.
func (s *testServer) stop(tb testing.TB) {
	tb.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			tb.Errorf("server stopped with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		tb.Errorf("server did not stop in time")
	}
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the contract code in extensions.code.
func (e gqlError) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// gqlResponse is a decoded GraphQL response with its HTTP status.
type gqlResponse struct {
	Status int
	Header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	Raw    string
}

// Codes lists the codes of all errors, in order.
func (r gqlResponse) Codes() []string {
	out := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		out[i] = e.Code()
	}
	return out
}

// mustNoErrors fails the test if the response has errors.
func (r gqlResponse) mustNoErrors(tb testing.TB) gqlResponse {
	tb.Helper()
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		tb.Fatalf("unexpected errors (status %d): %s", r.Status, r.Raw)
	}
	return r
}

// mustCode fails the test unless the response has exactly one error, with code.
func (r gqlResponse) mustCode(tb testing.TB, code string) gqlError {
	tb.Helper()
	if len(r.Errors) != 1 || r.Errors[0].Code() != code {
		tb.Fatalf("want one %s error, got (status %d): %s", code, r.Status, r.Raw)
	}
	return r.Errors[0]
}

// contractCodes are the extensions.code values of api-contract.md, and
// SERVICE_UNAVAILABLE, which docs/api.md adds.
var contractCodes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "BAD_USER_INPUT": true, "NOT_FOUND": true,
	"CONFLICT": true, "RATE_LIMITED": true, "GRAPHQL_PARSE_FAILED": true,
	"GRAPHQL_VALIDATION_FAILED": true, "INTERNAL_SERVER_ERROR": true, "SERVICE_UNAVAILABLE": true,
}

// mustContractCodes fails the test for any error whose code is not the
// contract's.
func (r gqlResponse) mustContractCodes(tb testing.TB) {
	tb.Helper()
	for _, e := range r.Errors {
		if !contractCodes[e.Code()] {
			tb.Errorf("error %q has code %q, not one of the contract's (status %d): %.500s", e.Message, e.Code(), r.Status, r.Raw)
		}
	}
}

// mustFailUnavailable checks a request made while the database is gone: it
// answered within limit, and unavailableProblems finds nothing wrong.
func (r gqlResponse) mustFailUnavailable(tb testing.TB, what string, took, limit time.Duration) {
	tb.Helper()
	if took > limit {
		tb.Errorf("%s took %v with the database gone, want under %v", what, took, limit)
	}
	for _, p := range r.unavailableProblems() {
		tb.Errorf("%s: %s", what, p)
	}
}

// unavailableProblems lists what is wrong with r as the answer to a request
// made while the database is gone: it must have only SERVICE_UNAVAILABLE
// errors that say when to retry, and show nothing of the driver, the
// database or a deadline. It suits goroutines other than the test's.
func (r gqlResponse) unavailableProblems() []string {
	if len(r.Errors) == 0 {
		return []string{"no error with the database gone: " + r.Raw}
	}
	var out []string
	for _, e := range r.Errors {
		if e.Code() != "SERVICE_UNAVAILABLE" {
			out = append(out, fmt.Sprintf("code = %q, want SERVICE_UNAVAILABLE: %s", e.Code(), r.Raw))
		}
		if n, _ := e.Extensions["retryAfter"].(float64); n < 1 {
			out = append(out, fmt.Sprintf("extensions.retryAfter = %v, want a number of seconds: %s", e.Extensions["retryAfter"], r.Raw))
		}
	}
	low := strings.ToLower(r.Raw)
	for _, leak := range []string{"mongo", "ferret", "dial", "connection", "server selection", "selection", "timeout",
		"127.0.0.1", "deadline", "context", "socket", "topology", "courses:", "users:", "purchases:"} {
		if strings.Contains(low, leak) {
			out = append(out, fmt.Sprintf("response reveals %q: %s", leak, r.Raw))
		}
	}
	return out
}

// decode unmarshals data into v.
func (r gqlResponse) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		tb.Fatalf("decode data: %v\n%s", err, r.Raw)
	}
}

// newPostRequest builds a JSON POST /graphql with an optional bearer token.
func (s *testServer) newPostRequest(token, query string, vars map[string]any) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// mustPostRequest is newPostRequest for the test goroutine.
func (s *testServer) mustPostRequest(tb testing.TB, token, query string, vars map[string]any) *http.Request {
	tb.Helper()
	req, err := s.newPostRequest(token, query, vars)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

// post sends a GraphQL request over POST with an optional bearer token.
func (s *testServer) post(tb testing.TB, token, query string, vars map[string]any) gqlResponse {
	tb.Helper()
	return s.do(tb, s.mustPostRequest(tb, token, query, vars))
}

// postE is post for goroutines other than the test's: it returns failures
// as errors, since FailNow must not be called outside the test goroutine.
func (s *testServer) postE(token, query string, vars map[string]any) (gqlResponse, error) {
	req, err := s.newPostRequest(token, query, vars)
	if err != nil {
		return gqlResponse{}, err
	}
	return roundTrip(s.client, req)
}

// do sends any request to the server and decodes a GraphQL response.
func (s *testServer) do(tb testing.TB, req *http.Request) gqlResponse {
	tb.Helper()
	return doWith(tb, s.client, req)
}

// doWith sends req with client (a browser-like one with a cookie jar, say)
// and decodes a GraphQL response.
func doWith(tb testing.TB, client *http.Client, req *http.Request) gqlResponse {
	tb.Helper()
	out, err := roundTrip(client, req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return out
}

func roundTrip(client *http.Client, req *http.Request) (gqlResponse, error) {
	resp, err := client.Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return gqlResponse{}, err
	}
	out := gqlResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(b)}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("response is not JSON (status %d): %q", resp.StatusCode, b)
	}
	return out, nil
}

// httpGet fetches path and returns status, headers and body, whatever they are.
func (s *testServer) httpGet(tb testing.TB, path string) (int, http.Header, string) {
	tb.Helper()
	return s.httpGetWith(tb, path, nil)
}

// httpGetWith is httpGet with request headers (If-None-Match, say).
func (s *testServer) httpGetWith(tb testing.TB, path string, header http.Header) (int, http.Header, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// authPayload is AuthPayload as a client sees it.
type authPayload struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	User         struct {
		ID    string  `json:"id"`
		Name  string  `json:"name"`
		Email *string `json:"email"`
		Role  string  `json:"role"`
	} `json:"user"`
}

const authFields = `accessToken refreshToken expiresAt user { id name email role }`

// mustSignup creates an account and returns its payload.
func (s *testServer) mustSignup(tb testing.TB, email, password, name string) authPayload {
	tb.Helper()
	r := s.post(tb, "", `mutation($in: SignupInput!) { signup(input: $in) { `+authFields+` } }`,
		map[string]any{"in": map[string]any{"email": email, "password": password, "name": name}}).mustNoErrors(tb)
	var d struct{ Signup authPayload }
	r.decode(tb, &d)
	return d.Signup
}

// mustLogin logs in and returns the payload.
func (s *testServer) mustLogin(tb testing.TB, email, password string) authPayload {
	tb.Helper()
	r := s.post(tb, "", `mutation($in: LoginInput!) { login(input: $in) { `+authFields+` } }`,
		map[string]any{"in": map[string]any{"email": email, "password": password}}).mustNoErrors(tb)
	var d struct{ Login authPayload }
	r.decode(tb, &d)
	return d.Login
}

// mustAdminToken logs in as the first admin.
func (s *testServer) mustAdminToken(tb testing.TB) string {
	tb.Helper()
	return s.mustLogin(tb, adminEmail, adminPassword).AccessToken
}

// courseRef is a created course.
type courseRef struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Price     int    `json:"price"`
	Published bool   `json:"published"`
}

// mustCreateCourse creates a course as admin.
func (s *testServer) mustCreateCourse(tb testing.TB, adminToken, title string, price int, published bool) courseRef {
	tb.Helper()
	r := s.post(tb, adminToken, `mutation($in: CreateCourseInput!) { createCourse(input: $in) { id title price published } }`,
		map[string]any{"in": map[string]any{"title": title, "description": "About " + title, "price": price, "published": published}}).mustNoErrors(tb)
	var d struct{ CreateCourse courseRef }
	r.decode(tb, &d)
	return d.CreateCourse
}

// uniqueEmail makes an email unique within a test.
func uniqueEmail(tb testing.TB, n int) string {
	return fmt.Sprintf("user%d-%d@example.com", n, time.Now().UnixNano())
}

// smtpSink is a real SMTP server (emersion/go-smtp) for tests: it requires
// PLAIN auth with smtpUser/smtpPass, keeps every mail it accepts, and
// refuses mail with a temporary error while failing is set.
type smtpSink struct {
	srv     *smtp.Server
	addr    string
	mu      sync.Mutex
	mails   []sinkMail
	failing bool
	delay   time.Duration
}

// sinkMail is one mail the sink accepted.
type sinkMail struct {
	From string
	To   []string
	Data string
}

const (
	smtpUser = "mailer"
	smtpPass = "mailer-password"
)

// mustStartSMTP starts an smtpSink on 127.0.0.1:0; it stops in Cleanup.
func mustStartSMTP(tb testing.TB) *smtpSink {
	tb.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: sink}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	sink.srv, sink.addr = srv, ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return sink
}

// URL is the SMTP_URL that reaches the sink.
func (s *smtpSink) URL() string { return "smtp://" + smtpUser + ":" + smtpPass + "@" + s.addr }

// setFailing makes the sink refuse (or accept again) every mail.
func (s *smtpSink) setFailing(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = v
}

// setDelay makes the sink take d to accept each mail.
func (s *smtpSink) setDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// to returns the mails received so far for rcpt.
func (s *smtpSink) to(rcpt string) []sinkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sinkMail
	for _, m := range s.mails {
		for _, r := range m.To {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

// waitFor waits until at least n mails for rcpt arrived and returns them.
func (s *smtpSink) waitFor(tb testing.TB, rcpt string, n int) []sinkMail {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := s.to(rcpt); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d mail(s) for %s did not arrive in time (got %d)", n, rcpt, len(s.to(rcpt)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type sinkSession struct {
	sink   *smtpSink
	authed bool
	from   string
	to     []string
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.sink.mu.Lock()
	delay := ss.sink.delay
	ss.sink.mu.Unlock()
	time.Sleep(delay)
	ss.sink.mu.Lock()
	defer ss.sink.mu.Unlock()
	if ss.sink.failing {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.sink.mails = append(ss.sink.mails, sinkMail{From: ss.from, To: ss.to, Data: string(b)})
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
