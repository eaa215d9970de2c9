package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/can"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/testbench"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
)

// TestSystem installs the Debian package on a whole Debian system with
// systemd as PID 1 and runs the daemon as a vehicle integrator would: the
// package's unit, its user, its hardening, Mosquitto, a CAN bus (vcan0)
// and real GPIO lines (gpio-sim, built out of tree). `make test-system`
// runs it in a throwaway QEMU VM (cmd/vcanvm, VCANVM_IMAGE); anywhere else
// it skips. The subtests share one system and run in order.
func TestSystem(t *testing.T) {
	if os.Getenv("QUIETZONE_REQUIRE_SYSTEM") != "1" {
		t.Skip("a whole Debian system is needed: run `make test-system` (a throwaway VM)")
	}
	if comm, _ := os.ReadFile("/proc/1/comm"); strings.TrimSpace(string(comm)) != "systemd" {
		t.Fatalf("QUIETZONE_REQUIRE_SYSTEM=1 but PID 1 is %q, not systemd", comm)
	}
	files := os.Getenv("VCANVM_FILES")
	sys := &system{t: t, files: files, started: time.Now()}
	steps := []struct {
		name string
		fn   func(*system)
	}{
		{"boot", (*system).boot},
		{"install", (*system).install},
		{"provision", (*system).provision},
		{"readiness", (*system).readiness},
		{"drive", (*system).drive},
		{"switch", (*system).privacySwitch},
		{"reload", (*system).reload},
		{"hardening", (*system).hardening},
		{"clock", (*system).clock},
		{"watchdog", (*system).watchdog},
		{"stop", (*system).stop},
		{"journal", (*system).journal},
	}
	for _, s := range steps {
		start := time.Now()
		ok := t.Run(s.name, func(t *testing.T) {
			sys.t = t
			s.fn(sys)
		})
		t.Logf("%s: %.1f s", s.name, time.Since(start).Seconds())
		if !ok {
			sys.t = t
			sys.dumpJournal()
			t.FailNow() // the later steps build on this one
		}
	}
}

// system is the VM's state as the steps leave it.
type system struct {
	t       *testing.T
	files   string // what make test-system handed in (VCANVM_FILES)
	started time.Time
	gpio    *simChip
	prof    *config.Profile
	// driveLog is the recorded drive (a candump log), expected what
	// `quietzone replay` makes of it.
	driveLog string
	expected *daemon.ReplayReport
	vin      string
	pseudo   string
}

const (
	etc        = "/etc/quietzone"
	qzConfig   = etc + "/quietzone.yaml"
	statusSock = "/run/quietzone/status.sock"
	work       = "/root/qz"
	stallFlag  = "/run/quietzone-test-stall"
)

// The camera and switch lines, named as on a Raspberry Pi.
var gpioLines = map[int]string{5: "GPIO5", 6: "GPIO6", 17: "GPIO17", 22: "GPIO22", 27: "GPIO27"}

func (s *system) boot() {
	// systemd reports "degraded" when a unit failed; the test needs it up.
	out, _ := s.cmd("systemctl", "is-system-running", "--wait")
	s.t.Logf("system: %s", strings.TrimSpace(out))
	if failed := s.must("systemctl", "list-units", "--failed", "--plain", "--no-legend"); strings.TrimSpace(failed) != "" {
		s.t.Logf("failed units (not ours):\n%s", failed)
	}
	for _, mod := range []string{"vcan", "can_raw", "gpio_sim", "configfs"} {
		if _, err := os.Stat("/sys/module/" + mod); err != nil {
			s.t.Fatalf("module %s not loaded: %v", mod, err)
		}
	}
	s.must("ip", "link", "add", "dev", "vcan0", "type", "vcan")
	s.must("ip", "link", "set", "vcan0", "mtu", "72")
	s.must("ip", "link", "set", "vcan0", "up")
	chip, err := newSimChip("quietzone", 28, gpioLines)
	if err != nil {
		s.t.Fatal(err)
	}
	s.gpio = chip
	s.t.Logf("gpio-sim: %s (%s) at %s", chip.chipName, chip.devName, chip.sysfs)
	// The pulls a board would have: power lines off when nobody drives
	// them (active high: down; active low: up), the switch (active low)
	// released, the trigger quiet.
	for line, up := range map[int]bool{17: false, 27: true, 5: true, 22: false, 6: false} {
		if err := chip.setPull(line, up); err != nil {
			s.t.Fatal(err)
		}
	}
	prof, err := config.LoadProfile("builtin:quietzone")
	if err != nil {
		s.t.Fatal(err)
	}
	s.prof = prof
}

// install: dpkg -i the package; nothing may be enabled or started.
func (s *system) install() {
	debs, _ := filepath.Glob(filepath.Join(s.files, "quietzone_*_amd64.deb"))
	if len(debs) != 1 {
		s.t.Fatalf("want one amd64 package in %s, have %q", s.files, debs)
	}
	s.t.Logf("%s", s.must("dpkg", "-i", debs[0]))
	if out, _ := s.cmd("systemctl", "is-enabled", "quietzone"); strings.TrimSpace(out) != "disabled" {
		s.t.Errorf("after installation the unit is %q, want disabled", strings.TrimSpace(out))
	}
	if out, _ := s.cmd("systemctl", "is-active", "quietzone"); strings.TrimSpace(out) != "inactive" {
		s.t.Errorf("after installation the unit is %q, want inactive", strings.TrimSpace(out))
	}
	if out := s.must("getent", "passwd", "quietzone"); !strings.Contains(out, "/var/lib/quietzone") {
		s.t.Errorf("user: %s", out)
	}
	s.wantMode(etc, "750 root:quietzone")
	s.wantMode(qzConfig, "644 root:root")
	s.wantMode("/var/lib/quietzone", "700 quietzone:quietzone")
	if out := s.must("dpkg-query", "-W", "-f=${Conffiles}", "quietzone"); !strings.Contains(out, qzConfig) {
		s.t.Errorf("conffiles: %q, want %s", out, qzConfig)
	}
	if v := s.must("quietzone", "version"); !strings.Contains(v, "quietzone") {
		s.t.Errorf("quietzone version: %s", v)
	}
}

