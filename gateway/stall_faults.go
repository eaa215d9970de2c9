//go:build quietzone_faults

package gateway

import (
	"os"
	"time"
)

// A test build's fault switch (go build -tags quietzone_faults): while the
// file named by QUIETZONE_TEST_STALL exists, the decision loop stops at
// its next tick and waits, ticking nothing and deciding nothing, as a loop
// stuck in a bug would. Both the tag and the variable are needed: the tag
// keeps the switch out of every binary a vehicle runs (make build, cross,
// package), the variable keeps a test build from stalling by accident.
func init() { stallHook = stallWhileFlagged }

func stallWhileFlagged() {
	path := os.Getenv("QUIETZONE_TEST_STALL")
	if path == "" {
		return
	}
	for {
		if _, err := os.Stat(path); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
