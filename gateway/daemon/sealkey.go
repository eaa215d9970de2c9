package daemon

import (
	"bytes"
	"fmt"

	"quietzone/uplink"
)

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
