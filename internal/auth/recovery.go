package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/mail"
	"github.com/coursehub/coursehub/internal/pagination"
	"github.com/coursehub/coursehub/internal/user"
)

// AccountUsers is what account recovery needs of the user domain.
type AccountUsers interface {
	ByEmail(ctx context.Context, email string) (user.User, error)
	CheckPassword(ctx context.Context, id, password string) error
	ResetPassword(ctx context.Context, id, next string) (user.User, error)
	SetEmailVerified(ctx context.Context, id, email string) error
	SetEmail(ctx context.Context, id, email string) error
}

// Mailer queues mail; sending happens elsewhere, never in the request.
type Mailer interface {
	Enqueue(ctx context.Context, m mail.Message) error
	// Discard does Enqueue's work for a mail that must not go out.
	Discard(ctx context.Context, m mail.Message) error
}

// Accounts are the dependencies and settings of password reset, email
// verification, email change and the security log.
type Accounts struct {
	Users     AccountUsers
	Tokens    *AccountTokens
	Log       *SecurityLog
	Mail      Mailer
	Templates *mail.Templates
	// AppURL is the web app that receives the links (/reset-password,
	// /verify-email).
	AppURL    string
	ResetTTL  time.Duration
	VerifyTTL time.Duration
	// RequireVerifiedToBuy makes purchases need a verified email.
	RequireVerifiedToBuy bool
}

// WithAccounts adds account recovery and the security log to s. Without
// it, no events are recorded.
func (s *Service) WithAccounts(a Accounts) *Service {
	s.accounts = &a
	return s
}

// WithSubjects gives s the lookups that @auth(anyOf:) rules need. Without
// it such rules fail as internal errors.
func (s *Service) WithSubjects(subj Subjects) *Service {
	s.subjects = subj
	return s
}

// errTokenInvalid is the one answer to a used, expired, voided, unknown or
// malformed token, so that none can be told from another.
var errTokenInvalid = apperr.Input("token", "this link is invalid or has expired; ask for a new one")

// record writes a security event with the request's client information.
// A failure to record is logged, never the request's failure.
func (s *Service) record(ctx context.Context, kind SecurityEventKind, userID, sessionID string) {
	if s.accounts == nil || s.accounts.Log == nil {
		return
	}
	c := ClientFrom(ctx)
	e := SecurityEvent{Kind: kind, At: s.now().UTC().Truncate(time.Millisecond), UserID: userID,
		IP: nonEmpty(c.IP), UserAgent: nonEmpty(c.UserAgent), SessionID: nonEmpty(sessionID)}
	if err := s.accounts.Log.insert(context.WithoutCancel(ctx), e); err != nil {
		s.logger.WarnContext(ctx, "security event not recorded", "kind", string(kind), "err", err)
	}
}

// take is Limiter.Take that records a refusal as a RATE_LIMITED event.
func (s *Service) take(ctx context.Context, key string, lim Limit, userID string) (Event, error) {
	ev, err := s.limiter.Take(ctx, key, lim)
	if apperr.IsCode(err, apperr.RateLimited) {
		s.record(ctx, EventRateLimited, userID, "")
	}
	return ev, err
}

func (s *Service) link(path, token string) string {
	return strings.TrimRight(s.accounts.AppURL, "/") + path + "?token=" + url.QueryEscape(token)
}

func words(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

// mailLimited applies the mail limits: per recipient and per client
// address. It reports whether the mail may go.
func (s *Service) mailLimited(ctx context.Context, email, userID string) (bool, error) {
	if _, err := s.take(ctx, "mail:addr:"+ClientFrom(ctx).IP, s.cfg.Limits.MailAddress, userID); err != nil {
		return true, err
	}
	if _, err := s.take(ctx, "mail:to:"+email, s.cfg.Limits.MailRecipient, userID); err != nil {
		return true, err
	}
	return false, nil
}

// sendToken issues a token of purpose for u and address email and queues
// the mail of kind with its link.
func (s *Service) sendToken(ctx context.Context, u user.User, email string, p tokenPurpose, kind mail.Kind, path string, ttl time.Duration) error {
	raw := randomToken()
	now := s.now().UTC().Truncate(time.Millisecond)
	if err := s.accounts.Tokens.issue(ctx, hashToken(raw), accountToken{Purpose: p, UserID: u.ID, Email: email}, now, ttl); err != nil {
		return err
	}
	m, err := s.accounts.Templates.Render(kind, email, mail.Data{Name: u.Name, Link: s.link(path, raw), Valid: words(ttl)})
	if err != nil {
		return err
	}
	return s.accounts.Mail.Enqueue(ctx, m)
}

// RequestPasswordReset mails a reset link to email if an account has it.
// It answers the same, after the same work, whether or not one does, and
// when a limit stops the mail (which is then logged, not sent).
// Errors: only SERVICE_UNAVAILABLE or internal ones (the database).
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	normalized, err := user.NormalizeEmail(email)
	if err != nil {
		s.logger.InfoContext(ctx, "password reset for a malformed email; nothing sent")
		return nil
	}
	u, err := s.accounts.Users.ByEmail(ctx, normalized)
	known := err == nil
	if err != nil && !apperr.IsCode(err, apperr.NotFound) {
		return err
	}
	if limited, err := s.mailLimited(ctx, normalized, u.ID); limited {
		if !apperr.IsCode(err, apperr.RateLimited) {
			return err
		}
		s.logger.InfoContext(ctx, "password reset rate limited; no mail sent", "user", u.ID)
		return nil
	}
	if !known {
		// The same token work and queue insert, for no one: the time the
		// answer takes does not tell whether the account exists.
		raw := randomToken()
		now := s.now().UTC().Truncate(time.Millisecond)
		if err := s.accounts.Tokens.issue(ctx, hashToken(raw), accountToken{Purpose: purposeNone}, now, s.accounts.ResetTTL); err != nil {
			return err
		}
		m, err := s.accounts.Templates.Render(mail.PasswordReset, normalized, mail.Data{Link: s.link("/reset-password", raw), Valid: words(s.accounts.ResetTTL)})
		if err != nil {
			return err
		}
		if err := s.accounts.Mail.Discard(ctx, m); err != nil {
			return err
		}
		// Recorded too, with no user: admins see requests for addresses
		// no account has, and the work stays the same.
		s.record(ctx, EventPasswordResetRequested, "", "")
		return nil
	}
	if err := s.sendToken(ctx, u, u.Email, purposeReset, mail.PasswordReset, "/reset-password", s.accounts.ResetTTL); err != nil {
		return err
	}
	s.record(ctx, EventPasswordResetRequested, u.ID, "")
	return nil
}

