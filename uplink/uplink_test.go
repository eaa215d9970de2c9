package uplink_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"quietzone/uplink"
)

// drive returns the snapshots of n seconds of a drive like the demo's, one
// a second: position, speed, ignition, gear, heading, the odometer and
// phone data, withheld from second withholdFrom to withholdTo.
func drive(n int, withholdFrom, withholdTo int) []uplink.Snapshot {
	var out []uplink.Snapshot
	for i := 0; i < n; i++ {
		f := float64(i)
		out = append(out, uplink.Snapshot{
			Time:          t0.Add(time.Duration(i) * time.Second),
			ReleaseBefore: t0.Add(time.Duration(i+1) * time.Second), // the gateway lets everything go: far from covers
			Withhold:      i >= withholdFrom && i < withholdTo,
			HavePosition:  true,
			Lat:           52 + f*1e-4,
			Lon:           10 + f*2e-4,
			Samples: []uplink.Sample{
				{Role: "vehicle.speed", Value: 60 + 20*math.Sin(f/40), Class: uplink.ClassVehicle},
				{Role: "vehicle.ignition", Value: 1, Class: uplink.ClassVehicle},
				{Role: "vehicle.gear", Value: float64(1 + i/50%5), Class: uplink.ClassVehicle},
				{Role: "position.heading", Value: math.Mod(90+f, 360), Class: uplink.ClassLocation},
				{Role: "vehicle.odometer", Value: 12000 + f/60, Class: uplink.ClassLocation},
				{Role: "phone.contact.name", Value: 7, Class: uplink.ClassPersonal},
			},
		})
	}
	return out
}