func (s *system) wantMode(path, want string) {
	s.t.Helper()
	if got := strings.TrimSpace(s.must("stat", "-c", "%a %U:%G", path)); got != want {
		s.t.Errorf("%s: %s, want %s", path, got, want)
	}
}

// testPolicy is the demo's, with batches, time quanta and the cadence's
// slot short enough for the test to see records go up within seconds (a
// record waits in the vehicle until its quantum is over, then for a
// slot), and no trip-end hiding (the drive starts and ends near the
// depot).
const testPolicy = `telemetry_period: 1s
position: {max_rate_hz: 0.2, precision_m: 200}
signals:
  vehicle.speed: {max_rate_hz: 1, quantum: 5}
  vehicle.ignition: {}
batch: {max_records: 30, max_age: %s}
near_zones: {time_quantum_s: 2, jitter_m: 0, trip_end_m: 0, trip_end_spread_m: 0}
cadence: {every_s: 2}
`

// daemonConfig is the vehicle's configuration; toggle makes the privacy
// switch a push button.
func daemonConfig(toggle bool) string {
	mode := "level"
	if toggle {
		mode = "toggle"
	}
	return `vehicle:
  profile: builtin:quietzone
  identity_file: /etc/quietzone/vehicle.identity
  interfaces: [vcan0]
cameras:
  - {name: front, class: exterior, power_line: GPIO17, trigger_line: GPIO22}
  - {name: rear, class: exterior, power_line: GPIO27, power_active_low: true}
enforcement:
  switch_line: GPIO5
  switch_active_low: true
  switch_mode: ` + mode + `
  indicator_line: GPIO6
fleet:
  keys: [/etc/quietzone/fleet.pub]
  bundle: /etc/quietzone/policy.qzb
uplink:
  broker: tcp://127.0.0.1:1883
  insecure_plaintext: true
  state_dir: /var/lib/quietzone
`
}

// provision does what the README asks of an integrator: enrol the
// vehicle, pin the fleet's key, put a signed bundle and the configuration
// in /etc/quietzone, give the daemon's group the GPIO chip, check.
func (s *system) provision() {
	s.must("mkdir", "-p", work)
	sc := scenario.BuiltIn()
	s.vin = "QZSYSTEM000000042"
	write := func(path, data string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte(data), mode); err != nil {
			s.t.Fatal(err)
		}
	}
	write(work+"/zones.geojson", string(sc.Zones), 0o644)
	write(work+"/policy.yaml", fmt.Sprintf(testPolicy, "10s"), 0o644)
	write(work+"/policy-v2.yaml", fmt.Sprintf(testPolicy, "5s"), 0o644)
	s.must("sh", "-c", "head -c 32 /dev/urandom >"+work+"/fleet.secret && chmod 600 "+work+"/fleet.secret")
	out := s.must("quietzone", "policy", "enrol", "--secret", work+"/fleet.secret", "--vin", s.vin, "--out", etc+"/vehicle.identity")
	m := regexp.MustCompile(`pseudonym (\S+)`).FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("enrol said %q", out)
	}
	s.pseudo = m[1]
	s.must("chown", "quietzone:quietzone", etc+"/vehicle.identity")
	s.must("quietzone", "policy", "keygen", "--out", work+"/fleet")
	s.must("install", "-m", "0644", work+"/fleet.pub", etc+"/fleet.pub")
	for v, pol := range map[int]string{1: "policy.yaml", 2: "policy-v2.yaml"} {
		s.must("quietzone", "policy", "sign", "--key", work+"/fleet.key", "--zones", work+"/zones.geojson",
			"--policy", work+"/"+pol, "--version", strconv.Itoa(v), "--expires", "720h", "--out", fmt.Sprintf("%s/v%d.qzb", work, v))
	}
	s.must("install", "-m", "0644", work+"/v1.qzb", etc+"/policy.qzb")
	write(qzConfig, daemonConfig(false), 0o644)
	// What a udev rule does on a vehicle (see the unit): the daemon's
	// group may use the GPIO chip the unit allows.
	s.must("chgrp", "quietzone", "/dev/"+s.gpio.chipName)
	s.must("chmod", "0660", "/dev/"+s.gpio.chipName)
	if s.gpio.chipName != "gpiochip0" {
		s.t.Fatalf("the chip is %s; the unit allows /dev/gpiochip0", s.gpio.chipName)
	}
	// Checked as the daemon's user: a secret must be the daemon's (or
	// root's), and root checking a file the daemon owns is refused.
	if out, err := s.cmd("quietzone", "check", "--config", qzConfig); err == nil || !strings.Contains(out, "not by the daemon's user") {
		s.t.Errorf("check as root of a secret the daemon owns: %v %s", err, out)
	}
	s.t.Logf("%s", s.must("runuser", "-u", "quietzone", "--", "quietzone", "check", "--config", qzConfig))
	s.must("systemctl", "start", "mosquitto")
	s.waitFor("mosquitto listening", 20*time.Second, func() bool {
		out, _ := s.cmd("sh", "-c", "ss -ltn | grep -q ':1883 '")
		return out == ""
	})
}

// readiness: Type=notify — `systemctl start` returns once the daemon said
// READY=1, and by then every camera is suppressed.
func (s *system) readiness() {
	s.must("systemctl", "start", "quietzone")
	p := s.show("ActiveState", "SubState", "Type", "StatusText", "NotifyAccess", "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic", "WatchdogUSec", "MainPID")
	if p["ActiveState"] != "active" || p["SubState"] != "running" || p["Type"] != "notify" {
		s.t.Fatalf("after start: %v", p)
	}
	// STATUS= came with READY=1: systemd heard the daemon, not a timer.
	if !strings.HasPrefix(p["StatusText"], "running, ") {
		s.t.Errorf("StatusText %q: the daemon's READY message was not heard", p["StatusText"])
	}
	start, _ := strconv.ParseInt(p["ExecMainStartTimestampMonotonic"], 10, 64)
	active, _ := strconv.ParseInt(p["ActiveEnterTimestampMonotonic"], 10, 64)
	s.t.Logf("started in %.2f s (process start to READY=1), watchdog %s, status %q", float64(active-start)/1e6, p["WatchdogUSec"], p["StatusText"])
	if active <= start {
		s.t.Errorf("active at %d before the process started at %d", active, start)
	}
	// Suppressed from the first moment: power lines off, indicator lit.
	s.wantLines("at READY", map[int]int{17: 0, 27: 1, 6: 1})
	st := s.status()
	if !st.Suppressed || st.PolicyVersion != 1 {
		s.t.Errorf("status at start: suppressed %v, policy version %d; want true, 1", st.Suppressed, st.PolicyVersion)
	}
}

