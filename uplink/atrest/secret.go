package atrest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// OpenSecret opens a file that must be the daemon's alone: a regular file
// that neither group nor others may read or write, owned by the effective
// user. what names it in errors ("queue key").
func OpenSecret(path, what string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := checkSecret(f, path, what); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkSecret(f *os.File, path, what string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %s: not a regular file", what, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s: mode %04o lets others read or write it; chmod 600 it", what, path, perm)
	}
	uid, ok := fileOwner(fi)
	if !ok {
		return fmt.Errorf("%s %s: cannot tell who owns it: %w", what, path, ErrNotSupported)
	}
	if uid != os.Geteuid() {
		return fmt.Errorf("%s %s: owned by user %d, not by the daemon's user %d", what, path, uid, os.Geteuid())
	}
	return nil
}

// KeyLen is the length of a key that seals data at rest: AES-256.
const KeyLen = 32

// LoadKey reads a key that seals data at rest: KeyLen raw bytes, or as
// many in hex (a trailing newline allowed), from a file OpenSecret
// accepts.
func LoadKey(path, what string) ([]byte, error) {
	f, err := OpenSecret(path, what)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 2*KeyLen+3))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
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
