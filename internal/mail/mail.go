// Package mail sends coursehub's mails: a Sender interface with an SMTP
// implementation and an outbox of .eml files for the zero-config default,
// the mail templates, and a queue in the database that a background worker
// drains, so that no request waits on a mail server.
package mail

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Link is the link the mail carries, logged by the outbox (which is for
	// development) and never sent anywhere else.
	Link string
}

// Sender delivers a message; an error means it may be retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// build turns m into a MIME message from from.
func build(from string, m Message, opts ...gomail.MsgOption) (*gomail.Msg, error) {
	msg := gomail.NewMsg(opts...)
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail: recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Outbox writes each mail as an .eml file into a directory and logs its
// link, so that a newcomer without a mail server can follow it.
type Outbox struct {
	dir    string
	from   string
	logger *slog.Logger
	now    func() time.Time
}

// NewOutbox returns an Outbox writing into dir (created if missing).
func NewOutbox(dir, from string, logger *slog.Logger) *Outbox {
	return &Outbox{dir: dir, from: from, logger: logger, now: time.Now}
}

// Send writes m to a new file of the outbox.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	// 8bit, not quoted-printable: a person reads these files, and greps
	// the link out of them (README).
	msg, err := build(o.from, m, gomail.WithEncoding(gomail.NoEncoding))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	name := filepath.Join(o.dir, o.now().UTC().Format("20060102T150405.000000000Z")+".eml")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if _, err := msg.WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	// Development only (SMTP_URL unset): the link is what the reader needs.
	o.logger.InfoContext(ctx, "mail written to the outbox (SMTP_URL is not set)", "file", name, "subject", m.Subject, "link", m.Link)
	return nil
}