// drain takes every batch out of q, acknowledging each.
func drain(t *testing.T, q *uplink.MemQueue) []uplink.Batch {
	t.Helper()
	var out []uplink.Batch
	for q.Len() > 0 {
		b := next(t, q)
		if err := q.Ack(b.ID); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestUplinkEndToEnd runs 200 s of driving, withheld from second 50 to 79,
// through the demo policy (30 s time quantum, 30 s cadence) and checks
// every record and every payload.
func TestUplinkEndToEnd(t *testing.T) {
	q := uplink.NewMemQueue()
	u, err := uplink.New(demoPolicy(), q, 1000)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for _, s := range drive(n, 50, 80) {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Flush(t0.Add(n * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := u.Flush(t0.Add(n * time.Second)); err != nil {
		t.Fatal(err)
	}
	batches := drain(t, q)

	var recs []uplink.Record
	var raw, compressed uint64
	wantSeq := uint64(1000)
	for i, b := range batches {
		got, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if len(b.Payload) != uplink.DefaultPayloadBytes || !uplink.Padded(b.Payload) {
			t.Errorf("batch %d: payload of %d bytes, want %d, padded", i, len(b.Payload), uplink.DefaultPayloadBytes)
		}
		if b.Kind != uplink.KindTelemetry || b.Records != len(got) || b.FirstSeq != got[0].Seq || b.LastSeq != got[len(got)-1].Seq {
			t.Errorf("batch %d says %v, %d records %d–%d, holds %d %d–%d", i, b.Kind, b.Records, b.FirstSeq, b.LastSeq, len(got), got[0].Seq, got[len(got)-1].Seq)
		}
		for _, r := range got {
			if r.Seq != wantSeq {
				t.Fatalf("record seq %d, want %d: not consecutive", r.Seq, wantSeq)
			}
			wantSeq++
		}
		recs = append(recs, got...)
		raw += uint64(b.RawBytes)
		compressed += uint64(len(b.Payload))
	}
	// Withheld 50–79: the quanta [30,60) and [60,90) are one stretch, one
	// record stamped with the last quantum's start.
	var wantTimes []int64
	for s := int64(0); s < n; s++ {
		if s < 30 || s >= 90 || s == 60 {
			wantTimes = append(wantTimes, s)
		}
	}
	if len(recs) != len(wantTimes) {
		t.Fatalf("%d records, want %d", len(recs), len(wantTimes))
	}

	var positions, gears int
	for i, r := range recs {
		sec := r.Time - t0.Unix()
		if sec != wantTimes[i] {
			t.Errorf("record %d: second %d, want %d", i, sec, wantTimes[i])
		}
		merged := sec >= 30 && sec < 90
		for role := range r.Signals {
			if role != "vehicle.speed" && role != "vehicle.ignition" && role != "vehicle.gear" {
				t.Errorf("record %d (second %d) has %s, which is not vehicle data", i, sec, role)
			}
		}
		if merged && (len(r.Signals) != 1 || r.Signals["vehicle.ignition"] != 1) {
			t.Errorf("merged record %d: %v, want the ignition alone: no motion", i, r.Signals)
		}
		if _, ok := r.Signals["vehicle.gear"]; ok && !merged {
			gears++
		}
		if r.Pos != nil {
			positions++
			if merged {
				t.Errorf("merged record %d has position %v", i, r.Pos)
			}
		}
	}
	// Position at 0.2 Hz: seconds 0, 5, …, 25, then 90, 95, …, 195. Those
	// of 30–45 and 80–85 were in merged quanta.
	if positions != 6+22 {
		t.Errorf("%d positions sent, want 28", positions)
	}
	// The gear is motion: none in the first minute after the run's first
	// position (0–29 s) nor in the minute after the stretch (90–149 s).
	if gears != 22-12 {
		t.Errorf("the gear sent %d times, want 10 (0.2 Hz, none within a minute after a stretch)", gears)
	}

	st := u.Stats()
	want := uplink.Stats{
		Snapshots:         n,
		Records:           uint64(len(wantTimes)),
		PositionsSent:     28,
		PositionsWithheld: 30 + 6,
		SignalsDenied:     3 * n,
		ForbiddenDenied:   n,
		Coarsened:         60,
		Merged:            1,
		// Motion values left out within a minute after a position follows
		// the run's start or a stretch: speed and gear of 0–49 s (30–49 s
		// then merged) and of 90–149 s.
		EdgeMotion:      50 + 10 + 60 + 12,
		Batches:         uint64(len(batches)),
		RawBytes:        raw,
		CompressedBytes: compressed,
	}
	// Heading, odometer and phone data are denied in every snapshot, near
	// zones or not: they are not vehicle data. The position is withheld in
	// each of the 30 withheld snapshots and stripped from the six records
	// at 0.2 Hz that fell in merged quanta.
	if st != want {
		t.Errorf("Stats =\n%+v\nwant\n%+v", st, want)
	}
}

// The cadence: batches are queued only at slot times (the phase plus a
// multiple of the slot), at most one a slot while the records fit, each
// of exactly the payload size; records released together (a long hold
// let go, a trip end) leave over the following slots, never at once.
// Before issue 14 a batch closed whenever it was full or old.
func TestUplinkCadence(t *testing.T) {
	for _, tc := range []struct {
		name         string
		every        time.Duration
		phase        time.Duration
		size         int
		holdUntil    int // ReleaseBefore stays zero until this second
		maxPerSlot   int
		wantBacklogs bool // some slots must carry a backlog
	}{
		{"steady", 30 * time.Second, 0, 0, 0, 1, false},
		{"phase 17 s", 30 * time.Second, 17 * time.Second, 0, 0, 1, false},
		{"10 s slots, 256 B", 10 * time.Second, 3 * time.Second, 256, 0, 1, false},
		{"a hold of 400 s let go", 30 * time.Second, 5 * time.Second, 0, 400, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := demoPolicy()
			p.Cadence = uplink.CadenceRule{Every: tc.every, PayloadBytes: tc.size}
			q := &putTimes{MemQueue: uplink.NewMemQueue()}
			u, err := uplink.New(p, q, 1)
			if err != nil {
				t.Fatal(err)
			}
			u.SetPhase(tc.phase)
			const n = 900
			for i, s := range drive(n, 0, 0) {
				if i < tc.holdUntil {
					s.ReleaseBefore = time.Time{}
				}
				q.now = s.Time
				if err := u.Offer(s); err != nil {
					t.Fatal(err)
				}
			}
			size := p.Cadence.Size()
			perSlot := map[int64]int{}
			for _, pt := range q.times {
				if off := (pt.Unix() - int64(tc.phase/time.Second)) % int64(tc.every/time.Second); off != 0 {
					t.Fatalf("a batch queued at %v, %d s into a slot", pt, off)
				}
				perSlot[pt.Unix()]++
			}
			for at, k := range perSlot {
				if k > tc.maxPerSlot {
					t.Errorf("%d batches in the slot at %d", k, at)
				}
			}
			last := int64(0)
			full := 0
			for _, b := range drain(t, q.MemQueue) {
				if len(b.Payload) != size {
					t.Fatalf("payload of %d bytes, want %d", len(b.Payload), size)
				}
				recs, err := uplink.DecodeBatch(b.Payload)
				if err != nil || len(recs) != b.Records {
					t.Fatalf("batch: %d records, %v", len(recs), err)
				}
				if int64(recs[0].Seq) != last+1 {
					t.Fatalf("batch starts at seq %d after %d", recs[0].Seq, last)
				}
				last = int64(recs[len(recs)-1].Seq)
				if b.Records > int(max(tc.every, p.NearZones.TimeQuantum)/time.Second) {
					full++
				}
			}
			if tc.wantBacklogs != (full > 0) {
				t.Errorf("%d batches carried more than a slot's records; want backlog %v", full, tc.wantBacklogs)
			}
			// Within three slots of the end, less the records after the
			// last quantum's last position (5 s), which wait for the next
			// quantum (TestNoMotionBesideAStretch).
			if last < n-int64(3*tc.every/time.Second)-5 {
				t.Errorf("records up to seq %d left by the end, of %d: the backlog did not drain", last, n)
			}
		})
	}
}

func TestUplinkFirstSeq(t *testing.T) {
	for _, tt := range []struct{ first, want uint64 }{{1, 1}, {0, 1}, {42, 42}, {1 << 40, 1 << 40}} {
		q := uplink.NewMemQueue()
		p := demoPolicy()
		p.NearZones.TimeQuantum = time.Second // a record a second, withheld or not
		u, err := uplink.New(p, q, tt.first)
		if err != nil {
			t.Fatal(err)
		}
		snaps := drive(45, 10, 15)
		// Snapshots with nothing to send take no sequence number.
		for i := range snaps {
			if i%3 == 1 {
				snaps[i].Samples, snaps[i].HavePosition = nil, false
			}
		}
		for _, s := range snaps {
			u.Offer(s)
		}
		u.Flush(t0)
		seq := tt.want
		for _, b := range drain(t, q) {
			recs, _ := uplink.DecodeBatch(b.Payload)
			for _, r := range recs {
				if r.Seq != seq {
					t.Fatalf("firstSeq %d: record seq %d, want %d", tt.first, r.Seq, seq)
				}
				seq++
			}
		}
		// 30 snapshots with something to send; of them 11, 12 and 14 were
		// withheld, and leave as one merged record.
		if got := seq - tt.want; got != 28 {
			t.Errorf("firstSeq %d: %d records, want 28", tt.first, got)
		}
	}
}

func TestNewRejectsBadPolicy(t *testing.T) {
	p := demoPolicy()
	p.Signals["phone.contact.name"] = uplink.Rule{}
	u, err := uplink.New(p, uplink.NewMemQueue(), 1)
	if err == nil {
		t.Fatalf("New with a phone role: %v, no error", u)
	}
	var ke *uplink.KeyError
	if !errors.As(err, &ke) || ke.Key != "phone.contact.name" {
		t.Errorf("New: %v, want a KeyError for phone.contact.name", err)
	}
}

type failingQueue struct{ uplink.Queue }

func (failingQueue) Put(uplink.Batch) error { return errors.New("disk full") }

func TestUplinkQueueError(t *testing.T) {
	p := demoPolicy()
	p.NearZones.TimeQuantum = time.Second
	u, err := uplink.New(p, failingQueue{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var errs int
	for _, s := range drive(100, 0, 0) {
		if err := u.Offer(s); err != nil {
			if !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("Offer = %v, want the queue's error", err)
			}
			errs++
		}
	}
	if errs == 0 {
		t.Errorf("no slot's batch went into the failing queue")
	}
	if st := u.Stats(); st.Batches != 0 {
		t.Errorf("Stats.Batches = %d after a failed Put", st.Batches)
	}
}

// Stats may be read while Offer runs (run with -race).
func TestUplinkStatsConcurrent(t *testing.T) {
	u, err := uplink.New(demoPolicy(), uplink.NewMemQueue(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = u.Stats()
		}
	}()
	for _, s := range drive(300, 100, 150) {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	if st := u.Stats(); st.Snapshots != 300 {
		t.Errorf("Snapshots = %d", st.Snapshots)
	}
}

func TestPseudonym(t *testing.T) {
	const vin = "QZDEMO00000000001"
	key := []byte("fleet key one")
	p := uplink.Pseudonym(vin, key)
	if p == "" {
		t.Fatal("empty pseudonym")
	}
	// 80 bits in base32: 16 characters, lower case, usable in a topic.
	if len(p) != 16 || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Errorf("Pseudonym = %q, want 16 characters of lower-case base32", p)
	}
	if again := uplink.Pseudonym(vin, key); again != p {
		t.Errorf("not stable: %q, then %q", p, again)
	}
	for _, v := range []string{"qzdemo00000000001", " QZDEMO00000000001", "QZDEMO00000000001\n", "\t qzDemo00000000001 \r\n"} {
		if got := uplink.Pseudonym(v, key); got != p {
			t.Errorf("Pseudonym(%q) = %q, want %q as for %q", v, got, p, vin)
		}
	}
	if other := uplink.Pseudonym(vin, []byte("fleet key two")); other == p {
		t.Error("same pseudonym under another fleet key")
	}
	if other := uplink.Pseudonym(vin, nil); other == p {
		t.Error("same pseudonym without a key")
	}
	seen := map[string]string{p: vin}
	for _, v := range []string{"QZDEMO00000000002", "QZDEMO0000000001", "WVWZZZ1JZXW000001", "1HGCM82633A004352", ""} {
		got := uplink.Pseudonym(v, key)
		if prev, dup := seen[got]; dup {
			t.Errorf("VINs %q and %q share the pseudonym %q", prev, v, got)
		}
		seen[got] = v
	}
	// The VIN, or a telling part of it, is not in the pseudonym.
	for pseudo, v := range seen {
		up := strings.ToUpper(pseudo)
		if len(v) >= 6 && (strings.Contains(up, v[len(v)-6:]) || strings.Contains(up, v[:6])) {
			t.Errorf("pseudonym %q contains part of VIN %q", pseudo, v)
		}
	}
	if strings.Contains(uplink.Topic(p, "telemetry"), vin) {
		t.Error("the topic contains the VIN")
	}
}

func TestTopic(t *testing.T) {
	for kind, want := range map[string]string{
		"telemetry": "quietzone/v1/abc234/telemetry",
		"status":    "quietzone/v1/abc234/status",
		"alarm":     "quietzone/v1/abc234/alarm",
	} {
		if got := uplink.Topic("abc234", kind); got != want {
			t.Errorf("Topic(%q) = %q, want %q", kind, got, want)
		}
	}
}

// TestUplinkSetPolicy switches to a stricter policy mid-drive: records
// still waiting in the vehicle lose what the new policy does not allow,
// and the open batch (released under the old one) goes out first.
func TestUplinkSetPolicy(t *testing.T) {
	q := uplink.NewMemQueue()
	u, err := uplink.New(demoPolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	snaps := drive(100, 1000, 1000)
	for _, s := range snaps[:45] {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	strict := demoPolicy()
	strict.Position = nil
	delete(strict.Signals, "position.heading")
	strict.Signals["vehicle.speed"] = uplink.Rule{Quantum: 50}
	strict.NearZones.TimeQuantum = 10 * time.Second
	bad := demoPolicy()
	bad.Signals["phone.contact.name"] = uplink.Rule{}
	if err := u.SetPolicy(bad); err == nil {
		t.Fatal("a policy asking for phone data was taken")
	}
	if err := u.SetPolicy(strict); err != nil {
		t.Fatal(err)
	}
	if u.Policy() != strict {
		t.Error("Policy() is not the new policy")
	}
	before := drain(t, q) // [0,30): released under the old policy
	for _, s := range snaps[45:] {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Flush(t0.Add(100 * time.Second)); err != nil {
		t.Fatal(err)
	}
	after := drain(t, q)
	if len(before) != 1 || len(after) == 0 {
		t.Fatalf("%d batches before the switch, %d after", len(before), len(after))
	}
	// [0,30) left before the switch up to its last position; the
	// records after that one wait for the next position (or lose their
	// motion to a withheld stretch: TestNoMotionBesideAStretch), so they
	// leave under the new policy.
	lastPos := int64(-1)
	for _, b := range before {
		recs, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Pos != nil {
				lastPos = r.Time - t0.Unix()
			}
		}
	}
	var lastTime int64
	for i, b := range after {
		recs, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			sec := r.Time - t0.Unix()
			if sec <= lastPos {
				t.Errorf("batch %d: record at second %d was released before the switch", i, sec)
			}
			if r.Pos != nil {
				t.Errorf("record at second %d has a position the new policy denies", sec)
			}
			if _, ok := r.Signals["position.heading"]; ok {
				t.Errorf("record at second %d has the heading", sec)
			}
			if v := r.Signals["vehicle.speed"]; math.Mod(v, 50) != 0 {
				t.Errorf("record at second %d: speed %v not rounded to 50", sec, v)
			}
			if r.Time < lastTime {
				t.Errorf("record at second %d after one at %d", sec, lastTime-t0.Unix())
			}
			lastTime = r.Time
		}
	}
}

// TestNoMotionBesideAStretch: to the observer a gap runs from the last
// published position before a withheld stretch to the first after it;
// the records in between (speeds a second, positions every 5 s) carried
// the speeds at both ends of the gap, from which dead reckoning placed
// the vehicle inside it better than the gap's ends and duration alone
// (issue 14: 108 m against 166 m), and the speeds a few seconds outside
// it did as well, by one change of speed (the speed-trend attack). The
// records inside a gap, and those within a minute beside it, carry no
// motion now (before it: those still waiting, which with a trailing
// ReleaseBefore is all of them); the records farther off keep theirs.
func TestNoMotionBesideAStretch(t *testing.T) {
	for _, tc := range []struct {
		from, to int
		trail    int // ReleaseBefore trails by this many seconds
	}{{47, 112, 0}, {60, 90, 0}, {133, 200, 0}, {0, 40, 0}, {147, 212, 90}, {160, 190, 120}, {233, 300, 90}} {
		t.Run(fmt.Sprintf("withheld %d-%d trail %d", tc.from, tc.to, tc.trail), func(t *testing.T) {
			q := uplink.NewMemQueue()
			u, err := uplink.New(demoPolicy(), q, 1)
			if err != nil {
				t.Fatal(err)
			}
			const n = 500
			for _, s := range drive(n, tc.from, tc.to) {
				s.ReleaseBefore = s.ReleaseBefore.Add(-time.Duration(tc.trail) * time.Second)
				if err := u.Offer(s); err != nil {
					t.Fatal(err)
				}
			}
			if err := u.Flush(t0.Add(n * time.Second)); err != nil {
				t.Fatal(err)
			}
			var recs []uplink.Record
			for _, b := range drain(t, q) {
				rs, err := uplink.DecodeBatch(b.Payload)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rs...)
			}
			// The observer's gaps: positions more than 20 s apart; and the
			// run's first position.
			var pos []int64
			for _, r := range recs {
				if r.Pos != nil {
					pos = append(pos, r.Time-t0.Unix())
				}
			}
			if len(pos) == 0 {
				t.Fatal("no position published")
			}
			type span struct{ from, to int64 }
			quiet := []span{{math.MinInt64, pos[0] + 60}}
			gaps := 0
			for i := 1; i < len(pos); i++ {
				if pos[i]-pos[i-1] > 20 {
					gaps++
					from := pos[i-1] + 1 // the tail: waiting when the stretch began
					if tc.trail >= 60 {
						from = pos[i-1] - 60
					}
					quiet = append(quiet, span{from, pos[i] + 60})
				}
			}
			if gaps == 0 && tc.from > 0 {
				t.Fatal("no test: no gap between positions")
			}
			moving, last := 0, int64(0)
			for _, r := range recs {
				sec := r.Time - t0.Unix()
				if r.Time < last {
					t.Errorf("record at %d s after one at %d s", sec, last-t0.Unix())
				}
				last = r.Time
				in := false
				for _, q := range quiet {
					in = in || sec >= q.from && sec < q.to
				}
				for role := range r.Signals {
					if uplink.MotionRole(role) && in {
						t.Errorf("record at %d s, within a minute of a gap, carries %s", sec, role)
					}
				}
				if _, ok := r.Signals["vehicle.speed"]; ok && !in {
					moving++
				}
			}
			if moving == 0 {
				t.Fatal("no test: no speed published anywhere")
			}
		})
	}
}

// TestNoPositionsNoEdge: a policy that sends no position has no gaps to
// hide motion beside: a switch to one during a withheld stretch (before
// a position could end the edge) lets the speeds out again.
func TestNoPositionsNoEdge(t *testing.T) {
	q := uplink.NewMemQueue()
	u, err := uplink.New(demoPolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	snaps := drive(300, 60, 90)
	for _, s := range snaps[:85] {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	noPos := demoPolicy()
	noPos.Position = nil
	if err := u.SetPolicy(noPos); err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps[85:] {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Flush(t0.Add(300 * time.Second)); err != nil {
		t.Fatal(err)
	}
	speeds := 0
	for _, b := range drain(t, q) {
		recs, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if _, ok := r.Signals["vehicle.speed"]; ok && r.Time-t0.Unix() >= 120 {
				speeds++
			}
		}
	}
	if speeds < 150 {
		t.Errorf("%d speeds after the switch to a policy without positions, want about 180", speeds)
	}
}
