package uplinktest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// mqttHandshake sends an MQTT 3.1.1 CONNECT (clean session, empty client
// ID) to addr and checks for a CONNACK accepting it.
func mqttHandshake(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	connect := []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 0}
	if _, err := c.Write(connect); err != nil {
		return err
	}
	connack := make([]byte, 4)
	if _, err := io.ReadFull(c, connack); err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if !bytes.Equal(connack, []byte{0x20, 2, 0, 0}) {
		return fmt.Errorf("CONNACK % x, want 20 02 00 00", connack)
	}
	return nil
}

func TestStartStopStart(t *testing.T) {
	m := StartMosquitto(t)
	if want := fmt.Sprintf("tcp://127.0.0.1:%d", m.Port()); m.URL() != want {
		t.Errorf("URL() = %q, want %q", m.URL(), want)
	}
	if !m.Running() {
		t.Fatal("not running after StartMosquitto")
	}
	if err := mqttHandshake(m.Addr()); err != nil {
		t.Fatalf("MQTT handshake: %v", err)
	}
	port := m.Port()

	m.Stop()
	if m.Running() {
		t.Error("running after Stop")
	}
	if c, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the port accepts connections after Stop")
	}
	m.Stop() // no-op

	m.Start()
	if m.Port() != port {
		t.Fatalf("port %d after Start, was %d", m.Port(), port)
	}
	if err := mqttHandshake(m.Addr()); err != nil {
		t.Fatalf("MQTT handshake after Start: %v", err)
	}
	m.Start() // no-op
	if n := strings.Count(m.Log(), " running\n"); n != 2 {
		t.Errorf("log shows %d starts, want 2:\n%s", n, m.Log())
	}
}

func TestTwoBrokers(t *testing.T) {
	a, b := StartMosquitto(t), StartMosquitto(t)
	if a.Port() == b.Port() {
		t.Fatalf("both on port %d", a.Port())
	}
	for _, m := range []*Mosquitto{a, b} {
		if err := mqttHandshake(m.Addr()); err != nil {
			t.Error(err)
		}
	}
}

func TestWithTLSURL(t *testing.T) {
	m := &Mosquitto{port: 1234}
	WithTLS("ca.pem", "cert.pem", "key.pem", true)(&m.cfg)
	if got, want := m.URL(), "ssl://127.0.0.1:1234"; got != want {
		t.Errorf("URL() with TLS = %q, want %q", got, want)
	}
	m.dir = t.TempDir()
	m.conf, m.logPath = filepath.Join(m.dir, "c"), filepath.Join(m.dir, "l")
	WithConfig("max_connections 7")(&m.cfg)
	if err := m.writeConfig(); err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(m.conf)
	for _, line := range []string{
		"listener 1234 127.0.0.1", "cafile ca.pem", "certfile cert.pem", "keyfile key.pem",
		"require_certificate true", "persistence false", "allow_anonymous true", "max_connections 7",
	} {
		if !strings.Contains(string(conf), "\n"+line+"\n") {
			t.Errorf("config lacks %q:\n%s", line, conf)
		}
	}
	if strings.Index(string(conf), "cafile") < strings.Index(string(conf), "listener") {
		t.Errorf("TLS options before the listener they belong to:\n%s", conf)
	}
}