// ResetPassword sets a new password with a mailed token, ends every other
// session of the user, marks the address verified (the mail proved it)
// and starts a new session, delivered as d says.
// Errors: BAD_USER_INPUT (token, newPassword, delivery).
func (s *Service) ResetPassword(ctx context.Context, token, next string, d Delivery) (Payload, error) {
	if err := s.checkDelivery(d); err != nil {
		return Payload{}, err
	}
	// A weak password must not use the token up.
	if err := CheckPolicy(next); err != nil {
		if e, ok := apperr.As(err); ok {
			return Payload{}, apperr.Input("newPassword", e.Message)
		}
		return Payload{}, err
	}
	tok, err := s.consume(ctx, token, purposeReset)
	if err != nil {
		return Payload{}, err
	}
	// A link mailed to an address the account has left since proves
	// nothing about the account now.
	if cur, err := s.users.ByID(ctx, tok.UserID); err != nil || cur.Email != tok.Email {
		if err == nil || apperr.IsCode(err, apperr.NotFound) {
			return Payload{}, errTokenInvalid
		}
		return Payload{}, err
	}
	// The new hash ends every session signed in with the old password,
	// also one a concurrent login stores after this (holdsPassword). The
	// new session is started after it, so it carries the new version.
	u, err := s.accounts.Users.ResetPassword(ctx, tok.UserID, next)
	if apperr.IsCode(err, apperr.NotFound) {
		return Payload{}, errTokenInvalid
	}
	if err != nil {
		return Payload{}, err
	}
	if err := s.accounts.Users.SetEmailVerified(ctx, u.ID, tok.Email); err != nil {
		return Payload{}, err
	}
	u.EmailVerified = u.Email == tok.Email
	p, sid, err := s.startSession(ctx, u, d)
	if err != nil {
		return Payload{}, err
	}
	// Revoked too, so that listings and open sockets learn at once.
	if err := s.revokeAll(ctx, u.ID, sid); err != nil {
		return Payload{}, err
	}
	s.record(ctx, EventPasswordReset, u.ID, sid)
	return p, nil
}

// consume accepts token once for purpose (a change token also verifies).
func (s *Service) consume(ctx context.Context, token string, purposes ...tokenPurpose) (accountToken, error) {
	if !looksLikeToken(token) {
		return accountToken{}, errTokenInvalid
	}
	tok, err := s.accounts.Tokens.consume(ctx, hashToken(token), s.now().UTC())
	if errors.Is(err, errTokenRefused) {
		return accountToken{}, errTokenInvalid
	}
	if err != nil {
		return accountToken{}, err
	}
	for _, p := range purposes {
		if tok.Purpose == p {
			return tok, nil
		}
	}
	return accountToken{}, errTokenInvalid
}

// RequestEmailVerification mails the caller a link that verifies their
// current address; a verified address gets none.
// Errors: UNAUTHENTICATED, RATE_LIMITED.
func (s *Service) RequestEmailVerification(ctx context.Context) error {
	v, err := s.Viewer(ctx)
	if err != nil {
		return err
	}
	if v.User.EmailVerified {
		return nil
	}
	if _, err := s.mailLimited(ctx, v.User.Email, v.User.ID); err != nil {
		return err
	}
	return s.sendToken(ctx, v.User, v.User.Email, purposeVerify, mail.VerifyEmail, "/verify-email", s.accounts.VerifyTTL)
}

