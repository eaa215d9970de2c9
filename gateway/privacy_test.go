package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/geofence"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// The test zone spans 1112 m along the meridian 10.0 from its southern
// edge (51.995); along drives measure x in metres north of that edge.
const zoneLengthM = 1112

func along(x float64) (lat, lon float64) { return 51.995 + x/111195, 10.0 }

// distOutside is how far x is from the zone along the meridian.
func distOutside(x float64) float64 {
	switch {
	case x < 0:
		return -x
	case x > zoneLengthM:
		return x - zoneLengthM
	}
	return 0
}

func xOf(s uplink.Snapshot) float64 { return (s.Lat - 51.995) * 111195 }

// seeded returns a Privacy source that repeats from run to run.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

func privacyRig(t *testing.T, p gateway.Privacy, mod func(*gateway.Decision)) *rig {
	return newRig(t, mustZones(t), mod, func(o *gateway.Options) { o.Privacy = p })
}

// snapsSince returns the snapshots taken since n were.
func (r *rig) snapsSince(n int) []uplink.Snapshot {
	r.tel.mu.Lock()
	defer r.tel.mu.Unlock()
	return slices.Clone(r.tel.snaps[n:])
}

func (r *rig) snapCount() int {
	r.tel.mu.Lock()
	defer r.tel.mu.Unlock()
	return len(r.tel.snaps)
}

// driveX drives along the meridian from x to x2 at kmh, a fix a second.
func (r *rig) driveX(from, to, kmh float64) {
	r.t.Helper()
	step := kmh / 3.6
	if to < from {
		step = -step
	}
	for x := from; (step > 0 && x <= to) || (step < 0 && x >= to); x += step {
		lat, lon := along(x)
		r.step(time.Second, lat, lon, kmh)
		r.drainBus()
	}
}

// drainBus reads the camera commands the gateway sends, as the cameras
// would, so that a long drive does not fill the bus.
func (r *rig) drainBus() {
	var f can.Frame
	for r.ecu.TryReadFrame(&f) {
	}
}

// ignition switches the ignition and lets a few snapshots pass.
func (r *rig) ignition(on bool) {
	r.send(map[string]float64{"vehicle.ignition": map[bool]float64{false: 0, true: 1}[on], "vehicle.speed": 0})
	for i := 0; i < 3; i++ {
		r.clock.Advance(time.Second)
		r.drainBus()
	}
}

