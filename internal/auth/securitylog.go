package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/pagination"
)

// SecurityEventKind is what happened; the GraphQL enum binds to it.
type SecurityEventKind string

// The security events recorded.
const (
	EventSignup                 SecurityEventKind = "SIGNUP"
	EventLogin                  SecurityEventKind = "LOGIN"
	EventLoginFailed            SecurityEventKind = "LOGIN_FAILED"
	EventLogout                 SecurityEventKind = "LOGOUT"
	EventRefreshReuseDetected   SecurityEventKind = "REFRESH_REUSE_DETECTED"
	EventSessionRevoked         SecurityEventKind = "SESSION_REVOKED"
	EventPasswordChanged        SecurityEventKind = "PASSWORD_CHANGED"
	EventPasswordResetRequested SecurityEventKind = "PASSWORD_RESET_REQUESTED"
	EventPasswordReset          SecurityEventKind = "PASSWORD_RESET"
	EventEmailVerified          SecurityEventKind = "EMAIL_VERIFIED"
	EventEmailChangeRequested   SecurityEventKind = "EMAIL_CHANGE_REQUESTED"
	EventEmailChanged           SecurityEventKind = "EMAIL_CHANGED"
	EventRoleChanged            SecurityEventKind = "ROLE_CHANGED"
	EventRateLimited            SecurityEventKind = "RATE_LIMITED"
)

// SecurityEvent is one recorded event. It never holds a password or token.
type SecurityEvent struct {
	ID   string
	Kind SecurityEventKind
	At   time.Time
	// UserID is the account concerned; empty when none is known (a failed
	// login of an unknown email, a rate-limited request).
	UserID    string
	IP        *string
	UserAgent *string
	SessionID *string
}

// securityEventDoc is a document of the security_events collection.
type securityEventDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	Kind      string        `bson:"kind"`
	At        time.Time     `bson:"at"`
	UserID    string        `bson:"userId,omitempty"`
	IP        string        `bson:"ip,omitempty"`
	UserAgent string        `bson:"userAgent,omitempty"`
	SessionID string        `bson:"sessionId,omitempty"`
	ExpiresAt time.Time     `bson:"expiresAt"`
}

func (d securityEventDoc) toEvent() SecurityEvent {
	return SecurityEvent{
		ID: d.ID.Hex(), Kind: SecurityEventKind(d.Kind), At: d.At.UTC(), UserID: d.UserID,
		IP: nonEmpty(d.IP), UserAgent: nonEmpty(d.UserAgent), SessionID: nonEmpty(d.SessionID),
	}
}

// SecurityLog stores security events, each kept for a retention period.
type SecurityLog struct {
	coll   *mongo.Collection
	retain time.Duration
}

// NewSecurityLog returns a log over db's security_events collection that
// keeps events for retain.
func NewSecurityLog(db *mongo.Database, retain time.Duration) *SecurityLog {
	return &SecurityLog{coll: db.Collection("security_events"), retain: retain}
}

// EnsureIndexes creates the listing indexes and, where supported, a TTL
// index.
func (l *SecurityLog) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	return mongodb.CreateIndexes(ctx, l.coll, logger,
		mongo.IndexModel{Keys: bson.D{{Key: "userId", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("userId_id")},
		mongo.IndexModel{Keys: bson.D{{Key: "kind", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("kind_id")},
		mongo.IndexModel{Keys: bson.D{{Key: "expiresAt", Value: 1}}, Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0)},
	)
}

func (l *SecurityLog) insert(ctx context.Context, e SecurityEvent) error {
	d := securityEventDoc{
		ID: bson.NewObjectID(), Kind: string(e.Kind), At: e.At, UserID: e.UserID, ExpiresAt: e.At.Add(l.retain),
	}
	if e.IP != nil {
		d.IP = *e.IP
	}
	if e.UserAgent != nil {
		d.UserAgent = *e.UserAgent
	}
	if e.SessionID != nil {
		d.SessionID = *e.SessionID
	}
	if _, err := l.coll.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("security events: insert: %w", err)
	}
	return nil
}

// EventFilter narrows a listing; empty fields match everything.
type EventFilter struct {
	UserID string
	Kind   SecurityEventKind
}

func (f EventFilter) bson() bson.D {
	out := bson.D{}
	if f.UserID != "" {
		out = append(out, bson.E{Key: "userId", Value: f.UserID})
	}
	if f.Kind != "" {
		out = append(out, bson.E{Key: "kind", Value: string(f.Kind)})
	}
	return out
}

// list returns one page of events, newest first.
func (l *SecurityLog) list(ctx context.Context, f EventFilter, a pagination.Args) (pagination.Page[SecurityEvent], error) {
	after, err := mongodb.AfterID(a)
	if err != nil {
		return pagination.Page[SecurityEvent]{}, err
	}
	cur, err := l.coll.Find(ctx, mongodb.PageFilter(f.bson(), "_id", after), mongodb.PageOptions("_id", a.First))
	if err != nil {
		return pagination.Page[SecurityEvent]{}, fmt.Errorf("security events: list: %w", err)
	}
	var docs []securityEventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return pagination.Page[SecurityEvent]{}, fmt.Errorf("security events: list: %w", err)
	}
	page := pagination.NewPage(docs, a, func(d securityEventDoc) string { return d.ID.Hex() })
	return pagination.Map(page, securityEventDoc.toEvent), nil
}

// count counts the events f matches.
func (l *SecurityLog) count(ctx context.Context, f EventFilter) (int, error) {
	n, err := l.coll.CountDocuments(ctx, f.bson())
	if err != nil {
		return 0, fmt.Errorf("security events: count: %w", err)
	}
	return int(n), nil
}

// DeleteExpired removes events past their retention.
func (l *SecurityLog) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	r, err := l.coll.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("security events: delete expired: %w", err)
	}
	return r.DeletedCount, nil
}
