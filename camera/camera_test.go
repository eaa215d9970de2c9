package camera_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/can/cantest"
)

func TestNewControllerErrors(t *testing.T) {
	front, rear := refCmd(t, frontCmd), refCmd(t, rearCmd)
	pin := func() gpio.PinOut { return cameratest.NewPin("GPIO17") }
	ext := func(name string) camera.Spec {
		return camera.Spec{Name: name, Class: camera.Exterior, Power: pin()}
	}
	tests := []struct {
		name  string
		specs []camera.Spec
		w     camera.FrameWriter
		opts  camera.Options
		want  string // substring of the error
	}{
		{
			name:  "empty name",
			specs: []camera.Spec{ext("front"), ext("")},
			want:  `camera "": empty or duplicate name`,
		},
		{
			name:  "duplicate name",
			specs: []camera.Spec{ext("front"), ext("rear"), ext("front")},
			want:  `camera "front": empty or duplicate name`,
		},
		{
			name:  "empty class",
			specs: []camera.Spec{{Name: "front", Power: pin()}},
			want:  `camera front: class "", want "exterior" or "cabin"`,
		},
		{
			name:  "unknown class",
			specs: []camera.Spec{{Name: "front", Class: "Exterior", Power: pin()}},
			want:  `camera front: class "Exterior"`,
		},
		{
			name:  "neither power line nor command",
			specs: []camera.Spec{ext("front"), {Name: "cabin", Class: camera.Cabin, Enabled: true}},
			w:     &cameratest.Frames{},
			want:  "camera cabin: neither a power line nor a command signal",
		},
		{
			name:  "command without writer",
			specs: []camera.Spec{ext("rear"), {Name: "front", Class: camera.Exterior, Command: front}},
			want:  "camera front: command signal but no CAN bus",
		},
		{
			name:  "command and power without writer",
			specs: []camera.Spec{{Name: "front", Class: camera.Exterior, Power: pin(), Command: front}},
			want:  "camera front: command signal but no CAN bus",
		},
		{
			name: "two cameras on one command signal",
			specs: []camera.Spec{
				{Name: "cabin", Class: camera.Cabin, Command: front},
				{Name: "front", Class: camera.Exterior, Command: front},
			},
			w:    &cameratest.Frames{},
			want: "camera front: command signal CAM_FrontCmd already commands camera cabin",
		},
		{
			name:  "deny code equals allow code",
			specs: []camera.Spec{{Name: "front", Class: camera.Exterior, Command: front}},
			w:     &cameratest.Frames{},
			opts:  camera.Options{Codes: camera.Codes{Allow: 1, Deny: 1, Idle: 0, Recording: 1}},
			want:  "camera front: command signal CAM_FrontCmd: deny code 1 and allow code 1",
		},
		{
			// 4 in a 2-bit signal would be sent as 0: ALLOW.
			name:  "deny code does not fit the signal",
			specs: []camera.Spec{{Name: "rear", Class: camera.Exterior, Command: rear}},
			w:     &cameratest.Frames{},
			opts:  camera.Options{Codes: camera.Codes{Allow: 0, Deny: 4, Recording: 1}},
			want:  "camera rear: command signal CAM_RearCmd (2 bits) cannot carry deny code 4",
		},
		{
			name:  "allow code does not fit the signal",
			specs: []camera.Spec{{Name: "rear", Class: camera.Exterior, Command: rear}},
			w:     &cameratest.Frames{},
			opts:  camera.Options{Codes: camera.Codes{Allow: -1, Deny: 1, Recording: 1}},
			want:  "camera rear: command signal CAM_RearCmd (2 bits) cannot carry allow code -1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := camera.NewController(tt.specs, buses(tt.w), complete(tt.specs, tt.opts))
			if err == nil {
				t.Fatalf("NewController = %v, nil error; want error containing %q", c, tt.want)
			}
			if c != nil {
				t.Errorf("NewController returned a controller with error %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewController error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNewControllerDoesNotTouchCameras(t *testing.T) {
	hi, lo := cameratest.NewPin("GPIO5"), cameratest.NewPin("GPIO6")
	setLevel(hi, gpio.High)
	rec := &cameratest.Frames{}
	specs := []camera.Spec{
		{Name: "front", Class: camera.Exterior, Power: hi, Command: refCmd(t, frontCmd)},
		{Name: "cabin", Class: camera.Cabin, Power: lo, PowerActiveLow: true},
	}
	c := newController(t, specs, rec, camera.Options{})
	if got := cameratest.Level(hi); got != gpio.High {
		t.Errorf("front pin after NewController = %v, want untouched High", got)
	}
	if got := cameratest.Level(lo); got != gpio.Low {
		t.Errorf("cabin pin after NewController = %v, want untouched Low", got)
	}
	if n := len(rec.All()); n != 0 {
		t.Errorf("NewController sent %d frames, want 0", n)
	}
	if !c.Suppressed() {
		t.Error("Suppressed() = false before the first Apply, want true")
	}
	for _, st := range c.States() {
		if st.Allowed || st.Powered || st.Status != camera.Unknown {
			t.Errorf("initial state %+v, want not allowed, not powered, unknown", st)
		}
	}
}

func TestNewControllerAccepts(t *testing.T) {
	tests := []struct {
		name  string
		specs func(testing.TB) []camera.Spec
		w     camera.FrameWriter
	}{
		{"no cameras", func(testing.TB) []camera.Spec { return nil }, nil},
		{"power only, no writer", func(testing.TB) []camera.Spec {
			return []camera.Spec{{Name: "front", Class: camera.Exterior, Power: cameratest.NewPin("p")}}
		}, nil},
		{"command only", func(tb testing.TB) []camera.Spec {
			return []camera.Spec{{Name: "front", Class: camera.Exterior, Command: refCmd(tb, frontCmd)}}
		}, &cameratest.Frames{}},
		{"three cameras on one message", func(tb testing.TB) []camera.Spec {
			return []camera.Spec{
				{Name: "front", Class: camera.Exterior, Command: refCmd(tb, frontCmd)},
				{Name: "rear", Class: camera.Exterior, Command: refCmd(tb, rearCmd)},
				{Name: "cabin", Class: camera.Cabin, Command: refCmd(tb, cabinCmd)},
			}
		}, &cameratest.Frames{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs := tt.specs(t)
			c := newController(t, specs, tt.w, camera.Options{})
			if got := len(c.States()); got != len(specs) {
				t.Errorf("len(States()) = %d, want %d", got, len(specs))
			}
			for i, s := range specs {
				if j, ok := c.Lookup(s.Name); !ok || j != i {
					t.Errorf("Lookup(%q) = %d, %v; want %d, true", s.Name, j, ok, i)
				}
			}
			if _, ok := c.Lookup("nosuch"); ok {
				t.Error(`Lookup("nosuch") found a camera`)
			}
		})
	}
}

// rig is a set of cameras with fake power lines and a frame recorder.
type rig struct {
	c    *camera.Controller
	rec  *cameratest.Frames
	pins map[string]*gpiotest.Pin
	low  map[string]bool // active-low lines
}

// cam describes one camera of a rig.
type cam struct {
	name      string
	class     camera.Class
	pin       bool   // has a power line
	activeLow bool   // power line is active low
	cmd       string // command signal of CAM_Command, "" for none
	enabled   bool
}

func newRig(tb testing.TB, cams []cam, opts camera.Options) *rig {
	tb.Helper()
	r := &rig{rec: &cameratest.Frames{}, pins: map[string]*gpiotest.Pin{}, low: map[string]bool{}}
	specs := make([]camera.Spec, 0, len(cams))
	for _, k := range cams {
		s := camera.Spec{Name: k.name, Class: k.class, PowerActiveLow: k.activeLow, Enabled: k.enabled}
		if k.pin {
			p := cameratest.NewPin("pwr_" + k.name)
			r.pins[k.name], r.low[k.name] = p, k.activeLow
			s.Power = p
		}
		if k.cmd != "" {
			s.Command = refCmd(tb, k.cmd)
		}
		specs = append(specs, s)
	}
	r.c = newController(tb, specs, r.rec, opts)
	return r
}

// setAll forces every power line to on or off.
func (r *rig) setAll(on bool) {
	for name, p := range r.pins {
		if on {
			setLevel(p, onLevel(r.low[name]))
		} else {
			setLevel(p, offLevel(r.low[name]))
		}
	}
}

// powered reports whether camera name's power line is at its on level.
func (r *rig) powered(name string) bool {
	return cameratest.Level(r.pins[name]) == onLevel(r.low[name])
}

// threeCams is the reference vehicle: two exterior cameras and a cabin
// camera, all with active-high power lines and commands on CAM_Command.
func threeCams() []cam {
	return []cam{
		{name: "front", class: camera.Exterior, pin: true, cmd: frontCmd},
		{name: "rear", class: camera.Exterior, pin: true, cmd: rearCmd},
		{name: "cabin", class: camera.Cabin, pin: true, cmd: cabinCmd},
	}
}

func TestApplySuppress(t *testing.T) {
	custom := camera.Codes{Allow: 3, Deny: 2, Purge: 2, Idle: 0, Recording: 1, Fault: 2, Off: 3}
	tests := []struct {
		name  string
		cams  []cam
		opts  camera.Options
		want  string // the one CAM_Command frame, candump format
		codes camera.Codes
	}{
		{
			name: "reference wiring",
			cams: threeCams(),
			want: "300#1500000000000000", // 01 | 01<<2 | 01<<4
		},
		{
			name: "active-low power lines",
			cams: []cam{
				{name: "front", class: camera.Exterior, pin: true, activeLow: true, cmd: frontCmd},
				{name: "rear", class: camera.Exterior, pin: true, cmd: rearCmd},
				{name: "cabin", class: camera.Cabin, pin: true, activeLow: true, cmd: cabinCmd},
			},
			want: "300#1500000000000000",
		},
		{
			name: "enabled cabin is still denied",
			cams: []cam{
				{name: "front", class: camera.Exterior, pin: true, cmd: frontCmd},
				{name: "cabin", class: camera.Cabin, pin: true, activeLow: true, cmd: cabinCmd, enabled: true},
			},
			want: "300#1500000000000000", // the rear camera, not driven, is told deny too
		},
		{
			name: "power only, command only and both",
			cams: []cam{
				{name: "front", class: camera.Exterior, cmd: frontCmd},
				{name: "rear", class: camera.Exterior, pin: true, activeLow: true},
				{name: "cabin", class: camera.Cabin, pin: true, cmd: cabinCmd},
			},
			want: "300#1500000000000000", // CAM_RearCmd: an unlisted camera's, deny
		},
		{
			name: "configured deny code",
			cams: threeCams(),
			opts: camera.Options{Codes: custom},
			want: "300#2A00000000000000", // 10 | 10<<2 | 10<<4
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.cams, tt.opts)
			r.setAll(true) // everything on, so that every line must move
			if err := r.c.Apply(t0, true); err != nil {
				t.Fatalf("Apply(true) = %v", err)
			}
			if !r.c.Suppressed() {
				t.Error("Suppressed() = false after Apply(true)")
			}
			for name := range r.pins {
				if got, want := cameratest.Level(r.pins[name]), offLevel(r.low[name]); got != want {
					t.Errorf("%s power line = %v, want %v (off, active low %v)", name, got, want, r.low[name])
				}
			}
			frames := r.rec.All()
			if len(frames) != 1 {
				t.Fatalf("Apply(true) sent %d frames %v, want one CAM_Command", len(frames), frames)
			}
			f := frames[0]
			if got := f.String(); got != tt.want {
				t.Errorf("command frame = %s, want %s", got, tt.want)
			}
			if !f.Time.Equal(t0) {
				t.Errorf("command frame time = %v, want %v", f.Time, t0)
			}
			if err := f.Validate(); err != nil {
				t.Errorf("command frame invalid: %v", err)
			}
			deny := tt.opts.Codes.Deny
			if tt.opts.Codes == (camera.Codes{}) {
				deny = camera.DefaultCodes.Deny
			}
			for _, k := range tt.cams {
				if k.cmd != "" {
					if got := refCmd(t, k.cmd).Raw(&f.Data); got != deny {
						t.Errorf("%s command = %d, want deny %d", k.name, got, deny)
					}
				}
				st := state(t, r.c, k.name)
				if st.Allowed {
					t.Errorf("%s Allowed after Apply(true)", k.name)
				}
				if wantPowered := !k.pin; st.Powered != wantPowered {
					t.Errorf("%s Powered = %v, want %v (no line counts as powered)", k.name, st.Powered, wantPowered)
				}
			}
			if s := r.c.Stats(); s.Commands != 1 || s.CommandErrors != 0 || s.PowerErrors != 0 {
				t.Errorf("Stats = %+v, want 1 command, no errors", s)
			}
		})
	}
}

// TestApplyOneFramePerMessage uses a DBC whose cameras spread over two
// messages, one of them extended with a big-endian signal.
func TestApplyOneFramePerMessage(t *testing.T) {
	db := twoDB(t)
	sigA := signal(t, db, "CAMA_Command", "CAMA_Cmd")
	sigB := signal(t, db, "CAMB_Command", "CAMB_Cmd")
	sigC := signal(t, db, "CAMA_Command", "CAMC_Cmd")
	rec := &cameratest.Frames{}
	c := newController(t, []camera.Spec{
		{Name: "a", Class: camera.Exterior, Command: sigA},
		{Name: "b", Class: camera.Exterior, Command: sigB},
		{Name: "c", Class: camera.Cabin, Command: sigC},
	}, rec, camera.Options{})

	steps := []struct {
		suppress bool
		want     []string // in order of the messages' first use
	}{
		{true, []string{"500#0104000000000000", "18FF0000#40000000"}},
		{false, []string{"500#0004000000000000", "18FF0000#00000000"}}, // cabin c stays denied
		{true, []string{"500#0104000000000000", "18FF0000#40000000"}},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Second)
		before := len(rec.All())
		if err := c.Apply(now, st.suppress); err != nil {
			t.Fatalf("step %d: Apply(%v) = %v", i, st.suppress, err)
		}
		got := rec.All()[before:]
		if len(got) != len(st.want) {
			t.Fatalf("step %d: Apply(%v) sent %v, want %v", i, st.suppress, got, st.want)
		}
		for j, f := range got {
			if f.String() != st.want[j] {
				t.Errorf("step %d: frame %d = %s, want %s", i, j, f, st.want[j])
			}
			if !f.Time.Equal(now) {
				t.Errorf("step %d: frame %d time = %v, want %v", i, j, f.Time, now)
			}
		}
	}
	if s := c.Stats(); s.Commands != 6 {
		t.Errorf("Stats().Commands = %d, want 6", s.Commands)
	}
}

func TestApplyAllow(t *testing.T) {
	tests := []struct {
		name string
		cams []cam
		// allowed lists the cameras that may record after Apply(false).
		allowed map[string]bool
		want    string
	}{
		{
			name:    "cabin disabled by default",
			cams:    threeCams(),
			allowed: map[string]bool{"front": true, "rear": true},
			want:    "300#1000000000000000", // only cabin (bits 4-5) denied
		},
		{
			name: "cabin enabled",
			cams: []cam{
				{name: "front", class: camera.Exterior, pin: true, cmd: frontCmd},
				{name: "rear", class: camera.Exterior, pin: true, cmd: rearCmd},
				{name: "cabin", class: camera.Cabin, pin: true, cmd: cabinCmd, enabled: true},
			},
			allowed: map[string]bool{"front": true, "rear": true, "cabin": true},
			want:    "300#0000000000000000",
		},
		{
			name: "active-low lines",
			cams: []cam{
				{name: "front", class: camera.Exterior, pin: true, activeLow: true, cmd: frontCmd},
				{name: "rear", class: camera.Exterior, pin: true, activeLow: true, cmd: rearCmd},
				{name: "cabin", class: camera.Cabin, pin: true, activeLow: true, cmd: cabinCmd},
			},
			allowed: map[string]bool{"front": true, "rear": true},
			want:    "300#1000000000000000",
		},
		{
			name: "exterior ignores Enabled; cabin power-only stays cut",
			cams: []cam{
				{name: "front", class: camera.Exterior, pin: true, cmd: frontCmd, enabled: false},
				{name: "rear", class: camera.Exterior, cmd: rearCmd, enabled: true},
				{name: "cabin", class: camera.Cabin, pin: true, activeLow: true},
			},
			allowed: map[string]bool{"front": true, "rear": true},
			want:    "300#1000000000000000", // CAM_CabinCmd commands no driven camera: deny, never a zero
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.cams, camera.Options{})
			r.setAll(false)
			if err := r.c.Apply(t0, false); err != nil {
				t.Fatalf("Apply(false) = %v", err)
			}
			if r.c.Suppressed() {
				t.Error("Suppressed() = true after Apply(false)")
			}
			f, ok := r.rec.Last()
			if !ok {
				t.Fatal("Apply(false) sent no frame")
			}
			if got := f.String(); got != tt.want {
				t.Errorf("command frame = %s, want %s", got, tt.want)
			}
			for _, k := range tt.cams {
				allowed := tt.allowed[k.name]
				if k.pin && r.powered(k.name) != allowed {
					t.Errorf("%s powered = %v, want %v", k.name, r.powered(k.name), allowed)
				}
				if k.cmd != "" {
					want := camera.DefaultCodes.Deny
					if allowed {
						want = camera.DefaultCodes.Allow
					}
					if got := refCmd(t, k.cmd).Raw(&f.Data); got != want {
						t.Errorf("%s command = %d, want %d", k.name, got, want)
					}
				}
				st := state(t, r.c, k.name)
				if st.Allowed != allowed {
					t.Errorf("%s Allowed = %v, want %v", k.name, st.Allowed, allowed)
				}
				if want := allowed || !k.pin; st.Powered != want {
					t.Errorf("%s Powered = %v, want %v", k.name, st.Powered, want)
				}
			}
		})
	}
}

