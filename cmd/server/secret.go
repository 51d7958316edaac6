package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/coursehub/coursehub/internal/config"
)

// secretFile is where a generated JWT secret is kept, next to the embedded
// database, so that tokens survive a restart.
const secretFile = "jwt-secret"

// loadOrCreateSecret returns the secret kept in dir, creating it (0600) on
// first use.
func loadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, secretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < config.MinSecretBytes {
			return nil, fmt.Errorf("%s is shorter than %d bytes; delete it to generate a new one", path, config.MinSecretBytes)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var raw [48]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateSecret(dir) // another process wrote it first
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return []byte(s), nil
}

// signingKeys reads the Ed25519 keys named in the configuration, if any.
func signingKeys(cfg config.Config) (ed25519.PrivateKey, []ed25519.PublicKey, error) {
	var priv ed25519.PrivateKey
	if cfg.JWTPrivateKeyFile != "" {
		b, err := os.ReadFile(cfg.JWTPrivateKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("JWT_PRIVATE_KEY_FILE: %w", err)
		}
		k, err := jwt.ParseEdPrivateKeyFromPEM(b)
		if err != nil {
			return nil, nil, fmt.Errorf("JWT_PRIVATE_KEY_FILE: not a PEM Ed25519 private key: %w", err)
		}
		priv = k.(ed25519.PrivateKey)
	}
	var pubs []ed25519.PublicKey
	for _, path := range cfg.JWTPublicKeyFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("JWT_PUBLIC_KEY_FILES: %w", err)
		}
		k, err := jwt.ParseEdPublicKeyFromPEM(b)
		if err != nil {
			// A previous private key file works too: use its public half.
			pk, perr := jwt.ParseEdPrivateKeyFromPEM(b)
			if perr != nil {
				return nil, nil, fmt.Errorf("JWT_PUBLIC_KEY_FILES: %s is not a PEM Ed25519 key", path)
			}
			k = pk.(ed25519.PrivateKey).Public()
		}
		pubs = append(pubs, k.(ed25519.PublicKey))
	}
	return priv, pubs, nil
}

// loadTrustedDocuments reads an allow-list {"<sha256 hex>": "<document>"}
// (GraphQL Code Generator's persisted-documents.json) and checks every hash.
func loadTrustedDocuments(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE: %w", err)
	}
	var docs map[string]string
	if err := json.Unmarshal(b, &docs); err != nil {
		return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE: want a JSON object of sha256 hashes to documents: %w", err)
	}
	out := make(map[string]string, len(docs))
	for hash, doc := range docs {
		sum := sha256.Sum256([]byte(doc))
		if want := hex.EncodeToString(sum[:]); strings.ToLower(strings.TrimPrefix(hash, "sha256:")) != want {
			return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE: the hash %.16s… does not match its document", hash)
		}
		out[hex.EncodeToString(sum[:])] = doc
	}
	return out, nil
}
