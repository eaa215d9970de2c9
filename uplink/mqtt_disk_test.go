package uplink_test

// Integration tests of the durable queue with the Publisher and a real
// Mosquitto broker (uplinktest).

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"quietzone/can/cantest"
	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

// recordingQueue notes every batch put into the queue it wraps.
type recordingQueue struct {
	uplink.Queue
	mu  sync.Mutex
	put []uplink.Batch
}

func (r *recordingQueue) Put(b uplink.Batch) error {
	if err := r.Queue.Put(b); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.put = append(r.put, b)
	return nil
}

func onTopic(msgs []message, suffix string) []message {
	var out []message
	for _, m := range msgs {
		if strings.HasSuffix(m.topic, suffix) {
			out = append(out, m)
		}
	}
	return out
}

// The broker is down for two simulated hours of driving: the uplink keeps
// queueing, the queue grows on disk and nothing is acknowledged. When the
// broker comes back, everything drains in order, nothing is lost, and the
// disk is given back.
func TestDiskQueueLongOutage(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	m.Stop()
	dir := t.TempDir()
	dq := openDisk(t, dir, uplink.DiskOptions{QuotaBytes: 4 << 20, SegmentBytes: 16 << 10})
	q := gate(dq)
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.PublishTimeout = 2 * time.Second
	pub := startPublisher(t, cfg, q)

	rec := &recordingQueue{Queue: dq}
	u, err := uplink.New(demoPolicy(), rec, dq.NextSeq())
	if err != nil {
		t.Fatal(err)
	}
	snaps := drive(2*3600, 1000, 1300)
	var sizes []int64
	for i, s := range snaps {
		if err := u.Offer(s); err != nil {
			t.Fatal(err)
		}
		if i%1200 == 1199 {
			sizes = append(sizes, dirBytes(t, dir))
		}
	}
	if err := u.Flush(snaps[len(snaps)-1].Time); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(sizes); i++ {
		if sizes[i] <= sizes[i-1] {
			t.Errorf("queue on disk did not grow during the outage: %v bytes", sizes)
		}
	}
	st := u.Stats()
	if dq.Len() != int(st.Batches) || pub.Stats().Published != 0 || dq.Drops() != (uplink.Drops{}) {
		t.Fatalf("during the outage: %d of %d batches queued, publisher %+v, drops %+v", dq.Len(), st.Batches, pub.Stats(), dq.Drops())
	}
	t.Logf("outage: %d records in %d batches, %d bytes on disk in %d segments", st.Records, st.Batches, dirBytes(t, dir), len(segFiles(t, dir)))

	q.hold(t)
	m.Start()
	sub := subscribe(t, m.URL(), telemetryTopic, nil)
	q.release()
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain after the outage: %v", err)
	}
	cantest.WaitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(sub.messages(), rec.put) == len(rec.put)
	})
	repeats := checkDelivered(t, telemetryTopic, sub.messages(), rec.put)
	var seq uint64 = 1
	for _, b := range rec.put {
		if b.FirstSeq != seq {
			t.Fatalf("batch from seq %d, want %d", b.FirstSeq, seq)
		}
		seq = b.LastSeq + 1
	}
	if seq != st.Records+1 {
		t.Errorf("records 1–%d queued, %d accepted", seq-1, st.Records)
	}
	if n := len(segFiles(t, dir)); n != 1 || dq.Len() != 0 {
		t.Errorf("after the drain: %d segments, %d batches left", n, dq.Len())
	}
	t.Logf("%d repeats; %+v", repeats, pub.Stats())
}

