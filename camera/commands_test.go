package camera_test

import (
	"strings"
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/can/cantest"
)

// TestUnlistedCamerasToldDeny: cameras the controller does not drive but
// whose commands share the message are told deny in every frame, while
// the driven ones are allowed too: the allow code is 0, the zero a frame
// starts from.
func TestUnlistedCamerasToldDeny(t *testing.T) {
	rec := &cameratest.Frames{}
	cmd := cantest.RefDB(t).Message(camCommand)
	c, err := camera.NewController([]camera.Spec{{Name: "front", Class: camera.Exterior, Command: cmd.Signal(frontCmd)}},
		[]camera.FrameWriter{rec}, camera.Options{
			Unlisted: []*can.Signal{cmd.Signal(rearCmd), cmd.Signal(cabinCmd)},
			Fixed:    []camera.Fixed{{Signal: cmd.Signal("CAM_CmdCounter"), Raw: 5}},
			Resend:   time.Second,
		})
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	for i, suppress := range []bool{true, false, true, false} {
		now = now.Add(time.Second)
		if err := c.Apply(now, suppress); err != nil {
			t.Fatal(err)
		}
		if err := c.Tick(now.Add(1500 * time.Millisecond)); err != nil { // a resend
			t.Fatal(err)
		}
		frames := rec.All()
		if len(frames) != 2*(i+1) {
			t.Fatalf("%d frames after %d applies and resends", len(frames), i+1)
		}
		for _, f := range frames[2*i:] {
			want := camera.DefaultCodes.Allow
			if suppress {
				want = camera.DefaultCodes.Deny
			}
			if got := cmd.Signal(frontCmd).Raw(&f.Data); got != want {
				t.Errorf("suppress %v: front told %d, want %d", suppress, got, want)
			}
			for _, name := range []string{rearCmd, cabinCmd} {
				if got := cmd.Signal(name).Raw(&f.Data); got != camera.DefaultCodes.Deny {
					t.Errorf("suppress %v: %s told %d, want deny", suppress, name, got)
				}
			}
			if got := cmd.Signal("CAM_CmdCounter").Raw(&f.Data); got != 5 {
				t.Errorf("counter %d, want the fixed 5", got)
			}
		}
	}
}

// A message with only unlisted cameras in it is sent all the same.
func TestUnlistedAloneInTheirMessage(t *testing.T) {
	db := twoDB(t)
	rec := &cameratest.Frames{}
	c, err := camera.NewController([]camera.Spec{{Name: "a", Class: camera.Exterior, Command: signal(t, db, "CAMA_Command", "CAMA_Cmd")}},
		[]camera.FrameWriter{rec}, camera.Options{Unlisted: []*can.Signal{
			signal(t, db, "CAMA_Command", "CAMC_Cmd"), signal(t, db, "CAMB_Command", "CAMB_Cmd"),
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(t0, false); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]can.Frame{}
	for _, f := range rec.All() {
		got[f.ID] = f
	}
	b, ok := got[db.Message("CAMB_Command").ID]
	if !ok {
		t.Fatalf("frames %v: CAMB_Command, which only an unlisted camera has, was not sent", rec.All())
	}
	if v := signal(t, db, "CAMB_Command", "CAMB_Cmd").Raw(&b.Data); v != camera.DefaultCodes.Deny {
		t.Errorf("CAMB_Cmd %d, want deny", v)
	}
	a := got[db.Message("CAMA_Command").ID]
	if v := signal(t, db, "CAMA_Command", "CAMC_Cmd").Raw(&a.Data); v != camera.DefaultCodes.Deny {
		t.Errorf("CAMC_Cmd %d, want deny", v)
	}
}

const layoutDBC = `VERSION ""

BO_ 768 CMD: 8 GW
 SG_ A : 0|2@1+ (1,0) [0|3] "" X
 SG_ B : 2|2@1+ (1,0) [0|3] "" X
 SG_ OverA : 1|2@0+ (1,0) [0|3] "" X

BO_ 769 MUXED: 8 GW
 SG_ Sel M : 0|2@1+ (1,0) [0|3] "" X
 SG_ C m0 : 8|2@1+ (1,0) [0|3] "" X
 SG_ D m1 : 8|2@1+ (1,0) [0|3] "" X

BO_ 770 OTHER: 8 GW
 SG_ E : 0|2@1+ (1,0) [0|3] "" X
`

// TestNewControllerRefusesAFrameItCannotWriteWhole: a signal of a
// command message without a writer, two writers for one signal, bits
// shared (Motorola over Intel), a multiplexed message, a fixed value
// that does not fit or has no command message to go in.
func TestNewControllerRefusesAFrameItCannotWriteWhole(t *testing.T) {
	db, err := can.LoadDBC("layout.dbc", []byte(layoutDBC))
	if err != nil {
		t.Fatal(err)
	}
	sig := func(m, s string) *can.Signal { return signal(t, db, m, s) }
	spec := func(name string, s *can.Signal) camera.Spec {
		return camera.Spec{Name: name, Class: camera.Exterior, Command: s}
	}
	w := []camera.FrameWriter{&cameratest.Frames{}}
	for _, tc := range []struct {
		name  string
		specs []camera.Spec
		opts  camera.Options
		buses []camera.FrameWriter
		want  string
	}{
		{"unassigned", []camera.Spec{spec("a", sig("CMD", "A"))}, camera.Options{Unlisted: []*can.Signal{sig("CMD", "B")}}, w,
			"command message CMD: signal OverA is no camera's command and has no fixed value"},
		{"overlap", []camera.Spec{spec("a", sig("CMD", "A")), spec("b", sig("CMD", "B")), spec("c", sig("CMD", "OverA"))}, camera.Options{}, w,
			"command message CMD: signals A and OverA share bits"},
		{"overlap with a fixed value", []camera.Spec{spec("a", sig("CMD", "A")), spec("b", sig("CMD", "B"))}, camera.Options{Fixed: []camera.Fixed{{Signal: sig("CMD", "OverA")}}}, w,
			"command message CMD: signals A and OverA share bits"},
		{"unlisted and driven", []camera.Spec{spec("a", sig("CMD", "A"))}, camera.Options{Unlisted: []*can.Signal{sig("CMD", "A")}}, w,
			"unlisted command signal A already commands camera a"},
		{"fixed and driven", []camera.Spec{spec("a", sig("CMD", "A"))}, camera.Options{Fixed: []camera.Fixed{{Signal: sig("CMD", "A")}}}, w,
			"fixed signal A already commands camera a"},
		{"multiplexed", []camera.Spec{spec("c", sig("MUXED", "C"))}, camera.Options{Unlisted: []*can.Signal{sig("MUXED", "D")}, Fixed: []camera.Fixed{{Signal: sig("MUXED", "Sel")}}}, w,
			"command message MUXED is multiplexed"},
		{"fixed value too wide", []camera.Spec{spec("a", sig("CMD", "A"))}, camera.Options{Unlisted: []*can.Signal{sig("CMD", "B")}, Fixed: []camera.Fixed{{Signal: sig("CMD", "OverA"), Raw: 4}}}, w,
			"command signal OverA (2 bits) cannot carry fixed value 4"},
		{"fixed value alone", []camera.Spec{spec("a", sig("CMD", "A"))}, camera.Options{Fixed: []camera.Fixed{{Signal: sig("OTHER", "E")}}}, w,
			"fixed signal E: its message OTHER carries no camera's command"},
		{"unlisted without a bus", nil, camera.Options{Unlisted: []*can.Signal{sig("OTHER", "E")}}, nil,
			"unlisted command signal E but no CAN bus"},
		{"deny too wide for an unlisted camera", nil, camera.Options{Unlisted: []*can.Signal{sig("OTHER", "E")}, Codes: camera.Codes{Allow: 0, Deny: 4, Recording: 1, Fault: 2, Off: 3}}, w,
			"command signal E (2 bits) cannot carry deny 4"},
		{"bus out of range", []camera.Spec{{Name: "e", Class: camera.Exterior, Command: sig("OTHER", "E"), Buses: []int{1}}}, camera.Options{}, w,
			"camera e: bus 1: there are 1"},
		{"bus twice", []camera.Spec{{Name: "e", Class: camera.Exterior, Command: sig("OTHER", "E"), Buses: []int{0, 0}}}, camera.Options{}, w,
			"camera e: bus 0 named twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := camera.NewController(tc.specs, tc.buses, tc.opts)
			if err == nil || c != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewController = %v, %v; want the error %q", c, err, tc.want)
			}
		})
	}
}