// TestApplyToggle follows the lines through a series of decisions.
func TestApplyToggle(t *testing.T) {
	r := newRig(t, []cam{
		{name: "front", class: camera.Exterior, pin: true, cmd: frontCmd},
		{name: "rear", class: camera.Exterior, pin: true, activeLow: true, cmd: rearCmd},
		{name: "cabin", class: camera.Cabin, pin: true, activeLow: true, cmd: cabinCmd},
	}, camera.Options{})
	// Before the first Apply the active-low lines sit Low, i.e. powered:
	// the controller does not touch them until told.
	for i, suppress := range []bool{true, false, false, true, false, true, true} {
		if err := r.c.Apply(t0.Add(time.Duration(i)*time.Millisecond), suppress); err != nil {
			t.Fatalf("Apply #%d(%v) = %v", i, suppress, err)
		}
		want := map[string]bool{"front": !suppress, "rear": !suppress, "cabin": false}
		for name, on := range want {
			if r.powered(name) != on {
				t.Errorf("after Apply #%d(%v): %s powered = %v, want %v", i, suppress, name, r.powered(name), on)
			}
		}
		wantFrame := "300#1000000000000000"
		if suppress {
			wantFrame = "300#1500000000000000"
		}
		if f, _ := r.rec.Last(); f.String() != wantFrame {
			t.Errorf("after Apply #%d(%v): frame %s, want %s", i, suppress, f, wantFrame)
		}
	}
	if got := r.c.Stats().Commands; got != 7 {
		t.Errorf("Commands = %d, want 7", got)
	}
}

