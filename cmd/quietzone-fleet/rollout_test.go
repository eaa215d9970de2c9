package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/gateway/bundle"
	"quietzone/uplink"
	"quietzone/uplink/ingest"
	"quietzone/uplink/store"
	"quietzone/uplink/uplinktest"
)

// fakeFleet is n vehicles that say they are online and, when a bundle
// comes on their policy topic, publish an audit summary saying they
// applied it, or, for those refuse names, that they refused it.
type fakeFleet struct {
	c       mqtt.Client
	names   []string
	mu      sync.Mutex
	got     map[string]int // bundles received
	refuse  map[string]string
	version uint64
}

func pseudonymN(i int) string {
	const a = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte("vvvvvvvvvvvvvvvv")
	b[15], b[14] = a[i%32], a[(i/32)%32]
	return string(b)
}

func startFakeFleet(t *testing.T, broker string, n int, refuse map[string]string) *fakeFleet {
	t.Helper()
	f := &fakeFleet{got: map[string]int{}, refuse: refuse}
	f.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("fake-fleet").SetProtocolVersion(4))
	if tok := f.c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { f.c.Disconnect(100) })
	for i := 0; i < n; i++ {
		p := pseudonymN(i)
		f.names = append(f.names, p)
		if tok := f.c.Subscribe(uplink.Topic(p, "policy"), 1, func(_ mqtt.Client, m mqtt.Message) { f.bundle(p, m.Payload()) }); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		f.c.Publish(uplink.Topic(p, "status"), 1, true, "online").Wait()
	}
	return f
}

func (f *fakeFleet) bundle(p string, data []byte) {
	b, err := bundle.ParseManifest(data)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.got[p]++
	cause := f.refuse[p]
	f.mu.Unlock()
	s := uplink.AuditSummary{V: 1, Intact: true, Counts: map[string]uint64{"policy.applied": 1}, Head: "1:" + strings.Repeat("a", 64)}
	if cause != "" {
		s.Refused = &uplink.Refusal{Version: b.Version, Cause: cause}
	} else {
		s.Policy = b.Version
	}
	out, _ := json.Marshal(s)
	go f.c.Publish(uplink.Topic(p, "audit"), 1, true, out) // not on paho's goroutine
}

func (f *fakeFleet) received() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.got {
		out[k] = v
	}
	return out
}

func signTestBundle(t *testing.T, dir string, version uint64) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	data, err := bundle.Sign(priv, bundle.Manifest{Version: version, Issued: time.Now(), Expires: time.Now().Add(time.Hour)},
		map[string][]byte{"zones": []byte(`{"type":"FeatureCollection","features":[]}`), "policy": []byte("signals: {}\n")})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("v%d.qzb", version))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startTestIngest runs an ingest into dsn until the test ends.
func startTestIngest(t *testing.T, broker, dsn string) {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Broker: broker, InsecurePlaintext: true, ClientID: "test-ingest", Group: "fleet", FlushEvery: 10 * time.Millisecond}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		db.Close()
	})
}

func waitVehicles(t *testing.T, dsn string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := store.Open(context.Background(), dsn)
		if err == nil {
			vs, _ := db.Vehicles(context.Background())
			db.Close()
			if len(vs) >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ingest did not hear of %d vehicles", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRollout: a bundle reaches every vehicle in stages, each stage
// waiting for its vehicles to say they applied it; status then finds
// every vehicle on the newest policy. A vehicle that refuses the next
// bundle stops its stage, and the rollout says why.
func TestRollout(t *testing.T) {
	m := uplinktest.StartMosquitto(t, uplinktest.WithConfig("max_inflight_messages 1000", "max_queued_messages 0"))
	dir := t.TempDir()
	dsn := filepath.Join(dir, "fleet.db")
	startTestIngest(t, m.URL(), dsn)
	time.Sleep(300 * time.Millisecond)
	const n = 10
	f := startFakeFleet(t, m.URL(), n, map[string]string{})
	waitVehicles(t, dsn, n)

	out, err := runFleet(t, "rollout", signTestBundle(t, dir, 5), "--db", dsn, "--broker", m.URL(), "--insecure-plaintext",
		"--stages", "20,100", "--confirm", "1", "--wait", "30s")
	if err != nil {
		t.Fatalf("rollout: %v\n%s", err, out)
	}
	if !strings.Contains(out, "stage 1: 20% (2 vehicles) sent") || !strings.Contains(out, "stage 2: 10 of 10 applied") {
		t.Errorf("rollout said:\n%s", out)
	}
	if got := f.received(); len(got) != n {
		t.Errorf("%d vehicles got the bundle, want %d", len(got), n)
	}
	if out, err := runFleet(t, "status", "--db", dsn); err != nil || !strings.Contains(out, "newest policy 5; 0 lag") {
		t.Errorf("status after the rollout: %v\n%s", err, out)
	}

	// The next bundle: one vehicle refuses it.
	f.mu.Lock()
	for _, p := range f.names {
		f.refuse[p] = "rollback" // whoever is in the first stage refuses
	}
	f.mu.Unlock()
	out, err = runFleet(t, "rollout", signTestBundle(t, dir, 6), "--db", dsn, "--broker", m.URL(), "--insecure-plaintext",
		"--stages", "10,100", "--wait", "30s")
	if !errors.Is(err, errNotCompliant) || !strings.Contains(err.Error(), "1 of 1 vehicles refused the bundle (1 rollback)") {
		t.Fatalf("a refused rollout: %v\n%s", err, out)
	}
	if strings.Contains(out, "stage 2") {
		t.Errorf("the rollout went on after a refusal:\n%s", out)
	}
	if out, err := runFleet(t, "status", "--db", dsn, "--json"); !errors.Is(err, errNotCompliant) || !strings.Contains(out, `"lagging": 10,`) {
		t.Errorf("status after the refusal: %v\n%s", err, out)
	}
}