// wantLines checks GPIO line values read back from gpio-sim.
func (s *system) wantLines(when string, want map[int]int) {
	s.t.Helper()
	for line, v := range want {
		got, err := s.gpio.value(line)
		if err != nil {
			s.t.Fatal(err)
		}
		if got != v {
			s.t.Errorf("%s: %s reads %d, want %d", when, gpioLines[line], got, v)
		}
	}
}

func (s *system) status() daemon.Status {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := daemon.ReadStatus(ctx, statusSock)
	if err != nil {
		s.t.Fatalf("status: %v", err)
	}
	return st
}

// show returns unit properties of quietzone.service.
func (s *system) show(props ...string) map[string]string {
	s.t.Helper()
	out := s.must("systemctl", "show", "quietzone", "-p", strings.Join(props, ","))
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (s *system) cmd(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if d := time.Since(start); d > 3*time.Second {
		s.t.Logf("slow: %s %s took %.1f s", name, strings.Join(args, " "), d.Seconds())
	}
	return string(out), err
}

func (s *system) must(name string, args ...string) string {
	s.t.Helper()
	out, err := s.cmd(name, args...)
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (s *system) waitFor(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *system) dumpJournal() {
	out, _ := s.cmd("journalctl", "-b", "--no-pager", "-n", "200", "-u", "quietzone", "-u", "mosquitto")
	s.t.Logf("journal:\n%s", out)
}

// sampler reads GPIO lines every 20 ms until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	done    chan struct{}
}

type sample struct {
	at     time.Time
	values map[int]int
}

func (s *system) sample(lines ...int) *sampler {
	sp := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			vals := map[int]int{}
			for _, l := range lines {
				if v, err := s.gpio.value(l); err == nil {
					vals[l] = v
				}
			}
			sp.mu.Lock()
			sp.samples = append(sp.samples, sample{at: time.Now(), values: vals})
			sp.mu.Unlock()
			select {
			case <-sp.stop:
				return
			case <-t.C:
			}
		}
	}()
	return sp
}

func (sp *sampler) end() []sample {
	close(sp.stop)
	<-sp.done
	return sp.samples
}

// flip is a change of a camera's permission at a time since the drive's
// first frame.
type flip struct {
	at      time.Duration
	allowed bool
}

func (f flip) String() string {
	w := "deny"
	if f.allowed {
		w = "allow"
	}
	return fmt.Sprintf("%s at %.1f s", w, f.at.Seconds())
}

// flipsOf turns a sequence of (time, allowed) into its changes, starting
// from denied.
func flipsOf[T any](xs []T, at func(T) time.Duration, allowed func(T) (bool, bool)) []flip {
	var out []flip
	cur := false
	for _, x := range xs {
		a, ok := allowed(x)
		if !ok || a == cur {
			continue
		}
		cur = a
		out = append(out, flip{at: at(x), allowed: a})
	}
	return out
}

// span is a stretch of time since the drive's first frame.
type span struct{ from, to time.Duration }

// allowedSpans turns changes into the stretches with the camera allowed,
// up to end.
func allowedSpans(fs []flip, end time.Duration) []span {
	var out []span
	for i, f := range fs {
		if !f.allowed {
			continue
		}
		to := end
		if i+1 < len(fs) {
			to = fs[i+1].at
		}
		out = append(out, span{f.at, to})
	}
	return out
}

// follows holds what the live system did (its changes) to what `quietzone
// replay` says (want), up to end:
//   - never allowed where replay says suppressed, but for tol around each
//     of replay's changes (the frames' delivery and the loop's reaction);
//   - allowed wherever replay says so, but for tol at each end and, inside,
//     short suppressions (each at most blip): the gateway distrusts a fix
//     that arrives bunched with others after a stall of the VM, which
//     fails closed. They are returned, to be logged.
func follows(what string, live, want []flip, end, tol, blip time.Duration) ([]span, error) {
	ls, ws := allowedSpans(live, end), allowedSpans(want, end)
	for _, l := range ls {
		inside := false
		for _, w := range ws {
			if l.from >= w.from-tol && l.to <= w.to+tol {
				inside = true
			}
		}
		if !inside {
			return nil, fmt.Errorf("%s: allowed %.1f–%.1f s, where `quietzone replay` says suppressed (it allows %v); live changes %v", what, l.from.Seconds(), l.to.Seconds(), ws, live)
		}
	}
	var blips []span
	for _, w := range ws {
		var cover []span
		for _, l := range ls {
			if l.to > w.from && l.from < w.to {
				cover = append(cover, span{max(l.from, w.from), min(l.to, w.to)})
			}
		}
		if len(cover) == 0 || cover[0].from-w.from > tol || w.to-cover[len(cover)-1].to > tol {
			return nil, fmt.Errorf("%s: `quietzone replay` allows %.1f–%.1f s, live allowed %v (tolerance %v at the ends); live changes %v", what, w.from.Seconds(), w.to.Seconds(), cover, tol, live)
		}
		for i := 1; i < len(cover); i++ {
			gap := span{cover[i-1].to, cover[i].from}
			if gap.to-gap.from > blip {
				return nil, fmt.Errorf("%s: suppressed %.1f–%.1f s where `quietzone replay` allows %.1f–%.1f s; live changes %v", what, gap.from.Seconds(), gap.to.Seconds(), w.from.Seconds(), w.to.Seconds(), live)
			}
			blips = append(blips, gap)
		}
	}
	return blips, nil
}

