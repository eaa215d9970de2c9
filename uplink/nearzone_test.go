package uplink_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"quietzone/uplink"
)

// putTimes is a MemQueue that notes the snapshot time of every Put.
type putTimes struct {
	*uplink.MemQueue
	now   time.Time
	times []time.Time
}

func (p *putTimes) Put(b uplink.Batch) error {
	p.times = append(p.times, p.now)
	return p.MemQueue.Put(b)
}

// records decodes every batch in q, acknowledging them.
func records(t *testing.T, q *uplink.MemQueue) []uplink.Record {
	t.Helper()
	var out []uplink.Record
	for _, b := range drain(t, q) {
		recs, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

// For random stretches of withholding, what leaves shows nothing finer
// than the time quantum: in every quantum that held a withheld snapshot
// there is at most one record, stamped with the quantum's start, with no
// position and nothing but vehicle data; batches are queued only at
// quantum boundaries, so publish times tell no more. Quanta without
// withholding keep every record, exactly.
func TestUplinkCoarsensWithheldQuanta(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	const quantum = 30
	for trial := 0; trial < 50; trial++ {
		p := demoPolicy()
		p.Batch = uplink.BatchRule{MaxRecords: 1 + rng.IntN(40), MaxAge: quantum * time.Second}
		q := &putTimes{MemQueue: uplink.NewMemQueue()}
		u, err := uplink.New(p, q, 1)
		if err != nil {
			t.Fatal(err)
		}
		n := 300 + rng.IntN(300)
		from := rng.IntN(n)
		to := from + 1 + rng.IntN(100)
		snaps := drive(n, from, to)
		withheldQ := map[int64]bool{}
		for i, s := range snaps {
			if s.Withhold {
				withheldQ[int64(i)/quantum] = true
			}
			q.now = s.Time
			if err := u.Offer(s); err != nil {
				t.Fatal(err)
			}
		}
		for _, pt := range q.times {
			if sec := pt.Sub(t0) / time.Second; sec%quantum != 0 {
				t.Fatalf("trial %d: a batch was queued at second %d, inside a quantum", trial, sec)
			}
		}
		if err := u.Flush(snaps[n-1].Time); err != nil {
			t.Fatal(err)
		}
		// The withheld stretch is one merged record, stamped with its last
		// quantum's start, without position or motion: nothing in it says
		// how long it was beyond its ends, or how the vehicle moved.
		firstQ, lastQ := int64(from)/quantum, int64(min(to, n)-1)/quantum
		var merged []uplink.Record
		precise := 0
		for _, r := range records(t, q.MemQueue) {
			qi := (r.Time - t0.Unix()) / quantum
			if qi < firstQ || qi > lastQ {
				precise++
				continue
			}
			merged = append(merged, r)
		}
		if len(merged) != 1 {
			t.Fatalf("trial %d (withheld %d–%d): %d records in the stretch, want one merged: %+v", trial, from, to, len(merged), merged)
		}
		if r := merged[0]; r.Time != t0.Unix()+lastQ*quantum || r.Pos != nil || len(r.Signals) != 1 || r.Signals["vehicle.ignition"] != 1 {
			t.Fatalf("trial %d (withheld %d–%d): merged record %+v, want at second %d the ignition alone", trial, from, to, r, lastQ*quantum)
		}
		wantPrecise := 0
		for i := 0; i < n; i++ {
			if qi := int64(i) / quantum; qi < firstQ || qi > lastQ {
				wantPrecise++
			}
		}
		if precise != wantPrecise {
			t.Fatalf("trial %d: %d records outside withheld quanta, want %d", trial, precise, wantPrecise)
		}
	}
}

// Alarms ride in the cadence's telemetry slots, numbered in the same
// sequence, stamped with the start of their alarm quantum; they wait
// until it is over AND the telemetry of its time may leave
// (ReleaseBefore), or the trip ended: an alarm never leaves while the
// records around it are held. Before issue 14 they went on their own
// topic at the end of their time quantum, held or not.
func TestUplinkAlarm(t *testing.T) {
	for _, tc := range []struct {
		name      string
		holdFrom  int  // ReleaseBefore is zero from this snapshot on
		tripEnd   bool // the last snapshot ends the trip
		wantAfter int  // alarms released before Flush
	}{
		{"released with the telemetry", 1000, false, 2},
		{"held with the telemetry", 70, false, 1},
		{"held, then a trip end", 70, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := uplink.NewMemQueue()
			p := demoPolicy()
			p.Cadence.AlarmQuantum = time.Minute
			u, err := uplink.New(p, q, 1)
			if err != nil {
				t.Fatal(err)
			}
			snaps := drive(200, 0, 0)
			for i, s := range snaps {
				if i >= tc.holdFrom {
					s.ReleaseBefore = time.Time{}
				}
				s.TripEnd = tc.tripEnd && i == len(snaps)-1
				if err := u.Offer(s); err != nil {
					t.Fatal(err)
				}
				if i == 37 || i == 75 {
					if err := u.Alarm(uplink.Alarm{Time: s.Time, Type: "camera.disobeyed", Values: map[string]float64{"camera.index": 1}}); err != nil {
						t.Fatal(err)
					}
				}
				if i == 59 && u.Stats().Alarms != 0 {
					t.Errorf("the alarm of second 37 was released before its alarm quantum ended")
				}
			}
			if got := u.Stats().Alarms; got != uint64(tc.wantAfter) {
				t.Errorf("%d alarms released before Flush, want %d", got, tc.wantAfter)
			}
			u.Flush(t0.Add(200 * time.Second))
			var seq uint64 = 1
			var alarms []uplink.Record
			for _, b := range drain(t, q) {
				recs, err := uplink.DecodeBatch(b.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if b.FirstSeq != seq || b.Kind != uplink.KindTelemetry {
					t.Fatalf("batch %d (%v) starts at seq %d, want %d", b.ID, b.Kind, b.FirstSeq, seq)
				}
				seq = b.LastSeq + 1
				for _, r := range recs {
					if r.Alarm != "" {
						alarms = append(alarms, r)
					}
				}
			}
			if len(alarms) != 2 || alarms[0].Time != t0.Unix() || alarms[1].Time != t0.Unix()+60 ||
				alarms[0].Alarm != "camera.disobeyed" || alarms[0].Signals["camera.index"] != 1 || alarms[0].Pos != nil {
				t.Errorf("alarms %+v: want two, at seconds 0 and 60", alarms)
			}
		})
	}
}

func TestUplinkAlarmRefusesBadInput(t *testing.T) {
	u, err := uplink.New(demoPolicy(), uplink.NewMemQueue(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []uplink.Alarm{
		{Type: ""},
		{Type: "Camera Disobeyed"},
		{Type: "camera..x"},
		{Type: strings.Repeat("a", 65)},
		{Type: "x", Values: map[string]float64{"position.latitude": 52}},
		{Type: "x", Values: map[string]float64{"vehicle.odometer": 1}},
		{Type: "x", Values: map[string]float64{"phone.contact.index": 1}},
		{Type: "x", Values: map[string]float64{"Zone A": 1}},
		{Type: "x", Values: map[string]float64{"n": nan()}},
	} {
		if err := u.Alarm(a); err == nil {
			t.Errorf("alarm %+v accepted", a)
		}
	}
}

func nan() float64 { var z float64; return z / z }

// Records wait for ReleaseBefore; released, they all leave in order,
// whole; what still waits at a trip end (TripEnd, or Flush at shutdown)
// leaves as ONE record without position or motion, and nothing is
// dropped. Before issue 14 a trip end near a zone dropped them (Hold,
// Drop), which the trip's records then showed as a cut.
func TestUplinkReleaseBeforeAndTripEnd(t *testing.T) {
	for _, tc := range []struct {
		name       string
		end        func(u *uplink.Uplink, at time.Time) error
		wantWhole  int // records that leave as they were
		wantMerged int
	}{
		{"released when the gateway moves ReleaseBefore on", func(u *uplink.Uplink, at time.Time) error {
			return u.Offer(uplink.Snapshot{Time: at, ReleaseBefore: at})
		}, 120, 0},
		{"merged at a trip end", func(u *uplink.Uplink, at time.Time) error {
			return u.Offer(uplink.Snapshot{Time: at, TripEnd: true})
		}, 60, 1},
		{"merged at shutdown while waiting", func(u *uplink.Uplink, at time.Time) error {
			return u.Flush(at)
		}, 60, 1},
		{"released in part, the rest merged at a trip end", func(u *uplink.Uplink, at time.Time) error {
			if err := u.Offer(uplink.Snapshot{Time: at.Add(-time.Second), ReleaseBefore: t0.Add(90 * time.Second)}); err != nil {
				return err
			}
			return u.Offer(uplink.Snapshot{Time: at, ReleaseBefore: at, TripEnd: true})
		}, 90, 1},
		// The gateway moves ReleaseBefore to the end on the end's own
		// snapshot (all after it is parked); that must not let what
		// waits out with its positions first.
		{"a trip end's own ReleaseBefore releases nothing", func(u *uplink.Uplink, at time.Time) error {
			return u.Offer(uplink.Snapshot{Time: at, ReleaseBefore: at, TripEnd: true})
		}, 60, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := uplink.NewMemQueue()
			u, err := uplink.New(demoPolicy(), q, 7)
			if err != nil {
				t.Fatal(err)
			}
			snaps := drive(120, 0, 0)
			for i := range snaps {
				if i >= 60 { // the gateway stops releasing: the vehicle may be near where the trip ends
					snaps[i].ReleaseBefore = time.Time{}
				}
			}
			for _, s := range snaps {
				if err := u.Offer(s); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.end(u, t0.Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := u.Flush(t0.Add(11 * time.Minute)); err != nil {
				t.Fatal(err)
			}
			recs := records(t, q)
			if len(recs) != tc.wantWhole+tc.wantMerged {
				t.Fatalf("%d records, want %d whole and %d merged", len(recs), tc.wantWhole, tc.wantMerged)
			}
			for i, r := range recs {
				if r.Seq != 7+uint64(i) {
					t.Fatalf("record %d: seq %d", i, r.Seq)
				}
				if i < tc.wantWhole {
					if r.Time != t0.Unix()+int64(i) {
						t.Fatalf("record %d at second %d", i, r.Time-t0.Unix())
					}
					continue
				}
				if r.Pos != nil || len(r.Signals) != 1 || r.Signals["vehicle.ignition"] != 1 || r.Time%30 != 0 {
					t.Errorf("merged record %+v: want the ignition alone, at a quantum's start", r)
				}
			}
			st := u.Stats()
			if st.Records != uint64(len(recs)) || st.Merged != uint64(tc.wantMerged) || st.Coarsened != uint64(120-tc.wantWhole) {
				t.Errorf("Stats: %d records, %d merged of %d coarsened", st.Records, st.Merged, st.Coarsened)
			}
		})
	}
}

// Waiting is bounded: past maxWaitingRecords the oldest waiting quanta
// are merged (counted in Overflowed), never dropped, and never leave
// with a position.
func TestUplinkWaitingLimit(t *testing.T) {
	q := uplink.NewMemQueue()
	u, err := uplink.New(demoPolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 7200 + 600
	for _, s := range drive(n, 0, 0) {
		s.ReleaseBefore = time.Time{}
		s.Samples = s.Samples[1:2] // the ignition only: one small record each
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	if st := u.Stats(); st.Overflowed < 600 || st.Overflowed > 600+30 {
		t.Errorf("Overflowed %d after %d records waited, want the 600 over the limit (to a quantum)", st.Overflowed, n)
	}
	at := t0.Add(n * time.Second)
	u.Offer(uplink.Snapshot{Time: at, ReleaseBefore: at})
	u.Flush(at)
	recs := records(t, q)
	if len(recs) < 7200-30 || recs[0].Pos != nil || recs[len(recs)-1].Time != t0.Unix()+n-1 {
		t.Errorf("%d records released, the first %+v, the last at second %d", len(recs), recs[0], recs[len(recs)-1].Time-t0.Unix())
	}
}
