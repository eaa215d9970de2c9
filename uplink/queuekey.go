package uplink

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotSupported: the durable queue needs a Unix file system (flock,
// file ownership).
var ErrNotSupported = errors.New("not supported on this platform")

// LoadQueueKey reads the key that encrypts the queue at rest: QueueKeyLen
// raw bytes, or as many in hex (a trailing newline allowed). It refuses a
// file that anyone but its owner may read or write, or that another user
// owns: the key must be the daemon's alone.
func LoadQueueKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("queue key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("queue key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("queue key %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("queue key %s: mode %04o lets others read or write it; chmod 600 it", path, perm)
	}
	uid, ok := fileOwner(fi)
	if !ok {
		return nil, fmt.Errorf("queue key %s: cannot tell who owns it: %w", path, ErrNotSupported)
	}
	if uid != os.Geteuid() {
		return nil, fmt.Errorf("queue key %s: owned by user %d, not by the daemon's user %d", path, uid, os.Geteuid())
	}
	data, err := io.ReadAll(io.LimitReader(f, 2*QueueKeyLen+3))
	if err != nil {
		return nil, fmt.Errorf("queue key %s: %w", path, err)
	}
	switch t := bytes.TrimRight(data, "\r\n"); {
	case len(data) == QueueKeyLen:
		return data, nil
	case len(t) == 2*QueueKeyLen:
		key := make([]byte, QueueKeyLen)
		if _, err := hex.Decode(key, t); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("queue key %s: want %d raw bytes or %d hexadecimal digits", path, QueueKeyLen, 2*QueueKeyLen)
}
