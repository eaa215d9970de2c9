package uplink

import (
	"quietzone/uplink/atrest"
)

// ErrNotSupported: the durable queue needs a Unix file system (flock,
// file ownership).
var ErrNotSupported = atrest.ErrNotSupported

// LoadQueueKey reads the key that encrypts the queue at rest: QueueKeyLen
// raw bytes, or as many in hex (a trailing newline allowed). It refuses a
// file that anyone but its owner may read or write, or that another user
// owns: the key must be the daemon's alone.
func LoadQueueKey(path string) ([]byte, error) {
	return atrest.LoadKey(path, "queue key")
}
