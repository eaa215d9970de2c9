package config

import (
	"bytes"

	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// loadSealKey reads uplink.fleet_public_key: the fleet's public sealing
// key, pinned in the vehicle's configuration. A file holding
// the private half is refused by name: it must never be on a vehicle.
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
