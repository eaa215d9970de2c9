package atrest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts and authenticates data at rest with AES-256-GCM. Sealed
// data is nonce[12] || ciphertext || tag[16]. Nonces are random: with 96
// bits a collision is no concern below billions of seals per key, far
// beyond a vehicle's life.
type Sealer struct {
	aead  cipher.AEAD
	check [8]byte
}

// Sealing overhead.
const (
	NonceLen = 12
	TagLen   = 16
	Overhead = NonceLen + TagLen
)

// NewSealer returns a Sealer for a KeyLen-byte key. label names what the
// key seals, for its Check: each format has its own.
func NewSealer(key []byte, label string) (*Sealer, error) {
	if len(key) != KeyLen {
		return nil, fmt.Errorf("key: %d bytes, want %d", len(key), KeyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	s := &Sealer{aead: aead}
	sum := sha256.Sum256(append([]byte(label), key...))
	copy(s.check[:], sum[:8])
	return s, nil
}

// Check is the first 8 bytes of SHA-256(label || key): stored beside
// sealed data, it tells a wrong key from damage without revealing the key.
func (s *Sealer) Check() [8]byte { return s.check }

// Seal appends the sealed plaintext to dst; ad is authenticated, not
// encrypted.
func (s *Sealer) Seal(dst, plaintext, ad []byte) ([]byte, error) {
	var nonce [NonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	dst = append(dst, nonce[:]...)
	return s.aead.Seal(dst, nonce[:], plaintext, ad), nil
}

// ErrOpen: sealed data did not authenticate: a wrong key, damage or
// tampering.
var ErrOpen = errors.New("sealed data does not authenticate (wrong key, damaged or altered)")

// Open appends the plaintext of sealed to dst.
func (s *Sealer) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrOpen
	}
	out, err := s.aead.Open(dst, sealed[:NonceLen], sealed[NonceLen:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
