package config

import (
	"math"
	"path/filepath"
	"time"

	"quietzone/uplink"
)

// QueueConfig tunes the durable queue the daemon keeps in
// uplink.state_dir.
type QueueConfig struct {
	// QuotaMB caps the queue on disk, in MiB; when it is full the oldest
	// batches are dropped and counted in the status record. Default 64.
	QuotaMB float64 `yaml:"quota_mb"`
	// Fsync is "batch" (the default: every batch is on disk before it
	// counts as queued) or a duration such as 200ms: batches are fsynced
	// at most that late, and a power cut may lose that much.
	Fsync string `yaml:"fsync"`
	// KeyFile names a raw key (32 bytes, raw or in hex, in a file only
	// the daemon's user may read). Earlier versions sealed the queue with
	// it; now what they sealed is still read with it, and the queue is
	// sealed with a key derived from the vehicle's root secret: the
	// identity's, or this file's on a vehicle without an identity.
	KeyFile string `yaml:"key_file"`
}

const (
	defaultQuotaMB = 64
	maxQuotaMB     = 1 << 20
	maxFsyncEvery  = 10 * time.Second
	queueSubdir    = "queue"
)

func (c *Config) checkQueue(doc *YAMLDoc) error {
	u := c.Uplink
	if u.Broker != "" && u.StateDir == "" {
		return doc.Errorf([]any{"uplink"}, "uplink.state_dir is required with a broker: the durable queue lives there, so that nothing accepted is lost")
	}
	if q := u.Queue.QuotaMB; q != 0 && !(q >= 0.0625 && q <= maxQuotaMB) {
		return doc.Errorf([]any{"uplink", "queue", "quota_mb"}, "uplink.queue.quota_mb: %v, want 0.0625 (64 KiB) to %d", q, maxQuotaMB)
	}
	if _, err := u.Queue.syncEvery(); err != nil {
		return doc.Errorf([]any{"uplink", "queue", "fsync"}, "uplink.queue.fsync: %v", err)
	}
	if u.StateDir == "" && (u.Queue != QueueConfig{}) {
		return doc.Errorf([]any{"uplink", "queue"}, "uplink.queue needs uplink.state_dir, where the queue is kept")
	}
	return nil
}

// syncEvery turns Fsync into DiskOptions.SyncEvery.
func (q QueueConfig) syncEvery() (time.Duration, error) {
	switch q.Fsync {
	case "", "batch":
		return 0, nil
	}
	d, err := time.ParseDuration(q.Fsync)
	if err != nil || d <= 0 || d > maxFsyncEvery {
		return 0, &fsyncError{q.Fsync}
	}
	return d, nil
}

type fsyncError struct{ value string }

func (e *fsyncError) Error() string {
	return "\"" + e.value + "\": want batch, or a duration from 1ms to " + maxFsyncEvery.String()
}

// DiskOptions returns the DiskQueue options of the configuration: the
// queue sealed with keys.Queue, and what an earlier version sealed with
// its raw key file still read.
func (c *Config) DiskOptions(keys Keys) (dir string, o uplink.DiskOptions) {
	q := c.Uplink.Queue
	mb := q.QuotaMB
	if mb == 0 {
		mb = defaultQuotaMB
	}
	o.QuotaBytes = int64(math.Round(mb * (1 << 20)))
	o.SyncEvery, _ = q.syncEvery() // checked by checkQueue
	o.Key = keys.Queue
	if keys.OldQueue != nil {
		o.OldKeys = [][]byte{keys.OldQueue}
	}
	return filepath.Join(c.Resolve(c.Uplink.StateDir), queueSubdir), o
}