func TestApplyPowerFailure(t *testing.T) {
	names := []string{"front", "rear", "cabin"}
	cmds := []string{frontCmd, rearCmd, cabinCmd}
	for failing := range names {
		t.Run(names[failing]+" line fails", func(t *testing.T) {
			rec := &cameratest.Frames{}
			pins := make([]*gpiotest.Pin, len(names))
			bad := newBrokenPin("pwr_"+names[failing], errPin)
			specs := make([]camera.Spec, len(names))
			for i, n := range names {
				class := camera.Exterior
				if n == "cabin" {
					class = camera.Cabin
				}
				specs[i] = camera.Spec{Name: n, Class: class, Command: refCmd(t, cmds[i]), PowerActiveLow: i == 1}
				if i == failing {
					specs[i].Power = bad
					continue
				}
				pins[i] = cameratest.NewPin("pwr_" + n)
				setLevel(pins[i], onLevel(specs[i].PowerActiveLow))
				specs[i].Power = pins[i]
			}
			c := newController(t, specs, rec, camera.Options{})

			err := c.Apply(t0, true)
			if err == nil {
				t.Fatal("Apply(true) = nil, want the power failure")
			}
			if !errors.Is(err, errPin) {
				t.Errorf("Apply error %q does not wrap %q", err, errPin)
			}
			if want := "camera " + names[failing] + " power"; !strings.Contains(err.Error(), want) {
				t.Errorf("Apply error %q does not name %q", err, want)
			}
			if bad.tries != 1 {
				t.Errorf("failing line written %d times, want 1", bad.tries)
			}
			for i, p := range pins {
				if p == nil {
					continue
				}
				if got, want := cameratest.Level(p), offLevel(specs[i].PowerActiveLow); got != want {
					t.Errorf("%s line = %v, want off (%v) despite %s failing", names[i], got, want, names[failing])
				}
			}
			f, ok := rec.Last()
			if !ok || f.String() != "300#1500000000000000" {
				t.Errorf("command frame = %v (sent %v), want 300#1500000000000000 despite the power failure", f, ok)
			}
			s := c.Stats()
			if s.PowerErrors != 1 || s.Commands != 1 || s.CommandErrors != 0 {
				t.Errorf("Stats = %+v, want 1 power error, 1 command", s)
			}
			// A line whose write failed is not known to be off.
			if st := state(t, c, names[failing]); !st.Powered {
				t.Errorf("%s state Powered = false after its cut failed; the line may still be on", names[failing])
			}

			// The next decision tries the line again and counts again.
			if err := c.Apply(t0.Add(time.Second), false); !errors.Is(err, errPin) {
				t.Errorf("second Apply = %v, want %v", err, errPin)
			}
			if bad.tries != 2 || c.Stats().PowerErrors != 2 {
				t.Errorf("after second Apply: tries %d, PowerErrors %d; want 2, 2", bad.tries, c.Stats().PowerErrors)
			}
		})
	}
}