// A long outage with a small quota: the disk never holds more than the
// quota, the oldest batches go, and when the broker is back the status
// topic says exactly what was dropped (before any batch), and everything
// else arrives in order.
func TestDiskQueueQuotaDuringOutage(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	m.Stop()
	dir := t.TempDir()
	o := uplink.DiskOptions{QuotaBytes: 64 << 10, SegmentBytes: 4 << 10}
	dq := openDisk(t, dir, o)
	q := gate(dq)
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.PublishTimeout = 2 * time.Second
	pub := startPublisher(t, cfg, q)

	batches := makeBatches(t, 1, 600)
	for i, b := range batches {
		if err := dq.Put(b); err != nil {
			t.Fatal(err)
		}
		if n := dirBytes(t, dir); n > o.QuotaBytes {
			t.Fatalf("after %d batches: %d bytes on disk, quota %d", i+1, n, o.QuotaBytes)
		}
	}
	d := dq.Drops()
	if d.Batches == 0 || int(d.Batches)+dq.Len() != len(batches) {
		t.Fatalf("drops %+v with %d queued of %d", d, dq.Len(), len(batches))
	}
	kept := batches[d.Batches:]
	if d.ThroughSeq != kept[0].FirstSeq-1 || d.Records != d.ThroughSeq {
		t.Fatalf("drops %+v, but the oldest kept batch starts at seq %d", d, kept[0].FirstSeq)
	}

	q.hold(t)
	m.Start()
	sub := subscribe(t, m.URL(), "quietzone/v1/"+testPseudonym+"/#", nil)
	q.release()
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	cantest.WaitFor(t, deliverWait, "every kept batch at the subscriber", func() bool {
		return deliveredOnce(sub.messages(), kept) == len(kept)
	})
	checkDelivered(t, telemetryTopic, onTopic(sub.messages(), "/telemetry"), kept)
	if n := deliveredOnce(sub.messages(), batches[:d.Batches]); n != 0 {
		t.Errorf("%d dropped batches arrived", n)
	}

	var status *uplink.StatusRecord
	for _, msg := range sub.messages() {
		if strings.HasSuffix(msg.topic, "/telemetry") && status == nil {
			t.Fatal("a batch arrived before the status record saying what was dropped")
		}
		if strings.HasSuffix(msg.topic, "/status") && strings.HasPrefix(string(msg.payload), "{") {
			var sr uplink.StatusRecord
			if err := json.Unmarshal(msg.payload, &sr); err != nil {
				t.Fatalf("status record %s: %v", msg.payload, err)
			}
			if msg.retained {
				t.Error("the status record is retained; it would hide online/offline")
			}
			status = &sr
		}
	}
	if status == nil || status.V != 1 || status.Drops != d {
		t.Fatalf("status record %+v, want v1 with %+v", status, d)
	}
	// Counts only: nothing that looks like a position or a time of day.
	for _, msg := range onTopic(sub.messages(), "/status") {
		if strings.Contains(string(msg.payload), "pos") || strings.Contains(string(msg.payload), `"t"`) {
			t.Errorf("status payload %s", msg.payload)
		}
	}
	if pub.Stats().Statuses != 1 {
		t.Errorf("%d status records acknowledged, want 1 (nothing dropped since)", pub.Stats().Statuses)
	}
	if got := retainedStatus(t, m.URL(), statusTopic); string(got.payload) != uplink.StatusOnline {
		t.Errorf("retained status %q, want online", got.payload)
	}
}

// Alarm batches go to the alarm topic; a clean stop says "offline",
// retained, before disconnecting (the will would say it only when the
// connection is lost).
func TestPublisherAlarmTopicAndOffline(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	sub := subscribe(t, m.URL(), "quietzone/v1/"+testPseudonym+"/#", nil)
	q := uplink.NewMemQueue()
	batches := makeBatches(t, 1, 2)
	alarm := batches[1]
	alarm.Kind = uplink.KindAlarm
	q.Put(batches[0])
	q.Put(alarm)
	pub := startPublisher(t, testConfig(m.URL(), testPseudonym), q)
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	cantest.WaitFor(t, deliverWait, "both batches", func() bool { return deliveredOnce(sub.messages(), batches) == 2 })
	checkDelivered(t, telemetryTopic, onTopic(sub.messages(), "/telemetry"), batches[:1])
	checkDelivered(t, uplink.Topic(testPseudonym, "alarm"), onTopic(sub.messages(), "/alarm"), batches[1:])

	seen := len(sub.messages())
	pub.stop()
	sub.waitMessage(t, uplink.StatusOffline, seen)
	if got := retainedStatus(t, m.URL(), statusTopic); string(got.payload) != uplink.StatusOffline || !got.retained {
		t.Errorf("status after a clean stop: %q (retained %v), want retained offline", got.payload, got.retained)
	}
}

func TestNewPublisherRefusesBadBroker(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:1883", "127.0.0.1:1883", "ws://x", "%zz"} {
		if _, err := uplink.NewPublisher(uplink.MQTTConfig{Broker: url, Pseudonym: "x"}, uplink.NewMemQueue(), nil); err == nil {
			t.Errorf("broker %q accepted", url)
		}
	}
}
