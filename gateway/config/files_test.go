package config_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"syscall"
	"testing"
	"time"

	"quietzone/gateway/bundle"
	"quietzone/uplink/uplinktest"
)

// loadWithin runs config.Load with a deadline: a FIFO or a device must
// give an error, not a hang.
func loadWithin(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := config.Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%s) did not return in 10s", path)
		return nil
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
}

// Every file the configuration names is read by one reader: a FIFO
// does not hang it (no writer ever comes), a device does not feed it for
// ever, and each is refused with the file and the reason.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	cases := []struct {
		name string
		// setup returns the config to load, in a set from gatewaytest.WriteSet.
		setup func(t *testing.T) string
		want  string
	}{
		{"config is a FIFO", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "quietzone.yaml")
			mkfifo(t, p)
			return p
		}, "quietzone.yaml: not a regular file (a named pipe)"},
		{"VIN file is a FIFO", func(t *testing.T) string {
			p := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "vin: QZTEST00000000042", "vin_file: vin", 1) + "cameras: [{name: front, class: exterior}]\n"})
			mkfifo(t, filepath.Join(filepath.Dir(p), "vin"))
			return p
		}, "quietzone.yaml:3: VIN file vin: not a regular file (a named pipe)"},
		{"VIN file is /dev/zero", func(t *testing.T) string {
			return gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "vin: QZTEST00000000042", "vin_file: /dev/zero", 1) + "cameras: [{name: front, class: exterior}]\n"})
		}, "quietzone.yaml:3: VIN file /dev/zero: not a regular file (a character device)"},
		{"policy is a FIFO", func(t *testing.T) string {
			p := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "policy.yaml", "pol.fifo", 1) + "cameras: [{name: front, class: exterior}]\n"})
			mkfifo(t, filepath.Join(filepath.Dir(p), "pol.fifo"))
			return p
		}, "pol.fifo: not a regular file (a named pipe)"},
		{"zone file is /dev/zero", func(t *testing.T) string {
			return gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "zones.geojson", "/dev/zero", 1) + "cameras: [{name: front, class: exterior}]\n"})
		}, "/dev/zero: not a regular file (a character device)"},
		{"queue key is a FIFO", func(t *testing.T) string {
			p := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    key_file: q.fifo\n")})
			mkfifo(t, filepath.Join(filepath.Dir(p), "q.fifo"))
			return p
		}, "quietzone.yaml:11: queue key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t)
			err := loadWithin(t, path)
			if err == nil {
				t.Fatal("accepted")
			}
			got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
			if !strings.Contains(got, tc.want) || (strings.Contains(tc.name, "key") && !strings.Contains(got, "not a regular file")) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", got, tc.want)
			}
		})
	}
}

// A file larger than its kind may be is refused before it is read whole.
func TestLoadRefusesOversizedFiles(t *testing.T) {
	path := gatewaytest.WriteSet(t, map[string]string{"policy.yaml": "signals: {}\n" + strings.Repeat("#\n", 1<<20)})
	err := loadWithin(t, path)
	if err == nil || !strings.Contains(err.Error(), "policy.yaml: ") || !strings.Contains(err.Error(), "more than a policy may be") {
		t.Fatalf("a 2 MiB policy: %v", err)
	}
}

// The TLS client key is a secret like every other: a key others may read
// is refused at its line, as the queue key is.
func TestLoadRefusesReadableTLSKey(t *testing.T) {
	pki := uplinktest.NewPKI(t, "quietzone vehicle")
	path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": withUplink("  ca_file: " + pki.CAFile + "\n  cert_file: " + pki.ClientCert + "\n  key_file: tls.key\n")})
	key, err := os.ReadFile(pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(filepath.Dir(path), "tls.key")
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Fatalf("a TLS key of mode 0600: %v", err)
	}
	if err := os.Chmod(keyPath, 0o666); err != nil {
		t.Fatal(err)
	}
	err = loadWithin(t, path)
	if err == nil || !strings.Contains(err.Error(), "quietzone.yaml:11: ") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a TLS key of mode 0666: %v, want it refused at line 11", err)
	}
}

// No fleet-wide secret on a vehicle: uplink.fleet_key_file (one HMAC key
// for the pseudonyms of the whole fleet) is refused, whatever it holds,
// and says how to enrol instead; the README's old example, the fleet's
// bundle signing key as that key, is refused as a signing key.
func TestLoadRefusesFleetKeyFile(t *testing.T) {
	priv, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signing, err := bundle.MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key string
		mode      os.FileMode
		want      []string
	}{
		{"an HMAC key", "test-fleet-key-0123456789abcdef\n", 0o600, []string{"quietzone.yaml:9: uplink.fleet_key_file", "policy enrol"}},
		{"a readable HMAC key", "test-fleet-key-0123456789abcdef\n", 0o666, []string{"quietzone.yaml:9: uplink.fleet_key_file"}},
		{"the bundle signing key", string(signing), 0o600, []string{"quietzone.yaml:9: ", "signing key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := gatewaytest.WriteSet(t, map[string]string{
				"quietzone.yaml": withUplink("  fleet_key_file: fleet.key\n"),
				"fleet.key":      tc.key,
			})
			if err := os.Chmod(filepath.Join(filepath.Dir(path), "fleet.key"), tc.mode); err != nil {
				t.Fatal(err)
			}
			err := loadWithin(t, path)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to say %q", err, w)
				}
			}
		})
	}
}

// A key file that holds a signing key (PEM "PRIVATE KEY", as policy
// keygen writes) is refused wherever the vehicle's configuration names a
// secret, saying what it is: a fleet's signing key must never sit on a
// vehicle.
func TestLoadRefusesSigningKeys(t *testing.T) {
	priv, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signing, err := bundle.MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := bundle.MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config, want string
	}{
		{"queue key", withUplink("  state_dir: s\n  queue:\n    key_file: signing.key\n"), "quietzone.yaml:11: "},
		{"bundle store key", gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  state_dir: s\n  key_file: signing.key\n  keys: [fleet.pub]\n", "quietzone.yaml:11: "},
		{"TLS key", withUplink("  cert_file: fleet.pub\n  key_file: signing.key\n") + "fleet:\n  state_dir: s\n  key_file: queue.key\n  keys: [fleet.pub]\n", "quietzone.yaml:10: "},
		{"pinned fleet key", gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  state_dir: s\n  key_file: queue.key\n  keys: [signing.key]\n", "quietzone.yaml:12: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": tc.config, "signing.key": string(signing), "fleet.pub": string(pub), "queue.key": strings.Repeat("ab", 32)})
			err := loadWithin(t, path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "signing key") {
				t.Fatalf("a signing key as the %s: %v, want it refused at %q as a signing key", tc.name, err, tc.want)
			}
		})
	}
}
