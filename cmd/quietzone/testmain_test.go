package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestMain makes the example identity of gateway/testdata/good its
// owner's alone, as the daemon requires of a secret: git checks files
// out 0644.
func TestMain(m *testing.M) {
	// Not there when the tests run without the source tree (in the
	// vcan VM): the tests that need it fail on their own.
	if err := os.Chmod(filepath.Join("..", "..", "gateway", "testdata", "good", "vehicle.identity"), 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
		panic(err)
	}
	os.Exit(m.Run())
}
