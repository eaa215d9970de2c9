package gateway

import (
	"os"
	"testing"
)

// TestMain makes the example identity its owner's alone, as the daemon
// requires of a secret: git checks files out 0644.
func TestMain(m *testing.M) {
	if err := os.Chmod("testdata/good/vehicle.identity", 0o600); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
