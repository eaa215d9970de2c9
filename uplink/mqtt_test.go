package uplink_test

// Integration tests of the Publisher against a real Mosquitto broker,
// started by uplinktest: they skip without one, or fail when
// QUIETZONE_REQUIRE_MOSQUITTO=1 (make test, CI).

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"quietzone/can/cantest"
	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

var testPseudonym = uplink.Pseudonym("QZTEST00000000001", []byte("test fleet key"))

var (
	telemetryTopic = uplink.Topic(testPseudonym, "telemetry")
	statusTopic    = uplink.Topic(testPseudonym, "status")
)

// (a) Batches queued before and while the publisher runs arrive in order
// on the vehicle's telemetry topic, each intact, and leave the queue.
func TestPublisherDeliversInOrder(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	sub := subscribe(t, m.URL(), "quietzone/#", nil)

	q := uplink.NewMemQueue()
	batches := makeBatches(t, 1, 40)
	for _, b := range batches[:20] { // waiting before the publisher starts
		q.Put(b)
	}
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.PublishTimeout = 30 * time.Second // no retries, so no repeats, on a healthy broker
	pub := startPublisher(t, cfg, q)
	for i, b := range batches[20:] { // put while it publishes
		q.Put(b)
		if i%5 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if q.Len() != 0 {
		t.Fatalf("queue holds %d batches after Drain", q.Len())
	}
	cantest.WaitFor(t, deliverWait, "40 batches at the subscriber", func() bool {
		return deliveredOnce(sub.messages(), batches) == len(batches)
	})

	var telemetry []message
	for _, msg := range sub.messages() {
		if strings.HasSuffix(msg.topic, "/telemetry") {
			telemetry = append(telemetry, msg)
		}
	}
	if repeats := checkDelivered(t, telemetryTopic, telemetry, batches); repeats != 0 {
		t.Errorf("%d batches arrived twice from a healthy broker", repeats)
	}
	if len(telemetry) != len(batches) {
		t.Errorf("%d telemetry messages, want %d", len(telemetry), len(batches))
	}
	var seq uint64 = 1
	for _, msg := range telemetry {
		recs, _ := uplink.DecodeBatch(msg.payload)
		for _, r := range recs {
			if r.Seq != seq {
				t.Fatalf("record seq %d, want %d", r.Seq, seq)
			}
			seq++
		}
	}
	var bytes uint64
	for _, b := range batches {
		bytes += uint64(len(b.Payload))
	}
	st := pub.Stats()
	if st.Published != 40 || st.Records != 1200 || st.Bytes != bytes {
		t.Errorf("Stats = %+v, want 40 batches, 1200 records, %d bytes", st, bytes)
	}
}

// (b) The vehicle starts where there is no broker: nothing is
// acknowledged, nothing leaves the queue; when the broker appears,
// everything goes, in order.
func TestPublisherOutageFromStart(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	m.Stop()

	q := newGatedQueue()
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.PublishTimeout = 2 * time.Second
	pub := startPublisher(t, cfg, q)
	batches := makeBatches(t, 1, 25)
	for _, b := range batches {
		q.Put(b)
	}
	cantest.WaitFor(t, connectWait, "three failed attempts", func() bool { return pub.Stats().Failures >= 3 })
	if st := pub.Stats(); q.Len() != len(batches) || st.Published != 0 {
		t.Fatalf("without a broker: queue %d of %d, Stats %+v; want everything still queued", q.Len(), len(batches), st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := pub.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain without a broker = %v, want context.DeadlineExceeded", err)
	}

	// The broker comes up. Hold the publisher until a subscriber is there
	// to see what it sends.
	q.hold(t)
	m.Start()
	sub := subscribe(t, m.URL(), telemetryTopic, nil)
	q.release()

	ctx, cancel = context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain after the broker came up: %v", err)
	}
	cantest.WaitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(sub.messages(), batches) == len(batches)
	})
	repeats := checkDelivered(t, telemetryTopic, sub.messages(), batches)
	st := pub.Stats()
	t.Logf("%d repeats; %+v", repeats, st)
	if st.Published != uint64(len(batches)) || st.Records != uint64(30*len(batches)) {
		t.Errorf("Stats = %+v, want %d batches published, each once", st, len(batches))
	}
	if got := retainedStatus(t, m.URL(), statusTopic); string(got.payload) != "online" || !got.retained {
		t.Errorf("status after connecting: %q (retained %v), want retained \"online\"", got.payload, got.retained)
	}
}

