package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"quietzone/uplink/atrest"
)

// PublicKey is a fleet key a vehicle pins.
type PublicKey struct {
	Key ed25519.PublicKey
	// ID is KeyID(Key).
	ID string
}

// KeyID is the first 8 bytes of SHA-256 of a raw public key, in hex: how
// a manifest names the key that signed it.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// NewPublicKey wraps a raw ed25519 public key.
func NewPublicKey(pub ed25519.PublicKey) PublicKey {
	return PublicKey{Key: pub, ID: KeyID(pub)}
}

// GenerateKey makes a new fleet key pair.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return priv, nil
}

// MarshalPrivateKey encodes a private key as PKCS #8 PEM.
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey encodes a public key as PKIX PEM.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads a PKIX PEM ed25519 public key.
func ParsePublicKey(data []byte) (PublicKey, error) {
	b, rest := pem.Decode(data)
	if b != nil && strings.Contains(b.Type, "PRIVATE KEY") {
		return PublicKey{}, fmt.Errorf("public key: a PEM %q, a signing key: pin its public half (policy keygen's .pub); a fleet's signing key must never be on a vehicle", b.Type)
	}
	if b == nil || b.Type != "PUBLIC KEY" {
		return PublicKey{}, fmt.Errorf("public key: want a PEM block \"PUBLIC KEY\"")
	}
	if len(pemTrim(rest)) > 0 {
		return PublicKey{}, fmt.Errorf("public key: data after the PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("public key: %T, want ed25519", k)
	}
	return NewPublicKey(pub), nil
}

// ParsePrivateKey reads a PKCS #8 PEM ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("private key: want a PEM block \"PRIVATE KEY\"")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %T, want ed25519", k)
	}
	return priv, nil
}

func pemTrim(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r' || b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// LoadPublicKey reads a public key file.
func LoadPublicKey(path string) (PublicKey, error) {
	data, err := atrest.Read(path, atrest.PublicKey)
	if err != nil {
		return PublicKey{}, fmt.Errorf("load %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("load %s: %w", path, err)
	}
	return k, nil
}

// LoadPrivateKey reads a private key file, which must be its owner's
// alone (atrest.OpenSecret).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := atrest.Read(path, atrest.Secret.Named("private key"))
	if err != nil {
		return nil, fmt.Errorf("load %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return k, nil
}
