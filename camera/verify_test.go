package camera_test

import (
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera"
	"quietzone/camera/cameratest"
)

// frontCode decodes the front camera's command from the last frame sent.
func frontCode(t *testing.T, r *rig) int64 {
	t.Helper()
	f, ok := r.rec.Last()
	if !ok {
		t.Fatal("no command frame sent")
	}
	return refCmd(t, frontCmd).Raw(&f.Data)
}

func TestPurgeOnEntry(t *testing.T) {
	codes := camera.DefaultCodes
	cams := threeCams()
	r := newRig(t, []cam{
		{name: "front", class: camera.Exterior, pin: true, cmd: frontCmd},
		cams[1], cams[2],
	}, camera.Options{Resend: time.Second})
	specs := []camera.Spec{
		{Name: "front", Class: camera.Exterior, Command: refCmd(t, frontCmd), PurgeOnEntry: true},
		{Name: "rear", Class: camera.Exterior, Command: refCmd(t, rearCmd)},
	}
	w := &failIDWriter{failID: 0xFFFF, err: errBus}
	c := newController(t, specs, w, camera.Options{Resend: time.Second})
	rear := refCmd(t, rearCmd)
	type step struct {
		at    time.Duration
		op    string // suppress, allow, tick, fail, heal
		front int64  // the front camera's code in the frame sent; -1 for no frame
	}
	steps := []step{
		{0, "suppress", codes.Purge},                     // the first Apply is an entry
		{500 * time.Millisecond, "suppress", codes.Deny}, // already suppressed: no second purge
		{1500 * time.Millisecond, "tick", codes.Deny},    // resends deny
		{2 * time.Second, "allow", codes.Allow},          //
		{3 * time.Second, "fail", -1},                    // the bus refuses from now on
		{3 * time.Second, "suppress", -1},                // entry: the purge frame is lost ...
		{3100 * time.Millisecond, "heal", -1},            //
		{3100 * time.Millisecond, "tick", codes.Purge},   // ... and retried at the next tick
		{4200 * time.Millisecond, "tick", codes.Deny},    // delivered once
		{5 * time.Second, "allow", codes.Allow},          //
		{6 * time.Second, "suppress", codes.Purge},       // every entry purges
		{6100 * time.Millisecond, "tick", -1},            //
		{7 * time.Second, "allow", codes.Allow},          //
		{7100 * time.Millisecond, "tick", -1},            // an allowed camera has no purge due
		{8100 * time.Millisecond, "tick", codes.Allow},   //
	}
	for i, st := range steps {
		now := t0.Add(st.at)
		before := len(w.All())
		switch st.op {
		case "suppress", "allow":
			_ = c.Apply(now, st.op == "suppress")
		case "tick":
			_ = c.Tick(now)
		case "fail":
			w.failID = camCommandID
		case "heal":
			w.failID = 0xFFFF
		}
		sent := w.All()[before:]
		if st.front < 0 {
			if len(sent) != 0 {
				t.Errorf("step %d %s at %v: sent %v, want nothing", i, st.op, st.at, sent)
			}
			continue
		}
		if len(sent) != 1 {
			t.Fatalf("step %d %s at %v: sent %v, want one frame", i, st.op, st.at, sent)
		}
		if got := refCmd(t, frontCmd).Raw(&sent[0].Data); got != st.front {
			t.Errorf("step %d %s at %v: front code %d, want %d", i, st.op, st.at, got, st.front)
		}
		if got, want := rear.Raw(&sent[0].Data), map[bool]int64{true: codes.Allow, false: codes.Deny}[st.front == codes.Allow]; got != want {
			t.Errorf("step %d %s at %v: rear code %d, want %d: purge is per camera", i, st.op, st.at, got, want)
		}
	}
	if s := c.Stats(); s.Purges != 3 {
		t.Errorf("Purges = %d, want 3", s.Purges)
	}
	// The rig without purge never sends the purge code.
	if err := r.c.Apply(t0, true); err != nil {
		t.Fatal(err)
	}
	if got := frontCode(t, r); got != codes.Deny {
		t.Errorf("without PurgeOnEntry the entry sends %d, want deny", got)
	}
}

