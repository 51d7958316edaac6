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
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coursehub/coursehub/graph"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/config"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/events"
	"github.com/coursehub/coursehub/internal/fanout"
	"github.com/coursehub/coursehub/internal/feed"
	"github.com/coursehub/coursehub/internal/lesson"
	"github.com/coursehub/coursehub/internal/mail"
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
	cleanupInterval   = 10 * time.Minute
	// setupRetryEvery spaces the attempts to set up a database that answers
	// but failed the set-up with an error that means "unreachable".
	setupRetryEvery = 250 * time.Millisecond
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
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
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

	ready := &readiness{db: db}
	app, err := wire(cfg, tokenCfg, db, ready, logger)
	if err != nil {
		return err
	}
	// The embedded database answers or Open failed: set it up now, and
	// fail start-up if that fails. An external one may be down: a server
	// that waits for it serves sooner than one its orchestrator restarts with
	// a growing delay. It is set up before listening if it answers at once,
	// and otherwise in the background, with /readyz 503 and operations
	// refused with SERVICE_UNAVAILABLE until then.
	setupErr := make(chan error, 1)
	setupRunning := false
	switch {
	case db.Embedded():
		if err := app.setup(ctx); err != nil {
			return err
		}
		ready.setUp.Store(true)
	default:
		wctx, cancel := context.WithTimeout(ctx, cfg.DBTimeout)
		up := db.Monitor.WaitDecided(wctx)
		cancel()
		if up {
			err := app.setup(ctx)
			if err != nil && !mongodb.IsUnavailable(err) {
				return err
			}
			ready.setUp.Store(err == nil)
		}
		if !ready.setUp.Load() {
			setupRunning = true
			go func() { setupErr <- setupLoop(ctx, db.Monitor, app.setup, ready, logger) }()
		}
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
	srv.RegisterOnShutdown(app.stopStreams)
	base := "http://" + displayAddr(ln.Addr())
	logger.Info("listening", "addr", ln.Addr().String(), "ide", base+"/", "api", base+"/graphql")

	go cleanupLoop(ctx, app.expiring, logger)
	// The mail worker stops before the database closes (defers run last
	// first), whichever way run returns.
	mailCtx, stopMail := context.WithCancel(ctx)
	mailDone := make(chan struct{})
	go func() { defer close(mailDone); app.mail.Run(mailCtx) }()
	defer func() { stopMail(); <-mailDone }()
	// The feed stops before the database closes too.
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); app.feed.Run(feedCtx) }()
	defer func() { stopFeed(); <-feedDone }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var fatal error
	for fatal == nil && ctx.Err() == nil {
		select {
		case err := <-serveErr:
			return fmt.Errorf("serve: %w", err)
		case err := <-setupErr:
			// A set-up that failed for another reason than the database's
			// absence (a refused ADMIN_PASSWORD, say) is a configuration
			// error: stop, as at start-up.
			fatal, setupRunning = err, false
		case <-ctx.Done():
		}
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if fatal != nil {
		return fatal
	}
	if setupRunning {
		<-setupErr // it ends with ctx
	}
	logger.Info("stopped")
	return nil
}

// readiness is the database as the handler sees it: available once it is
// reachable and set up (indexes, first admin).
type readiness struct {
	db    *mongodb.DB
	setUp atomic.Bool
}

func (r *readiness) Available() bool                { return r.setUp.Load() && r.db.Available() }
func (r *readiness) Ping(ctx context.Context) error { return r.db.Ping(ctx) }
func (r *readiness) UpContext() context.Context     { return r.db.UpContext() }