// fakeTB records what the harness does to a test, so that failures and
// skips can be tested. Fatal and Skip end the calling goroutine, as the
// testing package's do; run StartMosquitto through fakeTB.run.
type fakeTB struct {
	testing.TB // the real test, for TempDir

	mu       sync.Mutex
	failed   bool
	skipped  bool
	log      []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) record(failed, skipped bool, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = f.failed || failed
	f.skipped = f.skipped || skipped
	f.log = append(f.log, msg)
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.record(true, false, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Error(args ...any) { f.record(true, false, fmt.Sprint(args...)) }
func (f *fakeTB) Logf(format string, args ...any) {
	f.record(false, false, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Log(args ...any)                   { f.record(false, false, fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.Errorf(format, args...); runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any)                 { f.Error(args...); runtime.Goexit() }
func (f *fakeTB) FailNow()                          { f.record(true, false, "FailNow"); runtime.Goexit() }
func (f *fakeTB) Skip(args ...any)                  { f.record(false, true, fmt.Sprint(args...)); runtime.Goexit() }
func (f *fakeTB) Skipf(format string, args ...any) {
	f.record(false, true, fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *fakeTB) SkipNow() { f.record(false, true, "SkipNow"); runtime.Goexit() }
func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}
func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// run calls fn as a test body would run, then the cleanups, last first.
func (f *fakeTB) run(fn func()) {
	for _, g := range []func(){fn, f.runCleanups} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			g()
		}()
		<-done
	}
}

func (f *fakeTB) runCleanups() {
	f.mu.Lock()
	fns := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

func (f *fakeTB) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.log, "\n")
}

// noMosquitto hides the broker for the rest of the test.
func noMosquitto(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := fallbackPaths
	fallbackPaths = []string{filepath.Join(t.TempDir(), "mosquitto")}
	t.Cleanup(func() { fallbackPaths = saved })
}

func TestMissingMosquittoSkips(t *testing.T) {
	noMosquitto(t)
	t.Setenv(RequireEnv, "")
	f := &fakeTB{TB: t}
	f.run(func() { StartMosquitto(f) })
	if !f.skipped || f.failed {
		t.Fatalf("without mosquitto: skipped %v, failed %v; want a skip:\n%s", f.skipped, f.failed, f.output())
	}
	if want := "mosquitto not installed: `make test` installs it (apt-get install mosquitto)"; f.output() != want {
		t.Errorf("skip message %q, want %q", f.output(), want)
	}
}

func TestMissingMosquittoRequired(t *testing.T) {
	noMosquitto(t)
	t.Setenv(RequireEnv, "1")
	f := &fakeTB{TB: t}
	f.run(func() { StartMosquitto(f) })
	if !f.failed || f.skipped {
		t.Fatalf("without mosquitto, %s=1: skipped %v, failed %v; want a failure:\n%s", RequireEnv, f.skipped, f.failed, f.output())
	}
	if !strings.Contains(f.output(), "apt-get install mosquitto") {
		t.Errorf("failure %q does not say how to install it", f.output())
	}
}

func TestFindsMosquittoOnPath(t *testing.T) {
	bin := findMosquitto()
	if bin == "" {
		t.Skip("mosquitto not installed")
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "mosquitto")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if got := findMosquitto(); got != link {
		t.Errorf("findMosquitto() = %q, want %q from PATH", got, link)
	}
}

func TestBadConfigFailsWithLog(t *testing.T) {
	if findMosquitto() == "" {
		t.Skip("mosquitto not installed")
	}
	f := &fakeTB{TB: t}
	f.run(func() { StartMosquitto(f, WithConfig("no_such_option 1")) })
	if !f.failed {
		t.Fatalf("a broken config did not fail the test:\n%s", f.output())
	}
	if !strings.Contains(f.output(), "no_such_option") {
		t.Errorf("failure does not show the broker's complaint:\n%s", f.output())
	}
}

// The cleanup stops the broker, prints its log if the test failed, and
// reports a broker that died on its own.
func TestCleanup(t *testing.T) {
	if findMosquitto() == "" {
		t.Skip("mosquitto not installed")
	}
	f := &fakeTB{TB: t}
	var m *Mosquitto
	f.run(func() {
		m = StartMosquitto(f)
		f.Errorf("the test failed")
	})
	if m == nil {
		t.Fatalf("StartMosquitto failed:\n%s", f.output())
	}
	if m.Running() {
		t.Error("running after the cleanup")
	}
	if c, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("the port accepts connections after the cleanup")
	}
	if !strings.Contains(f.output(), "--- mosquitto log:") || !strings.Contains(f.output(), " running") {
		t.Errorf("failed test: the cleanup did not print the log:\n%s", f.output())
	}

	f = &fakeTB{TB: t}
	f.run(func() {
		m = StartMosquitto(f)
		m.proc.cmd.Process.Kill()
		<-m.proc.exited
	})
	if !f.failed || !strings.Contains(f.output(), "exited on its own") {
		t.Errorf("a broker that died during the test was not reported:\n%s", f.output())
	}
}
