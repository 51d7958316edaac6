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
	"github.com/coursehub/coursehub/internal/mongodb/memindex"
	"github.com/coursehub/coursehub/internal/user"
)

// session is a login: it starts at signup or login and ends at logout, on
// refresh-token reuse, or at ExpiresAt.
type session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
	Client    ClientInfo
	// PasswordVersion is the user's password version the session signed in
	// with (empty for sessions from before versions were recorded).
	PasswordVersion string
}

func (s session) live(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// holdsPassword reports whether the session still stands after any change
// of u's password: it signed in with the current password, or it is the
// session that set it. This, not the revocations changePassword also
// writes, is what ends every other session: a login that checked the old
// password while the change was under way stores its session afterwards,
// with the old version, and that session is over from its first use. No
// read-modify-write is involved, so it holds on the embedded database too.
func (s session) holdsPassword(u user.User) bool {
	return s.PasswordVersion == "" || s.PasswordVersion == u.PasswordVersion || s.ID == u.PasswordSetBy
}

// sessionDoc is a document in the sessions collection. A session document is
// written once and then only ever gets revokedAt set: the embedded database
// does not make updates atomic, so nothing may depend on a read-modify-write.
type sessionDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	UserID    bson.ObjectID `bson:"userId"`
	CreatedAt time.Time     `bson:"createdAt"`
	ExpiresAt time.Time     `bson:"expiresAt"`
	RevokedAt *time.Time    `bson:"revokedAt,omitempty"`
	UserAgent string        `bson:"userAgent,omitempty"`
	IP        string        `bson:"ip,omitempty"`
	// PasswordVersion is written once, with the session (see holdsPassword).
	PasswordVersion string `bson:"passwordVersion,omitempty"`
}

// refreshToken is a stored refresh token: only its hash is kept.
type refreshToken struct {
	Hash string
	// Parent is the hash of the token it replaced ("session:" + the session
	// id for a session's first token).
	Parent    string
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// refreshDoc is a document in the refresh_tokens collection. Its _id is the
// SHA-256 of the token, so a refresh is an _id lookup. Parent is the hash of
// the token it replaced (the session id for a session's first token); the
// unique index on parent is what lets only one of two concurrent refreshes
// with the same token succeed.
type refreshDoc struct {
	Hash      string        `bson:"_id"`
	Parent    string        `bson:"parent"`
	SessionID bson.ObjectID `bson:"sessionId"`
	CreatedAt time.Time     `bson:"createdAt"`
	ExpiresAt time.Time     `bson:"expiresAt"`
}

// Store persists sessions and refresh tokens, on MongoDB or the embedded
// database.
//
// A user's sessions and a session's newest refresh token are found with
// MongoDB's indexes, or, with mongodb.InProcessIndexes, from two in-process
// indexes: user -> their sessions not known to be over (with expiresAt),
// and session -> its newest refresh token. The session documents, read by
// _id, have the last word (revokedAt): a listing drops the entries of the
// sessions it finds over, so the index needs no update on revocation, and
// a revocation of unknown outcome does no harm; a session
// whose insert had an unknown outcome is missing from the index, and no
// token was issued for it, so nobody can use it.
type Store struct {
	sessions *mongo.Collection
	refresh  *mongo.Collection
	// byUser and newestRefresh are the in-process indexes (nil on MongoDB).
	byUser        *memindex.Index[time.Time] // user id -> session ids, value expiresAt
	newestRefresh *memindex.Index[refreshToken]
}

// NewStore returns a Store over db that finds lists as lookups says.
func NewStore(db *mongo.Database, lookups mongodb.Lookups) *Store {
	s := &Store{sessions: db.Collection("sessions"), refresh: db.Collection("refresh_tokens")}
	if lookups == mongodb.InProcessIndexes {
		s.byUser, s.newestRefresh = memindex.New[time.Time](), memindex.New[refreshToken]()
	}
	return s
}

// EnsureIndexes creates the indexes sessions and rotation rely on (on the
// embedded database only the unique one: the others would only slow its
// writes) and builds the in-process indexes, one scan per collection. The
// TTL indexes are skipped on servers without them; expiry is also checked
// on read.
func (s *Store) EnsureIndexes(ctx context.Context, logger *slog.Logger) error {
	unique := mongo.IndexModel{Keys: bson.D{{Key: "parent", Value: 1}}, Options: options.Index().SetUnique(true).SetName("parent_unique")}
	if s.byUser != nil {
		if err := mongodb.CreateIndexes(ctx, s.refresh, logger, unique); err != nil {
			return err
		}
		return s.buildIndexes(ctx)
	}
	if err := mongodb.CreateIndexes(ctx, s.sessions, logger,
		mongo.IndexModel{Keys: bson.D{{Key: "userId", Value: 1}}, Options: options.Index().SetName("userId")},
		mongo.IndexModel{Keys: bson.D{{Key: "expiresAt", Value: 1}}, Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0)},
	); err != nil {
		return err
	}
	return mongodb.CreateIndexes(ctx, s.refresh, logger, unique,
		mongo.IndexModel{Keys: bson.D{{Key: "sessionId", Value: 1}}, Options: options.Index().SetName("sessionId")},
		mongo.IndexModel{Keys: bson.D{{Key: "expiresAt", Value: 1}}, Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0)},
	)
}

