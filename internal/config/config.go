// Package config turns the process environment into a validated Config. It is
// read once, in cmd/server, and passed down; nothing else reads the
// environment. Every error names the variable at fault.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/coursehub/coursehub/internal/auth"
	cmail "github.com/coursehub/coursehub/internal/mail"
)

// Env is the deployment environment.
type Env string

// The environments APP_ENV accepts.
const (
	Development Env = "development"
	Production  Env = "production"
)

// Config is the whole configuration of the server.
type Config struct {
	// Host and Port make the listen address; Port 0 picks a free port.
	Host string
	Port int

	// MongoURI selects an external MongoDB; empty starts the embedded database.
	MongoURI string
	// Database is the MongoDB database name.
	Database string
	// DataDir holds the embedded database and the generated JWT secret.
	DataDir string
	// DBTimeout bounds every database call.
	DBTimeout time.Duration

	// JWTSecret signs access tokens (HS256). Empty only with the embedded
	// database, where cmd/server generates one and keeps it in DataDir.
	JWTSecret []byte
	// JWTPreviousSecrets still verify tokens signed before a rotation.
	JWTPreviousSecrets [][]byte
	// JWTPrivateKeyFile, when set, names a PEM Ed25519 private key that signs
	// instead of JWTSecret (EdDSA); JWTPublicKeyFiles are previous keys'
	// public halves that still verify.
	JWTPrivateKeyFile string
	JWTPublicKeyFiles []string
	JWTIssuer         string
	JWTAudience       string
	AccessTokenTTL    time.Duration
	// RefreshTokenTTL is how long an unused refresh token lives; each refresh
	// issues a new one, so an active session slides forward.
	RefreshTokenTTL time.Duration
	// SessionTTL is the absolute lifetime of a session, however active.
	SessionTTL time.Duration

	BcryptCost int
	// BcryptConcurrency bounds simultaneous bcrypt operations (0: unbounded).
	BcryptConcurrency int

	// RateLimits bound signup, login and refresh attempts.
	RateLimits auth.RateLimits
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies auth.Proxies

	// CORSOrigins are the browser origins allowed to call the API with
	// credentials (and to use cookie mode).
	CORSOrigins []string
	// CookieSecure marks cookies Secure; off only in development.
	CookieSecure   bool
	CookieSameSite http.SameSite

	// AdminEmail and AdminPassword name the first admin (both or neither).
	AdminEmail    string
	AdminPassword string

	Env      Env
	LogLevel slog.Level

	// MaxBodyBytes caps a request body.
	MaxBodyBytes int64
	// RequestTimeout is the deadline of one request.
	RequestTimeout time.Duration
	// ShutdownTimeout is how long a stopping server waits for requests in
	// flight before it closes their connections.
	ShutdownTimeout time.Duration
	// WebsocketCheckEvery is how often a subscription socket or HTTP stream
	// rechecks its session (it also ends when its access token expires).
	WebsocketCheckEvery time.Duration

	// Limits on one GraphQL document.
	GraphQL GraphQLLimits

	// Introspection, Suggestions ("Did you mean …") and IDE are on in
	// development and off in production unless set.
	Introspection bool
	Suggestions   bool
	IDE           bool

	// APQCacheSize bounds the automatic persisted query cache (0: APQ off).
	APQCacheSize int

	// CatalogCacheSize bounds the public catalogue cache, in courses (0: no
	// cache). Writes through other instances reach it through the feed.
	CatalogCacheSize int
	// The change feed between instances (internal/feed): the capped
	// collection's bounds, how often an idle instance polls it, and how
	// long an event is retried while the database does not answer.
	FeedMaxEvents    int
	FeedSizeBytes    int
	FeedPollInterval time.Duration
	FeedPublishRetry time.Duration
	// GraphQLGetMaxAge is the max-age of public GET /graphql answers (0:
	// no public caching).
	GraphQLGetMaxAge time.Duration
	// TrustedDocumentsFile, when set, names a JSON allow-list
	// {"<sha256 hex>": "<document>"}: only those operations run.
	TrustedDocumentsFile string

	// SMTP is where mail goes; nil writes .eml files to DataDir/outbox.
	SMTP *cmail.SMTPConfig
	// MailFrom is the From of every mail.
	MailFrom string
	// AppURL is the web app that receives the mailed links.
	AppURL string
	// MailRetry is the first wait after a failed send; it doubles.
	MailRetry time.Duration
	// ResetTokenTTL and VerifyTokenTTL are how long mailed links work.
	ResetTokenTTL  time.Duration
	VerifyTokenTTL time.Duration
	// SecurityEventTTL is how long security events are kept.
	SecurityEventTTL time.Duration
	// RequireVerifiedEmailToBuy refuses purchases of unverified accounts.
	RequireVerifiedEmailToBuy bool
}

