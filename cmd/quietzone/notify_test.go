package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"quietzone/can/cantest"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera/cameratest"
	"quietzone/can"
)

// notifySocket creates the socket systemd would listen on and points
// NOTIFY_SOCKET at it.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// next reads the next datagram, or fails after a generous wait.
func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifier(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if n, err := newNotifier(); n != nil || err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v, %v", n, err)
	}
	var none *notifier
	if err := none.send("READY=1"); err != nil {
		t.Error(err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if _, err := newNotifier(); err == nil {
		t.Error("a relative NOTIFY_SOCKET was taken")
	}
	c := notifySocket(t)
	n, err := newNotifier()
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if err := n.send("READY=1"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "READY=1" {
		t.Errorf("got %q", got)
	}
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		ok, err   bool
	}{
		{"", "", 0, false, false},
		{"2000000", "", 2 * time.Second, true, false},
		{"2000000", "1", 0, false, false}, // another process's
		{"-5", "", 0, false, true},
		{"0", "", 0, false, true},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		d, ok, err := watchdogInterval()
		if d != tc.want || ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v %v", tc.usec, tc.pid, d, ok, err)
		}
	}
}

// TestWatchdogFedOnlyWhileTheLoopRuns: pings while the tick count moves,
// none once it stops.
func TestWatchdogFedOnlyWhileTheLoopRuns(t *testing.T) {
	c := notifySocket(t)
	n, err := newNotifier()
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	// While alive, the loop has ticked again whenever it is asked.
	var alive atomic.Bool
	var count atomic.Uint64
	alive.Store(true)
	ticks := func() uint64 {
		if alive.Load() {
			return count.Add(1)
		}
		return count.Load()
	}
	stalls := make(chan error)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		watchdog(ctx, n, 20*time.Millisecond, ticks, func(err error) {
			select {
			case stalls <- err:
			case <-ctx.Done():
			}
		})
		close(done)
	}()
	for i := 0; i < 3; i++ {
		if got := next(t, c); got != "WATCHDOG=1" {
			t.Fatalf("got %q", got)
		}
	}
	alive.Store(false)
	// Stalled: every period says so and sends nothing. Drain what went
	// out before the stall, then wait two more stalled periods.
	if err := <-stalls; err != errNoProgress {
		t.Errorf("stall: %v", err)
	}
	drain(c)
	<-stalls
	<-stalls
	if n := drain(c); n > 0 {
		t.Errorf("%d pings while stalled", n)
	}
	cancel()
	<-done
}

// drain reads what is waiting on c without waiting, and counts it.
func drain(c *net.UnixConn) int {
	buf := make([]byte, 64)
	n := 0
	c.SetReadDeadline(time.Now())
	for {
		if _, err := c.Read(buf); err != nil {
			return n
		}
		n++
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe runs `quietzone run`'s service loop on a virtual bus with a
// notify socket: READY=1 once running, WATCHDOG=1 while it runs, status
// over the socket without coordinates, a reload on SIGHUP, STOPPING=1 and
// a clean end on cancel.
func TestServe(t *testing.T) {
	c := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")
	dir := t.TempDir()
	for _, name := range []string{"zones.geojson", "policy.yaml"} {
		data, err := os.ReadFile(filepath.Join(goodDir, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), data, 0o600)
	}
	cfg := filepath.Join(dir, "quietzone.yaml")
	os.WriteFile(cfg, []byte(`vehicle: {profile: builtin:quietzone, vin: QZTEST00000000042, interfaces: [vbus0]}
zones: {file: zones.geojson}
policy: policy.yaml
cameras: [{name: front, class: exterior, power_line: GPIO17}]
uplink: {state_dir: state}
`), 0o600)
	s, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bus := can.NewBus(time.Now)
	sock := filepath.Join(dir, "status.sock")
	d, err := daemon.New(s, daemon.Hardware{
		OpenBus: func(string, []can.Filter) (daemon.Bus, error) { return bus.Open(), nil },
		OpenPin: func(name string) (gpio.PinOut, error) { return cameratest.NewPin(name), nil },
	}, daemon.Options{StatusSocket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var logBuf syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, d, slog.New(slog.NewTextHandler(&logBuf, nil))) }()
	if got := next(t, c); !strings.HasPrefix(got, "READY=1\nSTATUS=running, unknown") {
		t.Fatalf("first notification %q", got)
	}
	if got := next(t, c); got != "WATCHDOG=1" {
		t.Errorf("then %q", got)
	}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"status", "--socket", sock}, &out, &errOut); err != nil {
		t.Fatalf("status: %v %s", err, errOut.String())
	}
	for _, want := range []string{"state:         unknown (suppressed: true)", "last fix:      none", "camera front:", "queue:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "52.") || strings.Contains(out.String(), "QZTEST") || strings.Contains(out.String(), "Demo") {
		t.Errorf("status shows a position, the VIN or a zone:\n%s", out.String())
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for got := next(t, c); got != "STATUS=running, reloaded"; got = next(t, c) {
		if got != "WATCHDOG=1" {
			t.Fatalf("after SIGHUP: %q", got)
		}
	}
	cantest.WaitFor(t, 30*time.Second, "SIGHUP to switch zones and policy", func() bool { return d.Gateway().Stats().PoliciesApplied == 1 }) // on the next tick
	// A policy that does not load: refused, the gateway keeps what runs.
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("signals: {phone.contact.name: {}}\n"), 0o600)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for got := next(t, c); got != "STATUS=running, reloaded"; got = next(t, c) {
		if got != "WATCHDOG=1" {
			t.Fatalf("after the second SIGHUP: %q", got)
		}
	}
	if !strings.Contains(logBuf.String(), "reload refused") || d.Gateway().Stats().PoliciesApplied != 1 {
		t.Errorf("a bad policy on SIGHUP: %d policies applied; log:\n%s", d.Gateway().Stats().PoliciesApplied, logBuf.String())
	}
	cancel()
	for got := next(t, c); got != "STOPPING=1"; got = next(t, c) {
		if got != "WATCHDOG=1" {
			t.Fatalf("at the end: %q", got)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("status socket left behind: %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "state", "audit.log"))
	for _, want := range []string{`"kind":"policy.applied","reason":"reload from the configured files"`, `"kind":"policy.rejected","reason":"reload: the zone file or the policy does not load"`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
}
