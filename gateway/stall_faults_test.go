//go:build quietzone_faults

package gateway

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// In a faults build the loop stalls while the flag file exists, and only
// when QUIETZONE_TEST_STALL names one.
func TestStallWhileFlagged(t *testing.T) {
	if stallHook == nil {
		t.Fatal("a quietzone_faults build without the stall hook")
	}
	flag := filepath.Join(t.TempDir(), "stall")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("QUIETZONE_TEST_STALL", "")
	stallHook() // no variable: returns at once, whatever files exist

	t.Setenv("QUIETZONE_TEST_STALL", flag)
	done := make(chan struct{})
	go func() { stallHook(); close(done) }()
	select {
	case <-done:
		t.Fatal("did not stall while the flag file exists")
	case <-time.After(300 * time.Millisecond):
	}
	os.Remove(flag)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("still stalled after the flag file went")
	}
}
