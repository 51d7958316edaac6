// Package auth holds every authentication and authorization rule of
// coursehub: password hashing, access tokens (JWT), sessions with rotating
// refresh tokens, the HTTP middleware that reads the Bearer token, and the
// @auth directive that guards schema fields.
package auth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/user"
)

// Users is what auth needs of the user domain.
type Users interface {
	Signup(ctx context.Context, in user.SignupInput) (user.User, error)
	Authenticate(ctx context.Context, email, password string) (user.User, error)
	ByID(ctx context.Context, id string) (user.User, error)
	ChangePassword(ctx context.Context, id, current, next, bySession string) error
	SetRole(ctx context.Context, actorID, userID string, role user.Role) (user.User, error)
}

// Payload is what signup, login and refresh return.
type Payload struct {
	// AccessToken and RefreshToken are empty when delivered by cookie.
	AccessToken  string
	RefreshToken string
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time
	// RefreshExpiresAt is when the refresh token expires unused.
	RefreshExpiresAt time.Time
	User             user.User
}

// Config holds session lifetimes and brute-force limits.
type Config struct {
	// RefreshTTL is how long a refresh token lives unused.
	RefreshTTL time.Duration
	// SessionTTL is the absolute lifetime of a session.
	SessionTTL time.Duration
	// Limits are the rate limits; the zero value switches them all off.
	Limits RateLimits
	// Proxies are the trusted reverse proxies (see ClientAddress).
	Proxies Proxies
	// Cookies configures cookie mode and its CSRF defence.
	Cookies CookieConfig
}

// SessionStore persists sessions and refresh tokens (Store is the one on
// MongoDB). Ids are opaque strings that the store makes and parses.
type SessionStore interface {
	// insertSession stores ss under a new id and returns it with that id.
	insertSession(ctx context.Context, ss session) (session, error)
	// sessionByID is the per-request session read. Errors: errNoRow
	// (errMalformedID, which is also errNoRow, for an id no store made).
	sessionByID(ctx context.Context, id string) (session, error)
	// liveSessions lists a user's live sessions, newest first, with when
	// each last signed in or refreshed (by session id, where known).
	liveSessions(ctx context.Context, userID string, now time.Time) ([]session, map[string]time.Time, error)
	// revokeSession sets a session's revokedAt (idempotent).
	revokeSession(ctx context.Context, id string, now time.Time) error
	// insertRefresh stores a refresh token. Errors: errReused (its parent
	// already has a successor).
	insertRefresh(ctx context.Context, t refreshToken) error
	// refreshByHash finds a refresh token by its hash. Errors: errNoRow.
	refreshByHash(ctx context.Context, hash string) (refreshToken, error)
	// refreshRotated reports whether t has a successor (it was rotated).
	refreshRotated(ctx context.Context, t refreshToken) (bool, error)
}

// RateLimiter counts attempts (Limiter is the one on MongoDB).
type RateLimiter interface {
	// Take counts one event under key. Errors: RATE_LIMITED (past lim).
	Take(ctx context.Context, key string, lim Limit) (Event, error)
	// Forget uncounts events.
	Forget(ctx context.Context, evs ...Event) error
}

// Service runs signup, login, refresh and logout, and the per-request
// session check.
type Service struct {
	users   Users
	store   SessionStore
	limiter RateLimiter
	tokens  *Tokens
	events  Events
	cfg     Config
	// accounts is set by WithAccounts.
	accounts *Accounts
	// subjects is set by WithSubjects.
	subjects Subjects
	logger   *slog.Logger
	now      func() time.Time
}

// NewService wires the auth service. events hears of every ended session
// and role change.
func NewService(users Users, store SessionStore, limiter RateLimiter, tokens *Tokens, events Events, cfg Config, logger *slog.Logger) *Service {
	return &Service{users: users, store: store, limiter: limiter, tokens: tokens, events: events, cfg: cfg, logger: logger, now: time.Now}
}