func TestApplyWriterFailure(t *testing.T) {
	r := newRig(t, threeCams(), camera.Options{})
	r.setAll(true)
	r.rec.Err = errBus

	err := r.c.Apply(t0, true)
	if !errors.Is(err, errBus) {
		t.Fatalf("Apply(true) = %v, want it to wrap %v", err, errBus)
	}
	if !strings.Contains(err.Error(), camCommand) {
		t.Errorf("Apply error %q does not name the message %s", err, camCommand)
	}
	for name := range r.pins {
		if r.powered(name) {
			t.Errorf("%s still powered although only the bus failed", name)
		}
	}
	if n := len(r.rec.All()); n != 0 {
		t.Errorf("recorder kept %d frames with Err set", n)
	}
	if s := r.c.Stats(); s.CommandErrors != 1 || s.Commands != 0 || s.PowerErrors != 0 {
		t.Errorf("Stats = %+v, want 1 command error only", s)
	}
	if err := r.c.Tick(t0.Add(time.Second)); !errors.Is(err, errBus) {
		t.Errorf("Tick on a failing bus = %v, want %v", err, errBus)
	}
	if s := r.c.Stats(); s.CommandErrors != 2 {
		t.Errorf("CommandErrors after failed resend = %d, want 2", s.CommandErrors)
	}

	// The bus recovers: the next resend carries the current decision.
	r.rec.Err = nil
	if err := r.c.Tick(t0.Add(2 * time.Second)); err != nil {
		t.Fatalf("Tick after recovery = %v", err)
	}
	if f, ok := r.rec.Last(); !ok || f.String() != "300#1500000000000000" {
		t.Errorf("resend after recovery = %v (%v), want 300#1500000000000000", f, ok)
	}
}

