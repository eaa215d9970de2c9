package daemon_test

import (
	"fmt"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway/gatewaytest"
)

// readCommands returns the CAM_Command frames waiting on port.
func readCommands(port *can.Port, msg *can.Message) []can.Frame {
	var out []can.Frame
	var f can.Frame
	for port.TryReadFrame(&f) {
		if f.ID == msg.ID {
			out = append(out, f)
		}
	}
	return out
}

// TestUnlistedCamerasToldDeny: the reference vehicle's command message
// carries the front, rear and cabin cameras' commands; a configuration
// that wires the front camera only must not leave the others' bits at
// zero, which is the reference DBC's ALLOW. They are told deny in every
// frame, suppressed (inside a zone) or not.
func TestUnlistedCamerasToldDeny(t *testing.T) {
	s, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior, power_line: P_FRONT}]\n"}))
	if err != nil {
		t.Fatal(err)
	}
	d, h, _ := newDaemon(t, s)
	ecu := h.bus.Open()
	defer ecu.Close()
	msg := s.Profile.DB.Message("CAM_Command")
	front, rear, cabin := msg.Signal("CAM_FrontCmd"), msg.Signal("CAM_RearCmd"), msg.Signal("CAM_CabinCmd")
	codes := s.Profile.Codes
	for _, suppress := range []bool{true, false, true} {
		if err := d.Cameras().Apply(gatewaytest.T0, suppress); err != nil {
			t.Fatal(err)
		}
		frames := readCommands(ecu, msg)
		if len(frames) == 0 {
			t.Fatalf("suppress %v: no command frame", suppress)
		}
		for _, f := range frames {
			want := codes.Allow
			if suppress {
				want = codes.Deny
			}
			if got := front.Raw(&f.Data); got != want && !(suppress && got == codes.Purge) {
				t.Errorf("suppress %v: front told %d, want %d", suppress, got, want)
			}
			for _, sig := range []*can.Signal{rear, cabin} {
				if got := sig.Raw(&f.Data); got != codes.Deny {
					t.Errorf("suppress %v: %s (a camera the configuration does not list) told %d, want deny (%d)", suppress, sig.Name, got, codes.Deny)
				}
			}
		}
	}
	if !strings.Contains(strings.Join(s.Warnings, "\n"), "camera rear has a command in the profile but is not among cameras") {
		t.Errorf("no warning about the unlisted cameras: %q", s.Warnings)
	}
}

// TestCommandsOnEveryInterface: a camera's command goes to every
// interface it is on: all of vehicle.interfaces unless the camera names
// its own.
func TestCommandsOnEveryInterface(t *testing.T) {
	head := strings.Replace(gatewaytest.GoodHead, "interfaces: [vcan0]", "interfaces: [can0, can1, can2]", 1)
	for _, tc := range []struct {
		name, cameras string
		want          []string
	}{
		{"every interface", "cameras: [{name: front, class: exterior}, {name: rear, class: exterior}, {name: cabin, class: cabin}]\n", []string{"can0", "can1", "can2"}},
		// The rear and cabin cameras are not listed: their message goes
		// everywhere, since nothing says where they are.
		{"unlisted cameras", "cameras: [{name: front, class: exterior, interfaces: [can1]}]\n", []string{"can0", "can1", "can2"}},
		{"the cameras' own", "cameras:\n  - {name: front, class: exterior, interfaces: [can1]}\n  - {name: rear, class: exterior, interfaces: [can1, can2]}\n  - {name: cabin, class: cabin, interfaces: [can2]}\n", []string{"can1", "can2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": head + tc.cameras}))
			if err != nil {
				t.Fatal(err)
			}
			clock := gatewaytest.NewClock(gatewaytest.T0)
			buses := map[string]*can.Bus{}
			ecus := map[string]*can.Port{}
			for _, iface := range []string{"can0", "can1", "can2"} {
				buses[iface] = can.NewBus(clock.Now)
				ecus[iface] = buses[iface].Open()
				defer ecus[iface].Close()
			}
			hw := daemon.Hardware{
				OpenBus: func(iface string, _ []can.Filter) (daemon.Bus, error) { return buses[iface].Open(), nil },
				OpenPin: func(line string) (gpio.PinOut, error) { return cameratest.NewPin(line), nil },
			}
			d, err := daemon.New(s, hw, daemon.Options{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Cameras().Apply(gatewaytest.T0, true); err != nil {
				t.Fatal(err)
			}
			msg := s.Profile.DB.Message("CAM_Command")
			var got []string
			for _, iface := range []string{"can0", "can1", "can2"} {
				if len(readCommands(ecus[iface], msg)) > 0 {
					got = append(got, iface)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("command frames on %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCommandFixedWritten: a fixed signal of the command message carries
// its value in every frame the gateway sends.
func TestCommandFixedWritten(t *testing.T) {
	path := gatewaytest.WriteSet(t, map[string]string{
		"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "builtin:quietzone", "p.yaml", 1) + "cameras: [{name: front, class: exterior}]\n",
		"v.dbc":          fmt.Sprintf(commandDBC, ` SG_ CAM_Counter : 56|4@1+ (1,0) [0|15] "" CAMF`),
		"p.yaml": "dbc: v.dbc\nsignals:\n  position.latitude: GNSS_Position.GNSS_Latitude\n  position.longitude: GNSS_Position.GNSS_Longitude\n" +
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncommand_fixed:\n  CAM_Command.CAM_Counter: 9\n",
	})
	s, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, h, _ := newDaemon(t, s)
	ecu := h.bus.Open()
	defer ecu.Close()
	if err := d.Cameras().Apply(gatewaytest.T0, true); err != nil {
		t.Fatal(err)
	}
	msg := s.Profile.DB.Message("CAM_Command")
	frames := readCommands(ecu, msg)
	if len(frames) != 1 {
		t.Fatalf("%d command frames, want 1", len(frames))
	}
	if got := msg.Signal("CAM_Counter").Raw(&frames[0].Data); got != 9 {
		t.Errorf("counter %d, want the fixed 9", got)
	}
}

// commandDBC is a command message for the refusal cases; %s is the rest
// of its signals.
const commandDBC = `VERSION ""

BO_ 768 CAM_Command: 8 GW
 SG_ CAM_FrontCmd : 0|2@1+ (1,0) [0|3] "" CAMF
%s
BO_ 784 CAM_FrontStatus: 2 CAMF
 SG_ CAM_FrontState : 1|2@1+ (1,0) [0|3] "" GW

BO_ 416 GNSS_Position: 8 GNSS
 SG_ GNSS_Latitude : 7|32@0- (1E-007,0) [-90|90] "deg" GW
 SG_ GNSS_Longitude : 39|32@0- (1E-007,0) [-180|180] "deg" GW
`