// (b) The broker goes away with a batch in flight and more queued: none is
// acknowledged during the outage, and when the broker comes back on the
// same port everything is delivered, in order, nothing lost.
//
// The publisher reaches the broker through a proxy that, just before the
// broker stops, holds what it forwards: so a PUBLISH is certainly in
// flight, sent by paho but never seen by the broker, when it goes.
func TestPublisherOutageMidRun(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	px := startProxy(t, m.Addr())
	sub := subscribe(t, m.URL(), telemetryTopic, nil)
	q := newGatedQueue()
	cfg := testConfig(px.URL(), testPseudonym)
	cfg.PublishTimeout = 2 * time.Second
	pub := startPublisher(t, cfg, q)

	batches := makeBatches(t, 1, 60)
	for _, b := range batches[:20] {
		q.Put(b)
	}
	cantest.WaitFor(t, deliverWait, "the first 20 batches to be acknowledged", func() bool { return pub.Stats().Published == 20 })
	px.Stall()
	for _, b := range batches[20:25] {
		q.Put(b)
	}
	cantest.WaitFor(t, connectWait, "a batch in flight", func() bool { return px.Held() > 0 })
	m.Stop()
	px.Restore() // new connections are forwarded; there is no broker to forward them to
	failures := pub.Stats().Failures
	for _, b := range batches[25:] {
		q.Put(b)
	}
	// The batch in flight times out, then attempts fail while there is no
	// connection; nothing is acknowledged.
	cantest.WaitFor(t, connectWait, "four failed attempts", func() bool { return pub.Stats().Failures >= failures+4 })
	if st := pub.Stats(); st.Published != 20 || q.Len() != 40 {
		t.Fatalf("during the outage: Stats %+v, queue %d; want 20 published, 40 queued", st, q.Len())
	}

	// The broker comes back without its sessions: the subscriber
	// resubscribes before the publisher may go on.
	q.hold(t)
	m.Start()
	sub.waitSubscribed(t)
	q.release()

	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain after the outage: %v", err)
	}
	cantest.WaitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(sub.messages(), batches) == len(batches)
	})
	repeats := checkDelivered(t, telemetryTopic, sub.messages(), batches)
	st := pub.Stats()
	t.Logf("%d repeats; %+v", repeats, st)
	if st.Published != uint64(len(batches)) {
		t.Errorf("Published = %d, want %d: each batch acknowledged in the queue once", st.Published, len(batches))
	}
	// The broker lost the retained status with the outage; the publisher
	// said "online" again when it reconnected.
	if got := retainedStatus(t, m.URL(), statusTopic); string(got.payload) != "online" || !got.retained {
		t.Errorf("status after the outage: %q (retained %v), want retained \"online\"", got.payload, got.retained)
	}
}