// VerifyEmail uses a mailed verification link: it verifies the address,
// or, for a link from changeEmail, moves the account to the new address.
// Errors: BAD_USER_INPUT (token), CONFLICT (the new address was taken
// meanwhile).
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	tok, err := s.consume(ctx, token, purposeVerify, purposeChange)
	if err != nil {
		return err
	}
	if tok.Purpose == purposeVerify {
		err = s.accounts.Users.SetEmailVerified(ctx, tok.UserID, tok.Email)
	} else {
		err = s.accounts.Users.SetEmail(ctx, tok.UserID, tok.Email)
	}
	if apperr.IsCode(err, apperr.NotFound) {
		return errTokenInvalid
	}
	if err != nil {
		return err
	}
	if tok.Purpose == purposeChange {
		s.record(ctx, EventEmailChanged, tok.UserID, "")
		// Sessions keep their user: nothing to revoke; sockets re-read
		// the user on their next check.
		s.events.AccessChanged(ctx, tok.UserID)
	}
	s.record(ctx, EventEmailVerified, tok.UserID, "")
	return nil
}

// ChangeEmail starts moving the caller's account to newEmail: the new
// address gets a link (the change happens when it is used) and the old one
// a notice. Wrong passwords count towards the login limit of the account.
// Errors: UNAUTHENTICATED, RATE_LIMITED, BAD_USER_INPUT (currentPassword,
// newEmail).
func (s *Service) ChangeEmail(ctx context.Context, currentPassword, newEmail string) error {
	v, err := s.Viewer(ctx)
	if err != nil {
		return err
	}
	email, err := user.NormalizeEmail(newEmail)
	if err != nil {
		if e, ok := apperr.As(err); ok {
			return apperr.Input("newEmail", e.Message)
		}
		return err
	}
	if email == v.User.Email {
		return apperr.Input("newEmail", "this is already your email address")
	}
	failure, err := s.countLoginFailure(ctx, v.User.Email)
	if err != nil {
		return err
	}
	err = s.accounts.Users.CheckPassword(ctx, v.User.ID, currentPassword)
	if e, ok := apperr.As(err); !ok || e.Field != "currentPassword" {
		s.uncount(ctx, failure)
	}
	if err != nil {
		return err
	}
	if _, err := s.mailLimited(ctx, email, v.User.ID); err != nil {
		return err
	}
	if err := s.sendToken(ctx, v.User, email, purposeChange, mail.ConfirmNewEmail, "/verify-email", s.accounts.VerifyTTL); err != nil {
		return err
	}
	notice, err := s.accounts.Templates.Render(mail.EmailChangeNotice, v.User.Email, mail.Data{Name: v.User.Name, NewEmail: email})
	if err != nil {
		return err
	}
	if err := s.accounts.Mail.Enqueue(ctx, notice); err != nil {
		return err
	}
	s.record(ctx, EventEmailChangeRequested, v.User.ID, v.SessionID)
	return nil
}

// Purchaser is the viewer, if they may buy: with RequireVerifiedToBuy,
// only with a verified email.
// Errors: UNAUTHENTICATED, FORBIDDEN.
func (s *Service) Purchaser(ctx context.Context) (Viewer, error) {
	v, err := s.Viewer(ctx)
	if err != nil {
		return Viewer{}, err
	}
	if s.accounts != nil && s.accounts.RequireVerifiedToBuy && !v.User.EmailVerified {
		return Viewer{}, apperr.New(apperr.Forbidden,
			"verify your email address before buying a course (requestEmailVerification mails you a link)")
	}
	return v, nil
}

// SecurityEventPage is one page of security events and the size of the
// whole list.
type SecurityEventPage struct {
	pagination.Page[SecurityEvent]
	Count func(context.Context) (int, error)
}

// SecurityEvents lists the caller's own security events, newest first.
// Errors: UNAUTHENTICATED, BAD_USER_INPUT (first, after).
func (s *Service) SecurityEvents(ctx context.Context, first int, after *string) (SecurityEventPage, error) {
	v, err := s.Viewer(ctx)
	if err != nil {
		return SecurityEventPage{}, err
	}
	return s.listEvents(ctx, EventFilter{UserID: v.User.ID}, first, after)
}

// AuditLog lists everyone's security events, newest first, optionally of
// one user and one kind (the @auth directive has checked for ADMIN).
// Errors: BAD_USER_INPUT (first, after).
func (s *Service) AuditLog(ctx context.Context, first int, after *string, f EventFilter) (SecurityEventPage, error) {
	return s.listEvents(ctx, f, first, after)
}

func (s *Service) listEvents(ctx context.Context, f EventFilter, first int, after *string) (SecurityEventPage, error) {
	a, err := pagination.Parse(first, after)
	if err != nil {
		return SecurityEventPage{}, err
	}
	page, err := s.accounts.Log.list(ctx, f, a)
	if err != nil {
		return SecurityEventPage{}, err
	}
	return SecurityEventPage{Page: page, Count: func(ctx context.Context) (int, error) { return s.accounts.Log.count(ctx, f) }}, nil
}
