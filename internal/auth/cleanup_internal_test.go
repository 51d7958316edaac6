package auth

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// Ensure the clean-up removes exactly the expired sessions, refresh tokens
// and rate-limit events (what a TTL index does where the server has one).
func TestDeleteExpired(t *testing.T) { forEachLookups(t, testDeleteExpired) }

func testDeleteExpired(t *testing.T, lookups mongodb.Lookups) {
	ctx := context.Background()
	db := mongotest.NewDatabase(t)
	store, limiter := NewStore(db, lookups), newLimiter(t, db, lookups)
	now := time.Now().UTC().Truncate(time.Millisecond)

	mk := func(expires time.Time) string {
		ss, err := store.insertSession(ctx, session{UserID: bson.NewObjectID().Hex(), CreatedAt: now.Add(-time.Hour), ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.insertRefresh(ctx, refreshToken{Hash: hashToken(randomToken()), Parent: "session:" + ss.ID, SessionID: ss.ID, CreatedAt: now, ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
		return ss.ID
	}
	expired, live := mk(now.Add(-time.Minute)), mk(now.Add(time.Hour))

	limiter.now = func() time.Time { return now.Add(-2 * time.Hour) }
	if _, err := limiter.Take(ctx, "k", Limit{Max: 10, Window: time.Hour}); err != nil {
		t.Fatal(err)
	}
	limiter.now = func() time.Time { return now }
	if _, err := limiter.Take(ctx, "k", Limit{Max: 10, Window: time.Hour}); err != nil {
		t.Fatal(err)
	}

	n, err := store.DeleteExpired(ctx, now)
	if err != nil || n != 2 {
		t.Errorf("store.DeleteExpired = %d, %v; want 2 (one session, one token)", n, err)
	}
	if _, err := store.sessionByID(ctx, expired); err != errNoRow {
		t.Errorf("expired session still there: %v", err)
	}
	if _, err := store.sessionByID(ctx, live); err != nil {
		t.Errorf("live session removed: %v", err)
	}
	if n, err := limiter.DeleteExpired(ctx, now); err != nil || n != 1 {
		t.Errorf("limiter.DeleteExpired = %d, %v; want 1", n, err)
	}
	if c, _ := limiter.coll.CountDocuments(ctx, bson.D{}); c != 1 {
		t.Errorf("%d rate events left, want 1", c)
	}
}

// Ensure refreshRotated tells a session's newest refresh token from one that
// has a successor, with either kind of lookup (the socket's refresh-cookie
// sign-in relies on it).
func TestRefreshRotated(t *testing.T) { forEachLookups(t, testRefreshRotated) }

func testRefreshRotated(t *testing.T, lookups mongodb.Lookups) {
	ctx := context.Background()
	db := mongotest.NewDatabase(t)
	store := NewStore(db, lookups)
	if err := store.EnsureIndexes(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	ss, err := store.insertSession(ctx, session{UserID: bson.NewObjectID().Hex(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	first := refreshToken{Hash: hashToken(randomToken()), Parent: "session:" + ss.ID, SessionID: ss.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	second := refreshToken{Hash: hashToken(randomToken()), Parent: first.Hash, SessionID: ss.ID, CreatedAt: now.Add(time.Second), ExpiresAt: now.Add(time.Hour)}
	if err := store.insertRefresh(ctx, first); err != nil {
		t.Fatal(err)
	}
	if rotated, err := store.refreshRotated(ctx, first); err != nil || rotated {
		t.Errorf("the only token: rotated = %v, %v; want false", rotated, err)
	}
	if err := store.insertRefresh(ctx, second); err != nil {
		t.Fatal(err)
	}
	if rotated, err := store.refreshRotated(ctx, first); err != nil || !rotated {
		t.Errorf("the rotated token: rotated = %v, %v; want true", rotated, err)
	}
	if rotated, err := store.refreshRotated(ctx, second); err != nil || rotated {
		t.Errorf("its successor: rotated = %v, %v; want false", rotated, err)
	}
	// A store that starts afresh (another start of the server) agrees.
	again := NewStore(db, lookups)
	if err := again.EnsureIndexes(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if rotated, err := again.refreshRotated(ctx, first); err != nil || !rotated {
		t.Errorf("after a restart, the rotated token: rotated = %v, %v; want true", rotated, err)
	}
}