func TestPurgeWiringErrors(t *testing.T) {
	tests := []struct {
		name  string
		spec  camera.Spec
		codes camera.Codes
		want  string
	}{
		{"no command", camera.Spec{Name: "front", Class: camera.Exterior, Power: cameratest.NewPin("p"), PurgeOnEntry: true},
			camera.Codes{}, "camera front: purge on entry needs a command signal"},
		{"purge code does not fit", camera.Spec{Name: "front", Class: camera.Exterior, Command: refCmd(t, frontCmd), PurgeOnEntry: true},
			camera.Codes{Allow: 0, Deny: 1, Purge: 4, Recording: 1, Fault: 2, Off: 3}, "cannot carry purge code 4"},
		{"purge code allows", camera.Spec{Name: "front", Class: camera.Exterior, Command: refCmd(t, frontCmd), PurgeOnEntry: true},
			camera.Codes{Allow: 0, Deny: 1, Purge: 0, Recording: 1, Fault: 2, Off: 3}, "purge code 0 and allow code 0 are the same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs := []camera.Spec{tt.spec}
			_, err := camera.NewController(specs, buses(&cameratest.Frames{}), complete(specs, camera.Options{Codes: tt.codes}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewController error %v, want %q", err, tt.want)
			}
		})
	}
	// Without PurgeOnEntry an unusable purge code is nobody's business.
	specs := []camera.Spec{{Name: "front", Class: camera.Exterior, Command: refCmd(t, frontCmd)}}
	if _, err := camera.NewController(specs, buses(&cameratest.Frames{}),
		complete(specs, camera.Options{Codes: camera.Codes{Allow: 0, Deny: 1, Purge: 9, Recording: 1, Fault: 2, Off: 3}})); err != nil {
		t.Errorf("unused purge code refused: %v", err)
	}
}

// TestEscalationTimeline follows one camera that goes on recording after
// it was denied, tick by tick, with a grace period of 2 s.
func TestEscalationTimeline(t *testing.T) {
	const grace = 2 * time.Second
	ms := time.Millisecond
	rec, idle := camera.DefaultCodes.Recording, camera.DefaultCodes.Idle
	type step struct {
		at     time.Duration
		op     string // suppress, allow, tick, status (raw), backfeed (the line is forced on)
		raw    int64
		escal  bool // an escalation is handed out after this step
		frames int  // command frames sent by this step; -1: don't care
	}
	tests := []struct {
		name  string
		steps []step
		total uint64
	}{
		{"escalated after the grace period, not before", []step{
			{0, "suppress", 0, false, 1},
			{100 * ms, "status", rec, false, 0}, // the breach begins when it is seen
			{1000 * ms, "tick", 0, false, 1},    // the regular resend
			{1900 * ms, "status", rec, false, 0},
			{2000 * ms, "tick", 0, false, 1},
			{2000 * ms, "backfeed", 0, false, 0},
			{2100 * ms, "status", rec, false, 0}, // exactly the grace period: not yet
			{2150 * ms, "status", rec, true, 0},  // beyond: escalated, the line cut at once
			{2200 * ms, "tick", 0, false, 1},     // the command resent out of turn
			{2500 * ms, "status", rec, false, 0},
			{3000 * ms, "tick", 0, false, 0}, // once per breach
			{9000 * ms, "status", rec, false, 0},
		}, 1},
		{"stopping within the grace period is obeying", []step{
			{0, "suppress", 0, false, 1},
			{100 * ms, "status", rec, false, 0},
			{1900 * ms, "status", idle, false, 0},
			{2100 * ms, "tick", 0, false, -1},
			{5000 * ms, "tick", 0, false, -1},
		}, 0},
		{"flapping does not restart the clock", []step{
			{0, "suppress", 0, false, 1},
			{100 * ms, "status", rec, false, 0},
			{900 * ms, "status", idle, false, 0},
			{1500 * ms, "status", rec, false, 0},
			{1900 * ms, "status", idle, false, 0},
			{2100 * ms, "status", rec, false, 0},
			{2200 * ms, "status", rec, true, 0},
		}, 1},
		{"a new breach after obeying for the grace period escalates again", []step{
			{0, "suppress", 0, false, 1},
			{100 * ms, "status", rec, false, 0},
			{2200 * ms, "status", rec, true, 0},
			{2300 * ms, "status", idle, false, 0},
			{4600 * ms, "tick", 0, false, -1}, // obeyed for longer than the grace: breach over
			{4700 * ms, "status", rec, false, 0},
			{6600 * ms, "status", rec, false, 0},
			{6800 * ms, "tick", 0, true, -1},
		}, 2},
		{"recording when told to stop: the grace period starts at the command", []step{
			{0, "allow", 0, false, 1},
			{500 * ms, "status", rec, false, 0},
			{1000 * ms, "suppress", 0, false, 1},
			{2900 * ms, "status", rec, false, 0},
			{3000 * ms, "tick", 0, false, -1},
			{3100 * ms, "tick", 0, true, -1},
		}, 1},
		{"allowed again ends the breach", []step{
			{0, "suppress", 0, false, 1},
			{100 * ms, "status", rec, false, 0},
			{1500 * ms, "allow", 0, false, 1},
			{2500 * ms, "status", rec, false, 0},
			{2500 * ms, "suppress", 0, false, 1},
			{4400 * ms, "status", rec, false, 0},
			{4600 * ms, "status", rec, true, 0},
		}, 1},
		{"a clock stepped back restarts the grace period", []step{
			{0, "suppress", 0, false, 1},
			{1000 * ms, "status", rec, false, 0},
			{-time.Hour, "status", rec, false, 0},
			{-time.Hour + 1900*ms, "status", rec, false, 0},
			{-time.Hour + 2100*ms, "status", rec, true, 0},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, threeCams(), camera.Options{Grace: grace, StatusTimeout: time.Hour})
			front := index(t, r.c, "front")
			var esc []camera.Escalation
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				before := len(r.rec.All())
				switch st.op {
				case "suppress", "allow":
					_ = r.c.Apply(now, st.op == "suppress")
				case "tick":
					_ = r.c.Tick(now)
				case "status":
					r.c.ObserveStatus(front, st.raw, now)
				case "backfeed":
					setLevel(r.pins["front"], gpio.High)
				}
				if st.frames >= 0 {
					if n := len(r.rec.All()) - before; n != st.frames {
						t.Errorf("step %d %s at %v: %d frames, want %d", i, st.op, st.at, n, st.frames)
					}
				}
				esc = r.c.Escalations(esc[:0])
				if got := len(esc) == 1; got != st.escal || len(esc) > 1 {
					t.Fatalf("step %d %s at %v: escalations %+v, want %v", i, st.op, st.at, esc, st.escal)
				}
				if len(esc) == 1 {
					e := esc[0]
					if e.Name != "front" || e.Camera != front || e.Breach != camera.Disobeyed || e.Class != camera.Exterior || !e.At.Equal(now) {
						t.Errorf("step %d: escalation %+v", i, e)
					}
					if e.At.Sub(e.Since) <= grace {
						t.Errorf("step %d: escalated %v after the breach began, within the grace period", i, e.At.Sub(e.Since))
					}
					if r.powered("front") {
						t.Errorf("step %d: escalated but the power line was not cut again", i)
					}
					if st := state(t, r.c, "front"); !st.Escalated || st.Powered {
						t.Errorf("step %d: state %+v, want escalated and unpowered", i, st)
					}
				}
			}
			if got := r.c.Stats().Escalations; got != tt.total {
				t.Errorf("Escalations = %d, want %d", got, tt.total)
			}
		})
	}
}