func TestApplyBothFail(t *testing.T) {
	rec := &cameratest.Frames{Err: errBus}
	bad := newBrokenPin("pwr_cabin", errPin)
	good := cameratest.NewPin("pwr_front")
	setLevel(good, gpio.High)
	c := newController(t, []camera.Spec{
		{Name: "cabin", Class: camera.Cabin, Power: bad, Command: refCmd(t, cabinCmd)},
		{Name: "front", Class: camera.Exterior, Power: good, Command: refCmd(t, frontCmd)},
	}, rec, camera.Options{})
	err := c.Apply(t0, true)
	if !errors.Is(err, errPin) || !errors.Is(err, errBus) {
		t.Fatalf("Apply = %v, want both %v and %v joined", err, errPin, errBus)
	}
	for _, want := range []string{"camera cabin power", "CAM_Command"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Apply error %q does not mention %q", err, want)
		}
	}
	if cameratest.Level(good) != gpio.Low {
		t.Error("front line not cut")
	}
	if s := c.Stats(); s.PowerErrors != 1 || s.CommandErrors != 1 {
		t.Errorf("Stats = %+v, want 1 power and 1 command error", s)
	}
}

// TestApplyOneMessageFails: a failing message does not stop the others.
func TestApplyOneMessageFails(t *testing.T) {
	db := twoDB(t)
	w := &failIDWriter{failID: 0x500, err: errBus}
	c := newController(t, []camera.Spec{
		{Name: "a", Class: camera.Exterior, Command: signal(t, db, "CAMA_Command", "CAMA_Cmd")},
		{Name: "b", Class: camera.Exterior, Command: signal(t, db, "CAMB_Command", "CAMB_Cmd")},
	}, w, camera.Options{})
	err := c.Apply(t0, true)
	if !errors.Is(err, errBus) || !strings.Contains(err.Error(), "CAMA_Command") {
		t.Errorf("Apply = %v, want an error naming CAMA_Command", err)
	}
	got := w.All()
	if len(got) != 1 || got[0].String() != "18FF0000#40000000" {
		t.Errorf("frames = %v, want the CAMB deny frame 18FF0000#40000000", got)
	}
	if s := c.Stats(); s.Commands != 1 || s.CommandErrors != 1 {
		t.Errorf("Stats = %+v, want 1 command, 1 error", s)
	}
}

func TestTickResend(t *testing.T) {
	const resend = 500 * time.Millisecond
	ms := time.Millisecond
	type step struct {
		at    time.Duration
		op    string // "tick", "suppress", "allow"
		frame string // the frame sent, "" for none
	}
	const deny, allow = "300#1500000000000000", "300#1000000000000000"
	tests := []struct {
		name  string
		steps []step
	}{
		{"never before the first Apply", []step{
			{0, "tick", ""},
			{resend, "tick", ""},
			{time.Hour, "tick", ""},
			{time.Hour + ms, "suppress", deny},
			{time.Hour + ms, "tick", ""},
		}},
		{"after Resend and not before", []step{
			{0, "suppress", deny},
			{0, "tick", ""},
			{resend - ms, "tick", ""},
			{resend - time.Nanosecond, "tick", ""},
			{resend, "tick", deny},
			{resend + 1, "tick", ""},
			{2*resend - 1, "tick", ""},
			{2 * resend, "tick", deny},
		}},
		{"Apply restarts the period", []step{
			{0, "suppress", deny},
			{400 * ms, "allow", allow},
			{800 * ms, "tick", ""},
			{900 * ms, "tick", allow},
			{1000 * ms, "suppress", deny},
			{1400 * ms, "tick", ""},
			{1500 * ms, "tick", deny},
		}},
		{"one resend after a long gap", []step{
			{0, "allow", allow},
			{time.Minute, "tick", allow},
			{time.Minute + ms, "tick", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, threeCams(), camera.Options{Resend: resend})
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				before := len(r.rec.All())
				var err error
				switch st.op {
				case "tick":
					err = r.c.Tick(now)
				case "suppress", "allow":
					err = r.c.Apply(now, st.op == "suppress")
				default:
					t.Fatalf("bad op %q", st.op)
				}
				if err != nil {
					t.Fatalf("step %d %s at %v: %v", i, st.op, st.at, err)
				}
				sent := r.rec.All()[before:]
				switch {
				case st.frame == "" && len(sent) != 0:
					t.Errorf("step %d %s at %v sent %v, want nothing", i, st.op, st.at, sent)
				case st.frame != "" && len(sent) != 1:
					t.Errorf("step %d %s at %v sent %v, want %s", i, st.op, st.at, sent, st.frame)
				case st.frame != "":
					if sent[0].String() != st.frame || !sent[0].Time.Equal(now) {
						t.Errorf("step %d %s at %v sent %s at %v, want %s at %v", i, st.op, st.at, sent[0], sent[0].Time, st.frame, now)
					}
				}
			}
		})
	}
}

