package mail

import (
	"strings"
	"testing"
)

func TestKeysSealOpen(t *testing.T) {
	old, cur := DeriveKeys([]byte("old secret of 32 bytes or more...")), DeriveKeys([]byte("new secret of 32 bytes or more..."))
	b := body{Text: "open https://app/reset-password?token=abc", HTML: "<a>", Link: "https://app/reset-password?token=abc"}
	sealedOld, err := old.seal("id1", b)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealedOld, "token") {
		t.Fatalf("sealed body shows the link: %s", sealedOld)
	}
	rotated := append(cur, old...)
	for _, tt := range []struct {
		name   string
		keys   Keys
		id     string
		sealed string
		ok     bool
	}{
		{"OKSameKey", old, "id1", sealedOld, true},
		{"OKAfterRotation", rotated, "id1", sealedOld, true},
		{"ErrKeyGone", cur, "id1", sealedOld, false},
		{"ErrOtherMail", old, "id2", sealedOld, false},
		{"ErrTampered", old, "id1", sealedOld[:len(sealedOld)-2] + "AA", false},
		{"ErrGarbage", old, "id1", "%%%", false},
		{"ErrShort", old, "id1", "AAAA", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keys.open(tt.id, tt.sealed)
			if tt.ok != (err == nil) {
				t.Fatalf("open: err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && got != b {
				t.Errorf("open = %+v, want %+v", got, b)
			}
		})
	}
	if _, err := (Keys{}).seal("id", b); err == nil {
		t.Error("seal with no key succeeded")
	}
	if k := DeriveKeys(nil, []byte("x")); len(k) != 1 || len(k[0]) != 32 {
		t.Errorf("DeriveKeys skips empty secrets and makes 32-byte keys: %d keys", len(k))
	}
}