// Each trip draws its own margin: over many trips past the zone, location
// is withheld from distances spread over the jitter, on the way in and on
// the way out, never within the buffer; and between the first withheld
// snapshot and the last, every one is withheld.
func TestPrivacyJitterVariesPerTrip(t *testing.T) {
	const jitter, buffer = 300.0, 200.0
	r := privacyRig(t, gateway.Privacy{JitterM: jitter, Rand: seeded(1)}, func(d *gateway.Decision) { d.ClearFixes = 3 })
	var entries, exits []float64
	for trip := 0; trip < 24; trip++ {
		from, to := -1500.0, zoneLengthM+1500.0
		if trip%2 == 1 {
			from, to = to, from
		}
		r.ignition(true)
		n := r.snapCount()
		r.driveX(from, to, 100)
		snaps := r.snapsSince(n)
		r.ignition(false)

		first, last := -1, -1
		for i, s := range snaps {
			if !s.HavePosition {
				continue
			}
			if !s.Withhold && distOutside(xOf(s)) <= buffer {
				t.Fatalf("trip %d: location not withheld %.0f m from the zone, within its buffer", trip, distOutside(xOf(s)))
			}
			if s.Withhold && distOutside(xOf(s)) < 900 {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first <= 0 || last < 0 || last == len(snaps)-1 {
			t.Fatalf("trip %d: withheld from snapshot %d to %d of %d", trip, first, last, len(snaps))
		}
		for i := first; i <= last; i++ {
			if !snaps[i].Withhold {
				t.Fatalf("trip %d: snapshot %d, %.0f m from the zone, not withheld within the stretch %d–%d", trip, i, distOutside(xOf(snaps[i])), first, last)
			}
		}
		entries = append(entries, distOutside(xOf(snaps[first-1])))
		exits = append(exits, distOutside(xOf(snaps[last+1])))
	}
	for name, d := range map[string][]float64{"entry": entries, "exit": exits} {
		lo, hi := slices.Min(d), slices.Max(d)
		t.Logf("%s distances over %d trips: %.0f–%.0f m", name, len(d), lo, hi)
		if hi-lo < jitter/2 {
			t.Errorf("%s distances %.0f–%.0f m: spread less than half the jitter; trips would trace the outline", name, lo, hi)
		}
		if hi > buffer+jitter+4+2*100/3.6+200 {
			t.Errorf("%s distance %.0f m: further out than the buffer, the jitter, the accuracy and the latch explain", name, hi)
		}
	}
}

// Every trip's start is withheld until the vehicle is D_start from its
// first fix, near a zone or far from every one; with no spread D_start is
// trip_end_m exactly.
func TestPrivacyTripStartWithheld(t *testing.T) {
	const tripEnd = 1000.0
	for _, tc := range []struct {
		name     string
		from, to float64 // x along the meridian
	}{
		{"near a zone", -500, -2500},
		{"far from every zone", -5000, -7000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := privacyRig(t, gateway.Privacy{TripEndM: tripEnd, Rand: seeded(2)}, func(d *gateway.Decision) { d.ClearFixes = 2 })
			r.driveX(tc.from, tc.to, 50)
			released := false
			for _, s := range r.snapsSince(0) {
				if !s.HavePosition {
					continue
				}
				moved := math.Abs(xOf(s) - tc.from)
				switch {
				case moved < tripEnd-20 && !s.Withhold:
					t.Fatalf("%.0f m from where the trip started: not withheld", moved)
				case moved > tripEnd+200 && distOutside(xOf(s)) > 500 && !s.Withhold:
					released = true
				}
			}
			if !released {
				t.Error("never released after moving 1.2 km beyond the trip-start distance")
			}
		})
	}
}

// ReleaseBefore trails the vehicle: a record may leave only once the
// vehicle is D_end (here trip_end_m) from where it was taken, and it
// keeps moving while the vehicle drives on.
func TestPrivacyReleaseTrails(t *testing.T) {
	const tripEnd = 800.0
	r := privacyRig(t, gateway.Privacy{TripEndM: tripEnd, Rand: seeded(3)}, func(d *gateway.Decision) { d.ClearFixes = 2 })
	r.driveX(-9000, -3000, 80)
	snaps := r.snapsSince(0)
	var prev time.Time
	advanced := 0
	for i, s := range snaps {
		if s.ReleaseBefore.Before(prev) {
			t.Fatalf("snapshot %d: ReleaseBefore moved back", i)
		}
		if s.ReleaseBefore.After(prev) {
			advanced++
		}
		prev = s.ReleaseBefore
		if !s.HavePosition {
			continue
		}
		for _, o := range snaps[:i] {
			if o.HavePosition && o.Time.Before(s.ReleaseBefore) {
				if d := math.Abs(xOf(s) - xOf(o)); d < tripEnd-1 {
					t.Fatalf("snapshot %d releases one taken %.0f m away, within %v m", i, d, tripEnd)
				}
			}
		}
		if s.ReleaseBefore.After(s.Time) {
			t.Fatalf("snapshot %d: ReleaseBefore after the snapshot itself", i)
		}
	}
	if advanced < len(snaps)/3 { // a trail entry every 25 m: every other second at 80 km/h
		t.Errorf("ReleaseBefore advanced %d times in %d snapshots", advanced, len(snaps))
	}
}

// A trip's end is a TripEnd snapshot, nothing dropped; parked, nothing of
// the position leaves; the next trip starts withheld.
func TestPrivacyTripEnd(t *testing.T) {
	const tripEnd = 1000.0
	r := privacyRig(t, gateway.Privacy{TripEndM: tripEnd, Rand: seeded(3)}, func(d *gateway.Decision) { d.ClearFixes = 2 })
	r.driveX(-6000, -4000, 80)
	if s := r.tel.last(); s.Withhold || s.ReleaseBefore.IsZero() {
		t.Fatalf("far from the zone, 2 km into the trip: withhold %v, release %v", s.Withhold, s.ReleaseBefore)
	}
	n := r.snapCount()
	r.ignition(false)
	snaps := r.snapsSince(n)
	ends := 0
	for _, s := range snaps {
		if s.TripEnd {
			ends++
			if !s.Withhold {
				t.Error("the trip's end not withheld")
			}
		}
	}
	if ends != 1 {
		t.Fatalf("ignition off: %d TripEnd snapshots, want 1", ends)
	}
	n = r.snapCount()
	for i := 0; i < 10; i++ { // parked, ignition off
		r.clock.Advance(time.Second)
		r.drainBus()
	}
	for _, s := range r.snapsSince(n) {
		if !s.Withhold || s.TripEnd {
			t.Fatalf("parked: withhold %v, trip end %v", s.Withhold, s.TripEnd)
		}
	}
	r.ignition(true)
	n = r.snapCount()
	r.driveX(-4000, -2000, 80)
	moved := false
	for _, s := range r.snapsSince(n) {
		d := math.Abs(xOf(s) + 4000)
		if s.HavePosition && d < tripEnd-30 && !s.Withhold {
			t.Fatalf("new trip %.0f m from its start: not withheld", d)
		}
		if d > tripEnd+50 && !s.Withhold {
			moved = true
		}
	}
	if !moved {
		t.Error("the new trip was never released")
	}
}

// Without a fix the gateway cannot know where it is: withheld, and
// ReleaseBefore does not move.
func TestPrivacyNoFixHolds(t *testing.T) {
	r := privacyRig(t, gateway.Privacy{TripEndM: 1000}, nil)
	r.clock.Advance(5 * time.Second)
	for _, s := range r.snapsSince(0) {
		if !s.Withhold || !s.ReleaseBefore.IsZero() {
			t.Fatalf("without a fix: withhold %v, release before %v", s.Withhold, s.ReleaseBefore)
		}
	}
	r.driveX(-9000, -8000, 50)
	n := r.snapCount()
	rel := r.tel.last().ReleaseBefore
	r.clock.Advance(5 * time.Second) // the fix goes stale
	for _, s := range r.snapsSince(n) {
		if !s.HavePosition && !s.ReleaseBefore.Equal(rel) {
			t.Fatalf("without a fix: release moved from %v to %v", rel, s.ReleaseBefore)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// If the random source fails, every zone gets the widest margin.
func TestPrivacyRandomFailureFailsClosed(t *testing.T) {
	r := privacyRig(t, gateway.Privacy{JitterM: 500, Rand: failingReader{}}, func(d *gateway.Decision) { d.ClearFixes = 1 })
	r.driveX(-1500, -650, 50) // 450 m beyond the buffer: within a 500 m margin
	if s := r.tel.last(); !s.Withhold {
		t.Errorf("450 m from the buffer with the widest margin of 500 m: not withheld")
	}
	if d := math.Abs(xOf(r.tel.last())); d > 700 {
		t.Fatalf("drove to %.0f m", d)
	}
}

// coveredZones is the test zone with one cover: a disc of coverR around a
// centre coverEast metres east of the zone's middle.
func coveredZones(t *testing.T, coverEast, coverR float64) *geofence.Index {
	t.Helper()
	lat, lon := along(zoneLengthM / 2)
	clat, clon := gateway.OffsetM(lat, lon, 0, coverEast)
	c, err := geofence.Circle(clat, clon, coverR)
	if err != nil {
		t.Fatal(err)
	}
	return mustZones(t).WithCovers(geofence.NewIndex([]geofence.Zone{c}))
}

// driveEast drives north along the meridian eastM metres east of the test
// zone's, from x to x2.
func (r *rig) driveEast(eastM, from, to, kmh float64) {
	r.t.Helper()
	for x := from; x <= to; x += kmh / 3.6 {
		lat, lon := along(x)
		lat, lon = gateway.OffsetM(lat, lon, 0, eastM)
		r.step(time.Second, lat, lon, kmh)
		r.drainBus()
	}
}

// Covers, not zones, decide withholding: inside the cover, however far
// from the zone, the position is withheld and the cameras record; outside
// it, next to the zone's buffer, it leaves (the cameras follow the zone).
func TestPrivacyCoversDecide(t *testing.T) {
	const coverEast, coverR = 1500.0, 2600.0 // reaches 1100 m west of the zone's meridian
	for _, tc := range []struct {
		name     string
		eastM    float64
		withheld bool
	}{
		{"in the cover, 2.5 km east of the zone", 2500, true},
		{"outside the cover, 1.6 km west of the zone", -1600, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, coveredZones(t, coverEast, coverR), func(d *gateway.Decision) { d.ClearFixes = 2 },
				func(o *gateway.Options) { o.Privacy = gateway.Privacy{Rand: seeded(4)} })
			r.driveEast(tc.eastM, 0, zoneLengthM, 50)
			n := 0
			for _, s := range r.snapsSince(0)[10:] {
				if !s.HavePosition {
					continue
				}
				n++
				if s.Withhold != tc.withheld {
					t.Fatalf("withhold %v, want %v", s.Withhold, tc.withheld)
				}
			}
			if n == 0 {
				t.Fatal("no snapshot with a position")
			}
			if st := r.state(); st.Suppressed() {
				t.Errorf("state %v: the cameras must follow the zone, not the cover", st)
			}
		})
	}
}

// Where trips end twice, the vehicle makes an end cover: the next trip
// from there is withheld until it leaves the cover, well beyond D_start.
func TestPrivacyEndCover(t *testing.T) {
	const tripEnd, offset = 100.0, 500.0
	r := privacyRig(t, gateway.Privacy{TripEndM: tripEnd, EndCoverOffsetM: offset, Rand: seeded(5)}, func(d *gateway.Decision) { d.ClearFixes = 2 })
	for trip := 0; trip < 2; trip++ {
		r.driveX(-9000, -7000, 80)
		r.ignition(false)
		r.ignition(true)
	}
	// The end cover's radius: offset + cluster + trip ends; its centre
	// within offset of -7000: withheld at least to -7000-(1000+100).
	n := r.snapCount()
	r.driveX(-7000, -13000, 80)
	lastWithheld := 0.0
	for _, s := range r.snapsSince(n) {
		if s.HavePosition && s.Withhold {
			lastWithheld = math.Max(lastWithheld, math.Abs(xOf(s)+7000))
		}
	}
	if lastWithheld < 1000+tripEnd {
		t.Errorf("withheld only to %.0f m from where two trips ended: no end cover", lastWithheld)
	}
	if lastWithheld > offset*2+1000+tripEnd+200 {
		t.Errorf("withheld to %.0f m: farther than an end cover reaches", lastWithheld)
	}
	t.Logf("withheld to %.0f m from the trips' end", lastWithheld)
}

// A clock stepped back mid-trip: the gateway takes no snapshot until the
// clock is past the last one again, and then none is released before
// ReleaseBefore is past it: no record taken after the step leaves by a
// time stamped before ones still waiting; the trip's end stays hidden.
func TestPrivacyClockStepBack(t *testing.T) {
	const tripEnd = 1000.0
	r := privacyRig(t, gateway.Privacy{TripEndM: tripEnd, Rand: seeded(6)}, func(d *gateway.Decision) { d.ClearFixes = 2 })
	r.driveX(-30000, -27000, 80)
	before := r.tel.last()
	n := r.snapCount()
	r.clock.Step(-20 * time.Minute)
	r.driveX(-27000, -20000, 20) // 21 minutes
	for _, s := range r.snapsSince(n) {
		if s.ReleaseBefore.After(s.Time) {
			t.Fatalf("after the step: ReleaseBefore %v after the snapshot's time %v", s.ReleaseBefore, s.Time)
		}
		if s.Time.Before(before.Time) && !s.ReleaseBefore.After(before.ReleaseBefore) && s.ReleaseBefore.After(s.Time) {
			t.Fatal("a record stamped before the step's last one released by distance")
		}
	}
	if r.snapCount() == n {
		t.Fatal("no snapshot after the clock caught up")
	}
}

// End covers outlive a restart: saved in the (sealed) state file, a new
// gateway withholds a trip from that place as the old one would have.
func TestPrivacyEndCoverRestored(t *testing.T) {
	const tripEnd, offset = 100.0, 500.0
	state := filepath.Join(t.TempDir(), config.StateFileName)
	sf, err := daemon.NewSealedStateFile(state, bytes.Repeat([]byte{1}, atrest.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	priv := gateway.Privacy{TripEndM: tripEnd, EndCoverOffsetM: offset, Rand: seeded(7)}
	withState := func(o *gateway.Options) { o.Privacy, o.Enforcement.State = priv, sf }
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 2 }, withState)
	for range 2 {
		r.driveX(-9000, -7000, 80)
		r.ignition(false)
		r.ignition(true)
	}
	if err := r.shutdown(); err != nil {
		t.Fatal(err)
	}
	saved, err := sf.Load()
	if err != nil || saved.Ends == nil || len(saved.Ends.Covers) != 1 {
		t.Fatalf("saved ends %+v, %v; want one end cover", saved.Ends, err)
	}
	r2 := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 2 }, withState)
	r2.driveX(-7000, -10000, 80)
	lastWithheld := 0.0
	for _, s := range r2.snapsSince(0) {
		if s.HavePosition && s.Withhold {
			lastWithheld = math.Max(lastWithheld, math.Abs(xOf(s)+7000))
		}
	}
	if lastWithheld < 1000+tripEnd {
		t.Errorf("after the restart withheld only to %.0f m from where trips ended: the end cover was lost", lastWithheld)
	}
}

