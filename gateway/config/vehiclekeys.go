package config

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"quietzone/gateway/bundle"
	"quietzone/uplink/atrest"
)

// loadIdentity reads the vehicle's identity, if the configuration names
// one, and its VIN (from vin, vin_file or the identity, which must
// agree).
func loadIdentity(cfg *Config, doc *YAMLDoc, s *Setup) (Identity, error) {
	var id Identity
	if f := cfg.Vehicle.IdentityFile; f != "" {
		var err error
		if id, err = LoadIdentity(cfg.Resolve(f)); err != nil {
			return id, doc.Errorf([]any{"vehicle", "identity_file"}, "%v", err)
		}
	}
	vin, at := cfg.Vehicle.VIN, []any{"vehicle", "vin"}
	if f := cfg.Vehicle.VINFile; f != "" {
		b, err := atrest.Read(cfg.Resolve(f), atrest.VIN)
		if err != nil {
			return id, doc.Errorf([]any{"vehicle", "vin_file"}, "%v", err)
		}
		vin, at = strings.TrimSpace(string(b)), []any{"vehicle", "vin_file"}
	}
	if id.VIN != "" {
		if vin != "" && NormalVIN(vin) != id.VIN {
			// Neither VIN is printed: they identify vehicles.
			return id, doc.Errorf(at, "the VIN is not the one the identity (vehicle.identity_file) was enrolled for: is it another vehicle's identity?")
		}
		vin = id.VIN
	}
	if vin == "" {
		return id, doc.Errorf([]any{"vehicle"}, "vehicle.vin or vehicle.vin_file is required")
	}
	s.VIN, s.Pseudonym = vin, id.Pseudonym
	return id, nil
}

// loadKeys derives the vehicle's keys at rest from its root secret: the
// identity's, else (a vehicle enrolled before identities, without a
// broker) the raw key of uplink.queue.key_file or fleet.key_file. Those
// files are also kept as the old keys of what earlier versions sealed
// with them.
func loadKeys(cfg *Config, doc *YAMLDoc, s *Setup, id Identity) error {
	var queueRaw, storeRaw []byte
	var err error
	if f := cfg.Uplink.Queue.KeyFile; f != "" {
		if queueRaw, err = atrest.LoadKey(cfg.Resolve(f), "queue key"); err != nil {
			return doc.Errorf([]any{"uplink", "queue", "key_file"}, "%v", err)
		}
	}
	if f := cfg.Fleet.KeyFile; f != "" {
		if storeRaw, err = atrest.LoadKey(cfg.Resolve(f), "bundle store key"); err != nil {
			return doc.Errorf([]any{"fleet", "key_file"}, "%v", err)
		}
	}
	root := id.Root
	if root == nil {
		root = queueRaw
		if root == nil {
			root = storeRaw
		}
	} else if queueRaw != nil || storeRaw != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: uplink.queue.key_file and fleet.key_file only open what earlier versions sealed with them; "+
			"the keys now come from the identity. Remove them once the queue has drained and the bundle was stored again.", cfg.Path()))
	}
	if root == nil {
		return nil
	}
	s.Keys = DeriveKeys(root)
	s.Keys.OldQueue = queueRaw
	s.Keys.OldStore = storeRaw
	if storeRaw == nil {
		s.Keys.OldStore = queueRaw // earlier versions' default
	}
	return nil
}

// fleetKeyFileRefusal says why uplink.fleet_key_file is refused, and what
// to do instead.
func fleetKeyFileRefusal(path string) string {
	const enrol = "Enrol the vehicle instead: quietzone policy enrol --secret FLEET_SECRET --vin VIN --out identity " +
		"(with the old fleet key as the secret the pseudonym stays the same), provision the identity beside the vehicle's TLS key, " +
		"and name it in vehicle.identity_file"
	if data, err := atrest.Read(path, atrest.Secret.Named("fleet key").Public()); err == nil && atrest.RefuseSigningKey(path, "", data) != nil {
		return "uplink.fleet_key_file: " + path + " holds a PEM private key, a signing key such as the fleet's bundle key from policy keygen: " +
			"a fleet's signing key must never be on a vehicle, nor may it name one. " + enrol
	}
	return "uplink.fleet_key_file: a fleet-wide pseudonym key must not be on a vehicle: with it and public VINs, " +
		"one stolen vehicle names every vehicle of the fleet. " + enrol
}

// loadTLS builds the client TLS configuration named by the config. The
// client key is a secret (atrest.Secret), and may not be the private half
// of a pinned fleet key.
func loadTLS(cfg *Config, doc *YAMLDoc, pinned []bundle.PublicKey) (*tls.Config, error) {
	u := cfg.Uplink
	if u.CAFile == "" && u.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if u.CAFile != "" {
		ca, err := atrest.Read(cfg.Resolve(u.CAFile), atrest.Cert.Named("CA certificate"))
		if err != nil {
			return nil, doc.Errorf([]any{"uplink", "ca_file"}, "%v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(ca) {
			return nil, doc.Errorf([]any{"uplink", "ca_file"}, "no PEM certificate in %s", u.CAFile)
		}
	}
	if u.CertFile != "" {
		certPEM, err := atrest.Read(cfg.Resolve(u.CertFile), atrest.Cert)
		if err != nil {
			return nil, doc.Errorf([]any{"uplink", "cert_file"}, "%v", err)
		}
		keyPath := cfg.Resolve(u.KeyFile)
		keyPEM, err := atrest.Read(keyPath, atrest.Secret.Named("TLS key"))
		if err != nil {
			return nil, doc.Errorf([]any{"uplink", "key_file"}, "%v", err)
		}
		if id, ok := pinnedSigningKey(keyPEM, pinned); ok {
			return nil, doc.Errorf([]any{"uplink", "key_file"}, "TLS key %s: the private half of pinned fleet key %s, the fleet's bundle signing key: it must never be on a vehicle", keyPath, id)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, doc.Errorf([]any{"uplink", "cert_file"}, "%v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// pinnedSigningKey reports whether a PEM key is the private half of a
// pinned fleet key, and which.
func pinnedSigningKey(keyPEM []byte, pinned []bundle.PublicKey) (string, bool) {
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return "", false
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			continue
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			continue
		}
		for _, p := range pinned {
			if p.Key.Equal(priv.Public()) {
				return p.ID, true
			}
		}
	}
}
