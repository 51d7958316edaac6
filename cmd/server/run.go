package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/coursehub/coursehub/graph"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/config"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/events"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/purchase"
	"github.com/coursehub/coursehub/internal/server"
	"github.com/coursehub/coursehub/internal/user"
)

// Server timeouts. Go's defaults are zero, i.e. none, which lets slow
// clients hold connections forever.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 15 * time.Second
	cleanupInterval   = 10 * time.Minute
)

// run is the whole program: configuration, database, services, HTTP server,
// and a graceful shutdown on SIGINT, SIGTERM or ctx's end.
func run(ctx context.Context, _ []string, getenv func(string) string, stdout, _ io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	db, err := mongodb.Open(ctx, mongodb.Options{
		URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database, Timeout: cfg.DBTimeout,
	}, logger)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := db.Close(cctx); err != nil {
			logger.Warn("closing database", "err", err)
		}
	}()
	if db.Embedded() {
		logger.Info("using the embedded database", "dir", cfg.DataDir)
	} else {
		logger.Info("using MONGODB_URI", "database", cfg.Database)
	}

	tokenCfg := auth.TokenConfig{
		Secret: cfg.JWTSecret, PreviousSecrets: cfg.JWTPreviousSecrets,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTokenTTL,
	}
	tokenCfg.SigningKey, tokenCfg.VerifyKeys, err = signingKeys(cfg)
	if err != nil {
		return err
	}
	if len(tokenCfg.Secret) == 0 && tokenCfg.SigningKey == nil {
		tokenCfg.Secret, err = loadOrCreateSecret(cfg.DataDir)
		if err != nil {
			return err
		}
		logger.Warn("JWT_SECRET is not set; using a generated secret kept in the data directory (set JWT_SECRET in production)")
	}

	app, err := wire(ctx, cfg, tokenCfg, db, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	srv := &http.Server{
		Handler:           app.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	base := "http://" + displayAddr(ln.Addr())
	logger.Info("listening", "addr", ln.Addr().String(), "ide", base+"/", "api", base+"/graphql")

	go cleanupLoop(ctx, app.expiring, logger)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// app is the wired application.
type app struct {
	handler http.Handler
	// expiring are the stores whose expired documents the clean-up removes.
	expiring []expirer
}

// expirer deletes documents past their expiry.
type expirer interface {
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// wire builds stores, indexes, services and the handler, and makes sure the
// first admin exists.
func wire(ctx context.Context, cfg config.Config, tokenCfg auth.TokenConfig, db *mongodb.DB, logger *slog.Logger) (app, error) {
	userStore := user.NewMongoStore(db.Database)
	sessionStore := auth.NewStore(db.Database)
	courseStore := course.NewMongoStore(db.Database)
	purchaseStore := purchase.NewMongoStore(db.Database)
	limiter := auth.NewLimiter(db.Database)
	for _, s := range []interface {
		EnsureIndexes(context.Context, *slog.Logger) error
	}{userStore, sessionStore, courseStore, purchaseStore, limiter} {
		if err := s.EnsureIndexes(ctx, logger); err != nil {
			return app{}, err
		}
	}

	passwords, err := auth.NewPasswords(cfg.BcryptCost, cfg.BcryptConcurrency)
	if err != nil {
		return app{}, err
	}
	tokens, err := auth.NewTokens(tokenCfg)
	if err != nil {
		return app{}, err
	}
	users := user.NewService(userStore, passwords)
	bus := events.NewBus()
	courses := course.NewService(courseStore, bus)
	resolver := &graph.Resolver{
		Auth: auth.NewService(users, sessionStore, limiter, tokens, bus, auth.Config{
			RefreshTTL: cfg.RefreshTokenTTL, SessionTTL: cfg.SessionTTL, Limits: cfg.RateLimits,
			Proxies: cfg.TrustedProxies,
			Cookies: auth.CookieConfig{
				Path: "/graphql", Secure: cfg.CookieSecure, SameSite: cfg.CookieSameSite, Origins: cfg.CORSOrigins,
			},
		}, logger),
		Users:     users,
		Catalog:   courses,
		Purchases: purchase.NewService(purchaseStore, courses, bus),
		Events:    bus,
	}

	if !cfg.CookieSecure {
		logger.Warn("COOKIE_SECURE=false: cookies are sent over plain http; for local development only")
	}
	if cfg.AdminEmail != "" {
		admin, err := users.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return app{}, fmt.Errorf("first admin: %w", err)
		}
		logger.Info("admin account ready", "user", admin.ID)
	}

	var trusted map[string]string
	if cfg.TrustedDocumentsFile != "" {
		if trusted, err = loadTrustedDocuments(cfg.TrustedDocumentsFile); err != nil {
			return app{}, err
		}
		logger.Info("trusted documents mode: only listed operations run", "documents", len(trusted))
	}
	h := server.New(server.Deps{
		Logger:              logger,
		Resolver:            resolver,
		DB:                  db,
		JWKS:                tokens.JWKS(),
		CORSOrigins:         cfg.CORSOrigins,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		RequestTimeout:      cfg.RequestTimeout,
		WebsocketCheckEvery: cfg.WebsocketCheckEvery,
		Limits: server.Limits{
			MaxDepth: cfg.GraphQL.MaxDepth, MaxAliases: cfg.GraphQL.MaxAliases,
			MaxRootFields: cfg.GraphQL.MaxRootFields, MaxDirectives: cfg.GraphQL.MaxDirectives,
			MaxCost: cfg.GraphQL.MaxCost, MaxQueryBytes: cfg.GraphQL.MaxQueryBytes,
			Verbose: cfg.Env == config.Development,
		},
		MaxTokens:        cfg.GraphQL.MaxTokens,
		Introspection:    cfg.Introspection,
		Suggestions:      cfg.Suggestions,
		IDE:              cfg.IDE,
		APQCacheSize:     cfg.APQCacheSize,
		TrustedDocuments: trusted,
	})
	return app{handler: h, expiring: []expirer{sessionStore, limiter}}, nil
}

// cleanupLoop deletes expired sessions, refresh tokens and rate-limit
// events, which TTL indexes would do on servers that have them.
func cleanupLoop(ctx context.Context, stores []expirer, logger *slog.Logger) {
	t := time.NewTicker(cleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, s := range stores {
				n, err := s.DeleteExpired(ctx, now)
				if err != nil {
					logger.Warn("clean-up of expired documents failed", "err", err)
					continue
				}
				if n > 0 {
					logger.Debug("expired documents removed", "count", n)
				}
			}
		}
	}
}

// displayAddr turns a wildcard listen address into one a person can click.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return fmt.Sprintf("localhost:%d", tcp.Port)
}