var (
	errSessionEnded    = apperr.New(apperr.Unauthenticated, "session has ended; sign in again")
	errRefreshInvalid  = apperr.New(apperr.Unauthenticated, "refresh token is invalid or expired")
	errRefreshReused   = apperr.New(apperr.Unauthenticated, "refresh token was already used; the session has been ended")
	errNoRefreshCookie = apperr.New(apperr.Unauthenticated, "no usable refresh cookie (cookies need an allowed Origin and a JSON request)")
	errNoCookies       = errors.New("auth: no cookie writer in the context; wire Service.Middleware")
)

// Signup creates an account and starts its first session.
// Errors: RATE_LIMITED, BAD_USER_INPUT, CONFLICT.
func (s *Service) Signup(ctx context.Context, in user.SignupInput, d Delivery) (Payload, error) {
	if err := s.checkDelivery(d); err != nil {
		return Payload{}, err
	}
	if _, err := s.take(ctx, "signup:addr:"+ClientFrom(ctx).IP, s.cfg.Limits.SignupAddress, ""); err != nil {
		return Payload{}, err
	}
	if email, err := user.NormalizeEmail(in.Email); err == nil {
		if _, err := s.take(ctx, "signup:acct:"+email, s.cfg.Limits.SignupAccount, ""); err != nil {
			return Payload{}, err
		}
	}
	u, err := s.users.Signup(ctx, in)
	if err != nil {
		return Payload{}, err
	}
	p, sid, err := s.startSession(ctx, u, d)
	if err == nil {
		s.record(ctx, EventSignup, u.ID, sid)
	}
	return p, err
}

// Login checks credentials and starts a session. Past a limit the answer is
// RATE_LIMITED before any bcrypt work, even for the right password.
// Errors: RATE_LIMITED, BAD_USER_INPUT, UNAUTHENTICATED.
func (s *Service) Login(ctx context.Context, email, password string, d Delivery) (Payload, error) {
	if err := s.checkDelivery(d); err != nil {
		return Payload{}, err
	}
	if _, err := s.take(ctx, "login:addr:"+ClientFrom(ctx).IP, s.cfg.Limits.LoginAddress, ""); err != nil {
		return Payload{}, err
	}
	email, err := user.NormalizeEmail(email)
	if err != nil {
		return Payload{}, err
	}
	failure, err := s.countLoginFailure(ctx, email)
	if err != nil {
		return Payload{}, err
	}
	u, err := s.users.Authenticate(ctx, email, password)
	if !errors.Is(err, user.ErrAuthenticationFailed) {
		s.uncount(ctx, failure)
	}
	if errors.Is(err, user.ErrAuthenticationFailed) {
		s.record(ctx, EventLoginFailed, u.ID, "")
	}
	if err != nil {
		return Payload{}, err
	}
	p, sid, err := s.startSession(ctx, u, d)
	if err == nil {
		s.record(ctx, EventLogin, u.ID, sid)
	}
	return p, err
}

// countLoginFailure counts a password check against email as a failure
// until it proves otherwise: once per email and client address (the strict
// limit) and once per email (see RateLimits). A refused check counts nowhere.
// Errors: RATE_LIMITED.
func (s *Service) countLoginFailure(ctx context.Context, email string) ([]Event, error) {
	pair, err := s.take(ctx, "login:acct-addr:"+email+" "+ClientFrom(ctx).IP, s.cfg.Limits.LoginAccountAddress, "")
	if err != nil {
		return nil, err
	}
	acct, err := s.take(ctx, "login:acct:"+email, s.cfg.Limits.LoginAccount, "")
	if err != nil {
		s.uncount(ctx, []Event{pair})
		return nil, err
	}
	return []Event{pair, acct}, nil
}

// uncountTimeout bounds forgetting counted failures once the request is over.
const uncountTimeout = 5 * time.Second

// uncount forgets counted failures of a check that did not fail.
//
// It does not share the request's end: a client that leaves right after its
// password was checked must not leave a failure counted against the account
// (under a flood, such leftovers added up to lock-outs).
func (s *Service) uncount(ctx context.Context, evs []Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), uncountTimeout)
	defer cancel()
	if err := s.limiter.Forget(ctx, evs...); err != nil {
		s.logger.WarnContext(ctx, "rate limit: could not uncount an attempt", "err", err)
	}
}