// A bundle that brings covers switches withholding to them between two
// snapshots, the cameras still on the zones.
func TestPrivacyCoversSwitched(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 2 },
		func(o *gateway.Options) { o.Privacy = gateway.Privacy{Rand: seeded(8)} })
	r.driveEast(2500, 0, 300, 50)
	if s := r.tel.last(); s.Withhold {
		t.Fatal("2.5 km east of the zone without covers: withheld")
	}
	if err := r.gw.SetZones(context.Background(), coveredZones(t, 1500, 2600)); err != nil {
		t.Fatal(err)
	}
	n := r.snapCount()
	r.driveEast(2500, 300, 600, 50)
	for _, s := range r.snapsSince(n) {
		if s.HavePosition && !s.Withhold {
			t.Fatal("in the cover the new zone list brought: not withheld")
		}
	}
	if st := r.state(); st.Suppressed() {
		t.Errorf("state %v: the cameras follow the zone", st)
	}
}

// A trip that ends in a cover: what waited when the vehicle went into the
// cover stays waiting (and leaves without position at the end), so the
// last published points lie D_end from where it went in, on the cover's
// edge, not D_end from where it stopped, inside it: over many visits,
// rings around the stops would find the place. And a trip that starts in
// a cover is released as it leaves it, not at a D_start ring around its
// start.
func TestPrivacyTrailHeldInCover(t *testing.T) {
	const tripEnd, coverR = 800.0, 2600.0
	entry := zoneLengthM/2 - coverR // where the drive north goes into the cover
	r := newRig(t, coveredZones(t, 0, coverR), func(d *gateway.Decision) { d.ClearFixes = 2 },
		func(o *gateway.Options) { o.Privacy = gateway.Privacy{TripEndM: tripEnd, Rand: seeded(5)} })
	r.driveX(-9000, zoneLengthM/2, 50)
	snaps := r.snapsSince(0)
	release := snaps[len(snaps)-1].ReleaseBefore
	for _, s := range snaps {
		if s.HavePosition && !s.Withhold && s.Time.Before(release) && xOf(s) > entry-tripEnd+trailSlackM {
			t.Fatalf("released a position %.0f m before the cover, within D_end (%v m) of where the vehicle went in", entry-xOf(s), tripEnd)
		}
	}
	r.ignition(false)
	r.ignition(true)
	n := r.snapCount()
	r.driveX(zoneLengthM/2, zoneLengthM/2+coverR+400, 50)
	released := false
	for _, s := range r.snapsSince(n) {
		if s.HavePosition && !s.Withhold {
			released = true
			if d := xOf(s) - zoneLengthM/2; d > coverR+tripEnd/2 {
				t.Fatalf("first released %.0f m from the start: a D_start ring, not the cover's edge", d)
			}
			break
		}
	}
	if !released {
		t.Error("never released after leaving the cover")
	}
}

