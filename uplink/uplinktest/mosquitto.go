package uplinktest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that, set to 1, turns a missing
// mosquitto binary into a test failure instead of a skip.
const RequireEnv = "QUIETZONE_REQUIRE_MOSQUITTO"

// fallbackPaths are where to look when mosquitto is not on PATH: Debian's
// package installs it in /usr/sbin, which is not on a normal user's PATH.
var fallbackPaths = []string{"/usr/sbin/mosquitto"}

const (
	startTimeout = 10 * time.Second // until the broker accepts connections
	stopTimeout  = 5 * time.Second  // after SIGTERM, before SIGKILL
	pollEvery    = 20 * time.Millisecond
	logTail      = 64 << 10 // bytes of the broker's log printed on failure
)

// Option configures the broker StartMosquitto runs.
type Option func(*config)

type config struct {
	tls   *tlsConfig
	extra []string
}

type tlsConfig struct {
	ca, cert, key string
	requireCert   bool
}

// WithTLS makes the listener speak TLS with the given PEM files: the CA
// that signs client certificates, and the broker's certificate and key.
// With requireClientCert, clients without a certificate signed by the CA
// are refused. URL then returns an ssl:// URL.
func WithTLS(caFile, certFile, keyFile string, requireClientCert bool) Option {
	return func(c *config) {
		c.tls = &tlsConfig{ca: caFile, cert: certFile, key: keyFile, requireCert: requireClientCert}
	}
}

// WithConfig appends lines to the broker's configuration file, after the
// listener, so that listener options (max_packet_size, …) apply to it.
// Do not change log_dest: the harness reads the log to know the broker is
// up.
func WithConfig(lines ...string) Option {
	return func(c *config) { c.extra = append(c.extra, lines...) }
}

// Mosquitto is a broker started by StartMosquitto. Its methods, other than
// URL, Addr and Port, must be called from the goroutine running the test:
// they fail it with t.Fatal.
type Mosquitto struct {
	t       testing.TB
	bin     string
	cfg     config
	dir     string
	conf    string
	logPath string // the broker's own log (log_dest file)
	outPath string // its stdout and stderr: errors before logging starts
	port    int

	mu   sync.Mutex
	proc *process // nil while stopped
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when Wait returned
	err    error         // Wait's result, valid once exited is closed
}

var errAddrInUse = errors.New("address already in use")

// StartMosquitto starts a broker for the duration of the test: on a free
// port of 127.0.0.1, anonymous access allowed, no persistence, logging to a
// file in t.TempDir(). It returns once the broker accepts TCP connections.
// When the test ends, the broker is stopped (SIGTERM, then SIGKILL) and, if
// the test failed, its log is printed.
func StartMosquitto(t testing.TB, opts ...Option) *Mosquitto {
	t.Helper()
	bin := findMosquitto()
	if bin == "" {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("mosquitto not installed, and %s=1 requires it: apt-get install mosquitto", RequireEnv)
		}
		t.Skip("mosquitto not installed: `make test` installs it (apt-get install mosquitto)")
	}
	m := &Mosquitto{t: t, bin: bin, dir: t.TempDir()}
	for _, o := range opts {
		o(&m.cfg)
	}
	m.conf = filepath.Join(m.dir, "mosquitto.conf")
	m.logPath = filepath.Join(m.dir, "mosquitto.log")
	m.outPath = filepath.Join(m.dir, "mosquitto.out")
	t.Cleanup(m.cleanup)

	// A free port can be taken by someone else between the check and the
	// broker's bind; the broker then exits at once, and another port is
	// tried. Restarts (Start) keep the port.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if m.port, err = freePort(); err != nil {
			break
		}
		if err = m.writeConfig(); err != nil {
			break
		}
		if err = m.start(); !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		t.Fatalf("start mosquitto: %v\n%s", err, m.logs())
	}
	return m
}

// URL is where clients connect: tcp://127.0.0.1:PORT, or ssl://… with TLS.
func (m *Mosquitto) URL() string {
	scheme := "tcp"
	if m.cfg.tls != nil {
		scheme = "ssl"
	}
	return scheme + "://" + m.Addr()
}

// Addr is the listener's host:port.
func (m *Mosquitto) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// Port is the listener's port; it does not change across Stop and Start.
func (m *Mosquitto) Port() int { return m.port }

// Running reports whether the broker process is running.
func (m *Mosquitto) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return false
	}
	select {
	case <-m.proc.exited:
		return false
	default:
		return true
	}
}