func (s *Store) buildIndexes(ctx context.Context) error {
	now := time.Now()
	cur, err := s.sessions.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("sessions: index: %w", err)
	}
	var docs []sessionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("sessions: index: %w", err)
	}
	for _, d := range docs {
		if ss := d.toSession(); ss.live(now) {
			s.indexSession(ss)
		}
	}
	cur, err = s.refresh.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "parent", Value: 0}}))
	if err != nil {
		return fmt.Errorf("refresh tokens: index: %w", err)
	}
	var toks []refreshDoc
	if err := cur.All(ctx, &toks); err != nil {
		return fmt.Errorf("refresh tokens: index: %w", err)
	}
	for _, t := range toks {
		s.indexRefresh(t.toToken())
	}
	return nil
}

// sortByTime orders entries by a time, to the millisecond, as a string.
func sortByTime(t time.Time) string { return fmt.Sprintf("%015d", t.UnixMilli()) }

func (s *Store) indexSession(ss session) {
	s.byUser.Put(ss.UserID, memindex.Entry[time.Time]{ID: ss.ID, Sort: sortByTime(ss.CreatedAt), Value: ss.ExpiresAt})
}

// indexRefresh keeps t if it is its session's newest token.
func (s *Store) indexRefresh(t refreshToken) {
	e := memindex.Entry[refreshToken]{ID: t.Hash, Sort: sortByTime(t.CreatedAt), Value: t}
	s.newestRefresh.Update(t.SessionID, func(es []memindex.Entry[refreshToken]) []memindex.Entry[refreshToken] {
		if len(es) > 0 && es[0].Sort > e.Sort {
			return es
		}
		return []memindex.Entry[refreshToken]{e}
	})
}

var _ SessionStore = (*Store)(nil)

// errNoRow is returned by the store when a lookup finds nothing.
var errNoRow = fmt.Errorf("auth store: not found")

// errMalformedID is errNoRow for an id that no store made.
var errMalformedID = fmt.Errorf("%w: malformed id", errNoRow)

