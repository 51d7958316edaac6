package purchase_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
	"github.com/coursehub/coursehub/internal/purchase"
)

func newPurchase() purchase.Purchase {
	return purchase.Purchase{
		ID: bson.NewObjectID().Hex(), UserID: bson.NewObjectID().Hex(), CourseID: bson.NewObjectID().Hex(),
		PricePaid: 4900, PurchasedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
}

// Ensure an insert whose outcome is unknown (the database gone, or the
// deadline past) is SERVICE_UNAVAILABLE saying that retrying is safe, never
// an internal error that makes a recorded purchase look failed.
func TestInsertOutcomeUnknown(t *testing.T) {
	db := mongotest.StartServer(t)
	client, err := mongodb.Connect(context.Background(), db.URI(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	store := purchase.NewMongoStore(client.Database(mongotest.DatabaseName(t)), mongodb.InProcessIndexes)
	if err := store.EnsureIndexes(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}

	mustBeUnknown := func(t *testing.T, err error) {
		t.Helper()
		if got := apperr.CodeOf(err); got != "SERVICE_UNAVAILABLE" {
			t.Fatalf("Insert = %v (code %s), want SERVICE_UNAVAILABLE", err, got)
		}
		msg := apperr.MessageOf(err)
		for _, w := range []string{"may have been recorded", "retrying is safe"} {
			if !strings.Contains(msg, w) {
				t.Errorf("message %q does not say %q", msg, w)
			}
		}
		if ae, _ := apperr.As(err); ae.RetryAfterSeconds < 1 {
			t.Errorf("RetryAfterSeconds = %d, want at least 1", ae.RetryAfterSeconds)
		}
	}

	t.Run("OKRecorded", func(t *testing.T) {
		if _, created, err := store.Insert(context.Background(), newPurchase()); err != nil || !created {
			t.Fatalf("Insert = %v, created %v", err, created)
		}
	})
	t.Run("ErrDeadlinePassed", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, _, err := store.Insert(ctx, newPurchase())
		mustBeUnknown(t, err)
	})

	db.Stop()

	t.Run("ErrDatabaseGone", func(t *testing.T) {
		_, _, err := store.Insert(context.Background(), newPurchase())
		mustBeUnknown(t, err)
	})
}