func TestTickDefaults(t *testing.T) {
	// Zero Options: Resend 1s, StatusTimeout 2s, DefaultCodes.
	r := newRig(t, threeCams(), camera.Options{})
	front := index(t, r.c, "front")
	if err := r.c.Apply(t0, true); err != nil {
		t.Fatal(err)
	}
	r.c.ObserveStatus(front, camera.DefaultCodes.Off, t0)
	for _, tc := range []struct {
		at     time.Duration
		frames int
		status camera.Status
	}{
		{999 * time.Millisecond, 1, camera.Off},
		{time.Second, 2, camera.Off},
		{2 * time.Second, 3, camera.Off},
		{2*time.Second + 1, 3, camera.Unknown},
	} {
		if err := r.c.Tick(t0.Add(tc.at)); err != nil {
			t.Fatal(err)
		}
		if n := len(r.rec.All()); n != tc.frames {
			t.Errorf("after Tick at %v: %d frames, want %d", tc.at, n, tc.frames)
		}
		if st := r.c.States()[front].Status; st != tc.status {
			t.Errorf("after Tick at %v: status %v, want %v", tc.at, st, tc.status)
		}
	}
}

func TestStatusTimeout(t *testing.T) {
	const timeout = 3 * time.Second
	r := newRig(t, threeCams(), camera.Options{StatusTimeout: timeout})
	front, rear, cabin := index(t, r.c, "front"), index(t, r.c, "rear"), index(t, r.c, "cabin")
	// No Apply: ageing does not depend on it.
	r.c.ObserveStatus(front, camera.DefaultCodes.Idle, t0)
	r.c.ObserveStatus(rear, camera.DefaultCodes.Fault, t0.Add(2*time.Second))
	steps := []struct {
		at   time.Duration
		want [3]camera.Status // front, rear, cabin
	}{
		{0, [3]camera.Status{camera.Idle, camera.Fault, camera.Unknown}},
		{timeout, [3]camera.Status{camera.Idle, camera.Fault, camera.Unknown}},
		{timeout + time.Nanosecond, [3]camera.Status{camera.Unknown, camera.Fault, camera.Unknown}},
		{timeout + 2*time.Second, [3]camera.Status{camera.Unknown, camera.Fault, camera.Unknown}},
		{timeout + 2*time.Second + 1, [3]camera.Status{camera.Unknown, camera.Unknown, camera.Unknown}},
	}
	for _, st := range steps {
		if err := r.c.Tick(t0.Add(st.at)); err != nil {
			t.Fatalf("Tick at %v: %v", st.at, err)
		}
		states := r.c.States()
		got := [3]camera.Status{states[front].Status, states[rear].Status, states[cabin].Status}
		if got != st.want {
			t.Errorf("at %v: statuses %v, want %v", st.at, got, st.want)
		}
	}
	if n := len(r.rec.All()); n != 0 {
		t.Errorf("Tick without Apply sent %d frames", n)
	}
	// A fresh status revives the camera; the time of the last status stays.
	r.c.ObserveStatus(front, camera.DefaultCodes.Recording, t0.Add(time.Minute))
	if st := r.c.States()[front]; st.Status != camera.Recording || !st.StatusTime.Equal(t0.Add(time.Minute)) {
		t.Errorf("after fresh status: %v at %v, want recording at %v", st.Status, st.StatusTime, t0.Add(time.Minute))
	}
}