func (s *Store) insertSession(ctx context.Context, ss session) (session, error) {
	uid, err := bson.ObjectIDFromHex(ss.UserID)
	if err != nil {
		return session{}, fmt.Errorf("sessions: insert: %w", err)
	}
	id := bson.NewObjectID()
	_, err = s.sessions.InsertOne(ctx, sessionDoc{
		ID: id, UserID: uid, CreatedAt: ss.CreatedAt, ExpiresAt: ss.ExpiresAt,
		UserAgent: ss.Client.UserAgent, IP: ss.Client.IP, PasswordVersion: ss.PasswordVersion,
	})
	if err != nil {
		return session{}, fmt.Errorf("sessions: insert: %w", err)
	}
	ss.ID = id.Hex()
	if s.byUser != nil {
		s.indexSession(ss)
	}
	return ss, nil
}

// sessionByID is the per-request session read: an _id lookup.
func (s *Store) sessionByID(ctx context.Context, id string) (session, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return session{}, errMalformedID
	}
	var d sessionDoc
	err = s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return session{}, errNoRow
	}
	if err != nil {
		return session{}, fmt.Errorf("sessions: by id: %w", err)
	}
	return d.toSession(), nil
}

func (d sessionDoc) toSession() session {
	return session{
		ID: d.ID.Hex(), UserID: d.UserID.Hex(), CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(),
		RevokedAt: d.RevokedAt, Client: ClientInfo{UserAgent: d.UserAgent, IP: d.IP}, PasswordVersion: d.PasswordVersion,
	}
}

// liveSessions lists a user's live sessions with when each last signed in or
// refreshed. On MongoDB two indexed queries: the sessions, then their
// refresh tokens; on the embedded database an _id read per session the
// in-process index lists, and no read for the refresh tokens.
func (s *Store) liveSessions(ctx context.Context, userID string, now time.Time) ([]session, map[string]time.Time, error) {
	uid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		return nil, nil, nil
	}
	if s.byUser != nil {
		return s.liveSessionsIndexed(ctx, userID, now)
	}
	cur, err := s.sessions.Find(ctx, bson.D{
		{Key: "userId", Value: uid},
		{Key: "revokedAt", Value: bson.D{{Key: "$exists", Value: false}}},
		{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}},
	}, options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}))
	if err != nil {
		return nil, nil, fmt.Errorf("sessions: list: %w", err)
	}
	var docs []sessionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, nil, fmt.Errorf("sessions: list: %w", err)
	}
	out := make([]session, len(docs))
	ids := make([]bson.ObjectID, len(docs))
	for i, d := range docs {
		out[i] = d.toSession()
		ids[i] = d.ID
	}
	lastUsed := make(map[string]time.Time, len(docs))
	if len(ids) == 0 {
		return out, lastUsed, nil
	}
	cur, err = s.refresh.Find(ctx, bson.D{{Key: "sessionId", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "sessionId", Value: 1}, {Key: "createdAt", Value: 1}}))
	if err != nil {
		return nil, nil, fmt.Errorf("refresh tokens: list: %w", err)
	}
	var toks []refreshDoc
	if err := cur.All(ctx, &toks); err != nil {
		return nil, nil, fmt.Errorf("refresh tokens: list: %w", err)
	}
	for _, t := range toks {
		if k := t.SessionID.Hex(); t.CreatedAt.After(lastUsed[k]) {
			lastUsed[k] = t.CreatedAt
		}
	}
	return out, lastUsed, nil
}

func (s *Store) liveSessionsIndexed(ctx context.Context, userID string, now time.Time) ([]session, map[string]time.Time, error) {
	var ids []any
	for _, e := range s.byUser.Entries(userID) {
		if oid, err := bson.ObjectIDFromHex(e.ID); err == nil && now.Before(e.Value) {
			ids = append(ids, oid)
		} else {
			s.byUser.Delete(userID, e.ID)
		}
	}
	docs, err := mongodb.FindEachByID[sessionDoc](ctx, s.sessions, ids)
	if err != nil {
		return nil, nil, err
	}
	out := make([]session, 0, len(docs))
	lastUsed := make(map[string]time.Time, len(docs))
	for _, d := range docs {
		ss := d.toSession()
		if !ss.live(now) {
			// Revoked: never live again, so the index forgets it here
			// (revokeSession does not know the user). A session whose
			// document is gone is dropped by the expiry clean-up.
			s.byUser.Delete(userID, ss.ID)
			continue
		}
		out = append(out, ss)
		if es := s.newestRefresh.Entries(ss.ID); len(es) > 0 {
			lastUsed[ss.ID] = es[0].Value.CreatedAt
		}
	}
	return out, lastUsed, nil
}

