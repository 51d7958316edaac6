package mail

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Keys seal the bodies of queued mails: they carry single-use links, and a
// copy of the database must not yield working ones. The first key seals;
// every key opens (so a rotated secret still opens what was queued before).
type Keys [][]byte

// DeriveKeys turns secrets the instances share (the JWT signing secrets)
// into sealing keys of their own, so that no key serves two purposes.
func DeriveKeys(secrets ...[]byte) Keys {
	var out Keys
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write([]byte("coursehub mail queue sealing key v1"))
		out = append(out, m.Sum(nil))
	}
	return out
}

// body is what a queued mail keeps sealed.
type body struct {
	Text string `json:"t"`
	HTML string `json:"h"`
	Link string `json:"l"`
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mail: seal key: %w", err)
	}
	return cipher.NewGCM(b)
}

// seal encrypts b with the first key, bound to the mail's id.
func (k Keys) seal(id string, b body) (string, error) {
	if len(k) == 0 {
		return "", errors.New("mail: no sealing key")
	}
	a, err := gcm(k[0])
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(b)
	if err != nil {
		return "", fmt.Errorf("mail: seal: %w", err)
	}
	nonce := make([]byte, a.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawStdEncoding.EncodeToString(a.Seal(nonce, nonce, plain, []byte(id))), nil
}

// open decrypts a sealed body with whichever key sealed it.
func (k Keys) open(id, sealed string) (body, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return body{}, fmt.Errorf("mail: open: %w", err)
	}
	for _, key := range k {
		a, err := gcm(key)
		if err != nil || len(raw) < a.NonceSize() {
			continue
		}
		plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(id))
		if err != nil {
			continue
		}
		var b body
		if err := json.Unmarshal(plain, &b); err != nil {
			return body{}, fmt.Errorf("mail: open: %w", err)
		}
		return b, nil
	}
	return body{}, errors.New("mail: open: no key opens this mail (was the secret rotated without keeping the old one?)")
}
