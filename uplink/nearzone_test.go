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
		perQ := map[int64]int{}
		precise := 0
		for _, r := range records(t, q.MemQueue) {
			sec := r.Time - t0.Unix()
			qi := sec / quantum
			if !withheldQ[qi] {
				precise++
				continue
			}
			perQ[qi]++
			if sec%quantum != 0 || r.Pos != nil {
				t.Fatalf("trial %d (withheld %d–%d): record at second %d, position %v, in a withheld quantum", trial, from, to, sec, r.Pos)
			}
			for role := range r.Signals {
				if role != "vehicle.speed" && role != "vehicle.ignition" && role != "vehicle.gear" {
					t.Fatalf("trial %d: merged record has %s, which is not vehicle data", trial, role)
				}
			}
		}
		for qi := range withheldQ {
			if perQ[qi] != 1 {
				t.Fatalf("trial %d: %d records for withheld quantum %d, want one", trial, perQ[qi], qi)
			}
		}
		wantPrecise := 0
		for i := 0; i < n; i++ {
			if !withheldQ[int64(i)/quantum] {
				wantPrecise++
			}
		}
		if precise != wantPrecise {
			t.Fatalf("trial %d: %d records outside withheld quanta, want %d", trial, precise, wantPrecise)
		}
	}
}

// Held records wait; released, they all leave in order; dropped, none
// does, and the sequence numbers show no gap.
func TestUplinkHoldBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		end      func(u *uplink.Uplink, at time.Time) error
		wantRecs int
		dropped  uint64
	}{
		{"released when the vehicle moves on", func(u *uplink.Uplink, at time.Time) error {
			return u.Offer(uplink.Snapshot{Time: at}) // no Hold: release
		}, 120, 0},
		{"dropped at a trip end near a zone", func(u *uplink.Uplink, at time.Time) error {
			return u.Offer(uplink.Snapshot{Time: at, Hold: true, Drop: true})
		}, 60, 60},
		{"dropped at shutdown while held", func(u *uplink.Uplink, at time.Time) error {
			return u.Flush(at)
		}, 60, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := uplink.NewMemQueue()
			u, err := uplink.New(demoPolicy(), q, 7)
			if err != nil {
				t.Fatal(err)
			}
			snaps := drive(120, 0, 0)
			for i := range snaps {
				snaps[i].Hold = i >= 60 // the last two quanta
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
			if len(recs) != tc.wantRecs {
				t.Fatalf("%d records, want %d", len(recs), tc.wantRecs)
			}
			for i, r := range recs {
				if r.Seq != 7+uint64(i) || r.Time != t0.Unix()+int64(i) {
					t.Fatalf("record %d: seq %d at second %d", i, r.Seq, r.Time-t0.Unix())
				}
			}
			if st := u.Stats(); st.HeldDropped != tc.dropped || st.Records != uint64(tc.wantRecs) {
				t.Errorf("Stats: %d held dropped, %d records; want %d, %d", st.HeldDropped, st.Records, tc.dropped, tc.wantRecs)
			}
		})
	}
}

// While records are held, nothing after them leaves either (order), and
// quanta that ended during the hold are not queued.
func TestUplinkHoldBlocksLaterQuanta(t *testing.T) {
	q := uplink.NewMemQueue()
	u, err := uplink.New(demoPolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range drive(200, 0, 0) {
		s.Hold = i >= 40
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(records(t, q)); got != 30 {
		t.Errorf("%d records left while the quantum of second 40 on is held, want the first quantum's 30", got)
	}
}

// Holding is bounded: past maxHeldRecords the oldest held records go,
// counted.
func TestUplinkHoldLimit(t *testing.T) {
	q := uplink.NewMemQueue()
	p := demoPolicy()
	u, err := uplink.New(p, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 7200 + 600
	for _, s := range drive(n, 0, 0) {
		s.Hold = true
		s.Samples = s.Samples[1:2] // the ignition only: one small record each
		s.HavePosition = false
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	if st := u.Stats(); st.HeldDropped < 600 || st.HeldDropped > 600+30 {
		t.Errorf("HeldDropped %d after holding %d records, want the 600 over the limit (to a quantum)", st.HeldDropped, n)
	}
	u.Offer(uplink.Snapshot{Time: t0.Add(n * time.Second)})
	u.Flush(t0.Add(n * time.Second))
	recs := records(t, q)
	if len(recs) < 7200-30 || recs[len(recs)-1].Time != t0.Unix()+n-1 {
		t.Errorf("%d records released, the last at second %d", len(recs), recs[len(recs)-1].Time-t0.Unix())
	}
}

// Alarms go on their own topic kind, with a coarse time, after their
// quantum ends, numbered in the same sequence as telemetry and queued in
// sequence order; they are not held back with telemetry.
func TestUplinkAlarm(t *testing.T) {
	q := uplink.NewMemQueue()
	u, err := uplink.New(demoPolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	snaps := drive(100, 0, 0)
	for i, s := range snaps {
		s.Hold = i >= 70
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
		if i == 37 || i == 75 {
			if err := u.Alarm(uplink.Alarm{Time: s.Time, Type: "camera.disobeyed", Values: map[string]float64{"camera.index": 1}}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 59 && q.Len() != 1 { // the first quantum's batch and nothing else
			t.Errorf("the alarm of second 37 was queued before its quantum ended: %d batches", q.Len())
		}
	}
	u.Offer(uplink.Snapshot{Time: t0.Add(100 * time.Second)})
	u.Flush(t0.Add(100 * time.Second))
	var seq uint64 = 1
	var alarms []uplink.Record
	for _, b := range drain(t, q) {
		recs, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if b.FirstSeq != seq {
			t.Fatalf("batch %d starts at seq %d, want %d: the queue is not in sequence order", b.ID, b.FirstSeq, seq)
		}
		seq = b.LastSeq + 1
		if b.Kind == uplink.KindAlarm {
			if len(recs) != 1 {
				t.Fatalf("alarm batch of %d records", len(recs))
			}
			alarms = append(alarms, recs[0])
		} else {
			for _, r := range recs {
				if r.Alarm != "" {
					t.Errorf("alarm %q in a telemetry batch", r.Alarm)
				}
			}
		}
	}
	if len(alarms) != 2 || alarms[0].Time != t0.Unix()+30 || alarms[1].Time != t0.Unix()+60 ||
		alarms[0].Alarm != "camera.disobeyed" || alarms[0].Signals["camera.index"] != 1 || alarms[0].Pos != nil {
		t.Errorf("alarms %+v: want two at seconds 30 and 60", alarms)
	}
	if st := u.Stats(); st.Alarms != 2 {
		t.Errorf("Stats.Alarms %d", st.Alarms)
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
