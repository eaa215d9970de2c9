package uplink_test

import (
	"context"
	"errors"
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
			Time:         t0.Add(time.Duration(i) * time.Second),
			Withhold:     i >= withholdFrom && i < withholdTo,
			HavePosition: true,
			Lat:          52 + f*1e-4,
			Lon:          10 + f*2e-4,
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
// through the demo policy (30 s time quantum) and checks every record.
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
	// Released so far, each quantum when the next began: [0,30) at 30 s,
	// one merged record each for [30,60) and [60,90), which held withheld
	// snapshots, and 90–179. Batches: 0–29 (full), the two merged records
	// (30 s old at 90 s), 90–119, 120–149, 150–179. The quantum [180,210)
	// is not over.
	if q.Len() != 5 {
		t.Fatalf("after %d snapshots: %d batches queued, want 5", n, q.Len())
	}
	if err := u.Flush(t0.Add(n * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := u.Flush(t0.Add(n * time.Second)); err != nil {
		t.Fatal(err)
	}
	batches := drain(t, q)
	if len(batches) != 6 {
		t.Fatalf("after Flush: %d batches, want 6 (a second Flush adds nothing)", len(batches))
	}

	var recs []uplink.Record
	var raw, compressed uint64
	wantSeq := uint64(1000)
	for i, b := range batches {
		got, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
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
	var wantTimes []int64
	for s := int64(0); s < n; s++ {
		if s < 30 || s >= 90 || s == 30 || s == 60 {
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
		if merged && (r.Signals["vehicle.ignition"] != 1 || r.Signals["vehicle.speed"] == 0) {
			t.Errorf("merged record %d lost its other signals: %v", i, r.Signals)
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
	if gears != 6+22 {
		t.Errorf("the gear sent %d times, want 28 (0.2 Hz, near zones too)", gears)
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
		Batches:           6,
		RawBytes:          raw,
		CompressedBytes:   compressed,
	}
	// Heading, odometer and phone data are denied in every snapshot, near
	// zones or not: they are not vehicle data. The position is withheld in
	// each of the 30 withheld snapshots and stripped from the six records
	// at 0.2 Hz that fell in merged quanta.
	if st != want {
		t.Errorf("Stats =\n%+v\nwant\n%+v", st, want)
	}
	if st.CompressedBytes >= st.RawBytes {
		t.Errorf("compressed %d bytes ≥ raw %d", st.CompressedBytes, st.RawBytes)
	}
}

func TestUplinkMaxAge(t *testing.T) {
	p := demoPolicy()
	p.Batch = uplink.BatchRule{MaxRecords: 1000, MaxAge: 30 * time.Second}
	p.NearZones.TimeQuantum = time.Second // each record waits one snapshot for its quantum to end
	q := uplink.NewMemQueue()
	u, err := uplink.New(p, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	snaps := drive(100, 0, 0)
	for i, s := range snaps {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
		// The first record reaches the batch at second 1; a batch closes,
		// with the record released then, when a snapshot comes 30 s after
		// its first record: at seconds 31, 62, 93.
		if want := i / 31; q.Len() != want {
			t.Fatalf("after snapshot %d: %d batches, want %d", i, q.Len(), want)
		}
	}
	// Snapshots with nothing to send still close a batch that is due.
	u.Flush(t0)
	drain(t, q)
	u.Offer(uplink.Snapshot{Time: t0.Add(time.Hour), Samples: []uplink.Sample{{Role: "vehicle.ignition", Value: 1, Class: uplink.ClassVehicle}}})
	u.Offer(uplink.Snapshot{Time: t0.Add(time.Hour + time.Second)}) // releases the ignition's record
	u.Offer(uplink.Snapshot{Time: t0.Add(time.Hour + 30*time.Second)})
	if q.Len() != 0 {
		t.Fatalf("batch closed after 29 s")
	}
	u.Offer(uplink.Snapshot{Time: t0.Add(time.Hour + 31*time.Second), Samples: []uplink.Sample{{Role: "phone.contact.name", Value: 1, Class: uplink.ClassPersonal}}})
	if b := drain(t, q); len(b) != 1 || b[0].Records != 1 {
		t.Fatalf("empty snapshot 30 s later: batches %+v, want the one record", b)
	}
	if st := u.Stats(); st.Records != 101 || st.Snapshots != 104 {
		t.Errorf("Stats: %d records of %d snapshots, want 101 of 104", st.Records, st.Snapshots)
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
		if got := seq - tt.want; got != 30 {
			t.Errorf("firstSeq %d: %d records, want 30", tt.first, got)
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
	p.Batch.MaxRecords = 2
	p.NearZones.TimeQuantum = time.Second
	u, err := uplink.New(p, failingQueue{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	snaps := drive(3, 0, 0)
	for _, s := range snaps[:2] { // the second releases the first record
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Offer(snaps[2]); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Offer filling a batch into a failing queue = %v, want the queue's error", err)
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
	var lastTime int64
	for i, b := range after {
		recs, err := uplink.DecodeBatch(b.Payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			sec := r.Time - t0.Unix()
			if sec < 30 {
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