// GraphQLLimits bound what one document may ask for.
type GraphQLLimits struct {
	MaxDepth      int // nesting of fields (introspection fields excepted)
	MaxAliases    int // aliased fields in the whole operation
	MaxRootFields int // fields at the top of the operation
	MaxDirectives int // directives on one field
	MaxCost       int // see server.cost: list fields multiply by `first`
	MaxTokens     int // lexer tokens of the document
	MaxQueryBytes int // size of the document text
}

// MinSecretBytes is the shortest JWT_SECRET accepted: HS256 wants a key at
// least as long as its 256-bit output.
const MinSecretBytes = 32

// Load reads the configuration through getenv and validates it.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		Host:          getenv("HOST"),
		MongoURI:      strings.TrimSpace(getenv("MONGODB_URI")),
		Database:      orDefault(getenv("MONGODB_DATABASE"), "coursehub"),
		DataDir:       orDefault(getenv("DATA_DIR"), "./data"),
		JWTSecret:     []byte(getenv("JWT_SECRET")),
		JWTIssuer:     orDefault(getenv("JWT_ISSUER"), "coursehub"),
		JWTAudience:   orDefault(getenv("JWT_AUDIENCE"), "coursehub-api"),
		AdminEmail:    strings.TrimSpace(getenv("ADMIN_EMAIL")),
		AdminPassword: getenv("ADMIN_PASSWORD"),
		Env:           Env(orDefault(getenv("APP_ENV"), string(Development))),
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	c.Port, err = intVar(getenv, "PORT", 8080, 0, 65535)
	add(err)
	c.BcryptCost, err = intVar(getenv, "BCRYPT_COST", 12, 4, 31)
	add(err)
	// One core is left to everything else, so that a flood of logins slows
	// logins, not the rest of the API; on one core there is no choice.
	c.BcryptConcurrency, err = intVar(getenv, "BCRYPT_CONCURRENCY", max(1, runtime.NumCPU()-1), 0, 1024)
	add(err)
	c.RateLimits = auth.DefaultRateLimits
	for _, v := range []struct {
		name string
		dst  *auth.Limit
	}{
		{"RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS", &c.RateLimits.LoginAccountAddress},
		{"RATE_LIMIT_LOGIN_ACCOUNT", &c.RateLimits.LoginAccount},
		{"RATE_LIMIT_LOGIN_ADDRESS", &c.RateLimits.LoginAddress},
		{"RATE_LIMIT_SIGNUP_ACCOUNT", &c.RateLimits.SignupAccount},
		{"RATE_LIMIT_SIGNUP_ADDRESS", &c.RateLimits.SignupAddress},
		{"RATE_LIMIT_REFRESH_SESSION", &c.RateLimits.RefreshSession},
		{"RATE_LIMIT_REFRESH_ADDRESS", &c.RateLimits.RefreshAddress},
		{"RATE_LIMIT_MAIL_RECIPIENT", &c.RateLimits.MailRecipient},
		{"RATE_LIMIT_MAIL_ADDRESS", &c.RateLimits.MailAddress},
	} {
		if raw := getenv(v.name); strings.TrimSpace(raw) != "" {
			lim, err := auth.ParseLimit(raw)
			if err != nil {
				add(fmt.Errorf("%s %w", v.name, err))
				continue
			}
			*v.dst = lim
		}
	}
	c.TrustedProxies, err = auth.ParseProxies(getenv("TRUSTED_PROXIES"))
	if err != nil {
		add(fmt.Errorf("TRUSTED_PROXIES %w", err))
	}
	c.CORSOrigins, err = origins(getenv("CORS_ORIGINS"))
	add(err)
	switch v := strings.ToLower(strings.TrimSpace(getenv("COOKIE_SECURE"))); v {
	case "", "true":
		c.CookieSecure = true
	case "false":
		if c.Env != Development {
			add(errors.New("COOKIE_SECURE=false is allowed only with APP_ENV=development"))
		}
	default:
		add(errors.New("COOKIE_SECURE must be true or false"))
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("COOKIE_SAMESITE"))); v {
	case "", "strict":
		c.CookieSameSite = http.SameSiteStrictMode
	case "lax":
		c.CookieSameSite = http.SameSiteLaxMode
	case "none":
		c.CookieSameSite = http.SameSiteNoneMode
		if !c.CookieSecure {
			add(errors.New("COOKIE_SAMESITE=none needs COOKIE_SECURE=true (browsers refuse it otherwise)"))
		}
	default:
		add(errors.New("COOKIE_SAMESITE must be strict, lax or none"))
	}
	c.DBTimeout, err = durationVar(getenv, "DB_TIMEOUT", 5*time.Second, 100*time.Millisecond, time.Minute)
	add(err)
	c.AccessTokenTTL, err = durationVar(getenv, "ACCESS_TOKEN_TTL", 15*time.Minute, 10*time.Second, 24*time.Hour)
	add(err)
	c.RefreshTokenTTL, err = durationVar(getenv, "REFRESH_TOKEN_TTL", 7*24*time.Hour, time.Minute, 365*24*time.Hour)
	add(err)
	c.SessionTTL, err = durationVar(getenv, "SESSION_TTL", 30*24*time.Hour, time.Minute, 365*24*time.Hour)
	add(err)
	maxBody, err := intVar(getenv, "MAX_BODY_BYTES", 1<<20, 1<<10, 64<<20)
	c.MaxBodyBytes = int64(maxBody)
	add(err)

	c.RequestTimeout, err = durationVar(getenv, "REQUEST_TIMEOUT", 10*time.Second, time.Second, 5*time.Minute)
	add(err)
	c.ShutdownTimeout, err = durationVar(getenv, "SHUTDOWN_TIMEOUT", 15*time.Second, time.Second, 10*time.Minute)
	add(err)
	c.WebsocketCheckEvery, err = durationVar(getenv, "WS_SESSION_CHECK_INTERVAL", 30*time.Second, 100*time.Millisecond, time.Hour)
	add(err)
	c.FeedPollInterval, err = durationVar(getenv, "FEED_POLL_INTERVAL", time.Second, 10*time.Millisecond, time.Minute)
	add(err)
	c.FeedPublishRetry, err = durationVar(getenv, "FEED_PUBLISH_RETRY", 30*time.Second, time.Second, time.Hour)
	add(err)
	c.GraphQLGetMaxAge, err = durationVar(getenv, "GRAPHQL_GET_MAX_AGE", 5*time.Second, 0, 24*time.Hour)
	add(err)
	if c.GraphQLGetMaxAge%time.Second != 0 {
		add(errors.New("GRAPHQL_GET_MAX_AGE must be a whole number of seconds (max-age counts seconds)"))
	}
	for _, v := range []struct {
		name        string
		dst         *int
		def, lo, hi int
	}{
		{"GRAPHQL_MAX_DEPTH", &c.GraphQL.MaxDepth, 10, 1, 100},
		{"GRAPHQL_MAX_ALIASES", &c.GraphQL.MaxAliases, 15, 0, 1000},
		{"GRAPHQL_MAX_ROOT_FIELDS", &c.GraphQL.MaxRootFields, 20, 1, 1000},
		{"GRAPHQL_MAX_DIRECTIVES", &c.GraphQL.MaxDirectives, 5, 0, 100},
		{"GRAPHQL_MAX_COST", &c.GraphQL.MaxCost, 5000, 1, 10_000_000},
		{"GRAPHQL_MAX_TOKENS", &c.GraphQL.MaxTokens, 5000, 100, 1_000_000},
		{"GRAPHQL_MAX_QUERY_BYTES", &c.GraphQL.MaxQueryBytes, 15000, 100, 10 << 20},
		{"APQ_CACHE_SIZE", &c.APQCacheSize, 1000, 0, 1_000_000},
		{"CATALOG_CACHE_SIZE", &c.CatalogCacheSize, 1000, 0, 100_000},
		{"FEED_MAX_EVENTS", &c.FeedMaxEvents, 256, 10, 1_000_000},
		{"FEED_SIZE_BYTES", &c.FeedSizeBytes, 16 << 20, 1 << 20, 1 << 30},
	} {
		*v.dst, err = intVar(getenv, v.name, v.def, v.lo, v.hi)
		add(err)
	}
	dev := c.Env == Development
	c.Introspection, err = boolVar(getenv, "INTROSPECTION", dev)
	add(err)
	c.Suggestions, err = boolVar(getenv, "FIELD_SUGGESTIONS", dev)
	add(err)
	c.IDE, err = boolVar(getenv, "IDE", dev)
	add(err)
	c.TrustedDocumentsFile = strings.TrimSpace(getenv("TRUSTED_DOCUMENTS_FILE"))
	add(c.loadMail(getenv))

	if c.RefreshTokenTTL > c.SessionTTL {
		add(errors.New("REFRESH_TOKEN_TTL must not be longer than SESSION_TTL"))
	}
	if c.AccessTokenTTL > c.RefreshTokenTTL {
		add(errors.New("ACCESS_TOKEN_TTL must not be longer than REFRESH_TOKEN_TTL"))
	}
	switch c.Env {
	case Development, Production:
	default:
		add(fmt.Errorf("APP_ENV must be %q or %q", Development, Production))
	}
	c.LogLevel, err = logLevel(getenv("LOG_LEVEL"))
	add(err)
	if err := checkSecret(c.JWTSecret); err != nil {
		add(fmt.Errorf("JWT_SECRET %w", err))
	}
	for _, prev := range list(getenv("JWT_PREVIOUS_SECRETS")) {
		if err := checkSecret([]byte(prev)); err != nil {
			add(fmt.Errorf("JWT_PREVIOUS_SECRETS: each secret %w", err))
			break
		}
		c.JWTPreviousSecrets = append(c.JWTPreviousSecrets, []byte(prev))
	}
	c.JWTPrivateKeyFile = strings.TrimSpace(getenv("JWT_PRIVATE_KEY_FILE"))
	c.JWTPublicKeyFiles = list(getenv("JWT_PUBLIC_KEY_FILES"))
	if len(c.JWTSecret) == 0 && c.JWTPrivateKeyFile == "" && c.MongoURI != "" {
		add(errors.New("JWT_SECRET (or JWT_PRIVATE_KEY_FILE) is required when MONGODB_URI is set (a generated secret is kept only with the embedded database)"))
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		add(errors.New("ADMIN_EMAIL and ADMIN_PASSWORD must be set together"))
	}
	if c.AdminEmail != "" {
		if _, err := mail.ParseAddress(c.AdminEmail); err != nil {
			add(errors.New("ADMIN_EMAIL is not a valid email address"))
		}
	}
	if strings.ContainsAny(c.Database, "/\\. \"$") || len(c.Database) > 63 {
		add(errors.New("MONGODB_DATABASE is not a valid database name"))
	}
	return c, errors.Join(errs...)
}

