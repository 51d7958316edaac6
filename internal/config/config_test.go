package config_test

import (
	"net/http"
	"net/netip"
	"runtime"

	"github.com/coursehub/coursehub/internal/auth"

	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/config"
)

// goodSecret is 48 random-looking bytes with no example word in it.
const goodSecret = "Qm8vXr2LkP9wZt4NbY7cHj3FdG6sA1uE5nK0yWqBxVhR2mTz"

// getenv returns a getenv function over vars.
func getenv(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// mustLoad loads vars and fails the test on an error.
func mustLoad(tb testing.TB, vars map[string]string) config.Config {
	tb.Helper()
	c, err := config.Load(getenv(vars))
	if err != nil {
		tb.Fatalf("Load(%v): %v", vars, err)
	}
	return c
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got := mustLoad(t, nil)
	if len(got.JWTSecret) != 0 {
		t.Errorf("JWTSecret = %q, want empty", got.JWTSecret)
	}
	got.JWTSecret = nil
	want := config.Config{
		Host:                "",
		Port:                8080,
		MongoURI:            "",
		Database:            "coursehub",
		DataDir:             "./data",
		DBTimeout:           5 * time.Second,
		JWTIssuer:           "coursehub",
		JWTAudience:         "coursehub-api",
		AccessTokenTTL:      15 * time.Minute,
		RefreshTokenTTL:     7 * 24 * time.Hour,
		SessionTTL:          30 * 24 * time.Hour,
		BcryptCost:          12,
		BcryptConcurrency:   max(1, runtime.NumCPU()-1),
		RateLimits:          auth.DefaultRateLimits,
		CookieSecure:        true,
		CookieSameSite:      http.SameSiteStrictMode,
		Env:                 config.Development,
		RequestTimeout:      10 * time.Second,
		ShutdownTimeout:     15 * time.Second,
		WebsocketCheckEvery: 30 * time.Second,
		GraphQL: config.GraphQLLimits{
			MaxDepth: 10, MaxAliases: 15, MaxRootFields: 20, MaxDirectives: 5,
			MaxCost: 5000, MaxTokens: 5000, MaxQueryBytes: 15000,
		},
		Introspection: true,
		Suggestions:   true,
		IDE:           true,
		APQCacheSize:  1000,
		LogLevel:      slog.LevelInfo,
		MaxBodyBytes:  1 << 20,
		// The catalogue cache and public GET caching are on by default.
		CatalogCacheSize: 1000,
		FeedMaxEvents:    256,
		FeedSizeBytes:    16 << 20,
		FeedPollInterval: time.Second,
		FeedPublishRetry: 30 * time.Second,
		GraphQLGetMaxAge: 5 * time.Second,
		MailFrom:         "coursehub <no-reply@localhost>", AppURL: "http://127.0.0.1:5173", MailRetry: 30 * time.Second,
		ResetTokenTTL: 30 * time.Minute, VerifyTokenTTL: 24 * time.Hour, SecurityEventTTL: 180 * 24 * time.Hour,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load defaults =\n%+v\nwant\n%+v", got, want)
	}
	if !got.Embedded() {
		t.Errorf("Embedded() = false without MONGODB_URI")
	}
	if got.Addr() != ":8080" {
		t.Errorf("Addr() = %q, want :8080", got.Addr())
	}
}

func TestLoadBlankIsDefault(t *testing.T) {
	t.Parallel()
	got := mustLoad(t, map[string]string{"PORT": "  ", "APP_ENV": " ", "BCRYPT_COST": "", "MONGODB_DATABASE": "\t"})
	if got.Port != 8080 || got.Env != config.Development || got.BcryptCost != 12 || got.Database != "coursehub" {
		t.Errorf("blank values: %+v, want defaults", got)
	}
}

func TestLoadOverrides(t *testing.T) {
	t.Parallel()
	got := mustLoad(t, map[string]string{
		"HOST":                     "127.0.0.1",
		"PORT":                     " 9090 ",
		"MONGODB_URI":              "mongodb://db.internal:27017",
		"MONGODB_DATABASE":         "coursehub_prod",
		"DATA_DIR":                 "/var/lib/coursehub",
		"DB_TIMEOUT":               "2s",
		"JWT_SECRET":               goodSecret,
		"JWT_ISSUER":               "issuer",
		"JWT_AUDIENCE":             "audience",
		"ACCESS_TOKEN_TTL":         "5m",
		"REFRESH_TOKEN_TTL":        "24h",
		"SESSION_TTL":              "48h",
		"BCRYPT_COST":              "10",
		"ADMIN_EMAIL":              " admin@example.com ",
		"ADMIN_PASSWORD":           "admin-password-1",
		"APP_ENV":                  "production",
		"LOG_LEVEL":                "WARNING",
		"MAX_BODY_BYTES":           "2048",
		"BCRYPT_CONCURRENCY":       "0",
		"RATE_LIMIT_LOGIN_ACCOUNT": "10/15m",
		"RATE_LIMIT_LOGIN_ADDRESS": "off",
		"TRUSTED_PROXIES":          "10.0.0.0/8, 192.168.1.7",
		"CORS_ORIGINS":             "https://App.Example.com, http://localhost:5173/",
		"COOKIE_SAMESITE":          "Lax",
		"REQUEST_TIMEOUT":          "3s",
		"SHUTDOWN_TIMEOUT":         "40s",
		"GRAPHQL_MAX_DEPTH":        "7",
		"GRAPHQL_MAX_ALIASES":      "0",
		"GRAPHQL_MAX_COST":         "900",
		"INTROSPECTION":            "true",
		"IDE":                      "on",
		"APQ_CACHE_SIZE":           "0",
		"TRUSTED_DOCUMENTS_FILE":   "/etc/coursehub/documents.json",
		"CATALOG_CACHE_SIZE":       "50",
		"FEED_MAX_EVENTS":          "5000",
		"FEED_SIZE_BYTES":          "4194304",
		"FEED_POLL_INTERVAL":       "500ms",
		"FEED_PUBLISH_RETRY":       "10s",
		"GRAPHQL_GET_MAX_AGE":      "1m",
	})
	want := config.Config{
		Host:            "127.0.0.1",
		Port:            9090,
		MongoURI:        "mongodb://db.internal:27017",
		Database:        "coursehub_prod",
		DataDir:         "/var/lib/coursehub",
		DBTimeout:       2 * time.Second,
		JWTSecret:       []byte(goodSecret),
		JWTIssuer:       "issuer",
		JWTAudience:     "audience",
		AccessTokenTTL:  5 * time.Minute,
		RefreshTokenTTL: 24 * time.Hour,
		SessionTTL:      48 * time.Hour,
		BcryptCost:      10,
		RateLimits: func() auth.RateLimits {
			l := auth.DefaultRateLimits
			l.LoginAccount = auth.Limit{Max: 10, Window: 15 * time.Minute}
			l.LoginAddress = auth.Limit{}
			return l
		}(),
		TrustedProxies:      auth.Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")},
		CORSOrigins:         []string{"https://app.example.com", "http://localhost:5173"},
		CookieSecure:        true,
		CookieSameSite:      http.SameSiteLaxMode,
		RequestTimeout:      3 * time.Second,
		ShutdownTimeout:     40 * time.Second,
		WebsocketCheckEvery: 30 * time.Second,
		GraphQL: config.GraphQLLimits{
			MaxDepth: 7, MaxAliases: 0, MaxRootFields: 20, MaxDirectives: 5,
			MaxCost: 900, MaxTokens: 5000, MaxQueryBytes: 15000,
		},
		// Production: introspection and the IDE only because they are set,
		// suggestions off by default.
		Introspection:        true,
		IDE:                  true,
		TrustedDocumentsFile: "/etc/coursehub/documents.json",
		AdminEmail:           "admin@example.com",
		AdminPassword:        "admin-password-1",
		Env:                  config.Production,
		LogLevel:             slog.LevelWarn,
		MaxBodyBytes:         2048,
		CatalogCacheSize:     50,
		FeedMaxEvents:        5000,
		FeedSizeBytes:        4 << 20,
		FeedPollInterval:     500 * time.Millisecond,
		FeedPublishRetry:     10 * time.Second,
		GraphQLGetMaxAge:     time.Minute,
		MailFrom:             "coursehub <no-reply@localhost>", AppURL: "http://127.0.0.1:5173", MailRetry: 30 * time.Second,
		ResetTokenTTL: 30 * time.Minute, VerifyTokenTTL: 24 * time.Hour, SecurityEventTTL: 180 * 24 * time.Hour,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
	if got.Embedded() {
		t.Errorf("Embedded() = true with MONGODB_URI set")
	}
	if got.Addr() != "127.0.0.1:9090" {
		t.Errorf("Addr() = %q", got.Addr())
	}
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vars  map[string]string
		check func(config.Config) bool
	}{
		{"OKPort0", map[string]string{"PORT": "0"}, func(c config.Config) bool { return c.Port == 0 }},
		{"OKPort65535", map[string]string{"PORT": "65535"}, func(c config.Config) bool { return c.Port == 65535 }},
		{"OKBcryptCost4", map[string]string{"BCRYPT_COST": "4"}, func(c config.Config) bool { return c.BcryptCost == 4 }},
		{"OKBcryptCost31", map[string]string{"BCRYPT_COST": "31"}, func(c config.Config) bool { return c.BcryptCost == 31 }},
		{"OKLogLevelDebug", map[string]string{"LOG_LEVEL": "debug"}, func(c config.Config) bool { return c.LogLevel == slog.LevelDebug }},
		{"OKLogLevelError", map[string]string{"LOG_LEVEL": " Error "}, func(c config.Config) bool { return c.LogLevel == slog.LevelError }},
		{"OKSecretExactly32Bytes", map[string]string{"JWT_SECRET": goodSecret[:32]}, func(c config.Config) bool { return len(c.JWTSecret) == 32 }},
		{"OKMongoURIWithSecret", map[string]string{"MONGODB_URI": "mongodb://x", "JWT_SECRET": goodSecret}, func(c config.Config) bool { return !c.Embedded() }},
		{"OKDatabase63Chars", map[string]string{"MONGODB_DATABASE": strings.Repeat("d", 63)}, func(c config.Config) bool { return len(c.Database) == 63 }},
		{"OKShutdownTimeoutMinimum", map[string]string{"SHUTDOWN_TIMEOUT": "1s"}, func(c config.Config) bool { return c.ShutdownTimeout == time.Second }},
		{"OKShutdownTimeoutMaximum", map[string]string{"SHUTDOWN_TIMEOUT": "10m"}, func(c config.Config) bool { return c.ShutdownTimeout == 10*time.Minute }},
		{"OKCatalogCacheOff", map[string]string{"CATALOG_CACHE_SIZE": "0"}, func(c config.Config) bool { return c.CatalogCacheSize == 0 }},
		{"OKFeedPollInterval", map[string]string{"FEED_POLL_INTERVAL": "250ms"}, func(c config.Config) bool { return c.FeedPollInterval == 250*time.Millisecond }},
		{"OKGetMaxAgeOff", map[string]string{"GRAPHQL_GET_MAX_AGE": "0s"}, func(c config.Config) bool { return c.GraphQLGetMaxAge == 0 }},
		{"OKAccessTTLEqualsRefreshTTL", map[string]string{"ACCESS_TOKEN_TTL": "1h", "REFRESH_TOKEN_TTL": "1h"}, func(c config.Config) bool { return c.AccessTokenTTL == time.Hour }},
		{"OKSMTPURL", map[string]string{"SMTP_URL": "smtps://u:p@mail.example.com"}, func(c config.Config) bool {
			return c.SMTP != nil && c.SMTP.Host == "mail.example.com" && c.SMTP.Port == 465 && c.SMTP.ImplicitTLS && c.SMTP.Password == "p"
		}},
		{"OKMailFrom", map[string]string{"MAIL_FROM": "Shop <shop@example.com>"}, func(c config.Config) bool { return c.MailFrom == "Shop <shop@example.com>" }},
		{"OKAppURLTrailingSlash", map[string]string{"APP_URL": "https://app.example.com/"}, func(c config.Config) bool { return c.AppURL == "https://app.example.com" }},
		{"OKRecoverySettings", map[string]string{"RESET_TOKEN_TTL": "10m", "VERIFY_TOKEN_TTL": "48h", "SECURITY_EVENT_TTL": "720h", "REQUIRE_VERIFIED_EMAIL_TO_BUY": "true", "MAIL_RETRY_INTERVAL": "1s"}, func(c config.Config) bool {
			return c.ResetTokenTTL == 10*time.Minute && c.VerifyTokenTTL == 48*time.Hour && c.SecurityEventTTL == 720*time.Hour && c.RequireVerifiedEmailToBuy && c.MailRetry == time.Second
		}},
		{"OKMailLimits", map[string]string{"RATE_LIMIT_MAIL_RECIPIENT": "3/1h", "RATE_LIMIT_MAIL_ADDRESS": "off"}, func(c config.Config) bool {
			return c.RateLimits.MailRecipient.Max == 3 && c.RateLimits.MailAddress.Off()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if c := mustLoad(t, tt.vars); !tt.check(c) {
				t.Errorf("Load(%v) = %+v", tt.vars, c)
			}
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		// names are the variables the error must name.
		names []string
		// secret, when set, must not appear in the error.
		secret string
	}{
		{"ErrPortNotANumber", map[string]string{"PORT": "abc"}, []string{"PORT"}, ""},
		{"ErrSMTPURLScheme", map[string]string{"SMTP_URL": "http://u:hunter2secret@h"}, []string{"SMTP_URL"}, "hunter2secret"},
		{"ErrSMTPURLNoHost", map[string]string{"SMTP_URL": "smtp://u:hunter2secret@"}, []string{"SMTP_URL"}, "hunter2secret"},
		{"ErrMailFrom", map[string]string{"MAIL_FROM": "not an address"}, []string{"MAIL_FROM"}, ""},
		{"ErrAppURL", map[string]string{"APP_URL": "javascript:alert(1)"}, []string{"APP_URL"}, ""},
		{"ErrResetTokenTTL", map[string]string{"RESET_TOKEN_TTL": "48h"}, []string{"RESET_TOKEN_TTL"}, ""},
		{"ErrVerifyTokenTTL", map[string]string{"VERIFY_TOKEN_TTL": "soon"}, []string{"VERIFY_TOKEN_TTL"}, ""},
		{"ErrSecurityEventTTL", map[string]string{"SECURITY_EVENT_TTL": "1m"}, []string{"SECURITY_EVENT_TTL"}, ""},
		{"ErrRequireVerified", map[string]string{"REQUIRE_VERIFIED_EMAIL_TO_BUY": "maybe"}, []string{"REQUIRE_VERIFIED_EMAIL_TO_BUY"}, ""},
		{"ErrMailRetry", map[string]string{"MAIL_RETRY_INTERVAL": "2h"}, []string{"MAIL_RETRY_INTERVAL"}, ""},
		{"ErrMailLimit", map[string]string{"RATE_LIMIT_MAIL_RECIPIENT": "lots"}, []string{"RATE_LIMIT_MAIL_RECIPIENT"}, ""},
		{"ErrPortTooBig", map[string]string{"PORT": "70000"}, []string{"PORT"}, ""},
		{"ErrPortNegative", map[string]string{"PORT": "-1"}, []string{"PORT"}, ""},
		{"ErrPortFraction", map[string]string{"PORT": "80.5"}, []string{"PORT"}, ""},
		{"ErrBcryptCostTooLow", map[string]string{"BCRYPT_COST": "3"}, []string{"BCRYPT_COST"}, ""},
		{"ErrBcryptCostTooHigh", map[string]string{"BCRYPT_COST": "32"}, []string{"BCRYPT_COST"}, ""},
		{"ErrBcryptCostNotANumber", map[string]string{"BCRYPT_COST": "high"}, []string{"BCRYPT_COST"}, ""},
		{"ErrAppEnv", map[string]string{"APP_ENV": "staging"}, []string{"APP_ENV"}, ""},
		{"ErrLogLevel", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL"}, ""},
		{"ErrAccessTokenTTLNotADuration", map[string]string{"ACCESS_TOKEN_TTL": "forever"}, []string{"ACCESS_TOKEN_TTL"}, ""},
		{"ErrAccessTokenTTLNoUnit", map[string]string{"ACCESS_TOKEN_TTL": "900"}, []string{"ACCESS_TOKEN_TTL"}, ""},
		{"ErrAccessTokenTTLTooShort", map[string]string{"ACCESS_TOKEN_TTL": "1s"}, []string{"ACCESS_TOKEN_TTL"}, ""},
		{"ErrAccessTokenTTLNegative", map[string]string{"ACCESS_TOKEN_TTL": "-15m"}, []string{"ACCESS_TOKEN_TTL"}, ""},
		{"ErrRefreshTokenTTL", map[string]string{"REFRESH_TOKEN_TTL": "soon"}, []string{"REFRESH_TOKEN_TTL"}, ""},
		{"ErrSessionTTL", map[string]string{"SESSION_TTL": "0"}, []string{"SESSION_TTL"}, ""},
		{"ErrDBTimeout", map[string]string{"DB_TIMEOUT": "1ms"}, []string{"DB_TIMEOUT"}, ""},
		{"ErrMaxBodyBytes", map[string]string{"MAX_BODY_BYTES": "1"}, []string{"MAX_BODY_BYTES"}, ""},
		{"ErrRefreshLongerThanSession", map[string]string{"REFRESH_TOKEN_TTL": "48h", "SESSION_TTL": "24h"}, []string{"REFRESH_TOKEN_TTL", "SESSION_TTL"}, ""},
		{"ErrAccessLongerThanRefresh", map[string]string{"ACCESS_TOKEN_TTL": "2h", "REFRESH_TOKEN_TTL": "1h"}, []string{"ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL"}, ""},
		{"ErrSecretTooShort", map[string]string{"JWT_SECRET": goodSecret[:31]}, []string{"JWT_SECRET"}, goodSecret[:31]},
		{"ErrSecretExample", map[string]string{"JWT_SECRET": "changeme-changeme-changeme-changeme"}, []string{"JWT_SECRET"}, "changeme-changeme-changeme-changeme"},
		{"ErrSecretExampleUpperCase", map[string]string{"JWT_SECRET": "MY-SUPER-SECRET-KEY-FOR-JWT-0123456789"}, []string{"JWT_SECRET"}, "MY-SUPER-SECRET-KEY-FOR-JWT-0123456789"},
		{"ErrSecretOneRepeatedChar", map[string]string{"JWT_SECRET": strings.Repeat("a", 64)}, []string{"JWT_SECRET"}, strings.Repeat("a", 64)},
		{"ErrSecretFewDistinctBytes", map[string]string{"JWT_SECRET": strings.Repeat("abc1", 10)}, []string{"JWT_SECRET"}, strings.Repeat("abc1", 10)},
		{"ErrMongoURIWithoutSecret", map[string]string{"MONGODB_URI": "mongodb://db.internal:27017"}, []string{"JWT_SECRET", "MONGODB_URI"}, ""},
		{"ErrAdminEmailWithoutPassword", map[string]string{"ADMIN_EMAIL": "admin@example.com"}, []string{"ADMIN_EMAIL", "ADMIN_PASSWORD"}, ""},
		{"ErrAdminPasswordWithoutEmail", map[string]string{"ADMIN_PASSWORD": "admin-password-1"}, []string{"ADMIN_EMAIL", "ADMIN_PASSWORD"}, "admin-password-1"},
		{"ErrAdminEmailInvalid", map[string]string{"ADMIN_EMAIL": "not-an-email", "ADMIN_PASSWORD": "admin-password-1"}, []string{"ADMIN_EMAIL"}, "admin-password-1"},
		{"ErrDatabaseDot", map[string]string{"MONGODB_DATABASE": "bad.name"}, []string{"MONGODB_DATABASE"}, ""},
		{"ErrDatabaseSlash", map[string]string{"MONGODB_DATABASE": "a/b"}, []string{"MONGODB_DATABASE"}, ""},
		{"ErrDatabaseDollar", map[string]string{"MONGODB_DATABASE": "$cmd"}, []string{"MONGODB_DATABASE"}, ""},
		{"ErrDatabaseSpace", map[string]string{"MONGODB_DATABASE": "course hub"}, []string{"MONGODB_DATABASE"}, ""},
		{"ErrDatabaseTooLong", map[string]string{"MONGODB_DATABASE": strings.Repeat("d", 64)}, []string{"MONGODB_DATABASE"}, ""},
		{"ErrBcryptConcurrency", map[string]string{"BCRYPT_CONCURRENCY": "-1"}, []string{"BCRYPT_CONCURRENCY"}, ""},
		{"ErrRateLimitShape", map[string]string{"RATE_LIMIT_LOGIN_ACCOUNT": "30"}, []string{"RATE_LIMIT_LOGIN_ACCOUNT"}, ""},
		{"ErrRateLimitWindow", map[string]string{"RATE_LIMIT_SIGNUP_ADDRESS": "30/forever"}, []string{"RATE_LIMIT_SIGNUP_ADDRESS"}, ""},
		{"ErrRateLimitZeroWindow", map[string]string{"RATE_LIMIT_REFRESH_SESSION": "5/0s"}, []string{"RATE_LIMIT_REFRESH_SESSION"}, ""},
		{"ErrTrustedProxies", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"}, []string{"TRUSTED_PROXIES"}, ""},
		{"ErrCORSWildcard", map[string]string{"CORS_ORIGINS": "*"}, []string{"CORS_ORIGINS"}, ""},
		{"ErrCORSPattern", map[string]string{"CORS_ORIGINS": "https://*.example.com"}, []string{"CORS_ORIGINS"}, ""},
		{"ErrCORSPath", map[string]string{"CORS_ORIGINS": "https://app.example.com/login"}, []string{"CORS_ORIGINS"}, ""},
		{"ErrCORSScheme", map[string]string{"CORS_ORIGINS": "ftp://app.example.com"}, []string{"CORS_ORIGINS"}, ""},
		{"ErrCookieInsecureInProduction", map[string]string{"COOKIE_SECURE": "false", "APP_ENV": "production"}, []string{"COOKIE_SECURE"}, ""},
		{"ErrCookieSecureValue", map[string]string{"COOKIE_SECURE": "maybe"}, []string{"COOKIE_SECURE"}, ""},
		{"ErrCookieSameSite", map[string]string{"COOKIE_SAMESITE": "sometimes"}, []string{"COOKIE_SAMESITE"}, ""},
		{"ErrRequestTimeout", map[string]string{"REQUEST_TIMEOUT": "0s"}, []string{"REQUEST_TIMEOUT"}, ""},
		{"ErrShutdownTimeoutZero", map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, []string{"SHUTDOWN_TIMEOUT"}, ""},
		{"ErrShutdownTimeoutNoUnit", map[string]string{"SHUTDOWN_TIMEOUT": "15"}, []string{"SHUTDOWN_TIMEOUT"}, ""},
		{"ErrShutdownTimeoutNegative", map[string]string{"SHUTDOWN_TIMEOUT": "-5s"}, []string{"SHUTDOWN_TIMEOUT"}, ""},
		{"ErrShutdownTimeoutTooLong", map[string]string{"SHUTDOWN_TIMEOUT": "11m"}, []string{"SHUTDOWN_TIMEOUT"}, ""},
		{"ErrMaxDepth", map[string]string{"GRAPHQL_MAX_DEPTH": "0"}, []string{"GRAPHQL_MAX_DEPTH"}, ""},
		{"ErrMaxCost", map[string]string{"GRAPHQL_MAX_COST": "lots"}, []string{"GRAPHQL_MAX_COST"}, ""},
		{"ErrMaxTokens", map[string]string{"GRAPHQL_MAX_TOKENS": "10"}, []string{"GRAPHQL_MAX_TOKENS"}, ""},
		{"ErrIntrospection", map[string]string{"INTROSPECTION": "sometimes"}, []string{"INTROSPECTION"}, ""},
		{"ErrIDE", map[string]string{"IDE": "maybe"}, []string{"IDE"}, ""},
		{"ErrCatalogCacheSizeNegative", map[string]string{"CATALOG_CACHE_SIZE": "-1"}, []string{"CATALOG_CACHE_SIZE"}, ""},
		{"ErrCatalogCacheSizeHuge", map[string]string{"CATALOG_CACHE_SIZE": "100001"}, []string{"CATALOG_CACHE_SIZE"}, ""},
		{"ErrFeedPollIntervalNoUnit", map[string]string{"FEED_POLL_INTERVAL": "1"}, []string{"FEED_POLL_INTERVAL"}, ""},
		{"ErrFeedMaxEventsTiny", map[string]string{"FEED_MAX_EVENTS": "1"}, []string{"FEED_MAX_EVENTS"}, ""},
		{"ErrFeedPollIntervalTooShort", map[string]string{"FEED_POLL_INTERVAL": "1ms"}, []string{"FEED_POLL_INTERVAL"}, ""},
		{"ErrFeedPublishRetryTooLong", map[string]string{"FEED_PUBLISH_RETRY": "2h"}, []string{"FEED_PUBLISH_RETRY"}, ""},
		{"ErrGetMaxAgeFraction", map[string]string{"GRAPHQL_GET_MAX_AGE": "1500ms"}, []string{"GRAPHQL_GET_MAX_AGE"}, ""},
		{"ErrGetMaxAgeNegative", map[string]string{"GRAPHQL_GET_MAX_AGE": "-5s"}, []string{"GRAPHQL_GET_MAX_AGE"}, ""},
		{"ErrGetMaxAgeTooLong", map[string]string{"GRAPHQL_GET_MAX_AGE": "25h"}, []string{"GRAPHQL_GET_MAX_AGE"}, ""},
		{"ErrCookieSameSiteNoneInsecure", map[string]string{"COOKIE_SAMESITE": "none", "COOKIE_SECURE": "false"}, []string{"COOKIE_SAMESITE"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(getenv(tt.vars))
			if err == nil {
				t.Fatalf("Load(%v) = nil error", tt.vars)
			}
			for _, name := range tt.names {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q repeats the secret value", err)
			}
		})
	}
}

// TestLoadReportsEveryError: two bad variables give one error naming both,
// so an operator fixes them in one go.
func TestLoadReportsEveryError(t *testing.T) {
	t.Parallel()
	_, err := config.Load(getenv(map[string]string{"PORT": "abc", "LOG_LEVEL": "loud"}))
	if err == nil {
		t.Fatal("Load = nil error")
	}
	for _, name := range []string{"PORT", "LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