// setupLoop sets the database up once it is reachable, retrying while the
// failures mean it is not. It logs the first failure and the success, not
// every try. It returns nil once set up or when ctx ends, and any other
// error at once.
func setupLoop(ctx context.Context, m *mongodb.Monitor, setup func(context.Context) error, ready *readiness, logger *slog.Logger) error {
	waiting := false
	for {
		if err := m.WaitUp(ctx); err != nil {
			return nil
		}
		err := setup(ctx)
		switch {
		case err == nil:
			ready.setUp.Store(true)
			logger.Info("database set up; serving")
			return nil
		case ctx.Err() != nil:
			return nil
		case !mongodb.IsUnavailable(err):
			return err
		case !waiting:
			waiting = true
			logger.Warn("database set-up failed; retrying while the database is reachable", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(setupRetryEvery):
		}
	}
}

// app is the wired application.
type app struct {
	handler http.Handler
	// expiring are the stores whose expired documents the clean-up removes.
	expiring []expirer
	// setup migrates older document shapes, creates the indexes (on the
	// embedded database: builds the in-process ones) and makes sure the
	// first admin exists; it is idempotent, so it may be retried.
	setup func(context.Context) error
	// mail is the mail queue, whose worker runs while the server does.
	mail *mail.Queue
	// feed is the change feed, which reads and publishes while the server
	// runs (from the first successful setup on).
	feed *feed.Feed
	// stopStreams ends the open SSE and multipart streams, which a
	// graceful shutdown would otherwise wait for until its timeout.
	stopStreams func()
}

// expirer deletes documents past their expiry.
type expirer interface {
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// wire builds stores, services and the handler, without a database call;
// the returned app's setup does those.
func wire(cfg config.Config, tokenCfg auth.TokenConfig, db *mongodb.DB, health server.Database, logger *slog.Logger) (app, error) {
	// The embedded database answers other lookups than by _id only by
	// decoding whole collections: there the stores keep in-process indexes.
	lookups := db.Lookups()
	userStore := user.NewMongoStore(db.Database, lookups)
	sessionStore := auth.NewStore(db.Database, lookups)
	courseStore := course.NewMongoStore(db.Database, lookups)
	purchaseStore := purchase.NewMongoStore(db.Database, lookups)
	lessonStore := lesson.NewMongoStore(db.Database, lookups)
	limiter := auth.NewLimiter(db.Database, lookups)

	passwords, err := auth.NewPasswords(cfg.BcryptCost, cfg.BcryptConcurrency)
	if err != nil {
		return app{}, err
	}
	tokens, err := auth.NewTokens(tokenCfg)
	if err != nil {
		return app{}, err
	}
	users := user.NewService(userStore, passwords)
	templates, err := mail.LoadTemplates()
	if err != nil {
		return app{}, err
	}
	var sender mail.Sender = mail.NewOutbox(filepath.Join(cfg.DataDir, "outbox"), cfg.MailFrom, logger)
	if cfg.SMTP != nil {
		sender = mail.NewSMTP(*cfg.SMTP, cfg.MailFrom, 30*time.Second)
	} else {
		logger.Info("SMTP_URL is not set: mails are written to the outbox directory", "dir", filepath.Join(cfg.DataDir, "outbox"))
	}
	mailQueue := mail.NewQueue(db.Database, sender, mailKeys(tokenCfg), cfg.MailRetry, logger)
	accountTokens := auth.NewAccountTokens(db.Database)
	securityLog := auth.NewSecurityLog(db.Database, cfg.SecurityEventTTL)
	var catalog course.Store = courseStore
	var invalidate func()
	if cfg.CatalogCacheSize > 0 {
		cache := course.NewCache(courseStore, course.CacheConfig{Size: cfg.CatalogCacheSize})
		catalog, invalidate = cache, cache.Invalidate
	}
	// The change feed carries events between the instances on this
	// database; subscribers and the cache get them only from it.
	hub := events.NewBus()
	bus := feed.New(db.Database, hub, invalidate, feed.Config{
		MaxEvents: cfg.FeedMaxEvents, SizeBytes: int64(cfg.FeedSizeBytes),
		PollInterval: cfg.FeedPollInterval, PublishRetry: cfg.FeedPublishRetry,
	}, logger)
	courses := course.NewService(catalog, bus)
	subscriptions := fanout.New(bus, hub.CountMissed)
	resolver := &graph.Resolver{
		Auth: auth.NewService(users, sessionStore, limiter, tokens, bus, auth.Config{
			RefreshTTL: cfg.RefreshTokenTTL, SessionTTL: cfg.SessionTTL, Limits: cfg.RateLimits,
			Proxies: cfg.TrustedProxies,
			Cookies: auth.CookieConfig{
				Path: "/graphql", Secure: cfg.CookieSecure, SameSite: cfg.CookieSameSite, Origins: cfg.CORSOrigins,
			},
		}, logger).WithAccounts(auth.Accounts{
			Users: users, Tokens: accountTokens, Log: securityLog, Mail: mailQueue, Templates: templates,
			AppURL: cfg.AppURL, ResetTTL: cfg.ResetTokenTTL, VerifyTTL: cfg.VerifyTokenTTL,
			RequireVerifiedToBuy: cfg.RequireVerifiedEmailToBuy,
		}),
		Users:      users,
		Catalog:    courses,
		Purchases:  purchase.NewService(purchaseStore, courses, bus),
		Curriculum: lesson.NewService(lessonStore),
		// Subscribers of one operation share its execution per event.
		Events: subscriptions,
	}
	resolver.Auth.WithSubjects(graph.NewSubjects(resolver))

	if !cfg.CookieSecure {
		logger.Warn("COOKIE_SECURE=false: cookies are sent over plain http; for local development only")
	}
	setup := func(ctx context.Context) error {
		// Before IndexIDs, which would create the feed uncapped.
		if err := bus.Setup(ctx); err != nil {
			return err
		}
		if err := db.IndexIDs(ctx, "users", "user_emails", "courses", "purchases",
			"sessions", "refresh_tokens", "rate_events", "migrations", feed.Collection,
			"account_tokens", "mail_queue", "mail_claims", "mail_discarded", "security_events",
			lesson.LessonsCollection, lesson.OutlinesCollection, lesson.ProgressCollection); err != nil {
			return err
		}
		for _, s := range []interface {
			EnsureIndexes(context.Context, *slog.Logger) error
		}{userStore, sessionStore, courseStore, purchaseStore, lessonStore, limiter, mailQueue, accountTokens, securityLog} {
			if err := s.EnsureIndexes(ctx, logger); err != nil {
				return err
			}
		}
		if cfg.AdminEmail != "" {
			admin, err := users.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
			if err != nil {
				return fmt.Errorf("first admin: %w", err)
			}
			logger.Info("admin account ready", "user", admin.ID)
		}
		return nil
	}

	var trusted map[string]string
	if cfg.TrustedDocumentsFile != "" {
		if trusted, err = loadTrustedDocuments(cfg.TrustedDocumentsFile); err != nil {
			return app{}, err
		}
		logger.Info("trusted documents mode: only listed operations run", "documents", len(trusted))
	}
	stopping := make(chan struct{})
	h := server.New(server.Deps{
		Stopping:            stopping,
		Logger:              logger,
		Resolver:            resolver,
		DB:                  health,
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
		GetMaxAge:        cfg.GraphQLGetMaxAge,
		TrustedDocuments: trusted,
	})
	return app{handler: h, expiring: []expirer{sessionStore, limiter, mailQueue, accountTokens, securityLog}, setup: setup, mail: mailQueue,
		feed: bus, stopStreams: sync.OnceFunc(func() { close(stopping) })}, nil
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

// mailKeys derives the keys that seal queued mails from the signing
// secrets, which every instance shares: the current one seals, earlier
// ones still open what was queued before a rotation.
func mailKeys(t auth.TokenConfig) mail.Keys {
	secrets := [][]byte{t.Secret}
	if t.SigningKey != nil {
		secrets = [][]byte{t.SigningKey.Seed(), t.Secret}
	}
	return mail.DeriveKeys(append(secrets, t.PreviousSecrets...)...)
}
