package gateway

import (
	"path/filepath"
	"time"

	"quietzone/gateway/bundle"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
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
	// KeyFile names the key that seals the stored bundle (the zone list
	// is sensitive): 32 bytes, raw or hex, mode 0600. Default
	// uplink.queue.key_file.
	KeyFile string `yaml:"key_file"`
}

// AuditConfig says where the audit log is kept.
type AuditConfig struct {
	// File is the log; default audit.log in uplink.state_dir (none
	// without a state directory).
	File string `yaml:"file"`
	// SummaryEvery is how often the audit summary goes up; default 5m.
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

func (c *Config) fleetKeyFile() string {
	if c.Fleet.KeyFile != "" {
		return c.Resolve(c.Fleet.KeyFile)
	}
	return c.Resolve(c.Uplink.Queue.KeyFile)
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
		if f.Bundle != "" || f.StateDir != "" || f.KeyFile != "" {
			return doc.Errorf([]any{"fleet"}, "fleet: keys are required to accept bundles")
		}
		return nil
	}
	if c.FleetStateDir() == "" {
		return doc.Errorf([]any{"fleet"}, "fleet.state_dir (or uplink.state_dir) is required: the last good bundle is kept there")
	}
	if c.fleetKeyFile() == "" {
		return doc.Errorf([]any{"fleet"}, "fleet.key_file (or uplink.queue.key_file) is required: the stored zone list is sealed with it")
	}
	if c.Audit.SummaryEvery < 0 {
		return doc.Errorf([]any{"audit", "summary_every"}, "audit.summary_every must not be negative")
	}
	return nil
}

// loadFleet reads the pinned keys and the key that seals the stored
// bundle.
func loadFleet(cfg *Config, doc *YAMLDoc, s *Setup) error {
	if !cfg.Fleet.Pinned() {
		return nil
	}
	for i, p := range cfg.Fleet.Keys {
		k, err := bundle.LoadPublicKey(cfg.Resolve(p))
		if err != nil {
			return doc.Errorf([]any{"fleet", "keys", i}, "%v", err)
		}
		s.FleetKeys = append(s.FleetKeys, k)
	}
	key, err := atrest.LoadKey(cfg.fleetKeyFile(), "bundle store key")
	if err != nil {
		path := []any{"fleet", "key_file"}
		if cfg.Fleet.KeyFile == "" {
			path = []any{"uplink", "queue", "key_file"}
		}
		return doc.Errorf(path, "%v", err)
	}
	s.StoreKey = key
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
		},
	}
}