// TestSilentCamera: a camera that reports its status and falls silent while
// it may not record is escalated only if its power cannot be cut.
func TestSilentCamera(t *testing.T) {
	idle := camera.DefaultCodes.Idle
	tests := []struct {
		name      string
		power     string // "", "ok", "broken"
		hasStatus bool
		heard     bool // an idle status at 0, then silence
		escalate  bool
	}{
		{"no line, never heard", "", true, false, true},
		{"no line, heard then silent", "", true, true, true},
		{"line cut, silent", "ok", true, false, false},
		{"cut failed, silent", "broken", true, true, true},
		{"no status signal: silence is no news", "", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := camera.Spec{Name: "front", Class: camera.Exterior, Command: refCmd(t, frontCmd), HasStatus: tt.hasStatus}
			switch tt.power {
			case "ok":
				sp.Power = cameratest.NewPin("p")
			case "broken":
				sp.Power = newBrokenPin("p", errPin)
			}
			c := newController(t, []camera.Spec{sp}, &cameratest.Frames{}, camera.Options{StatusTimeout: time.Second, Grace: 2 * time.Second})
			if tt.heard {
				c.ObserveStatus(0, idle, t0)
			}
			_ = c.Apply(t0, true)
			var esc []camera.Escalation
			for at := 100 * time.Millisecond; at <= 5*time.Second; at += 100 * time.Millisecond {
				_ = c.Tick(t0.Add(at))
				esc = c.Escalations(esc)
			}
			if got := len(esc) == 1; got != tt.escalate || len(esc) > 1 {
				t.Fatalf("escalations %+v, want %v", esc, tt.escalate)
			}
			if tt.escalate {
				// Heard at 0: silent after 1 s, escalated 2 s later; never heard: 2 s after the command.
				want := t0.Add(2100 * time.Millisecond)
				if tt.heard {
					want = t0.Add(3200 * time.Millisecond)
				}
				if esc[0].Breach != camera.Unverified || !esc[0].At.Equal(want) {
					t.Errorf("escalation %+v, want unverified at %v", esc[0], want)
				}
			}
			if got, want := c.Stats().StatusLost, map[bool]uint64{true: 1}[tt.heard]; got != want {
				t.Errorf("StatusLost = %d, want %d", got, want)
			}
		})
	}
}

// TestStatusLostIsCounted: each time a camera's status ages out counts once.
func TestStatusLostIsCounted(t *testing.T) {
	r := newRig(t, threeCams(), camera.Options{StatusTimeout: time.Second})
	for i := 0; i < 3; i++ {
		base := t0.Add(time.Duration(i) * 10 * time.Second)
		r.c.ObserveStatus(0, camera.DefaultCodes.Idle, base)
		for at := time.Duration(0); at < 3*time.Second; at += 100 * time.Millisecond {
			_ = r.c.Tick(base.Add(at))
		}
	}
	if got := r.c.Stats().StatusLost; got != 3 {
		t.Errorf("StatusLost = %d, want 3", got)
	}
}
