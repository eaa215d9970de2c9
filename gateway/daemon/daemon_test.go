package daemon_test

import (
	"context"
	"path/filepath"
	"quietzone/can/cantest"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway"
	"quietzone/gateway/gatewaytest"
)

const enforcementConfig = gatewaytest.GoodHead + `cameras:
  - {name: front, class: exterior, power_line: P_FRONT, trigger_line: T_FRONT, purge_on_entry: true}
  - {name: rear, class: exterior, power_line: P_REAR, power_active_low: true}
enforcement:
  grace: 1s
  switch_line: SWITCH
  switch_active_low: true
  indicator_line: LED
  state_file: run/suppression.json
`

// fakeHardware opens a virtual bus and cameratest lines, keeping them for
// the test. Inputs start at the level given (or Low).
type fakeHardware struct {
	bus    *can.Bus
	pins   map[string]*gpiotest.Pin
	levels map[string]gpio.Level
}

func (h *fakeHardware) hw(inputs bool) daemon.Hardware {
	hw := daemon.Hardware{
		OpenBus: func(string, []can.Filter) (daemon.Bus, error) { return h.bus.Open(), nil },
		OpenPin: func(line string) (gpio.PinOut, error) {
			p := cameratest.NewPin(line)
			h.pins[line] = p
			return p, nil
		},
	}
	if inputs {
		hw.OpenInput = func(line string) (gpio.PinIn, error) {
			p := cameratest.NewInput(line, h.levels[line])
			h.pins[line] = p
			return p, nil
		}
	}
	return hw
}