// revokeSession ends a session. Setting revokedAt is idempotent, so two
// concurrent revocations cannot undo each other.
func (s *Store) revokeSession(ctx context.Context, id string, now time.Time) error {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil
	}
	_, err = s.sessions.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: now}}}})
	if err != nil {
		return fmt.Errorf("sessions: revoke: %w", err)
	}
	return nil
}

// insertRefresh stores a refresh token. It returns errReused when parent
// already has a successor: the parent token was rotated before.
func (s *Store) insertRefresh(ctx context.Context, t refreshToken) error {
	sid, err := bson.ObjectIDFromHex(t.SessionID)
	if err != nil {
		return fmt.Errorf("refresh tokens: insert: %w", err)
	}
	_, err = s.refresh.InsertOne(ctx, refreshDoc{
		Hash: t.Hash, Parent: t.Parent, SessionID: sid, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
	})
	if mongodb.IsDuplicateKey(err) {
		return errReused
	}
	if err != nil {
		return fmt.Errorf("refresh tokens: insert: %w", err)
	}
	if s.newestRefresh != nil {
		s.indexRefresh(t)
	}
	return nil
}

var errReused = fmt.Errorf("refresh token already rotated")

// refreshByHash finds a refresh token by its hash: an _id lookup.
func (s *Store) refreshByHash(ctx context.Context, hash string) (refreshToken, error) {
	var d refreshDoc
	err := s.refresh.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&d)
	if mongodb.IsNoDocuments(err) {
		return refreshToken{}, errNoRow
	}
	if err != nil {
		return refreshToken{}, fmt.Errorf("refresh tokens: by hash: %w", err)
	}
	return d.toToken(), nil
}

// refreshRotated reports whether t has a successor. On MongoDB one read on
// the unique parent index; on the embedded database, whose SQLite backend
// would scan the collection for that filter, the in-process index of each
// session's newest token answers (this process made every token since it
// started, and read the rest at start).
func (s *Store) refreshRotated(ctx context.Context, t refreshToken) (bool, error) {
	if s.newestRefresh != nil {
		es := s.newestRefresh.Entries(t.SessionID)
		return len(es) > 0 && es[0].ID != t.Hash, nil
	}
	err := s.refresh.FindOne(ctx, bson.D{{Key: "parent", Value: t.Hash}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if mongodb.IsNoDocuments(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("refresh tokens: successor: %w", err)
	}
	return true, nil
}

func (d refreshDoc) toToken() refreshToken {
	return refreshToken{
		Hash: d.Hash, Parent: d.Parent, SessionID: d.SessionID.Hex(), CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(),
	}
}

// DeleteExpired removes sessions and refresh tokens past their expiry; it is
// what a TTL index would do on servers that lack one.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	filter := bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}}
	r1, err := s.refresh.DeleteMany(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("refresh tokens: delete expired: %w", err)
	}
	r2, err := s.sessions.DeleteMany(ctx, filter)
	if err != nil {
		return r1.DeletedCount, fmt.Errorf("sessions: delete expired: %w", err)
	}
	if s.byUser != nil {
		s.byUser.DeleteFunc(func(_ string, e memindex.Entry[time.Time]) bool { return e.Value.Before(now) })
		s.newestRefresh.DeleteFunc(func(_ string, e memindex.Entry[refreshToken]) bool { return e.Value.ExpiresAt.Before(now) })
	}
	return r1.DeletedCount + r2.DeletedCount, nil
}
