package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quietzone/uplink"
)

// The configuration's sealing key: a private key or a key without a
// broker is refused at its line.
func TestSealKeyConfig(t *testing.T) {
	k, err := uplink.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, broker, want string
		data                     []byte
	}{
		{"good", "seal.pub", "tcp://127.0.0.1:1883", "", k.Public().MarshalPEM()},
		{"private key", "seal.key", "tcp://127.0.0.1:1883", "holds a private key", privPEM},
		{"not a key", "seal.pub", "tcp://127.0.0.1:1883", "not a quietzone sealing key", []byte("hello\n")},
		{"no broker", "seal.pub", "", "without uplink.broker", k.Public().MarshalPEM()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := &Config{path: filepath.Join(dir, "q.yaml"), Uplink: UplinkConfig{Broker: tc.broker, FleetPublicKey: tc.file}}
			got, err := loadSealKey(cfg, &YAMLDoc{name: cfg.path})
			switch {
			case tc.want == "" && (err != nil || !got.Equal(k.Public())):
				t.Fatalf("loadSealKey = %v, %v", got, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("loadSealKey error %v, want %q", err, tc.want)
			}
		})
	}
}
