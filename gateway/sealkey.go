package gateway

import (
	"bytes"
	"fmt"

	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// loadSealKey reads uplink.fleet_public_key: the fleet's public sealing
// key, pinned in the vehicle's configuration (issue 15). A file holding
// the private half is refused by name: it must never be on a vehicle.
// Self-contained, for the move of the configuration (issue 13).
func loadSealKey(cfg *Config, doc *YAMLDoc) (*uplink.SealKey, error) {
	name := cfg.Uplink.FleetPublicKey
	if name == "" {
		return nil, nil
	}
	at := []any{"uplink", "fleet_public_key"}
	if cfg.Uplink.Broker == "" {
		return nil, doc.Errorf(at, "uplink.fleet_public_key without uplink.broker: nothing would be sealed")
	}
	path := cfg.Resolve(name)
	data, err := atrest.Read(path, atrest.PublicKey.Named("fleet public key"))
	if err != nil {
		return nil, doc.Errorf(at, "%v", err)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		return nil, doc.Errorf(at, "fleet public key %s holds a private key: the fleet's private key must never be on a vehicle", path)
	}
	k, err := uplink.ParseSealKey(data)
	if err != nil {
		return nil, doc.Errorf(at, "fleet public key %s: %v", path, err)
	}
	return k, nil
}

// bundleSeal is the bundle file that rotates the fleet's sealing key: a
// public key as uplink.fleet_public_key holds.
const bundleSeal = "seal.pub"

// bundleSealKey returns the sealing key a bundle carries, nil for none.
func bundleSealKey(b interface{ File(string) ([]byte, bool) }) (*uplink.SealKey, error) {
	data, ok := b.File(bundleSeal)
	if !ok {
		return nil, nil
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		return nil, fmt.Errorf("%w: %s holds a private key", ErrContents, bundleSeal)
	}
	k, err := uplink.ParseSealKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrContents, bundleSeal, err)
	}
	return k, nil
}

// SetSealKeyFunc replaces what takes a bundle's sealing key: the daemon
// starts by filling in its setup and, once the publisher exists, uses
// Publisher.SetSealKey.
func (f *Fleet) SetSealKeyFunc(fn func(k *uplink.SealKey)) {
	f.mu.Lock()
	f.sealKey = fn
	f.mu.Unlock()
}