// TestCommandsOnTheirBuses: a message goes to every bus of every camera
// it carries (all without Spec.Buses, all with an unlisted camera in it);
// a purge counts as delivered only once every bus took it.
func TestCommandsOnTheirBuses(t *testing.T) {
	db := twoDB(t)
	a, c, b := signal(t, db, "CAMA_Command", "CAMA_Cmd"), signal(t, db, "CAMA_Command", "CAMC_Cmd"), signal(t, db, "CAMB_Command", "CAMB_Cmd")
	ids := func(w *cameratest.Frames) map[uint32]int {
		out := map[uint32]int{}
		for _, f := range w.All() {
			out[f.ID]++
		}
		return out
	}
	idA, idB := db.Message("CAMA_Command").ID, db.Message("CAMB_Command").ID
	bus := []*cameratest.Frames{{}, {}, {}}
	w := []camera.FrameWriter{bus[0], bus[1], bus[2]}
	ctl, err := camera.NewController([]camera.Spec{
		{Name: "a", Class: camera.Exterior, Command: a, Buses: []int{1}, PurgeOnEntry: true},
		{Name: "c", Class: camera.Exterior, Command: c, Buses: []int{1, 2}},
		{Name: "b", Class: camera.Exterior, Command: b},
	}, w, camera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus[2].Err = errBus
	if err := ctl.Apply(t0, true); err == nil || !strings.Contains(err.Error(), "CAMA_Command on bus 2") {
		t.Errorf("a bus that failed: %v", err)
	}
	want := []map[uint32]int{{idB: 1}, {idA: 1, idB: 1}, {}}
	for i := range bus {
		if got := ids(bus[i]); len(got) != len(want[i]) || got[idA] != want[i][idA] || got[idB] != want[i][idB] {
			t.Errorf("bus %d got %v, want %v", i, got, want[i])
		}
	}
	st := ctl.Stats()
	if st.Commands != 3 || st.CommandErrors != 2 || st.Purges != 0 {
		t.Errorf("stats %+v: want 3 frames sent, 2 errors (both messages on bus 2), the purge still due", st)
	}
	f, _ := bus[1].Last()
	if f.ID == idA && a.Raw(&f.Data) != camera.DefaultCodes.Purge {
		t.Errorf("camera a told %d, want purge", a.Raw(&f.Data))
	}
	bus[2].Err = nil
	if err := ctl.Tick(t0.Add(100 * time.Millisecond)); err != nil { // the retry
		t.Fatal(err)
	}
	if st := ctl.Stats(); st.Purges != 1 {
		t.Errorf("purges %d after every bus took the frame, want 1", st.Purges)
	}
}
