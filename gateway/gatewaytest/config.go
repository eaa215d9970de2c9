package gatewaytest

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// good is a complete, valid vehicle configuration: the main file, its
// zones, its policy and the vehicle's identity (enrolled from a test
// fleet secret). It is also the README's example.
//
//go:embed testdata/good
var good embed.FS

// T0 is when the tests' clocks start: a Monday morning.
var T0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// GoodHead is the start of a configuration that WriteSet's files
// complete: a vehicle, its zones and policy, no cameras yet.
const GoodHead = `vehicle:
  profile: builtin:quietzone
  vin: QZTEST00000000042
  interfaces: [vcan0]
zones: {file: zones.geojson}
policy: policy.yaml
uplink: {drain_timeout: 5s}
`

// GoodDir writes the good configuration into a temporary directory
// (WriteGood) and returns the directory.
func GoodDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := WriteGood(dir); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// WriteGood writes the good configuration into dir, every file its
// owner's alone (0600, as the daemon requires of a secret, which a
// checkout does not keep).
func WriteGood(dir string) error {
	return fs.WalkDir(good, "testdata/good", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := good.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, d.Name()), data, 0o600)
	})
}

// WriteSet writes the good configuration into a temporary directory with
// files replaced or added, and returns the main file's path.
func WriteSet(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := GoodDir(tb)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return filepath.Join(dir, "quietzone.yaml")
}

// ReadGood returns a file of the good configuration (GoodDir).
func ReadGood(name string) ([]byte, error) { return good.ReadFile("testdata/good/" + name) }
