package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// Kind names a mail template (templates/<kind>.txt and .html).
type Kind string

// The mails coursehub sends.
const (
	PasswordReset     Kind = "password-reset"
	VerifyEmail       Kind = "verify-email"
	ConfirmNewEmail   Kind = "confirm-new-email"
	EmailChangeNotice Kind = "email-change-notice"
)

// Data fills a template.
type Data struct {
	Name     string
	Link     string
	NewEmail string
	// Valid is how long the link works, in words ("30 minutes").
	Valid string
}

// Templates renders the mails from the templates embedded in the binary.
type Templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// LoadTemplates parses the embedded templates.
func LoadTemplates() (*Templates, error) {
	t, err := texttemplate.ParseFS(templateFS, "templates/*.txt")
	if err != nil {
		return nil, fmt.Errorf("mail: text templates: %w", err)
	}
	h, err := htmltemplate.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("mail: html templates: %w", err)
	}
	return &Templates{text: t, html: h}, nil
}

// Render builds the message of kind for to. A .txt template defines
// "<kind>.subject" and "<kind>.text"; the .html one "<kind>.html".
func (t *Templates) Render(kind Kind, to string, d Data) (Message, error) {
	var subj, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subj, string(kind)+".subject", d); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", kind, err)
	}
	if err := t.text.ExecuteTemplate(&text, string(kind)+".text", d); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", kind, err)
	}
	if err := t.html.ExecuteTemplate(&html, string(kind)+".html", d); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", kind, err)
	}
	return Message{
		To: to, Subject: strings.TrimSpace(subj.String()), Text: strings.TrimSpace(text.String()) + "\n",
		HTML: html.String(), Link: d.Link,
	}, nil
}