// A batch leaves the queue only when the broker acknowledged it: not when
// the connection drops with it in flight and comes back. (With paho's
// default store, the reconnection resent what was in flight and completed
// the publisher's token for it, without any PUBACK: the batch left the
// queue unacknowledged.)
//
// The proxy lets the publisher connect again but holds back everything it
// sends after CONNECT, so the broker cannot have acknowledged the batch.
func TestPublisherAcksOnlyAfterPUBACK(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	px := startProxy(t, m.Addr())
	status := subscribe(t, m.URL(), statusTopic, nil)
	telemetry := subscribe(t, m.URL(), telemetryTopic, nil)
	q := uplink.NewMemQueue()
	cfg := testConfig(px.URL(), testPseudonym)
	cfg.PublishTimeout = 2 * time.Second
	pub := startPublisher(t, cfg, q)
	status.waitMessage(t, "online", 0)

	px.StallAfterConnect()
	batches := makeBatches(t, 1, 3)
	for _, b := range batches {
		q.Put(b)
	}
	cantest.WaitFor(t, connectWait, "the first batch in flight", func() bool { return px.Held() > 0 })
	onlines := len(status.messages())
	px.Kick() // the connection drops with the batch in flight; the next one connects
	cantest.WaitFor(t, connectWait, "two failed attempts, or an acknowledgement", func() bool {
		st := pub.Stats()
		return st.Failures >= 2 || st.Published > 0
	})
	if st := pub.Stats(); st.Published != 0 || q.Len() != 3 {
		t.Fatalf("no PUBLISH has reached the broker, yet Stats %+v, queue %d: a batch left the queue unacknowledged", st, q.Len())
	}
	if got := len(telemetry.messages()); got != 0 {
		t.Fatalf("%d messages reached the subscriber through a stalled link", got)
	}

	px.Restore()
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	status.waitMessage(t, "online", onlines)
	cantest.WaitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(telemetry.messages(), batches) == len(batches)
	})
	checkDelivered(t, telemetryTopic, telemetry.messages(), batches)
}

// (c) The status topic says "online", retained, once the publisher is
// connected.
func TestPublisherStatusOnline(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	live := subscribe(t, m.URL(), statusTopic, nil)
	startPublisher(t, testConfig(m.URL(), testPseudonym), uplink.NewMemQueue())
	live.waitMessage(t, "online", 0)
	got := retainedStatus(t, m.URL(), statusTopic)
	if string(got.payload) != "online" || !got.retained {
		t.Errorf("status for a late subscriber: %q (retained %v), want retained \"online\"", got.payload, got.retained)
	}
	if got.topic != "quietzone/v1/"+testPseudonym+"/status" {
		t.Errorf("status topic %q", got.topic)
	}
}

// (c) When the network goes (the broker stays up), the broker publishes
// the publisher's last will, "offline"; the queue keeps what is put
// meanwhile, and when the network is back the status is "online" again and
// everything is delivered in order.
func TestPublisherNetworkCut(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	px := startProxy(t, m.Addr())
	status := subscribe(t, m.URL(), statusTopic, nil)
	telemetry := subscribe(t, m.URL(), telemetryTopic, nil)
	q := uplink.NewMemQueue()
	cfg := testConfig(px.URL(), testPseudonym)
	cfg.PublishTimeout = 2 * time.Second
	pub := startPublisher(t, cfg, q)
	status.waitMessage(t, "online", 0)

	batches := makeBatches(t, 1, 30)
	for _, b := range batches[:10] {
		q.Put(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain before the cut: %v", err)
	}

	seen := len(status.messages()) // before the cut: the will may come at once
	px.Cut()
	offline := status.waitMessage(t, "offline", seen)
	if !offline.retained {
		// A live subscriber gets a retained message without the flag
		// (MQTT 3.1.1, 3.3.1.3); check what a late one gets.
		if got := retainedStatus(t, m.URL(), statusTopic); string(got.payload) != "offline" || !got.retained {
			t.Errorf("status during the cut: %q (retained %v), want retained \"offline\"", got.payload, got.retained)
		}
	}
	failures := pub.Stats().Failures
	for _, b := range batches[10:] {
		q.Put(b)
	}
	cantest.WaitFor(t, connectWait, "three failed attempts", func() bool { return pub.Stats().Failures >= failures+3 })
	if q.Len() != 20 || pub.Stats().Published != 10 {
		t.Fatalf("during the cut: queue %d, Stats %+v; want 20 queued, 10 published", q.Len(), pub.Stats())
	}

	seen = len(status.messages())
	px.Restore()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain after the cut: %v", err)
	}
	status.waitMessage(t, "online", seen)
	cantest.WaitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(telemetry.messages(), batches) == len(batches)
	})
	repeats := checkDelivered(t, telemetryTopic, telemetry.messages(), batches)
	t.Logf("%d repeats; %+v", repeats, pub.Stats())
	if got := retainedStatus(t, m.URL(), statusTopic); string(got.payload) != "online" {
		t.Errorf("status after the cut: %q, want \"online\"", got.payload)
	}
}

