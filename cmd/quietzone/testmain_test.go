package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain makes the example identity of gateway/testdata/good its
// owner's alone, as the daemon requires of a secret: git checks files
// out 0644.
func TestMain(m *testing.M) {
	if err := os.Chmod(filepath.Join("..", "..", "gateway", "testdata", "good", "vehicle.identity"), 0o600); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