func TestObserveStatusCodes(t *testing.T) {
	custom := camera.Codes{Allow: 0, Deny: 1, Purge: 2, Idle: 10, Recording: 11, Fault: 12, Off: 13}
	tests := []struct {
		codes camera.Codes
		raw   int64
		want  camera.Status
	}{
		{camera.DefaultCodes, 0, camera.Idle},
		{camera.DefaultCodes, 1, camera.Recording},
		{camera.DefaultCodes, 2, camera.Fault},
		{camera.DefaultCodes, 3, camera.Off},
		{camera.DefaultCodes, 4, camera.Unknown},
		{camera.DefaultCodes, -1, camera.Unknown},
		{camera.DefaultCodes, 1 << 40, camera.Unknown},
		{custom, 10, camera.Idle},
		{custom, 11, camera.Recording},
		{custom, 12, camera.Fault},
		{custom, 13, camera.Off},
		{custom, 0, camera.Unknown},
		{custom, 1, camera.Unknown},
		{custom, 3, camera.Unknown},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("raw %d", tt.raw)
		if tt.codes == custom {
			name = "custom " + name
		}
		t.Run(name, func(t *testing.T) {
			r := newRig(t, threeCams(), camera.Options{Codes: tt.codes})
			rear := index(t, r.c, "rear")
			// A previous, different status must be overwritten.
			r.c.ObserveStatus(rear, tt.codes.Fault, t0)
			if tt.want == camera.Fault {
				r.c.ObserveStatus(rear, tt.codes.Off, t0)
			}
			at := t0.Add(time.Second)
			r.c.ObserveStatus(rear, tt.raw, at)
			st := r.c.States()[rear]
			if st.Status != tt.want {
				t.Errorf("ObserveStatus(%d) = %v, want %v", tt.raw, st.Status, tt.want)
			}
			if !st.StatusTime.Equal(at) {
				t.Errorf("StatusTime = %v, want %v", st.StatusTime, at)
			}
			for i, other := range r.c.States() {
				if i != rear && other.Status != camera.Unknown {
					t.Errorf("camera %s status changed to %v", other.Name, other.Status)
				}
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[camera.Status]string{
		camera.Unknown:   "unknown",
		camera.Idle:      "idle",
		camera.Recording: "recording",
		camera.Fault:     "fault",
		camera.Off:       "off",
		camera.Status(5): "status(5)",
		255:              "status(255)",
	} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", uint8(s), got, want)
		}
	}
}

func TestDisobedientStatus(t *testing.T) {
	type obs struct {
		cam string
		raw int64
	}
	rec, idle, fault, off := camera.DefaultCodes.Recording, camera.DefaultCodes.Idle, camera.DefaultCodes.Fault, camera.DefaultCodes.Off
	tests := []struct {
		name     string
		enabled  bool   // cabin enabled
		decision string // "", "suppress", "allow"
		obs      []obs
		want     uint64
	}{
		{"before any Apply everything is denied", false, "", []obs{{"front", rec}, {"cabin", rec}}, 2},
		{"suppressed exterior recording", false, "suppress", []obs{{"front", rec}, {"rear", rec}}, 2},
		{"every status frame counts", false, "suppress", []obs{{"front", rec}, {"front", rec}, {"front", rec}}, 3},
		{"suppressed but not recording", false, "suppress", []obs{{"front", idle}, {"rear", fault}, {"cabin", off}, {"front", 9}}, 0},
		{"allowed exterior recording", false, "allow", []obs{{"front", rec}, {"rear", rec}}, 0},
		{"disabled cabin recording while allowed", false, "allow", []obs{{"cabin", rec}, {"front", rec}}, 1},
		{"enabled cabin recording while allowed", true, "allow", []obs{{"cabin", rec}}, 0},
		{"enabled cabin recording while suppressed", true, "suppress", []obs{{"cabin", rec}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cams := threeCams()
			cams[2].enabled = tt.enabled
			r := newRig(t, cams, camera.Options{})
			if tt.decision != "" {
				if err := r.c.Apply(t0, tt.decision == "suppress"); err != nil {
					t.Fatal(err)
				}
			}
			for i, o := range tt.obs {
				r.c.ObserveStatus(index(t, r.c, o.cam), o.raw, t0.Add(time.Duration(i+1)*time.Millisecond))
			}
			if got := r.c.Stats().DisobedientStatus; got != tt.want {
				t.Errorf("DisobedientStatus = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDisobedientFollowsDecision(t *testing.T) {
	r := newRig(t, threeCams(), camera.Options{})
	front := index(t, r.c, "front")
	rec := camera.DefaultCodes.Recording
	steps := []struct {
		suppress bool
		want     uint64
	}{{false, 0}, {true, 1}, {false, 1}, {true, 2}}
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Second)
		if err := r.c.Apply(now, st.suppress); err != nil {
			t.Fatal(err)
		}
		r.c.ObserveStatus(front, rec, now)
		if got := r.c.Stats().DisobedientStatus; got != st.want {
			t.Errorf("step %d (suppress %v): DisobedientStatus = %d, want %d", i, st.suppress, got, st.want)
		}
	}
}

func TestTriggers(t *testing.T) {
	type ev struct {
		decision string // "suppress" or "allow" applied before the trigger, "" for none
		cam      string
		active   bool
	}
	tests := []struct {
		name             string
		events           []ev
		allowed, dropped uint64
	}{
		{"rising edges only while allowed", []ev{
			{"allow", "front", true}, {"", "front", true}, {"", "front", true},
			{"", "front", false}, {"", "front", false}, {"", "front", true},
		}, 2, 0},
		{"dropped while suppressed", []ev{
			{"suppress", "front", true}, {"", "front", false}, {"", "rear", true}, {"", "rear", true},
		}, 0, 2},
		{"before any Apply triggers are dropped", []ev{{"", "front", true}}, 0, 1},
		{"falling edge counts nothing", []ev{{"allow", "front", false}, {"", "front", false}}, 0, 0},
		{"held trigger is not recounted across a decision", []ev{
			{"allow", "front", true}, {"suppress", "front", true}, {"allow", "front", true},
			{"", "front", false}, {"suppress", "front", true},
		}, 1, 1},
		{"disabled cabin trigger dropped while allowed", []ev{
			{"allow", "cabin", true}, {"", "front", true}, {"", "cabin", false}, {"", "cabin", true},
		}, 1, 2},
		{"edges are per camera", []ev{
			{"allow", "front", true}, {"", "rear", true}, {"", "front", true}, {"", "rear", false}, {"", "rear", true},
		}, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, threeCams(), camera.Options{})
			for i, e := range tt.events {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				if e.decision != "" {
					if err := r.c.Apply(now, e.decision == "suppress"); err != nil {
						t.Fatal(err)
					}
				}
				r.c.ObserveTrigger(index(t, r.c, e.cam), e.active, now)
			}
			s := r.c.Stats()
			if s.TriggersAllowed != tt.allowed || s.TriggersDropped != tt.dropped {
				t.Errorf("triggers allowed %d, dropped %d; want %d, %d", s.TriggersAllowed, s.TriggersDropped, tt.allowed, tt.dropped)
			}
		})
	}
}

func TestStatesAreCopies(t *testing.T) {
	r := newRig(t, threeCams(), camera.Options{})
	if err := r.c.Apply(t0, false); err != nil {
		t.Fatal(err)
	}
	r.c.ObserveStatus(0, camera.DefaultCodes.Idle, t0)
	before := r.c.States()
	got := r.c.States()
	for i := range got {
		got[i] = camera.State{Name: "mutated", Status: camera.Fault, Allowed: !got[i].Allowed}
	}
	after := r.c.States()
	if !slices.Equal(after, before) {
		t.Errorf("States() after mutating a copy = %+v, want %+v", after, before)
	}
	want := []camera.State{
		{Name: "front", Class: camera.Exterior, Allowed: true, Powered: true, Status: camera.Idle, StatusTime: t0},
		{Name: "rear", Class: camera.Exterior, Allowed: true, Powered: true},
		{Name: "cabin", Class: camera.Cabin},
	}
	if !slices.Equal(after, want) {
		t.Errorf("States() = %+v, want %+v", after, want)
	}
	// Stats is a value too.
	s := r.c.Stats()
	s.Commands = 99
	if r.c.Stats().Commands != 1 {
		t.Errorf("Stats() is not a copy")
	}
}

func TestApplyOverBus(t *testing.T) {
	// The controller over the virtual bus, as the gateway wires it.
	bus := can.NewBus(func() time.Time { return t0 })
	gw, ecu := bus.Open(), bus.Open()
	defer gw.Close()
	defer ecu.Close()
	pin := cameratest.NewPin("GPIO17")
	c := newController(t, []camera.Spec{
		{Name: "front", Class: camera.Exterior, Power: pin, Command: refCmd(t, frontCmd)},
		{Name: "cabin", Class: camera.Cabin, Command: refCmd(t, cabinCmd)},
	}, gw, camera.Options{})
	if err := c.Apply(t0, false); err != nil {
		t.Fatalf("Apply over the bus: %v", err)
	}
	var f can.Frame
	if !ecu.TryReadFrame(&f) {
		t.Fatal("no frame on the bus")
	}
	// Cabin not enabled: deny; rear, not driven: deny, whatever the
	// other cameras are told.
	if f.ID != camCommandID || f.String() != "300#1400000000000000" {
		t.Errorf("frame on the bus = %s, want 300#1400000000000000", f)
	}
	if cameratest.Level(pin) != gpio.High {
		t.Error("front not powered")
	}
}

func TestStatusCodesMustDiffer(t *testing.T) {
	codes := camera.DefaultCodes
	codes.Recording = codes.Idle
	_, err := camera.NewController([]camera.Spec{{Name: "f", Class: camera.Exterior, Power: cameratest.NewPin("p")}}, nil, camera.Options{Codes: codes})
	if err == nil || !strings.Contains(err.Error(), "idle and recording are both 0") {
		t.Errorf("error %v: a recording camera would look idle", err)
	}
}

// TestTickHealsAFailedPowerCut: a line whose write failed when the
// suppression began is written again on the next tick.
func TestTickHealsAFailedPowerCut(t *testing.T) {
	pin := cameratest.NewPin("p")
	pin.L = gpio.High
	flaky := &flakyPin{Pin: pin, failures: 1}
	c, err := camera.NewController([]camera.Spec{{Name: "f", Class: camera.Exterior, Power: flaky}}, nil, camera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(t0, true); err == nil {
		t.Fatal("the failed write was not reported")
	}
	if cameratest.Level(pin) != gpio.High {
		t.Fatal("the fake did not fail")
	}
	if err := c.Tick(t0.Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if cameratest.Level(pin) != gpio.Low {
		t.Error("power still on after the next tick")
	}
	if st := c.States()[0]; st.Powered {
		t.Error("state says powered after the line was cut")
	}
}

// TestTickRetriesAFailedCommandAndSurvivesAClockStep: a send that failed is
// retried on the next tick, not a Resend period later, and a clock that
// steps backwards does not silence the resends.
func TestTickRetriesAFailedCommandAndSurvivesAClockStep(t *testing.T) {
	db := cantest.RefDB(t)
	frames := &cameratest.Frames{Err: errors.New("bus off")}
	specs := []camera.Spec{{Name: "front", Class: camera.Exterior, Command: db.Message("CAM_Command").Signal("CAM_FrontCmd")}}
	c, err := camera.NewController(specs, buses(frames), complete(specs, camera.Options{Resend: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(t0, true); err == nil {
		t.Fatal("failed send not reported")
	}
	frames.Err = nil
	if err := c.Tick(t0.Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := len(frames.All()); n != 1 {
		t.Fatalf("%d frames after the retry tick, want 1", n)
	}
	if err := c.Tick(t0.Add(-time.Hour)); err != nil { // the clock stepped back an hour
		t.Fatal(err)
	}
	if n := len(frames.All()); n != 2 {
		t.Errorf("%d frames after a backwards clock step, want a resend", n)
	}
}

type flakyPin struct {
	*gpiotest.Pin
	failures int
}

func (p *flakyPin) Out(l gpio.Level) error {
	if p.failures > 0 {
		p.failures--
		return errors.New("gpio busy")
	}
	return p.Pin.Out(l)
}

// A policy that takes the cabin away cuts an enabled cabin camera at the
// next Apply; one that gives it back lets it record again. The exterior
// cameras do not notice.
func TestAllowCabin(t *testing.T) {
	cams := threeCams()
	cams[2].enabled = true
	r := newRig(t, cams, camera.Options{})
	now := time.Unix(1_800_000_000, 0)
	for i, allowed := range []bool{false, true, false} {
		r.c.AllowCabin(allowed)
		if err := r.c.Apply(now.Add(time.Duration(i)*time.Second), false); err != nil {
			t.Fatal(err)
		}
		for _, s := range r.c.States() {
			if want := s.Class == camera.Exterior || allowed; s.Allowed != want {
				t.Errorf("cabin allowed %v: camera %s allowed %v", allowed, s.Name, s.Allowed)
			}
		}
		if got := r.powered("cabin"); got != allowed {
			t.Errorf("cabin allowed %v: powered %v", allowed, got)
		}
	}
	// It never enables a camera its spec does not.
	r = newRig(t, threeCams(), camera.Options{})
	r.c.AllowCabin(true)
	r.c.Apply(now, false)
	if r.powered("cabin") {
		t.Error("a cabin camera the vehicle does not enable was powered")
	}
}
