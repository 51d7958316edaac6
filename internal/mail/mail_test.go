package mail_test

import (
	"strings"
	"testing"

	"github.com/coursehub/coursehub/internal/mail"
)

func TestParseSMTPURL(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  string
		want mail.SMTPConfig
		err  string
	}{
		{"OKStartTLSDefaultPort", "smtp://user:pa%3Ass@mail.example.com", mail.SMTPConfig{Host: "mail.example.com", Port: 587, Username: "user", Password: "pa:ss"}, ""},
		{"OKPort", "smtp://mail.example.com:2525", mail.SMTPConfig{Host: "mail.example.com", Port: 2525}, ""},
		{"OKImplicitTLS", "smtps://u:p@mail.example.com", mail.SMTPConfig{Host: "mail.example.com", Port: 465, ImplicitTLS: true, Username: "u", Password: "p"}, ""},
		{"OKSlash", "smtp://h:25/", mail.SMTPConfig{Host: "h", Port: 25}, ""},
		{"ErrScheme", "http://u:secretpw@h", mail.SMTPConfig{}, "smtp://"},
		{"ErrNoHost", "smtp://u:secretpw@:25", mail.SMTPConfig{}, "no host"},
		{"ErrPort", "smtp://u:secretpw@h:99999", mail.SMTPConfig{}, "port"},
		{"ErrPath", "smtp://u:secretpw@h/x", mail.SMTPConfig{}, "path"},
		{"ErrQuery", "smtp://u:secretpw@h?auth=plain", mail.SMTPConfig{}, "query"},
		{"ErrGarbage", "smtp://u:secretpw@h:%zz", mail.SMTPConfig{}, "URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mail.ParseSMTPURL(tt.raw)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("ParseSMTPURL: %v", err)
				}
				if got != tt.want {
					t.Errorf("ParseSMTPURL = %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.err)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error quotes the password: %v", err)
			}
		})
	}
}

func TestTemplatesRender(t *testing.T) {
	tpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	d := mail.Data{Name: "<Ada>", Link: "https://app.example/reset-password?token=abc&x=1", NewEmail: "new@example.com", Valid: "30 minutes"}
	for _, k := range []mail.Kind{mail.PasswordReset, mail.VerifyEmail, mail.ConfirmNewEmail, mail.EmailChangeNotice} {
		t.Run(string(k), func(t *testing.T) {
			m, err := tpl.Render(k, "to@example.com", d)
			if err != nil {
				t.Fatal(err)
			}
			if m.To != "to@example.com" || m.Subject == "" || strings.Contains(m.Subject, "\n") {
				t.Errorf("to %q subject %q", m.To, m.Subject)
			}
			if !strings.Contains(m.Text, "<Ada>") {
				t.Errorf("text part lacks the name as written:\n%s", m.Text)
			}
			if strings.Contains(m.HTML, "<Ada>") || !strings.Contains(m.HTML, "&lt;Ada&gt;") {
				t.Errorf("html part does not escape the name:\n%s", m.HTML)
			}
			hasLink := strings.Contains(m.Text, d.Link)
			if wantLink := k != mail.EmailChangeNotice; hasLink != wantLink {
				t.Errorf("link in the text part: %v, want %v", hasLink, wantLink)
			}
		})
	}
}
