package can_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when a goroutine started by this package or its
// tests is still alive after every test has finished (a Port reader or
// writer that Close did not release, say).
//
// This is what goleak.VerifyTestMain does; go.uber.org/goleak is in go.sum
// but not required by go.mod, so importing it would not build without a
// go.mod change. leakedGoroutines follows goleak's approach: retry with
// back-off while goroutines finish exiting, then report their stacks.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leakedGoroutines(); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests:\n\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines, other than the caller's,
// running code of this module, after giving them a bounded chance to exit.
// It is a wait for exit, not a timing assertion: the wait ends as soon as no
// such goroutine remains.
func leakedGoroutines() string {
	delay := time.Microsecond
	var leaks []string
	for try := 0; try < 25; try++ {
		leaks = moduleGoroutines()
		if len(leaks) == 0 {
			return ""
		}
		runtime.Gosched()
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
	return strings.Join(leaks, "\n\n")
}

// moduleGoroutines lists the stacks of the other goroutines that have a
// frame in package quietzone/can (or its tests).
func moduleGoroutines() []string {
	var out []string
	all := allStacks()
	for i, g := range strings.Split(all, "\n\n") {
		if i == 0 { // the calling goroutine comes first
			continue
		}
		if strings.Contains(g, "quietzone/can") {
			out = append(out, g)
		}
	}
	return out
}

func allStacks() string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitBlocked waits until some goroutine other than the caller is parked in
// a channel operation or a network poll inside fn (a function name such as
// "quietzone/can.(*Port).ReadFrame"), so that a test exercises the blocked
// case rather than racing it. It fails the test if that never happens.
func waitBlocked(tb testing.TB, fn string) {
	tb.Helper()
	for try := 0; try < 30000; try++ {
		for i, g := range strings.Split(allStacks(), "\n\n") {
			if i == 0 {
				continue
			}
			head, _, _ := strings.Cut(g, "\n")
			parked := strings.Contains(head, "[select") || strings.Contains(head, "[chan ") ||
				strings.Contains(head, "[IO wait")
			if parked && strings.Contains(g, fn+"(") {
				return
			}
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	tb.Fatalf("no goroutine ever blocked in %s", fn)
}