// Stop stops the broker, as an outage would: clients lose their
// connections, and the broker forgets their sessions and every retained
// message. It does nothing if the broker is stopped.
func (m *Mosquitto) Stop() {
	m.t.Helper()
	m.mu.Lock()
	p := m.proc
	m.proc = nil
	m.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.stop(); err != nil {
		m.t.Errorf("stop mosquitto: %v", err)
	}
}

// Start starts the broker again, on the same port, and returns once it
// accepts connections. It does nothing if the broker is running.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	running := m.proc != nil
	m.mu.Unlock()
	if running {
		return
	}
	if err := m.start(); err != nil {
		m.t.Fatalf("restart mosquitto on port %d: %v\n%s", m.port, err, m.logs())
	}
}

// Log returns the broker's log so far, across restarts.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

func findMosquitto() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range fallbackPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// freePort returns a port of 127.0.0.1 that nothing listens on. It prefers
// ports below Linux's default ephemeral range (32768–60999), so that
// outgoing connections, which take their local port from that range, are
// unlikely to hold it when the broker restarts on it.
func freePort() (int, error) {
	for i := 0; i < 50; i++ {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (m *Mosquitto) writeConfig() error {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# written by quietzone/uplink/uplinktest")
	if os.Geteuid() == 0 {
		// Run as root, mosquitto drops to the user "mosquitto", which
		// cannot write the log in the test's private temporary directory.
		w("user root")
	}
	w("persistence false")
	w("allow_anonymous true")
	w("log_dest file %s", m.logPath)
	w("log_type error")
	w("log_type warning")
	w("log_type notice")
	w("log_type information")
	w("log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S")
	w("connection_messages true")
	w("listener %d 127.0.0.1", m.port)
	if c := m.cfg.tls; c != nil {
		w("cafile %s", c.ca)
		w("certfile %s", c.cert)
		w("keyfile %s", c.key)
		w("require_certificate %t", c.requireCert)
	}
	for _, l := range m.cfg.extra {
		w("%s", l)
	}
	if err := os.WriteFile(m.conf, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write mosquitto config: %w", err)
	}
	return nil
}

// start runs the broker and waits until it is up: its log says it is
// running (so the port is its, not someone else's) and the port accepts
// TCP connections.
func (m *Mosquitto) start() error {
	var off int64
	if fi, err := os.Stat(m.logPath); err == nil {
		off = fi.Size()
	}
	out, err := os.OpenFile(m.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open mosquitto output: %w", err)
	}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Dir = m.dir
	cmd.Stdout, cmd.Stderr = out, out // files: no copying goroutines, no pipe that outlives the test
	err = cmd.Start()
	out.Close() // the child has its own copy
	if err != nil {
		return fmt.Errorf("run %s: %w", m.bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.exited:
			if strings.Contains(m.logFrom(off), "Address already in use") {
				return fmt.Errorf("port %d: %w", m.port, errAddrInUse)
			}
			return fmt.Errorf("mosquitto exited while starting: %v", p.err)
		default:
		}
		if strings.Contains(m.logFrom(off), " running\n") && accepts(m.Addr()) {
			m.mu.Lock()
			m.proc = p
			m.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			_ = p.stop()
			return fmt.Errorf("mosquitto not accepting connections on %s after %v", m.Addr(), startTimeout)
		}
		time.Sleep(pollEvery)
	}
}

func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (p *process) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("mosquitto did not exit %v after SIGTERM; killed", stopTimeout)
}

func (m *Mosquitto) cleanup() {
	m.mu.Lock()
	p := m.proc
	m.proc = nil
	m.mu.Unlock()
	if p != nil {
		select {
		case <-p.exited:
			m.t.Errorf("mosquitto on %s exited on its own during the test: %v", m.Addr(), p.err)
		default:
			if err := p.stop(); err != nil {
				m.t.Errorf("stop mosquitto: %v", err)
			}
		}
	}
	if m.t.Failed() {
		m.t.Logf("mosquitto on %s, %s:\n%s", m.Addr(), m.conf, m.logs())
	}
}

// logFrom returns the broker's log from byte off on.
func (m *Mosquitto) logFrom(off int64) string {
	f, err := os.Open(m.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, off, 1<<30))
	return string(b)
}

// logs returns what is worth printing when something failed: the broker's
// output and the tail of its log.
func (m *Mosquitto) logs() string {
	var b strings.Builder
	if out, _ := os.ReadFile(m.outPath); len(out) > 0 {
		fmt.Fprintf(&b, "--- mosquitto stdout/stderr:\n%s", out)
	}
	log, _ := os.ReadFile(m.logPath)
	if len(log) > logTail {
		log = append([]byte("…\n"), log[len(log)-logTail:]...)
	}
	fmt.Fprintf(&b, "--- mosquitto log:\n%s", log)
	return b.String()
}