// startSession starts a session of u and returns its tokens and its id.
func (s *Service) startSession(ctx context.Context, u user.User, d Delivery) (Payload, string, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	ss := session{
		UserID: u.ID, CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionTTL), Client: ClientFrom(ctx),
		// The version of the hash this very sign-in was checked against:
		// if the password changed meanwhile, the session is born over.
		PasswordVersion: u.PasswordVersion,
	}
	ss, err := s.store.insertSession(ctx, ss)
	if err != nil {
		return Payload{}, "", err
	}
	p, err := s.issue(ctx, u, ss, "session:"+ss.ID, now, d)
	return p, ss.ID, err
}

// issue stores a new refresh token as the successor of parent and signs an
// access token. errReused means parent already had a successor.
func (s *Service) issue(ctx context.Context, u user.User, ss session, parent string, now time.Time, d Delivery) (Payload, error) {
	raw := randomToken()
	exp := now.Add(s.cfg.RefreshTTL)
	if exp.After(ss.ExpiresAt) {
		exp = ss.ExpiresAt
	}
	if err := s.store.insertRefresh(ctx, refreshToken{
		Hash: hashToken(raw), Parent: parent, SessionID: ss.ID, CreatedAt: now, ExpiresAt: exp,
	}); err != nil {
		return Payload{}, err
	}
	access, accessExp, err := s.tokens.Issue(u.ID, ss.ID, u.Role)
	if err != nil {
		return Payload{}, err
	}
	p := Payload{AccessToken: access, RefreshToken: raw, ExpiresAt: accessExp, RefreshExpiresAt: exp, User: u}
	if err := s.deliver(ctx, &p, d); err != nil {
		return Payload{}, err
	}
	return p, nil
}

// Refresh rotates a refresh token: the presented one stops working and a new
// pair is returned. Presenting a token that was already rotated ends the
// whole session, because it means the token leaked (or two clients raced,
// which a client must avoid by refreshing in a single flight).
// Errors: RATE_LIMITED, UNAUTHENTICATED.
func (s *Service) Refresh(ctx context.Context, raw string, d Delivery) (Payload, error) {
	if err := s.checkDelivery(d); err != nil {
		return Payload{}, err
	}
	if _, err := s.take(ctx, "refresh:addr:"+ClientFrom(ctx).IP, s.cfg.Limits.RefreshAddress, ""); err != nil {
		return Payload{}, err
	}
	if !looksLikeToken(raw) {
		return Payload{}, errRefreshInvalid
	}
	hash := hashToken(raw)
	now := s.now().UTC().Truncate(time.Millisecond)
	tok, err := s.store.refreshByHash(ctx, hash)
	if errors.Is(err, errNoRow) {
		return Payload{}, errRefreshInvalid
	}
	if err != nil {
		return Payload{}, err
	}
	if !now.Before(tok.ExpiresAt) {
		return Payload{}, errRefreshInvalid
	}
	ss, err := s.store.sessionByID(ctx, tok.SessionID)
	if errors.Is(err, errNoRow) {
		return Payload{}, errRefreshInvalid
	}
	if err != nil {
		return Payload{}, err
	}
	if !ss.live(now) {
		return Payload{}, errSessionEnded
	}
	if _, err := s.take(ctx, "refresh:sess:"+ss.ID, s.cfg.Limits.RefreshSession, ss.UserID); err != nil {
		return Payload{}, err
	}
	u, err := s.users.ByID(ctx, ss.UserID)
	if apperr.IsCode(err, apperr.NotFound) {
		return Payload{}, errSessionEnded
	}
	if err != nil {
		return Payload{}, err
	}
	if !ss.holdsPassword(u) {
		return Payload{}, errSessionEnded
	}
	p, err := s.issue(ctx, u, ss, hash, now, d)
	if errors.Is(err, errReused) {
		if err := s.revoke(ctx, ss.UserID, now, ss.ID); err != nil {
			return Payload{}, err
		}
		s.logger.WarnContext(ctx, "refresh token reuse; session ended", "session", ss.ID, "user", ss.UserID)
		s.record(ctx, EventRefreshReuseDetected, ss.UserID, ss.ID)
		return Payload{}, errRefreshReused
	}
	return p, err
}

