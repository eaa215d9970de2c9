package can_test

import (
	"quietzone/can/cantest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run when a goroutine started by the package or its
// tests is still alive after every test (a Port reader or writer that Close
// did not release, say).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitBlocked waits until some goroutine other than the caller is parked in
// a channel operation or a network poll inside fn (a function name such as
// "quietzone/can.(*Port).ReadFrame"), so that a test exercises the blocked
// case rather than racing it. It fails the test if that never happens.
func waitBlocked(tb testing.TB, fn string) {
	tb.Helper()
	for try := 0; try < 30000; try++ {
		for i, g := range strings.Split(cantest.AllStacks(), "\n\n") {
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
