package gateway_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/gateway"
	"quietzone/uplink"
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

// A trip that starts near a zone withholds its first stretch, and holds
// it back, until the vehicle is beyond the trip-end distance.
func TestPrivacyTripStartNearZone(t *testing.T) {
	const tripEnd = 1000.0
	r := privacyRig(t, gateway.Privacy{TripEndM: tripEnd, Rand: seeded(2)}, func(d *gateway.Decision) { d.ClearFixes = 2 })
	r.driveX(-500, -2500, 50)
	snaps := r.snapsSince(0)
	released := false
	for _, s := range snaps {
		if !s.HavePosition {
			continue
		}
		margin := distOutside(xOf(s)) - 200 // from the buffer
		switch {
		case margin < tripEnd:
			if !s.Withhold || !held(s) {
				t.Fatalf("%.0f m from the buffer on a trip that started 300 m from it: withhold %v, hold %v", margin, s.Withhold, held(s))
			}
		case margin > tripEnd+30 && !s.Withhold && !held(s):
			released = true
		}
		if s.TripEnd {
			t.Fatal("a snapshot dropped held records while the trip goes on")
		}
	}
	if !released {
		t.Error("never released after moving 1.3 km beyond the trip-end distance")
	}
}

// A trip that ends near a zone drops its held last stretch; one that
// passes near a zone and moves on releases it. Parked near the zone,
// nothing leaves; the next trip starts withheld.
func TestPrivacyTripEnd(t *testing.T) {
	const tripEnd = 1000.0
	r := privacyRig(t, gateway.Privacy{TripEndM: tripEnd, Rand: seeded(3)}, func(d *gateway.Decision) { d.ClearFixes = 2 })
	r.driveX(-3500, -2500, 80)
	if s := r.tel.last(); s.Withhold || held(s) {
		t.Fatalf("far from the zone: withhold %v, hold %v", s.Withhold, held(s))
	}
	n := r.snapCount()
	r.driveX(-2500, -600, 80) // within 1 km of the buffer from x = -1204 on
	for _, s := range r.snapsSince(n) {
		if s.HavePosition && distOutside(xOf(s))-200 < tripEnd && !held(s) {
			t.Fatalf("%.0f m from the buffer, within the trip-end distance: not held", distOutside(xOf(s))-200)
		}
	}
	n = r.snapCount()
	r.ignition(false)
	snaps := r.snapsSince(n)
	if !slices.ContainsFunc(snaps, func(s uplink.Snapshot) bool { return s.TripEnd && held(s) }) {
		t.Fatal("ignition off 400 m from the buffer: held records not dropped")
	}
	n = r.snapCount()
	for i := 0; i < 10; i++ { // parked, ignition off
		r.clock.Advance(time.Second)
		r.drainBus()
	}
	for _, s := range r.snapsSince(n) {
		if !held(s) || !s.TripEnd {
			t.Fatalf("parked near the zone: hold %v, drop %v", held(s), s.TripEnd)
		}
	}

	// The next trip starts there: withheld and held until beyond 1 km.
	r.ignition(true)
	n = r.snapCount()
	r.driveX(-600, -3000, 80)
	moved := false
	for _, s := range r.snapsSince(n) {
		if s.TripEnd {
			t.Fatal("dropped during a trip")
		}
		d := distOutside(xOf(s)) - 200
		if d < tripEnd && (!s.Withhold || !held(s)) {
			t.Fatalf("new trip %.0f m from the buffer: withhold %v, hold %v", d, s.Withhold, held(s))
		}
		if d > tripEnd+50 && !held(s) && !s.Withhold {
			moved = true
		}
	}
	if !moved {
		t.Error("the new trip was never released")
	}
}

// Without a fix the gateway cannot know how near a zone it is: withhold
// and hold.
func TestPrivacyNoFixHolds(t *testing.T) {
	r := privacyRig(t, gateway.Privacy{TripEndM: 1000}, nil)
	r.clock.Advance(5 * time.Second)
	for _, s := range r.snapsSince(0) {
		if !s.Withhold || !held(s) || s.TripEnd {
			t.Fatalf("without a fix: withhold %v, hold %v, drop %v", s.Withhold, held(s), s.TripEnd)
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

// held: the snapshot lets nothing new leave (issue 14: ReleaseBefore
// replaced Hold).
func held(s uplink.Snapshot) bool { return s.ReleaseBefore.IsZero() }
