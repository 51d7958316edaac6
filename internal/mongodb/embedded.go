package mongodb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is an in-process FerretDB (SQLite backend) listening on a loopback
// port. It lets coursehub run, and its tests pass, with no MongoDB installed.
type Embedded struct {
	uri    string
	dir    string // the absolute data directory
	cancel context.CancelFunc
	done   chan struct{}
}

// StartEmbedded starts FerretDB with its data in dir (created if missing) on
// 127.0.0.1 and a free port. FerretDB's own logs go to logger at error level
// only: it logs every refused command (including the duplicate-key errors we
// provoke on purpose) as a warning.
func StartEmbedded(ctx context.Context, dir string, logger *slog.Logger) (*Embedded, error) {
	return StartEmbeddedOn(ctx, dir, "127.0.0.1:0", logger)
}

// StartEmbeddedOn is StartEmbedded listening on addr (host:port), so that a
// server can be stopped and started again where its clients look for it.
func StartEmbeddedOn(ctx context.Context, dir, addr string, logger *slog.Logger) (*Embedded, error) {
	abs, err := WritableDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + string(filepath.Separator),
		Logger:    slog.New(minLevel{h: logger.Handler(), min: slog.LevelError}).With("component", "ferretdb"),
	})
	if err != nil {
		return nil, fmt.Errorf("mongodb: start embedded database in %s: %w", abs, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Embedded{dir: abs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		_ = f.Run(runCtx)
	}()
	// MongoDBURI waits for the listener that Run opens.
	e.uri = f.MongoDBURI()
	return e, nil
}

// WritableDir makes sure dir exists and can be written, and returns its
// absolute path. SQLite, told to open a file in a folder it cannot write,
// says only "unable to open database file: out of memory (14)"; this says
// which folder and why.
func WritableDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("DATA_DIR %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("DATA_DIR %s cannot be created (%s): %w", abs, pathProblem(err), err)
	}
	f, err := os.CreateTemp(abs, ".write-check-*")
	if err != nil {
		return "", fmt.Errorf("DATA_DIR %s is not writable (%s): %w", abs, pathProblem(err), err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return "", fmt.Errorf("DATA_DIR %s is not writable (%s): %w", abs, pathProblem(err), err)
	}
	return abs, nil
}

// pathProblem names the usual reasons a folder cannot be made or written.
func pathProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, syscall.ENOTDIR):
		return "part of the path is a file, not a folder"
	case errors.Is(err, fs.ErrExist):
		return "a file of that name is in the way"
	case errors.Is(err, syscall.EROFS):
		return "read-only file system"
	case errors.Is(err, syscall.ENOSPC):
		return "no space left"
	}
	return "check the path and its permissions"
}

// URI is the connection string of the embedded server.
func (e *Embedded) URI() string { return e.uri }

// Stop closes the listener and the SQLite files and waits for both.
func (e *Embedded) Stop() {
	e.cancel()
	<-e.done
}

// minLevel drops records below min before they reach h.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h: m.h.WithAttrs(as), min: m.min}
}
func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h: m.h.WithGroup(name), min: m.min}
}