// systemScenario is the recorded drive: from clear road at 130 km/h
// through the demo's depot and out, then parked with the ignition on.
func systemScenario() scenario.Scenario {
	sc := scenario.BuiltIn()
	sc.Name = "system test: through the depot at 130 km/h"
	sc.Route = []scenario.Waypoint{
		{Lat: 52.0150, Lon: 10.0800, SpeedKmh: 130},
		{Lat: 52.0150, Lon: 10.1040, SpeedKmh: 130},
	}
	sc.ParkedAfter = 10 * time.Second
	sc.Triggers = scenario.Triggers{Off: true} // the test pulses the GPIO trigger itself
	sc.VIN = "QZSYSTEM000000042"
	sc.Policy = []byte(fmt.Sprintf(testPolicy, "10s"))
	return sc
}

// drive records a drive through a zone, asks `quietzone replay` (the same
// function, testbench.Replay) what the cameras should do, then plays it
// into vcan0 with canplayer while the packaged daemon runs, and holds the
// command frames (candump) and the power lines and indicator (gpio-sim)
// to it. A GPIO trigger pulse while clear counts as allowed, one after the
// drive (no fix: suppressed) as dropped.
func (s *system) drive() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s.driveLog = work + "/drive.log"
	f, err := os.Create(s.driveLog)
	if err != nil {
		s.t.Fatal(err)
	}
	w := can.NewLogWriter(f, "vcan0", false)
	rep, err := testbench.Run(ctx, systemScenario(), testbench.Options{Record: w})
	w.Close()
	f.Close()
	if err != nil || !rep.OK() {
		s.t.Fatalf("recording the drive: %v", err)
	}
	// What replay says, with the vehicle's zones and cameras (no GPIO
	// inputs: a replay has none).
	replayCfg := work + "/replay.yaml"
	if err := os.WriteFile(replayCfg, []byte(`vehicle:
  profile: builtin:quietzone
  vin: QZSYSTEM000000042
  interfaces: [vcan0]
zones: {file: zones.geojson}
policy: policy.yaml
cameras:
  - {name: front, class: exterior, power_line: GPIO17}
  - {name: rear, class: exterior, power_line: GPIO27, power_active_low: true}
`), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("quietzone replay:\n%s", s.must("quietzone", "replay", s.driveLog, "--config", replayCfg))
	setup, err := config.Load(replayCfg)
	if err != nil {
		s.t.Fatal(err)
	}
	lf, err := os.Open(s.driveLog)
	if err != nil {
		s.t.Fatal(err)
	}
	exp, err := daemon.Replay(ctx, can.NewLogReader(lf, ""), setup, daemon.ReplayOptions{})
	lf.Close()
	if err != nil {
		s.t.Fatal(err)
	}
	s.expected = exp
	length := exp.Last.Sub(exp.First)
	want := flipsOf(exp.Transitions, func(tr daemon.Transition) time.Duration { return tr.At },
		func(tr daemon.Transition) (bool, bool) { return !tr.To.Suppressed(), true })
	s.t.Logf("the drive: %.0f s, %d frames; the cameras as replay says: %v", length.Seconds(), exp.Frames, want)
	if len(want) != 3 {
		s.t.Fatalf("the drive should clear, enter the zone and clear again: %v", want)
	}
	lastClear := want[len(want)-1]
	if !lastClear.allowed || length-lastClear.at < 10*time.Second {
		s.t.Fatalf("the drive should end with 10 s clear: %v", want)
	}

	// Live: candump everything on vcan0, sample the lines, play the drive.
	dumpFile := work + "/live.log"
	dump := exec.CommandContext(ctx, "sh", "-c", "exec candump -L vcan0 >"+dumpFile)
	if err := dump.Start(); err != nil {
		s.t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	before := s.status()
	lines := s.sample(17, 27, 6)
	playStart := time.Now()
	player := exec.CommandContext(ctx, "canplayer", "-I", s.driveLog)
	var playOut bytes.Buffer
	player.Stdout, player.Stderr = &playOut, &playOut
	if err := player.Start(); err != nil {
		s.t.Fatal(err)
	}
	// A trigger pulse 5 s before the end, inside the last clear stretch.
	pulseAt := playStart.Add(length - 5*time.Second)
	time.Sleep(time.Until(pulseAt))
	s.pulse(22, true)
	if err := player.Wait(); err != nil {
		s.t.Fatalf("canplayer: %v\n%s", err, playOut.String())
	}
	time.Sleep(3 * time.Second) // the fix goes stale: suppressed again
	samples := lines.end()
	dump.Process.Signal(os.Interrupt)
	dump.Wait()
	after := s.status()
	if n := after.TriggersAllowed - before.TriggersAllowed; n != 1 {
		s.t.Errorf("GPIO trigger pulse while clear: %d counted as allowed, want 1", n)
	}

	// The command frames.
	live, err := os.Open(dumpFile)
	if err != nil {
		s.t.Fatal(err)
	}
	defer live.Close()
	r := can.NewLogReader(live, "")
	cmdMsg := s.prof.Commands["front"].Message
	var t0 time.Time
	type cmdFrame struct {
		at          time.Duration
		front, rear bool
	}
	var cmds []cmdFrame
	var fr can.Frame
	for r.ReadFrame(&fr) == nil {
		if fr.ID != cmdMsg.ID {
			if t0.IsZero() {
				t0 = fr.Time
			}
			continue
		}
		if t0.IsZero() {
			continue // commands before the drive: the daemon resends deny
		}
		cmds = append(cmds, cmdFrame{
			at:    fr.Time.Sub(t0),
			front: s.prof.Commands["front"].Raw(&fr.Data) == s.prof.Codes.Allow,
			rear:  s.prof.Commands["rear"].Raw(&fr.Data) == s.prof.Codes.Allow,
		})
	}
	if t0.IsZero() || len(cmds) == 0 {
		s.t.Fatalf("candump saw no drive (%v) or no command frames (%d)", t0, len(cmds))
	}
	s.timing(dumpFile, cmdMsg.ID)
	// Replay knows nothing after the last frame.
	within := func(at time.Duration) bool { return at <= length }
	front := flipsOf(cmds, func(c cmdFrame) time.Duration { return c.at },
		func(c cmdFrame) (bool, bool) { return c.front, within(c.at) })
	rear := flipsOf(cmds, func(c cmdFrame) time.Duration { return c.at },
		func(c cmdFrame) (bool, bool) { return c.rear, within(c.at) })
	const tol, blip = 1500 * time.Millisecond, 2 * time.Second
	check := func(what string, live []flip) {
		blips, err := follows(what, live, want, length, tol, blip)
		if err != nil {
			s.t.Error(err)
		} else if len(blips) > 0 {
			s.t.Logf("%s: suppressed briefly where replay allows, at %v (frames delivered late: see timing)", what, blips)
		}
	}
	check("front command frames", front)
	check("rear command frames", rear)
	// The lines, on the same time axis (candump's stamps and the samples
	// are both the system's wall clock).
	line := func(n int, on int) []flip {
		return flipsOf(samples, func(x sample) time.Duration { return x.at.Sub(t0) },
			func(x sample) (bool, bool) {
				v, ok := x.values[n]
				return v == on, ok && within(x.at.Sub(t0))
			})
	}
	check("GPIO17 (front power, active high)", line(17, 1))
	check("GPIO27 (rear power, active low)", line(27, 0))
	check("GPIO6 (indicator, dark while allowed)", line(6, 0))
	s.t.Logf("live: front %v; GPIO17 %v", front, line(17, 1))
	// After the drive: no fix, suppressed; a trigger now is dropped.
	s.wantLines("after the drive", map[int]int{17: 0, 27: 1, 6: 1})
	s.pulse(22, true)
	s.waitFor("a trigger while suppressed counted", 10*time.Second, func() bool {
		return s.status().TriggersDropped-before.TriggersDropped == 1
	})
}

// pulse drives an input line active and back, as a trigger or a button
// press does (gpio-sim's pull moves the line).
func (s *system) pulse(line int, activeHigh bool) {
	s.t.Helper()
	if err := s.gpio.setPull(line, activeHigh); err != nil {
		s.t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if err := s.gpio.setPull(line, !activeHigh); err != nil {
		s.t.Fatal(err)
	}
}

// privacySwitch: the level switch engages the manual mode while held; as
// a push button (switch_mode: toggle) each press toggles it.
func (s *system) privacySwitch() {
	state := func() string { return s.status().State }
	if err := s.gpio.setPull(5, false); err != nil { // pressed (active low)
		s.t.Fatal(err)
	}
	s.waitFor("manual while the switch is on", 10*time.Second, func() bool { return state() == "manual" })
	s.wantLines("switch on", map[int]int{17: 0, 27: 1, 6: 1})
	if err := s.gpio.setPull(5, true); err != nil {
		s.t.Fatal(err)
	}
	s.waitFor("manual released with the switch", 10*time.Second, func() bool { return state() != "manual" })

	if err := os.WriteFile(qzConfig, []byte(daemonConfig(true)), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must("systemctl", "restart", "quietzone")
	if st := state(); st == "manual" {
		s.t.Fatalf("manual at start with the button up: %s", st)
	}
	s.pulse(5, false)
	s.waitFor("a press turns the manual mode on", 10*time.Second, func() bool { return state() == "manual" })
	time.Sleep(500 * time.Millisecond) // the debounce
	if st := state(); st != "manual" {
		s.t.Fatalf("the button's release turned it off: %s", st)
	}
	s.wantLines("button pressed once", map[int]int{17: 0, 27: 1, 6: 1})
	s.pulse(5, false)
	s.waitFor("a second press turns it off", 10*time.Second, func() bool { return state() != "manual" })
	if err := os.WriteFile(qzConfig, []byte(daemonConfig(false)), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must("systemctl", "restart", "quietzone")
}

// reload: systemctl reload applies a newer bundle, refuses an older one.
func (s *system) reload() {
	before := s.status()
	if before.PolicyVersion != 1 {
		s.t.Fatalf("policy version %d before the reload, want 1", before.PolicyVersion)
	}
	s.must("install", "-m", "0644", work+"/v2.qzb", etc+"/policy.qzb")
	s.must("systemctl", "reload", "quietzone")
	s.waitFor("version 2 applied", 20*time.Second, func() bool { return s.status().PolicyVersion == 2 })
	s.must("install", "-m", "0644", work+"/v1.qzb", etc+"/policy.qzb")
	s.must("systemctl", "reload", "quietzone")
	s.waitFor("version 1 refused", 20*time.Second, func() bool { return s.status().BundlesBad > before.BundlesBad })
	if st := s.status(); st.PolicyVersion != 2 {
		s.t.Errorf("after a rolled-back bundle: version %d, want 2 still", st.PolicyVersion)
	}
	if p := s.show("ActiveState", "NRestarts"); p["ActiveState"] != "active" {
		s.t.Errorf("after the reloads: %v", p)
	}
	j := s.must("journalctl", "-u", "quietzone", "-o", "cat", "--no-pager", "-n", "50")
	if !strings.Contains(j, "reloading") || !strings.Contains(j, "rollback") {
		s.t.Errorf("the journal does not show the reloads and the refusal:\n%s", j)
	}
}

// hardening: what the unit declares holds for the running daemon: its
// user, no capabilities, no new privileges, a seccomp filter, and inside
// its mount namespace everything but /var/lib/quietzone read-only, /home
// away, /tmp its own; in its cgroup, no device but the GPIO chip.
func (s *system) hardening() {
	pid := s.show("MainPID")["MainPID"]
	st, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		s.t.Fatal(err)
	}
	uid := strings.TrimSpace(s.must("id", "-u", "quietzone"))
	fields := map[string]string{}
	for _, l := range strings.Split(string(st), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	for k, want := range map[string]string{
		"Uid": uid + " " + uid + " " + uid + " " + uid, "CapEff": "0000000000000000", "CapPrm": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	} {
		if fields[k] != want {
			s.t.Errorf("daemon %s: %q, want %q", k, fields[k], want)
		}
	}
	// A shell as the daemon's user in the daemon's mount namespace.
	as := func(script string) (string, error) {
		return s.cmd("nsenter", "-t", pid, "-m", "--", "setpriv", "--reuid=quietzone", "--regid=quietzone", "--clear-groups", "--", "sh", "-c", script)
	}
	// Read-only mounts, for root too: not the permissions, the mount.
	for _, p := range []string{"/etc/quietzone/probe", "/etc/probe", "/usr/lib/probe", "/var/lib/probe", "/var/log/probe"} {
		if out, err := as("echo x >" + p); err == nil || !strings.Contains(out, "Read-only file system") {
			s.t.Errorf("the daemon's user writing %s outside ReadWritePaths: %v %s", p, err, out)
		}
		if out, err := s.cmd("nsenter", "-t", pid, "-m", "--", "sh", "-c", "echo x >"+p); err == nil || !strings.Contains(out, "Read-only file system") {
			s.t.Errorf("root in the daemon's namespace writing %s: %v %s", p, err, out)
		}
	}
	if out, err := as("echo x >/var/lib/quietzone/probe && rm /var/lib/quietzone/probe"); err != nil {
		s.t.Errorf("the state directory is not writable: %v %s", err, out)
	}
	if out, err := as("echo x >/tmp/probe-private && echo ok"); err != nil || !strings.Contains(out, "ok") {
		s.t.Errorf("private /tmp not writable: %v %s", err, out)
	}
	if _, err := os.Stat("/tmp/probe-private"); err == nil {
		s.t.Error("the daemon's /tmp is the system's (PrivateTmp=)")
	}
	// ProtectHome=yes: /root (which holds the test's files) is empty there.
	if out, err := s.cmd("nsenter", "-t", pid, "-m", "--", "ls", "-A", "/root"); err == nil && strings.TrimSpace(out) != "" {
		s.t.Errorf("the daemon sees /root: %s", out)
	}
	if out, err := s.cmd("nsenter", "-t", pid, "-m", "--", "sh", "-c", "echo 1 >/proc/sys/kernel/sysrq"); err == nil {
		s.t.Errorf("kernel tunables writable in the daemon's namespace (ProtectKernelTunables=): %s", out)
	}
	// DevicePolicy=closed is enforced by the service's cgroup: a process
	// moved into it may open the GPIO chip, and no other device.
	cg := strings.TrimSpace(s.must("sh", "-c", "cut -d: -f3 /proc/"+pid+"/cgroup"))
	probe := func(dev string) (string, error) {
		return s.cmd("sh", "-c", fmt.Sprintf("echo $$ >/sys/fs/cgroup%s/cgroup.procs && exec dd if=%s of=/dev/null bs=1 count=0 2>&1", cg, dev))
	}
	if out, err := probe("/dev/gpiochip0"); err != nil {
		s.t.Errorf("the GPIO chip from the daemon's cgroup: %v %s", err, out)
	}
	if out, err := probe("/dev/vda"); err == nil || !strings.Contains(out, "Operation not permitted") {
		s.t.Errorf("a disk from the daemon's cgroup (DevicePolicy=closed): %v %s", err, out)
	}
	// The offline review of what the running unit declares.
	s.t.Logf("%s", s.must("sh", "-c", "systemd-analyze security quietzone.service --no-pager | tail -1"))
}

// clock: under the shipped unit the daemon reads the clock's
// synchronisation state (adjtimex); with ProtectClock=yes it could not,
// and says so — the check below would catch it.
func (s *system) clock() {
	const warn = "zone validity windows are not trusted"
	since := func() string { return strings.TrimSpace(s.must("date", "+%Y-%m-%d %H:%M:%S")) }
	mark := since()
	time.Sleep(1100 * time.Millisecond) // --since has whole seconds
	s.must("systemctl", "restart", "quietzone")
	var j string
	s.waitFor("the restarted daemon's log", 10*time.Second, func() bool {
		j = s.must("journalctl", "-u", "quietzone", "-o", "cat", "--no-pager", "--since", mark)
		return strings.Contains(j, "quietzone running")
	})
	if strings.Contains(j, warn) {
		s.t.Errorf("under the shipped unit the daemon cannot read the clock's state:\n%s", j)
	}
	dropin := "/run/systemd/system/quietzone.service.d"
	s.must("mkdir", "-p", dropin)
	if err := os.WriteFile(dropin+"/protectclock.conf", []byte("[Service]\nProtectClock=yes\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must("systemctl", "daemon-reload")
	mark = since()
	time.Sleep(1100 * time.Millisecond) // --since has whole seconds
	s.must("systemctl", "restart", "quietzone")
	s.waitFor("the warning under ProtectClock=yes", 10*time.Second, func() bool {
		return strings.Contains(s.must("journalctl", "-u", "quietzone", "-o", "cat", "--no-pager", "--since", mark), warn)
	})
	os.Remove(dropin + "/protectclock.conf")
	s.must("systemctl", "daemon-reload")
	s.must("systemctl", "restart", "quietzone")
}

// watchdog: the packaged binary cannot be stalled; a faults build whose
// loop stalls is killed by systemd's watchdog and restarted, and comes
// back suppressed.
func (s *system) watchdog() {
	dropin := "/run/systemd/system/quietzone.service.d"
	s.must("mkdir", "-p", dropin)
	env := "[Service]\nEnvironment=QUIETZONE_TEST_STALL=" + stallFlag + "\n"
	if err := os.WriteFile(dropin+"/stall-env.conf", []byte(env), 0o644); err != nil {
		s.t.Fatal(err)
	}
	// The packaged binary has no such switch: with the variable set, the
	// flag file there and a watchdog of 2 s, it runs on unrestarted.
	if err := os.WriteFile(dropin+"/short-watchdog.conf", []byte("[Service]\nWatchdogSec=2s\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must("systemctl", "daemon-reload")
	s.must("systemctl", "restart", "quietzone")
	restarts := s.show("NRestarts")["NRestarts"]
	s.must("touch", stallFlag)
	time.Sleep(5 * time.Second)
	p := s.show("NRestarts", "ActiveState", "WatchdogUSec")
	if p["NRestarts"] != restarts || p["ActiveState"] != "active" || p["WatchdogUSec"] != "2s" {
		s.t.Errorf("the packaged binary with QUIETZONE_TEST_STALL: %v (restarts before: %s)", p, restarts)
	}
	s.status()
	s.must("rm", "-f", stallFlag, dropin+"/short-watchdog.conf")

	faults := filepath.Join(s.files, "quietzone-faults")
	if err := os.WriteFile(dropin+"/stall-exec.conf", []byte("[Service]\nExecStart=\nExecStart="+faults+" run --config "+qzConfig+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must("systemctl", "daemon-reload")
	s.must("systemctl", "restart", "quietzone")
	pid := s.show("MainPID")["MainPID"]
	restarts = s.show("NRestarts")["NRestarts"]
	mark := strings.TrimSpace(s.must("date", "+%Y-%m-%d %H:%M:%S"))
	stalledAt := time.Now()
	s.must("touch", stallFlag)
	s.waitFor("the watchdog restarts the stalled daemon", 40*time.Second, func() bool {
		return s.show("NRestarts")["NRestarts"] != restarts
	})
	killedAfter := time.Since(stalledAt)
	s.must("rm", "-f", stallFlag)
	s.waitFor("the restarted daemon is ready", 30*time.Second, func() bool {
		p := s.show("ActiveState", "SubState", "MainPID")
		return p["ActiveState"] == "active" && p["SubState"] == "running" && p["MainPID"] != pid && p["MainPID"] != "0"
	})
	s.t.Logf("stalled loop killed and restarted %.1f s after the stall", killedAfter.Seconds())
	// The last ping may have gone out up to WatchdogSec/2 before the stall.
	if killedAfter < 5*time.Second {
		s.t.Errorf("restarted %v after the stall: before the watchdog's 10 s could run out", killedAfter)
	}
	if st := s.status(); !st.Suppressed {
		s.t.Errorf("after the watchdog's restart: %s, want suppressed", st.State)
	}
	// systemd's verdict, and the daemon's own (it stops pinging and says
	// why), before the Go runtime's goroutine dump on SIGABRT.
	j := s.must("journalctl", "-u", "quietzone", "--no-pager", "--since", mark)
	for _, want := range []string{"Watchdog timeout", "the decision loop made no progress"} {
		if !strings.Contains(j, want) {
			s.t.Errorf("the journal lacks %q", want)
		}
	}
	os.Remove(dropin + "/stall-exec.conf")
	os.Remove(dropin + "/stall-env.conf")
	s.must("systemctl", "daemon-reload")
	s.must("systemctl", "restart", "quietzone")
}

// stop: systemctl stop suppresses the cameras, flushes the open batch,
// drains the queue to the broker and closes it; the next start finds it
// empty and goes on with the next sequence number.
func (s *system) stop() {
	col, err := collect("tcp://127.0.0.1:1883", s.pseudo)
	if err != nil {
		s.t.Fatal(err)
	}
	defer col.Close()
	// Drive again, away from the zones, where records go up: stop a
	// couple of seconds after a batch went up, while the next is open
	// (batches close every 5 s under the bundle in force). The drive goes
	// on from where the first one parked: the daemon keeps its last
	// trusted fix across restarts, and a fix kilometres away a minute
	// later is one no wheel could explain (GNSS distrusted, suppressed).
	// 700 m east at 50 km/h: 50 s clear (`quietzone replay` says so),
	// then a second parked (the simulator runs until the parked time is
	// up: 0 would record nothing).
	sc := systemScenario()
	end := sc.Route[len(sc.Route)-1]
	sc.Route = []scenario.Waypoint{{Lat: end.Lat, Lon: end.Lon, SpeedKmh: 50}, {Lat: end.Lat, Lon: end.Lon + 0.01, SpeedKmh: 50}}
	sc.ParkedAfter = time.Second
	far := work + "/far.log"
	f, err := os.Create(far)
	if err != nil {
		s.t.Fatal(err)
	}
	w := can.NewLogWriter(f, "vcan0", false)
	if _, err := testbench.Run(context.Background(), sc, testbench.Options{Record: w}); err != nil {
		s.t.Fatal(err)
	}
	w.Close()
	f.Close()
	if fi, err := os.Stat(far); err != nil || fi.Size() == 0 {
		s.t.Fatalf("recording the drive away from the zones: %v, nothing recorded", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	player := exec.CommandContext(ctx, "canplayer", "-I", far)
	if err := player.Start(); err != nil {
		s.t.Fatal(err)
	}
	defer player.Wait()
	defer cancel()
	s.waitFor("clear", 30*time.Second, func() bool { return s.status().State == "clear" })
	n := col.Telemetry()
	s.waitFor("a batch at the broker", 30*time.Second, func() bool { return col.Telemetry() > n })
	time.Sleep(2 * time.Second)
	lines := s.sample(17, 27)
	stopAt := time.Now()
	s.must("systemctl", "stop", "quietzone")
	samples := lines.end()
	cancel()
	p := s.show("ActiveState", "Result", "ExecMainStatus")
	if p["ActiveState"] != "inactive" || p["Result"] != "success" || p["ExecMainStatus"] != "0" {
		s.t.Errorf("after stop: %v", p)
	}
	// Suppressed before the lines were let go: the last samples taken
	// while the daemon held them show both cameras off.
	var off bool
	for _, x := range samples {
		if x.at.After(stopAt) && x.values[17] == 0 && x.values[27] == 1 {
			off = true
		}
	}
	if !off {
		s.t.Error("the power lines never went off during the stop")
	}
	s.wantLines("stopped", map[int]int{17: 0, 27: 1})
	j := s.must("journalctl", "-u", "quietzone", "-o", "cat", "--no-pager", "-n", "40")
	if !strings.Contains(j, "stopping: flushing telemetry and closing the queue") || !strings.Contains(j, "gateway stopped") {
		s.t.Errorf("the journal does not show an orderly stop:\n%s", j)
	}
	if strings.Contains(j, "not drained") {
		s.t.Errorf("the queue was not drained:\n%s", j)
	}
	if out, err := s.cmd("flock", "-n", "/var/lib/quietzone/queue/lock", "true"); err != nil {
		s.t.Errorf("the queue's lock is still held after stop: %v %s", err, out)
	}
	// What arrived: batches up to the stop, the last one flushed by it,
	// and "offline" on the status topic.
	var last uint64
	var offline, flushed bool
	for _, m := range col.Messages() {
		if strings.HasSuffix(m.Topic, "/status") && string(m.Payload) == "offline" {
			offline = true
		}
		for _, r := range m.Records {
			last = max(last, r.Seq)
		}
		if len(m.Records) > 0 && m.Arrived.After(stopAt) {
			flushed = true
		}
	}
	if !offline || !flushed || last == 0 {
		s.t.Errorf("at the broker: offline %v, a batch flushed by the stop %v, last sequence %d", offline, flushed, last)
	}
	// The next start: nothing left in the queue, the sequence goes on.
	s.must("systemctl", "start", "quietzone")
	if st := s.status(); st.QueueDepth != 0 {
		s.t.Errorf("the next start found %d batches queued: the stop did not drain", st.QueueDepth)
	}
	s.t.Logf("last sequence number at the broker before the stop: %d", last)
}

// journal: nothing the daemon logged names a coordinate, a zone, the VIN
// or the pseudonym — at any level, from any unit, over the whole test.
func (s *system) journal() {
	j := s.must("journalctl", "-b", "-o", "cat", "--no-pager")
	if !strings.Contains(j, "quietzone running") {
		s.t.Fatal("the daemon's log is not in the journal")
	}
	var bad []string
	for _, needle := range []string{s.vin, s.pseudo, "Demo Depot North", "Demo Radar Site South", "demo-a", "demo-b"} {
		if needle != "" && strings.Contains(j, needle) {
			bad = append(bad, needle)
		}
	}
	// The drive's and the zones' latitudes (51.99–52.02) and longitudes
	// (10.02–10.11), to a hundredth of a degree or finer; not a duration
	// such as systemd's "Consumed 10.000s CPU time".
	for _, re := range []string{`\b5[12]\.\d{2,}`, `\b10\.[01]\d{1,}`} {
		for _, m := range regexp.MustCompile(re).FindAllStringIndex(j, -1) {
			if m[1] < len(j) && (j[m[1]] == 's' || j[m[1]] == 'm') {
				continue
			}
			bad = append(bad, j[m[0]:m[1]])
		}
	}
	if len(bad) > 0 {
		for _, b := range bad {
			i := strings.Index(j, b)
			lo, hi := max(0, i-120), min(len(j), i+120)
			s.t.Errorf("the journal holds %q: …%s…", b, j[lo:hi])
		}
	}
	s.t.Logf("journal: %d lines scanned", strings.Count(j, "\n"))
}

// timing says how the live frames kept to the drive's times.
func (s *system) timing(dumpFile string, cmdID uint32) {
	read := func(path string) []time.Time {
		f, err := os.Open(path)
		if err != nil {
			s.t.Fatal(err)
		}
		defer f.Close()
		r := can.NewLogReader(f, "")
		var out []time.Time
		var fr can.Frame
		for r.ReadFrame(&fr) == nil {
			if fr.ID != cmdID {
				out = append(out, fr.Time)
			}
		}
		return out
	}
	want, got := read(s.driveLog), read(dumpFile)
	var back int
	var worstBack, worstLag time.Duration
	for i := 1; i < len(got); i++ {
		if d := got[i].Sub(got[i-1]); d < 0 {
			back++
			worstBack = min(worstBack, d)
		}
	}
	n := min(len(want), len(got))
	for i := 0; i < n; i++ {
		lag := got[i].Sub(got[0]) - want[i].Sub(want[0])
		if lag < 0 {
			lag = -lag
		}
		worstLag = max(worstLag, lag)
	}
	out, _ := s.cmd("sh", "-c", "dmesg | grep -i -E 'clocksource|tsc|timekeep' | tail -5")
	s.t.Logf("timing: %d drive frames, %d live; %d stamps back (worst %v); worst lag %v\n%s", len(want), len(got), back, worstBack, worstLag, out)
}

// collector keeps what the broker delivers on one vehicle's topics.
type collector struct {
	client mqtt.Client
	mu     sync.Mutex
	msgs   []message
}

// message is one publish the collector received; Records are decoded
// from a telemetry or alarm batch.
type message struct {
	Topic   string
	Payload []byte
	Records []uplink.Record
	Arrived time.Time
}

// collect subscribes to the topics of the vehicle named pseudo on url.
func collect(url, pseudo string) (*collector, error) {
	c := &collector{}
	handle := func(_ mqtt.Client, m mqtt.Message) {
		msg := message{Topic: m.Topic(), Payload: bytes.Clone(m.Payload()), Arrived: time.Now()}
		if isRecords(msg.Topic) {
			msg.Records, _ = uplink.DecodeBatch(msg.Payload)
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, msg)
		c.mu.Unlock()
	}
	topic := uplink.Topic(pseudo, "#")
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("quietzone-system-test-%d", os.Getpid())).
		SetCleanSession(true).SetOrderMatters(true).SetAutoReconnect(true).
		SetOnConnectHandler(func(cl mqtt.Client) { cl.Subscribe(topic, 1, handle) })
	c.client = mqtt.NewClient(opts)
	if tok := c.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("collector connect: %v", tok.Error())
	}
	if tok := c.client.Subscribe(topic, 1, handle); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.client.Disconnect(0)
		return nil, fmt.Errorf("collector subscribe: %v", tok.Error())
	}
	return c, nil
}

func isRecords(topic string) bool {
	return strings.HasSuffix(topic, "/telemetry") || strings.HasSuffix(topic, "/alarm")
}

// Messages returns a copy of what arrived so far.
func (c *collector) Messages() []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]message(nil), c.msgs...)
}

// Telemetry counts the record batches received.
func (c *collector) Telemetry() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if isRecords(m.Topic) {
			n++
		}
	}
	return n
}

func (c *collector) Close() { c.client.Disconnect(250) }