// RefreshSession is Refresh with the refresh token from the cookie, for
// browsers in cookie mode.
// Errors: RATE_LIMITED, UNAUTHENTICATED, BAD_USER_INPUT (delivery).
func (s *Service) RefreshSession(ctx context.Context, d Delivery) (Payload, error) {
	if d == DeliverBody {
		// The browser would keep the rotated token in its cookie, and the
		// next refreshSession would present it again and end the session.
		return Payload{}, apperr.Input("delivery", "refreshSession delivers by cookie: use REFRESH_COOKIE or COOKIES")
	}
	io := cookiesFrom(ctx)
	if io == nil || io.refresh == "" {
		return Payload{}, errNoRefreshCookie
	}
	return s.Refresh(ctx, io.refresh, d)
}

// Logout ends the caller's session: its refresh token and access token are
// refused from the next request on. A refresh token of another session of the
// same user, if given, ends that session too; anyone else's is ignored.
// Errors: UNAUTHENTICATED.
func (s *Service) Logout(ctx context.Context, refreshToken *string) error {
	v, err := s.Viewer(ctx)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.revoke(ctx, v.User.ID, now, v.SessionID); err != nil {
		return err
	}
	s.record(ctx, EventLogout, v.User.ID, v.SessionID)
	s.clearCookies(ctx)
	if refreshToken == nil || !looksLikeToken(*refreshToken) {
		return nil
	}
	tok, err := s.store.refreshByHash(ctx, hashToken(*refreshToken))
	if errors.Is(err, errNoRow) || tok.SessionID == v.SessionID {
		return nil
	}
	if err != nil {
		return err
	}
	other, err := s.store.sessionByID(ctx, tok.SessionID)
	if err != nil || other.UserID != v.User.ID {
		return nil
	}
	if err := s.revoke(ctx, v.User.ID, now, other.ID); err != nil {
		return err
	}
	s.record(ctx, EventSessionRevoked, v.User.ID, other.ID)
	return nil
}

// Viewer returns the caller behind a live session, doing the session check at
// most once per request: one session read and one user read, both by _id and
// run concurrently. Errors: UNAUTHENTICATED with the reason.
func (s *Service) Viewer(ctx context.Context) (Viewer, error) {
	st := stateFrom(ctx)
	if st == nil {
		return Viewer{}, apperr.New(apperr.Unauthenticated, ErrTokenMissing.Error())
	}
	st.once.Do(func() {
		if st.principal == nil {
			reason := st.failure
			if reason == nil {
				reason = ErrTokenMissing
			}
			st.viewerErr = apperr.New(apperr.Unauthenticated, reason.Error())
			return
		}
		st.viewer, st.viewerErr = s.check(ctx, *st.principal)
	})
	return st.viewer, st.viewerErr
}

// OptionalViewer is Viewer for public fields: a caller without a live session
// is anonymous rather than an error.
func (s *Service) OptionalViewer(ctx context.Context) (Viewer, bool) {
	v, err := s.Viewer(ctx)
	return v, err == nil
}

func (s *Service) check(ctx context.Context, p Principal) (Viewer, error) {
	type userResult struct {
		u   user.User
		err error
	}
	uc := make(chan userResult, 1)
	go func() {
		u, err := s.users.ByID(ctx, p.UserID)
		uc <- userResult{u, err}
	}()
	ss, serr := s.store.sessionByID(ctx, p.SessionID)
	ur := <-uc
	switch {
	case errors.Is(serr, errNoRow):
		return Viewer{}, errSessionEnded
	case serr != nil:
		return Viewer{}, serr
	case ss.UserID != p.UserID || !ss.live(s.now()):
		return Viewer{}, errSessionEnded
	case apperr.IsCode(ur.err, apperr.NotFound):
		return Viewer{}, errSessionEnded
	case ur.err != nil:
		return Viewer{}, ur.err
	case !ss.holdsPassword(ur.u):
		return Viewer{}, errSessionEnded
	}
	return Viewer{User: ur.u, SessionID: ss.ID}, nil
}
