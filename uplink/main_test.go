package uplink_test

import (
	"fmt"
	"os"
	"quietzone/can/cantest"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when a goroutine of the uplink, of paho or of the
// zstd codec is still alive after every test has finished.
//
// This is what goleak.VerifyTestMain does (the can package uses it), with a
// longer wait: paho's goroutines finish a retry or back-off sleep of up to
// a second after Disconnect returns, longer than goleak v1.3.0's fixed
// retry budget (about half a second), which cannot be configured. The MQTT
// tests also check after each test (noLeaks), to name the test that leaked.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leakedGoroutines(leakGrace); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests:\n\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakGrace bounds the wait for goroutines to exit. paho's Disconnect
// returns before its goroutines have ended (its documentation says so): a
// connect attempt in progress finishes its retry sleep (1 s here) first,
// and a reconnect loop its back-off sleep (MaxBackoff, 1 s in these tests).
const leakGrace = 15 * time.Second

// leakMarkers pick the goroutines that count: this package's, its tests',
// the harness's, paho's and the compressor's.
var leakMarkers = []string{"quietzone/uplink", "github.com/eclipse/paho", "klauspost/compress"} // paho appears as paho%2emqtt%2egolang in stacks

// noLeaks checks, when the test and its other cleanups are done, that no
// goroutine it started is left. Call it first in the test, so that its
// cleanup runs last.
func noLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		start := time.Now()
		if leaks := leakedGoroutines(leakGrace); leaks != "" {
			t.Errorf("goroutines left after the test:\n\n%s", leaks)
		} else if waited := time.Since(start); waited > 50*time.Millisecond {
			t.Logf("waited %v for paho's goroutines to exit", waited.Round(time.Millisecond))
		}
	})
}

// leakedGoroutines returns the stacks of goroutines, other than the
// caller's and the test framework's, that run code of leakMarkers, after
// giving them up to grace to exit. It returns as soon as none is left: a
// wait for exit, not a timing assertion.
func leakedGoroutines(grace time.Duration) string {
	deadline := time.Now().Add(grace)
	delay := time.Millisecond
	for {
		leaks := suspectGoroutines()
		if len(leaks) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaks, "\n\n")
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

func suspectGoroutines() []string {
	var out []string
	for i, g := range strings.Split(cantest.AllStacks(), "\n\n") {
		if i == 0 { // the calling goroutine comes first
			continue
		}
		if strings.Contains(g, "testing.(*T).Run(") || strings.Contains(g, "testing.(*M).Run(") ||
			strings.Contains(g, "testing.(*B).") || strings.Contains(g, "testing.tRunner.func1(") {
			continue // a test waiting for its subtests, or the test runner itself
		}
		for _, m := range leakMarkers {
			if strings.Contains(g, m) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
