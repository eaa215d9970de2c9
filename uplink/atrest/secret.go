package atrest

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// OpenSecret opens a file that must be the daemon's alone (Open with
// Secret). what names it in errors ("queue key").
func OpenSecret(path, what string) (*os.File, error) {
	return Open(path, Secret.Named(what))
}

// KeyLen is the length of a key that seals data at rest: AES-256.
const KeyLen = 32

// LoadKey reads a key that seals data at rest: KeyLen raw bytes, or as
// many in hex (a trailing newline allowed), from a file Open accepts as
// a secret. A PEM private key is refused as a signing key.
func LoadKey(path, what string) ([]byte, error) {
	data, err := Read(path, Secret.Named(what).Bounded(2*KeyLen+2))
	if err != nil {
		if rerr := refuseSigningKeyFile(path, what); rerr != nil {
			return nil, rerr
		}
		return nil, fmt.Errorf("%w; want %d raw bytes or %d hexadecimal digits", err, KeyLen, 2*KeyLen)
	}
	if err := RefuseSigningKey(path, what, data); err != nil {
		return nil, err
	}
	switch t := bytes.TrimRight(data, "\r\n"); {
	case len(data) == KeyLen:
		return data, nil
	case len(t) == 2*KeyLen:
		key := make([]byte, KeyLen)
		if _, err := hex.Decode(key, t); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%s %s: want %d raw bytes or %d hexadecimal digits", what, path, KeyLen, 2*KeyLen)
}

// refuseSigningKeyFile says a file too large for a raw key is a signing
// key, when it is one: the clearer of the two errors.
func refuseSigningKeyFile(path, what string) error {
	data, err := Read(path, Secret.Named(what))
	if err != nil {
		return nil
	}
	return RefuseSigningKey(path, what, data)
}

// DeriveKey derives a KeyLen-byte key for one purpose from a secret with
// HKDF-SHA256 (RFC 5869; no salt, label as the info): keys of different
// labels are independent, and none reveals the secret or another.
func DeriveKey(secret []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, label, KeyLen)
	if err != nil { // only for an output longer than 255 hashes
		panic("atrest: derive key: " + err.Error())
	}
	return k
}
