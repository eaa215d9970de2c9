package config

import (
	"path/filepath"
	"time"

	"quietzone/gateway/bundle"
	"quietzone/uplink"
)

// FleetConfig pins the fleet's bundle keys and says where signed bundles
// come from. With keys pinned, zones.file and policy may be left out: the
// gateway then stays suppressed, and sends nothing but its status, until
// a bundle brings zones and a policy.
type FleetConfig struct {
	// Keys are PEM public key files ("PUBLIC KEY", ed25519); a bundle
	// must be signed by one of them.
	Keys []string `yaml:"keys"`
	// Bundle is a bundle file read at start and on every reload (SIGHUP).
	// Bundles also arrive over MQTT when there is a broker.
	Bundle string `yaml:"bundle"`
	// StateDir keeps the last good bundle, sealed; default
	// uplink.state_dir.
	StateDir string `yaml:"state_dir"`
	// KeyFile names a raw key (32 bytes, raw or hex, mode 0600) that
	// earlier versions sealed the stored bundle with: a bundle stored so
	// is still read with it, and stored again under the key derived from
	// the vehicle's root secret (the identity's; without an identity,
	// uplink.queue.key_file's or this file's).
	KeyFile string `yaml:"key_file"`
	// MaxBundleMB bounds a bundle, from MQTT or the file, in MiB: a
	// larger one is refused before anything of it is read. Default 16
	// (a bundle of 10,000 zones is about 6 MiB).
	MaxBundleMB float64 `yaml:"max_bundle_mb"`
	// BundleKeyFile names the fleet's bundle key (32 bytes, raw or hex,
	// mode 0600), installed at enrolment: bundles carry their zones and
	// covers sealed under it (bundle.SealedName), out of sight of whoever
	// reads the broker. Without it a sealed bundle is refused.
	BundleKeyFile string `yaml:"bundle_key_file"`
}

// AuditConfig says where the audit log is kept.
type AuditConfig struct {
	// File is the log; default audit.log in uplink.state_dir (none
	// without a state directory).
	File string `yaml:"file"`
	// SummaryEvery is how often, in running time, the audit summary goes
	// up, its counts taken then; default 6h (issue 14: it dates events to
	// that, no finer).
	SummaryEvery time.Duration `yaml:"summary_every"`
}

// Pinned reports whether the configuration pins fleet keys.
func (f FleetConfig) Pinned() bool { return len(f.Keys) > 0 }

// FleetStateDir is where the last good bundle is kept, or "" for none.
func (c *Config) FleetStateDir() string {
	if c.Fleet.StateDir != "" {
		return c.Resolve(c.Fleet.StateDir)
	}
	return c.Resolve(c.Uplink.StateDir)
}

// hasRootSecret reports whether the vehicle has a secret its keys at
// rest are derived from.
func (c *Config) hasRootSecret() bool {
	return c.Vehicle.IdentityFile != "" || c.Fleet.KeyFile != "" || c.Uplink.Queue.KeyFile != ""
}

const (
	DefaultMaxBundleMB = 16
	maxMaxBundleMB     = 256
)

// MaxBundleBytes is the largest bundle the vehicle takes.
func (c *Config) MaxBundleBytes() int64 {
	mb := c.Fleet.MaxBundleMB
	if mb == 0 {
		mb = DefaultMaxBundleMB
	}
	return int64(mb * (1 << 20))
}

// AuditFile returns the audit log's path, or "" for none.
func (c *Config) AuditFile() string {
	switch {
	case c.Audit.File != "":
		return c.Resolve(c.Audit.File)
	case c.Uplink.StateDir != "":
		return filepath.Join(c.Resolve(c.Uplink.StateDir), "audit.log")
	}
	return ""
}

func (c *Config) checkFleet(doc *YAMLDoc) error {
	f := c.Fleet
	if !f.Pinned() {
		if f.Bundle != "" || f.StateDir != "" || f.KeyFile != "" || f.MaxBundleMB != 0 {
			return doc.Errorf([]any{"fleet"}, "fleet: keys are required to accept bundles")
		}
		return nil
	}
	if c.FleetStateDir() == "" {
		return doc.Errorf([]any{"fleet"}, "fleet.state_dir (or uplink.state_dir) is required: the last good bundle is kept there")
	}
	if !c.hasRootSecret() {
		return doc.Errorf([]any{"fleet"}, "fleet: a key is required to seal the stored zone list and its version floor: vehicle.identity_file (or, without an identity, fleet.key_file or uplink.queue.key_file)")
	}
	if mb := f.MaxBundleMB; mb != 0 && !(mb >= 0.0625 && mb <= maxMaxBundleMB) {
		return doc.Errorf([]any{"fleet", "max_bundle_mb"}, "fleet.max_bundle_mb: %v, want 0.0625 (64 KiB) to %d", mb, maxMaxBundleMB)
	}
	if c.Audit.SummaryEvery < 0 {
		return doc.Errorf([]any{"audit", "summary_every"}, "audit.summary_every must not be negative")
	}
	return nil
}

// loadFleet reads the pinned keys.
func loadFleet(cfg *Config, doc *YAMLDoc, s *Setup) error {
	if !cfg.Fleet.Pinned() {
		if cfg.Fleet.BundleKeyFile != "" {
			return doc.Errorf([]any{"fleet", "bundle_key_file"}, "fleet.bundle_key_file without fleet.keys: no bundle would be taken to open")
		}
		return nil
	}
	for i, p := range cfg.Fleet.Keys {
		k, err := bundle.LoadPublicKey(cfg.Resolve(p))
		if err != nil {
			return doc.Errorf([]any{"fleet", "keys", i}, "%v", err)
		}
		s.FleetKeys = append(s.FleetKeys, k)
	}
	if f := cfg.Fleet.BundleKeyFile; f != "" {
		k, err := bundle.LoadBodyKey(cfg.Resolve(f))
		if err != nil {
			return doc.Errorf([]any{"fleet", "bundle_key_file"}, "%v", err)
		}
		s.BundleKey = k
	}
	return nil
}

// DenyAll is the policy of a gateway that has none yet: nothing but the
// status leaves the vehicle.
func DenyAll() *uplink.Policy {
	return &uplink.Policy{
		TelemetryPeriod: time.Second,
		Signals:         map[string]uplink.Rule{},
		Batch:           uplink.BatchRule{MaxRecords: 60, MaxAge: time.Minute},
		NearZones: uplink.NearZoneRule{
			TimeQuantum: defaultTimeQuantumS * time.Second,
			JitterM:     defaultJitterM,
			TripEndM:    defaultTripEndM,
			// The widest trip ends and end covers: nothing is allowed out
			// anyway, but a vehicle parked under DenyAll still learns its
			// trip ends as it would under a real policy.
			TripEndSpreadM: defaultTripEndSpreadM,
			CoverOffsetM:   DefaultCoverOffsetM,
			Decoys:         DefaultDecoys,
			EndLinger:      DefaultEndLingerS * time.Second,
		},
	}
}