// loadMail reads the mail and account-recovery settings.
func (c *Config) loadMail(getenv func(string) string) error {
	var errs []error
	if raw := strings.TrimSpace(getenv("SMTP_URL")); raw != "" {
		smtp, err := cmail.ParseSMTPURL(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("SMTP_URL %w", err))
		} else {
			c.SMTP = &smtp
		}
	}
	c.MailFrom = orDefault(getenv("MAIL_FROM"), "coursehub <no-reply@localhost>")
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		errs = append(errs, errors.New("MAIL_FROM is not a valid address (like coursehub <no-reply@example.com>)"))
	}
	c.AppURL = strings.TrimRight(orDefault(getenv("APP_URL"), "http://127.0.0.1:5173"), "/")
	if u, err := url.Parse(c.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		errs = append(errs, errors.New("APP_URL must be an http(s) URL like https://app.example.com"))
	}
	var err error
	c.MailRetry, err = durationVar(getenv, "MAIL_RETRY_INTERVAL", 30*time.Second, 100*time.Millisecond, time.Hour)
	errs = append(errs, err)
	c.ResetTokenTTL, err = durationVar(getenv, "RESET_TOKEN_TTL", 30*time.Minute, time.Second, 24*time.Hour)
	errs = append(errs, err)
	c.VerifyTokenTTL, err = durationVar(getenv, "VERIFY_TOKEN_TTL", 24*time.Hour, time.Second, 30*24*time.Hour)
	errs = append(errs, err)
	c.SecurityEventTTL, err = durationVar(getenv, "SECURITY_EVENT_TTL", 180*24*time.Hour, time.Hour, 10*365*24*time.Hour)
	errs = append(errs, err)
	c.RequireVerifiedEmailToBuy, err = boolVar(getenv, "REQUIRE_VERIFIED_EMAIL_TO_BUY", false)
	errs = append(errs, err)
	return errors.Join(errs...)
}

