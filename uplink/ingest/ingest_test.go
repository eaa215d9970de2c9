package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/uplink"
	"quietzone/uplink/ingest"
	"quietzone/uplink/store"
	"quietzone/uplink/uplinktest"
)

// brokerConfig is what a fleet's Mosquitto needs for the ingest: a wide
// in-flight window (3.1.1 has no receive maximum; Mosquitto's default of
// 20 would hold an ingest to 20 messages a transaction) and no bound on
// what it queues for an ingest that is down.
var brokerConfig = []string{"max_inflight_messages 1000", "max_queued_messages 0"}

func startIngest(t *testing.T, broker, dbPath string, cfg ingest.Config) (*ingest.Ingest, *store.DB, func()) {
	t.Helper()
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Broker, cfg.InsecurePlaintext = broker, true
	if cfg.ClientID == "" {
		cfg.ClientID = "ingest-test"
	}
	in, err := ingest.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	return in, db, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest Run: %v", err)
		}
		db.Close()
	}
}

func publisher(t *testing.T, broker, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetProtocolVersion(4))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, retained bool, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
}

// batch returns a real batch payload of n records from seq first; with
// alarm, alarm records.
func batch(t *testing.T, first uint64, n int, alarm string) []byte {
	t.Helper()
	b, err := uplink.NewBatcher(uplink.BatchRule{MaxRecords: n, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := uplink.Record{Seq: first + uint64(i), Time: 1_780_000_000 + int64(i)}
		if alarm != "" {
			r.Alarm = alarm
		} else {
			r.Pos = []float64{52.5, 13.2}
			r.Signals = map[string]float64{"vehicle.speed": 42}
		}
		out, full, err := b.Add(r, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if full {
			return out.Payload
		}
	}
	t.Fatal("batch not full")
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const carA, carB = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"

// TestIngestEveryFormat: sealed and plain batches of both formats, an
// alarm, status words and records, audit summaries: all stored; a repeat
// counted, not stored; and every kind of bad input counted and stored
// nowhere.
func TestIngestEveryFormat(t *testing.T) {
	m := uplinktest.StartMosquitto(t, uplinktest.WithConfig(brokerConfig...))
	key, err := uplink.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := uplink.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	in, db, stop := startIngest(t, m.URL(), filepath.Join(t.TempDir(), "fleet.db"), ingest.Config{
		Group: "fleet", Opener: uplink.NewOpener(key), MaxPayload: 64 << 10, FlushEvery: 20 * time.Millisecond})
	defer stop()
	waitFor(t, "the ingest's session", func() bool { return bytes.Contains([]byte(m.Log()), []byte("ingest-test")) })
	time.Sleep(200 * time.Millisecond) // its subscriptions

	c := publisher(t, m.URL(), "vehicles")
	seal := func(topic string, p []byte) []byte {
		out, err := key.Public().Seal(topic, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tA, tB := uplink.Topic(carA, "telemetry"), uplink.Topic(carB, "telemetry")
	good := []struct {
		topic   string
		payload []byte
	}{
		{tA, batch(t, 1, 5, "")},           // plain, format 1
		{tA, seal(tA, batch(t, 6, 5, ""))}, // sealed
		{tB, seal(tB, format0(t, 1, 3))},   // format 0 (no dictionary), sealed
		{tA, batch(t, 1, 5, "")},           // a repeat
		{uplink.Topic(carA, "alarm"), seal(uplink.Topic(carA, "alarm"), batch(t, 11, 1, "camera.disobeyed"))},
		{uplink.Topic(carA, "status"), []byte("online")},
		{uplink.Topic(carA, "status"), seal(uplink.Topic(carA, "status"), []byte(`{"v":1,"dropped_batches":1,"dropped_records":2,"dropped_bytes":300,"dropped_through_seq":0,"corrupt_bytes":0,"torn_bytes":0}`))},
		{uplink.Topic(carA, "audit"), seal(uplink.Topic(carA, "audit"), []byte(`{"v":1,"counts":{"policy.applied":1},"head":"3:`+string(bytes.Repeat([]byte("a"), 64))+`","intact":true,"lost":0,"policy":7}`))},
	}
	for _, g := range good {
		publish(t, c, g.topic, false, g.payload)
	}
	bad := []struct {
		reason, topic string
		payload       []byte
	}{
		{ingest.RejectForeignTopic, "quietzone/v1/NOT-A-PSEUDONYM/telemetry", batch(t, 1, 1, "")},
		{ingest.RejectUndecodable, tA, []byte("not zstd")},
		{ingest.RejectUndecodable, tA, batch(t, 100, 3, "")[:20]},
		{ingest.RejectOversized, tA, bytes.Repeat([]byte{0x28}, 65<<10)},
		{ingest.RejectSealUnknown, tA, mustSeal(t, stranger, tA, batch(t, 200, 2, ""))},
		{ingest.RejectSealOpen, tA, seal(tB, batch(t, 300, 2, ""))}, // moved from another vehicle's topic
		{ingest.RejectWrongTopic, tA, batch(t, 400, 1, "camera.disobeyed")},
		{ingest.RejectUndecodable, uplink.Topic(carA, "audit"), []byte(`{"v":2}`)},
		{ingest.RejectUndecodable, uplink.Topic(carA, "status"), []byte(`maybe`)},
	}
	for _, b := range bad {
		publish(t, c, b.topic, false, b.payload)
	}
	waitFor(t, "every message", func() bool {
		s := in.Stats()
		return s.Messages == uint64(len(good)+len(bad)) && s.Flushes > 0 && len(in.Stats().Rejects) > 0 &&
			s.Records+s.Repeats == 5+5+3+5+1 && sum(s.Rejects) == uint64(len(bad))
	})
	time.Sleep(100 * time.Millisecond)
	s := in.Stats()
	want := map[string]uint64{}
	for _, b := range bad {
		want[b.reason]++
	}
	for r, n := range want {
		if s.Rejects[r] != n {
			t.Errorf("rejects %q: %d, want %d (%v)", r, s.Rejects[r], n, s.Rejects)
		}
	}
	if s.Records != 14 || s.Repeats != 5 || s.Sealed != 5 {
		t.Errorf("stats %+v", s)
	}
	vs, err := db.Vehicles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Records != 11 || vs[0].Gaps != 0 || vs[0].Status != "online" || vs[0].DroppedBatches != 1 ||
		vs[0].Policy != 7 || vs[0].Alarms["camera.disobeyed"] != 1 || vs[1].Records != 3 {
		t.Errorf("vehicles %+v", vs)
	}
	rj, err := db.Rejects(context.Background())
	if err != nil || sum(rj) != uint64(len(bad)) {
		t.Errorf("stored rejects %v %v", rj, err)
	}
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM records WHERE seq >= 100`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d records of bad input stored (%v)", n, err)
	}
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func mustSeal(t *testing.T, k *uplink.OpenKey, topic string, p []byte) []byte {
	out, err := k.Public().Seal(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// format0 is a payload of format 0: JSON lines in a zstd frame without a
// dictionary.
func format0(t *testing.T, first uint64, n int) []byte {
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, `{"seq":%d,"t":%d,"s":{"vehicle.speed":10}}`+"\n", first+uint64(i), 1_780_000_000+i)
	}
	return zstdPlain(t, buf.Bytes())
}