// newDaemon wires the loaded setup s to fakeHardware (no GPIO inputs)
// on a manual clock at gatewaytest.T0, closed when the test ends.
func newDaemon(t *testing.T, s *config.Setup) (*daemon.Daemon, *fakeHardware, *gatewaytest.Clock) {
	t.Helper()
	clock := gatewaytest.NewClock(gatewaytest.T0)
	h := &fakeHardware{bus: can.NewBus(clock.Now), pins: map[string]*gpiotest.Pin{}}
	d, err := daemon.New(s, h.hw(false), daemon.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, h, clock
}

// TestDaemonWiresEnforcement: the configuration's lines reach the
// gateway: the switch (active low) engages the manual mode, the
// indicator shows it, the power lines keep their active levels, a
// disobedient camera raises an alarm through the uplink, and the state
// file named in the config keeps the manual mode.
func TestDaemonWiresEnforcement(t *testing.T) {
	path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": enforcementConfig})
	s, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := gatewaytest.NewClock(gatewaytest.T0)
	h := &fakeHardware{bus: can.NewBus(clock.Now), pins: map[string]*gpiotest.Pin{}, levels: map[string]gpio.Level{"SWITCH": gpio.High}}
	if _, err := daemon.New(s, h.hw(false), daemon.Options{Clock: clock}); err == nil || !strings.Contains(err.Error(), "no GPIO inputs") {
		t.Fatalf("inputs in the config, none in the hardware: %v", err)
	}
	d, err := daemon.New(s, h.hw(true), daemon.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ecu := h.bus.Open()
	defer ecu.Close()
	go func() { // the cameras' side of the bus: read and forget
		var f can.Frame
		for ecu.ReadFrame(&f) == nil {
		}
	}()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		cantest.WaitFor(t, 10*time.Second, what, cond)
	}
	wait("inputs read", func() bool { return d.Gateway().Inputs() >= 2 && clock.Tickers() >= 2 }) // the daemon's watch and the loop
	level := func(line string) gpio.Level { return cameratest.Level(h.pins[line]) }
	if level("P_FRONT") != gpio.Low || level("P_REAR") != gpio.High || level("LED") != gpio.High {
		t.Errorf("at start: front %v, rear (active low) %v, indicator %v; want both off, indicator lit", level("P_FRONT"), level("P_REAR"), level("LED"))
	}
	cameratest.Edge(h.pins["SWITCH"], gpio.Low) // pressed: active low
	wait("switch handled", func() bool { return d.Gateway().Inputs() >= 3 })
	tick := func() {
		n := d.Gateway().Ticks()
		clock.Advance(100 * time.Millisecond) // one period of the loop
		wait("tick", func() bool { return d.Gateway().Ticks() > n })
	}
	tick()
	if st := d.Gateway().Stats(); st.State != gateway.Manual {
		t.Errorf("state %v after the switch, want manual", st.State)
	}
	// A trigger while suppressed is dropped, and `quietzone status` counts it.
	cameratest.Edge(h.pins["T_FRONT"], gpio.High)
	wait("trigger handled", func() bool { return d.Gateway().Inputs() >= 4 })
	tick()
	if st := d.Status(); st.TriggersDropped != 1 || st.TriggersAllowed != 0 {
		t.Errorf("status triggers dropped %d, allowed %d; want 1, 0", st.TriggersDropped, st.TriggersAllowed)
	}
	// The front camera says it records: escalated after its 1 s grace.
	sig := s.Profile.Signal("camera.front.status")
	for range 16 {
		f := sig.Message.NewFrame()
		f.Time = clock.Now()
		if err := sig.Encode(&f.Data, 1); err != nil {
			t.Fatal(err)
		}
		if err := ecu.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
		tick()
	}
	if st := d.Gateway().Stats(); st.Enforcement.Escalations != 1 || st.Enforcement.AlarmsQueued != 1 {
		t.Errorf("enforcement %+v, want one escalation handed to the uplink", st.Enforcement)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := d.Uplink().Stats().Alarms; n != 1 {
		t.Errorf("%d alarms queued by the uplink, want 1", n)
	}
	saved, err := daemon.NewStateFile(filepath.Join(filepath.Dir(path), "run", config.StateFileName)).Load()
	if err != nil || !saved.Manual {
		t.Errorf("saved state %+v, %v; want the manual mode", saved, err)
	}
}

// TestCabinCameraNeedsThePolicy: a cabin camera records outside zones
// only if the vehicle's configuration enables it and the policy allows
// cabin cameras; enabled against the policy, check warns.
func TestCabinCameraNeedsThePolicy(t *testing.T) {
	const cfg = gatewaytest.GoodHead + "cameras:\n  - {name: front, class: exterior}\n  - {name: cabin, class: cabin, enabled: true}\n"
	for _, tc := range []struct {
		policy  string
		allowed bool
	}{
		{"signals: {}\n", false},
		{"signals: {}\ncameras: {cabin: false}\n", false},
		{"signals: {}\ncameras: {cabin: true}\n", true},
	} {
		s, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": cfg, "policy.yaml": tc.policy}))
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(strings.Join(s.Warnings, "\n"), "quietzone.yaml:10: camera cabin is enabled, but the policy does not allow cabin cameras")
		if warned == tc.allowed {
			t.Errorf("policy %q: warnings %q", tc.policy, s.Warnings)
		}
		clock := gatewaytest.NewClock(gatewaytest.T0)
		h := &fakeHardware{bus: can.NewBus(clock.Now), pins: map[string]*gpiotest.Pin{}}
		d, err := daemon.New(s, h.hw(false), daemon.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		ecu := h.bus.Open()
		go func() {
			var f can.Frame
			for ecu.ReadFrame(&f) == nil {
			}
		}()
		if err := d.Cameras().Apply(gatewaytest.T0, false); err != nil {
			t.Fatal(err)
		}
		if st := d.Cameras().States(); st[1].Allowed != tc.allowed || !st[0].Allowed {
			t.Errorf("policy %q: front allowed %v, cabin allowed %v; want true, %v", tc.policy, st[0].Allowed, st[1].Allowed, tc.allowed)
		}
		ecu.Close()
		d.Close()
	}
}

// TestDaemonHoldsPower: vehicle.power_hold_line is driven high from the
// start, stays high while the ignition is on and goes low once the
// ignition has been off for the trip's linger (at most the policy's
// end_linger_s, 600 s by default); a line with another use is refused.
func TestDaemonHoldsPower(t *testing.T) {
	head := strings.Replace(gatewaytest.GoodHead, "  interfaces: [vcan0]\n", "  interfaces: [vcan0]\n  power_hold_line: HOLD\n", 1)
	head += "cameras:\n  - {name: front, class: exterior, power_line: P_FRONT}\n"
	path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": head})
	s, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, h, clock := newDaemon(t, s)
	level := func() gpio.Level { return cameratest.Level(h.pins["HOLD"]) }
	if level() != gpio.High {
		t.Fatal("the power hold line is not high from the start")
	}
	ecu := h.bus.Open()
	defer ecu.Close()
	go func() {
		var f can.Frame
		for ecu.ReadFrame(&f) == nil {
		}
	}()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	cantest.WaitFor(t, 10*time.Second, "running", func() bool { return clock.Tickers() >= 2 })
	ign := s.Profile.Signal("vehicle.ignition")
	second := func(on float64) {
		t.Helper()
		f := ign.Message.NewFrame()
		f.Time = clock.Now()
		if err := ign.Encode(&f.Data, on); err != nil {
			t.Fatal(err)
		}
		if err := ecu.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
		n := d.Gateway().Ticks()
		clock.Advance(time.Second)
		cantest.WaitFor(t, 10*time.Second, "tick", func() bool { return d.Gateway().Ticks() > n })
	}
	for range 200 { // over StartHold, the ignition on
		second(1)
	}
	if level() != gpio.High {
		t.Fatal("the power hold line dropped while the ignition is on")
	}
	off := 0
	for ; level() == gpio.High && off < 700; off++ {
		second(0)
	}
	if off >= 700 {
		t.Fatalf("still held %d s after the ignition went off", off)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	dup := strings.Replace(enforcementConfig, "  interfaces: [vcan0]\n", "  interfaces: [vcan0]\n  power_hold_line: LED\n", 1)
	if _, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": dup})); err == nil || !strings.Contains(err.Error(), "power_hold_line") && !strings.Contains(err.Error(), "already") {
		t.Errorf("a hold line that is the indicator too: %v", err)
	}
}