// Addr is the listen address.
func (c Config) Addr() string { return c.Host + ":" + strconv.Itoa(c.Port) }

// Embedded reports whether the embedded database is used.
func (c Config) Embedded() bool { return c.MongoURI == "" }

// exampleSecrets are values copied from tutorials; a server that signs with
// one of them can be impersonated by anyone who read the same tutorial.
var exampleSecrets = []string{
	"secret", "changeme", "change-me", "your-secret", "your_secret", "yoursecret",
	"jwt-secret", "jwt_secret", "jwtsecret", "mysecret", "my-secret", "supersecret",
	"password", "example", "replace-me", "todo",
}

// CheckSecret refuses JWT secrets that are short, uniform or copied from an
// example. An empty secret is allowed here; Load decides whether it may be.
func checkSecret(secret []byte) error {
	if len(secret) == 0 {
		return nil
	}
	if len(secret) < MinSecretBytes {
		return fmt.Errorf("must be at least %d bytes", MinSecretBytes)
	}
	lower := strings.ToLower(string(secret))
	for _, ex := range exampleSecrets {
		if strings.Contains(lower, ex) {
			return errors.New("looks like an example value; generate one with `openssl rand -base64 48`")
		}
	}
	distinct := map[byte]bool{}
	for _, b := range secret {
		distinct[b] = true
	}
	if len(distinct) < 8 {
		return errors.New("has too little variety to be random")
	}
	return nil
}

// list splits a comma-separated value, dropping empty items.
func list(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// origins parses CORS_ORIGINS: exact origins (scheme://host[:port]). A
// wildcard is refused: credentials are never combined with one.
func origins(raw string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(raw, ",") {
		o := strings.TrimSpace(part)
		if o == "" {
			continue
		}
		if o == "*" || strings.Contains(o, "*") {
			return nil, errors.New("CORS_ORIGINS must list exact origins; a wildcard is never combined with credentials")
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, errors.New("CORS_ORIGINS must be a comma-separated list of origins like https://app.example.com")
		}
		// Browsers send the origin in lower case.
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

func intVar(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return def, fmt.Errorf("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

func durationVar(getenv func(string) string, name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return def, fmt.Errorf("%s must be a duration (like 15m or 168h) from %s to %s", name, lo, hi)
	}
	return d, nil
}

func boolVar(getenv func(string) string, name string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(getenv(name))) {
	case "":
		return def, nil
	case "true", "1", "on":
		return true, nil
	case "false", "0", "off":
		return false, nil
	}
	return def, fmt.Errorf("%s must be true or false", name)
}

func logLevel(v string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, errors.New("LOG_LEVEL must be debug, info, warn or error")
}
