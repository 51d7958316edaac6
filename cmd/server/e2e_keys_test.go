package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// keysTestSecret is an HS256 secret for the migration test.
const keysTestSecret = "Qm8vXr2LkP9wZt4NbY7cHj3FdG6sA1uE5nK0yWqBxVhR"

// mustWriteEd25519Key writes a new PEM (PKCS#8) Ed25519 private key, as
// `openssl genpkey -algorithm ed25519` makes, and returns its path and key.
func mustWriteEd25519Key(tb testing.TB, dir, name string) (string, ed25519.PrivateKey) {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path, priv
}

// mustWritePublicKey writes the PEM (PKIX) public half of priv.
func mustWritePublicKey(tb testing.TB, dir, name string, priv ed25519.PrivateKey) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jwks is /.well-known/jwks.json as another service reads it.
type jwks struct {
	Keys []struct {
		Kty, Crv, X, Kid, Alg, Use string
	} `json:"keys"`
}

func (s *testServer) mustJWKS(tb testing.TB) jwks {
	tb.Helper()
	resp, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/jwk-set+json") {
		tb.Fatalf("GET jwks = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var set jwks
	if err := json.Unmarshal(b, &set); err != nil {
		tb.Fatalf("jwks: %v: %s", err, b)
	}
	return set
}

// verifyWithJWKS verifies a token the way another service would: find the
// key by kid in the published set, and check an EdDSA signature with it.
func verifyWithJWKS(tb testing.TB, set jwks, token string) error {
	tb.Helper()
	_, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		for _, k := range set.Keys {
			if k.Kid == kid && k.Kty == "OKP" && k.Crv == "Ed25519" {
				x, err := base64.RawURLEncoding.DecodeString(k.X)
				if err != nil {
					return nil, err
				}
				return ed25519.PublicKey(x), nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("coursehub"), jwt.WithAudience("coursehub-api"))
	return err
}

func tokenHeader(tb testing.TB, token string) map[string]any {
	tb.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		tb.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		tb.Fatal(err)
	}
	return h
}

// Ensure Ed25519 keys sign, are published as a JWKS that verifies the
// tokens independently, and rotate: a new key signs while the previous one
// still verifies what it signed.
func TestSigningKeys(t *testing.T) {
	keyDir := t.TempDir()
	dataDir := t.TempDir()
	oldKey, oldPriv := mustWriteEd25519Key(t, keyDir, "old.pem")

	s := mustStartServer(t, map[string]string{"DATA_DIR": dataDir, "JWT_PRIVATE_KEY_FILE": oldKey})
	old := s.mustSignup(t, "keys@example.com", "keys-password-1", "Keys")
	if h := tokenHeader(t, old.AccessToken); h["alg"] != "EdDSA" || h["kid"] == "" {
		t.Fatalf("token header = %v, want alg EdDSA and a kid", h)
	}
	set := s.mustJWKS(t)
	if len(set.Keys) != 1 || set.Keys[0].Alg != "EdDSA" || set.Keys[0].Use != "sig" {
		t.Fatalf("jwks = %+v, want the one signing key", set)
	}
	if err := verifyWithJWKS(t, set, old.AccessToken); err != nil {
		t.Fatalf("the published key does not verify our token: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, secretFile)); err == nil {
		t.Errorf("a JWT secret was generated although a signing key is configured")
	}
	s.stop(t)

	t.Run("OKRotation", func(t *testing.T) {
		newKey, _ := mustWriteEd25519Key(t, keyDir, "new.pem")
		oldPub := mustWritePublicKey(t, keyDir, "old.pub.pem", oldPriv)
		s := mustStartServer(t, map[string]string{
			"DATA_DIR": dataDir, "JWT_PRIVATE_KEY_FILE": newKey, "JWT_PUBLIC_KEY_FILES": oldPub,
		})
		// The token signed by the previous key still works.
		s.post(t, old.AccessToken, `{ me { id } }`, nil).mustNoErrors(t)
		fresh := s.mustLogin(t, "keys@example.com", "keys-password-1")
		if tokenHeader(t, fresh.AccessToken)["kid"] == tokenHeader(t, old.AccessToken)["kid"] {
			t.Errorf("the new key did not take over signing")
		}
		set := s.mustJWKS(t)
		if len(set.Keys) != 2 {
			t.Fatalf("jwks has %d keys, want the new and the previous one", len(set.Keys))
		}
		for _, tok := range []string{old.AccessToken, fresh.AccessToken} {
			if err := verifyWithJWKS(t, set, tok); err != nil {
				t.Errorf("jwks does not verify a token: %v", err)
			}
		}
		s.stop(t)

		// Once the previous key is dropped, its tokens are refused.
		s = mustStartServer(t, map[string]string{"DATA_DIR": dataDir, "JWT_PRIVATE_KEY_FILE": newKey})
		s.post(t, old.AccessToken, `{ me { id } }`, nil).mustCode(t, "UNAUTHENTICATED")
		s.post(t, fresh.AccessToken, `{ me { id } }`, nil).mustNoErrors(t)
	})

	t.Run("OKMigrationFromHS256", func(t *testing.T) {
		dir := t.TempDir()
		s := mustStartServer(t, map[string]string{"DATA_DIR": dir, "JWT_SECRET": keysTestSecret})
		hs := s.mustSignup(t, "hs@example.com", "keys-password-1", "HS")
		if tokenHeader(t, hs.AccessToken)["alg"] != "HS256" {
			t.Fatalf("want an HS256 token first")
		}
		s.stop(t)
		// EdDSA signs from now on; the secret still verifies old tokens and is
		// never published.
		s = mustStartServer(t, map[string]string{"DATA_DIR": dir, "JWT_SECRET": keysTestSecret, "JWT_PRIVATE_KEY_FILE": oldKey})
		s.post(t, hs.AccessToken, `{ me { id } }`, nil).mustNoErrors(t)
		if alg := tokenHeader(t, s.mustLogin(t, "hs@example.com", "keys-password-1").AccessToken)["alg"]; alg != "EdDSA" {
			t.Errorf("alg = %v after the migration, want EdDSA", alg)
		}
		if set := s.mustJWKS(t); len(set.Keys) != 1 {
			t.Errorf("jwks = %+v, want only the Ed25519 key", set)
		}
	})

	t.Run("ErrAlgorithmConfusion", func(t *testing.T) {
		s := mustStartServer(t, map[string]string{"JWT_PRIVATE_KEY_FILE": oldKey})
		p := s.mustSignup(t, "conf@example.com", "keys-password-1", "Conf")
		kid, _ := tokenHeader(t, p.AccessToken)["kid"].(string)
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(p.AccessToken, claims); err != nil {
			t.Fatal(err)
		}
		// HS256 keyed with the public key's bytes, under the Ed25519 key's kid:
		// the classic confusion attack. It must be refused.
		pub := oldPriv.Public().(ed25519.PublicKey)
		for _, key := range [][]byte{pub, []byte(base64.RawURLEncoding.EncodeToString(pub))} {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
			tok.Header["kid"] = kid
			forged, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			s.post(t, forged, `{ me { id } }`, nil).mustCode(t, "UNAUTHENTICATED")
		}
	})

	t.Run("ErrBadKeyFile", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.pem")
		if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
			t.Fatal(err)
		}
		vars := testEnv(t.TempDir())
		vars["JWT_PRIVATE_KEY_FILE"] = bad
		err := run(t.Context(), nil, func(k string) string { return vars[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "JWT_PRIVATE_KEY_FILE") {
			t.Errorf("run = %v, want an error naming JWT_PRIVATE_KEY_FILE", err)
		}
	})
}