// trailSlackM: a trail entry spans up to 25 m, and the released edge may
// lie that much and a fix's step nearer.
const trailSlackM = 40

// TestPowerHold: the unit is held powered while the ignition is on and,
// once it goes off, for a random linger below EndLinger, drawn each
// trip, so that "offline" does not say when the trip ended; without a
// linger it may go at once; a unit that starts parked holds StartHold.
func TestPowerHold(t *testing.T) {
	const linger = 10 * time.Minute
	for _, tc := range []struct {
		name   string
		linger time.Duration
	}{{"linger", linger}, {"none", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			r := privacyRig(t, gateway.Privacy{TripEndM: 1000, EndLinger: tc.linger, Rand: seeded(5)}, nil)
			if !r.gw.PowerHold() {
				t.Fatal("not held at the start")
			}
			var drawn []time.Duration
			for trip := 0; trip < 6; trip++ {
				r.ignition(true)
				r.driveX(-6000, -5000, 60)
				if !r.gw.PowerHold() {
					t.Fatal("not held while driving")
				}
				r.send(map[string]float64{"vehicle.ignition": 0, "vehicle.speed": 0})
				held := time.Duration(0)
				for r.gw.PowerHold() && held <= linger+time.Minute {
					r.clock.Advance(time.Second)
					r.drainBus()
					held += time.Second
				}
				// The first second after the ignition went off is how long
				// the snapshot that sees it takes.
				if held > tc.linger+2*time.Second {
					t.Fatalf("trip %d: held %v after the ignition went off, linger below %v", trip, held, tc.linger)
				}
				drawn = append(drawn, held)
			}
			if tc.linger > 0 {
				slices.Sort(drawn)
				if drawn[len(drawn)-1]-drawn[0] < time.Minute {
					t.Errorf("lingers %v: the same every trip", drawn)
				}
			}
		})
	}
}