// The connection drops again and again while batches keep coming: each
// time the publisher reconnects (saying "online" as it does), and in the
// end every batch has arrived, in order, nothing lost.
func TestPublisherReconnectsRepeatedly(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	px := startProxy(t, m.Addr())
	status := subscribe(t, m.URL(), statusTopic, nil)
	telemetry := subscribe(t, m.URL(), telemetryTopic, nil)
	q := uplink.NewMemQueue()
	cfg := testConfig(px.URL(), testPseudonym)
	cfg.PublishTimeout = 2 * time.Second
	pub := startPublisher(t, cfg, q)
	status.waitMessage(t, "online", 0)

	const kicks, perKick = 10, 6
	batches := makeBatches(t, 1, kicks*perKick)
	for k := 0; k < kicks; k++ {
		onlines := len(status.messages())
		for _, b := range batches[k*perKick : (k+1)*perKick] {
			q.Put(b)
		}
		px.Kick()
		// The broker sees the connection vanish and publishes the will;
		// the publisher reconnects and says "online".
		status.waitMessage(t, "online", onlines+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	cantest.WaitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(telemetry.messages(), batches) == len(batches)
	})
	repeats := checkDelivered(t, telemetryTopic, telemetry.messages(), batches)
	t.Logf("%d kicks: %d repeats; %+v", kicks, repeats, pub.Stats())
	if st := pub.Stats(); st.Published != uint64(len(batches)) {
		t.Errorf("Published = %d, want %d", st.Published, len(batches))
	}
}

// (d) Drain returns at once on an empty queue, and with an error, naming
// what is left, when its context ends first.
func TestPublisherDrain(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	q := uplink.NewMemQueue()
	pub := startPublisher(t, testConfig(m.URL(), testPseudonym), q)

	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain of an empty queue: %v", err)
	}
	batches := makeBatches(t, 1, 5)
	for _, b := range batches {
		q.Put(b)
	}
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if q.Len() != 0 {
		t.Fatalf("queue holds %d after Drain", q.Len())
	}

	m.Stop()
	more := makeBatches(t, 151, 3)
	for _, b := range more {
		q.Put(b)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelShort()
	err := pub.Drain(short)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with the broker down = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "3 batches unsent") {
		t.Errorf("Drain error %q does not say 3 batches are unsent", err)
	}
	if q.Len() != 3 {
		t.Errorf("queue holds %d, want 3", q.Len())
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if err := pub.Drain(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Drain with a cancelled context = %v, want context.Canceled", err)
	}
}

// Run returns promptly when its context ends, even while it cannot reach
// the broker, and leaves unsent batches queued.
func TestPublisherStopsWithoutBroker(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	m.Stop()
	q := uplink.NewMemQueue()
	pub := startPublisher(t, testConfig(m.URL(), testPseudonym), q)
	for _, b := range makeBatches(t, 1, 2) {
		q.Put(b)
	}
	cantest.WaitFor(t, connectWait, "a failed attempt", func() bool { return pub.Stats().Failures >= 1 })
	pub.stop() // fails the test if Run does not return
	if q.Len() != 2 {
		t.Errorf("queue holds %d after Run returned, want both batches", q.Len())
	}
}

func TestNewPublisherRequires(t *testing.T) {
	q := uplink.NewMemQueue()
	if _, err := uplink.NewPublisher(uplink.MQTTConfig{Pseudonym: "x"}, q, nil); err == nil {
		t.Error("NewPublisher without a broker: no error")
	}
	if _, err := uplink.NewPublisher(uplink.MQTTConfig{Broker: "tcp://127.0.0.1:1"}, q, nil); err == nil {
		t.Error("NewPublisher without a pseudonym: no error")
	}
	if _, err := uplink.NewPublisher(uplink.MQTTConfig{Broker: "tcp://127.0.0.1:1", InsecurePlaintext: true, Pseudonym: "x"}, q, nil); err != nil {
		t.Errorf("NewPublisher with defaults: %v", err)
	}
}
