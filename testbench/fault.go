package testbench

import (
	"fmt"
	"math"
	"slices"
	"time"

	"quietzone/can"
	"quietzone/gateway/config"
	"quietzone/testbench/scenario"
)

// FaultMark is a fault the bench injected: when (since the start of the
// drive), what, and where the vehicle really was.
type FaultMark struct {
	At       time.Duration
	Kind     string
	Lat, Lon float64
}

// faultState follows the scenario's faults through a drive.
type faultState struct {
	faults  []scenario.Fault
	started []bool
	until   []time.Duration // elapsed drive time each ends at
	used    []bool          // a fault of no duration has had its effect
	marks   []FaultMark
}

func newFaultState(fs []scenario.Fault) *faultState {
	return &faultState{faults: fs, started: make([]bool, len(fs)), until: make([]time.Duration, len(fs)), used: make([]bool, len(fs))}
}

// begin returns the faults that start at this step and marks them.
func (st *faultState) begin(elapsed time.Duration, km, lat, lon float64) []scenario.Fault {
	var out []scenario.Fault
	for i, f := range st.faults {
		if st.started[i] || elapsed < f.At || km < f.AtKm {
			continue
		}
		st.started[i] = true
		st.until[i] = elapsed + f.For
		st.marks = append(st.marks, FaultMark{At: elapsed, Kind: string(f.Kind), Lat: lat, Lon: lon})
		out = append(out, f)
	}
	return out
}

// active returns the fault of kind in force at elapsed, if any. A fault
// of no duration (a single spoofed fix) holds until consumed.
func (st *faultState) active(kind scenario.FaultKind, elapsed time.Duration) (scenario.Fault, bool) {
	for i, f := range st.faults {
		if f.Kind != kind || !st.started[i] {
			continue
		}
		if elapsed < st.until[i] || (f.For == 0 && !st.used[i]) {
			return f, true
		}
	}
	return scenario.Fault{}, false
}

// consume ends the faults of kind and no duration that have started: the
// GNSS message they spoof has gone out.
func (st *faultState) consume(kind scenario.FaultKind) {
	for i, f := range st.faults {
		if f.Kind == kind && f.For == 0 && st.started[i] {
			st.used[i] = true
		}
	}
}

// drag is the offset of a dragged track from the truth (metres north
// and east), which the fix carries while a scenario.GPSDrag is in force.
type drag struct {
	n, e  float64
	since time.Duration // drive time the drag in force began
	on    bool
	max   float64 // the farthest it got, over the drive
	// hdg and ratio are the dragged track's course (degrees from north)
	// and speed (times the vehicle's), which the receiver reports too.
	hdg, ratio float64
}

// step moves the dragged track on by a step of dt seconds of the vehicle
// at speed (m/s) on heading (degrees from north): the offset grows by
// the dragged track's move less the vehicle's. Without a drag in force
// the fix is back on the truth.
func (d *drag) step(f scenario.Fault, active bool, elapsed time.Duration, speed, heading, dt float64) {
	if !active {
		*d = drag{max: d.max}
		return
	}
	if !d.on {
		d.on, d.since = true, elapsed
	}
	const rad = math.Pi / 180
	d.hdg, d.ratio = math.Mod(math.Mod(heading+f.TurnDeg+f.TurnDps*(elapsed-d.since).Seconds(), 360)+360, 360), f.SpeedRatio
	turn := d.hdg * rad
	d.n += (f.SpeedRatio*math.Cos(turn) - math.Cos(heading*rad)) * speed * dt
	d.e += (f.SpeedRatio*math.Sin(turn) - math.Sin(heading*rad)) * speed * dt
	d.max = math.Max(d.max, math.Hypot(d.n, d.e))
}

// course sets the heading and the speed over ground the receiver reports
// while a drag is in force: the dragged track's.
func (d *drag) course(set func(role string, x float64), speed float64) {
	if d.on {
		set("position.heading", d.hdg)
		set("position.speed", d.ratio*speed*3.6)
	}
}

// dropRoles takes the roles a scenario's vehicle does not have out of
// its profile's signal map.
func dropRoles(p *config.Profile, roles []string) error {
	for _, r := range roles {
		if p.Signal(r) == nil {
			return fmt.Errorf("drop_roles: the profile %s maps no %s", p.Name, r)
		}
	}
	p.Mappings = slices.DeleteFunc(p.Mappings, func(m can.Mapping) bool { return slices.Contains(roles, m.Role) })
	return nil
}
