package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"quietzone/can/cantest"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway/audit"
	"quietzone/uplink"
)

// A policy switch goes down the pipe between the snapshots offered before
// and after it: the ones before are redacted under the old policy, the
// ones after under the new (and records still waiting in the vehicle
// are restricted to it, uplink.SetPolicy); a pipe too full to take the switch hands it
// over before the next snapshot it accepts.
func TestPipePolicySwitchInStep(t *testing.T) {
	q := &stuckQueue{MemQueue: uplink.NewMemQueue(), gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
	up, err := uplink.New(pipePolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(up, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	now := time.Unix(1_800_000_000, 0)
	snap := func(i int) uplink.Snapshot {
		return uplink.Snapshot{Time: now.Add(time.Duration(i) * time.Second), Samples: []uplink.Sample{{Role: "vehicle.speed", Value: 42, Class: uplink.ClassVehicle}, {Role: "vehicle.ignition", Value: 1, Class: uplink.ClassVehicle}}}
	}
	for i := range 2 { // the second ends the first's quantum: a Put
		if err := p.Offer(snap(i)); err != nil {
			t.Fatal(err)
		}
	}
	<-q.waiting // the worker is stuck in Put: fill the pipe
	i := 2
	for ; p.Offer(snap(i)) == nil; i++ {
	}
	none := pipePolicy()
	none.Signals = map[string]uplink.Rule{"vehicle.ignition": {}} // no speed
	p.SetPolicy(none)                                             // the pipe is full: it waits
	if p.Offer(snap(i)) == nil {
		t.Fatal("a snapshot was taken before the waiting policy")
	}
	close(q.gate) // the disk is back
	for p.Offer(snap(i+1)) != nil {
		time.Sleep(time.Millisecond)
	}
	if err := p.Flush(now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if up.Policy() != none {
		t.Fatal("the policy did not switch")
	}
	var withSpeed, without int
	for q.Len() > 0 {
		b, err := q.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q.Ack(b.ID)
		recs, _ := uplink.DecodeBatch(b.Payload)
		for _, r := range recs {
			sec := int(r.Time - now.Unix())
			_, has := r.Signals["vehicle.speed"]
			switch {
			case sec < i-1 && !has, sec >= i-1 && has:
				t.Errorf("record of second %d: speed %v (switch before second %d)", sec, has, i+1)
			case has:
				withSpeed++
			default:
				without++
			}
		}
	}
	// Second i-1's quantum was not over at the switch: its record was
	// still in the vehicle, and the new policy took the speed from it.
	if withSpeed != i-1 || without != 2 {
		t.Errorf("%d records with speed, %d without; want %d and 2", withSpeed, without, i-1)
	}
}

// The audit log takes every kind of event: a kind it does not list under
// its own name, one that is no valid name as "other", with the kind.
func TestAuditLogTakesEveryKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	a := AuditLog{Log: l}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	a.Audit(gateway.AuditEvent{Time: now, Kind: gateway.AuditCameraDisobey, Reason: "front"})
	a.Audit(gateway.AuditEvent{Time: now, Kind: "camera.new_kind", Reason: "rear"})
	a.Audit(gateway.AuditEvent{Time: now, Kind: "Not A Kind\n", Reason: "why"})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, _ := os.ReadFile(path)
	for _, want := range []string{`"kind":"camera.disobedient","reason":"front"`, `"kind":"camera.new_kind","reason":"rear"`, `"kind":"other","reason":"kind Not A Kind: why"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("log lacks %s:\n%s", want, data)
		}
	}
}

// Batches the queue's quota drops are on the audit trail.
func TestQueueDropsAudited(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"zones.geojson", "policy.yaml"} {
		data, err := gatewaytest.ReadGood(name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), data, 0o600)
	}
	cfg := filepath.Join(dir, "quietzone.yaml")
	os.WriteFile(cfg, []byte(`vehicle: {profile: builtin:quietzone, vin: QZTEST00000000042, interfaces: [vbus0]}
zones: {file: zones.geojson}
policy: policy.yaml
cameras: [{name: front, class: exterior, power_line: GPIO17}]
uplink: {state_dir: state, queue: {quota_mb: 0.0625}}
`), 0o600)
	s, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bus := can.NewBus(time.Now)
	d, err := New(s, Hardware{
		OpenBus: func(string, []can.Filter) (Bus, error) { return bus.Open(), nil },
		OpenPin: func(name string) (gpio.PinOut, error) { return cameratest.NewPin(name), nil },
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	payload := bytes.Repeat([]byte{1}, 30<<10)
	for i := uint64(1); i <= 4; i++ {
		if err := d.queue.Put(uplink.Batch{Kind: uplink.KindTelemetry, FirstSeq: 100 * i, LastSeq: 100 * i, Records: 1, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	if d.queue.Drops().Batches == 0 {
		t.Fatal("the quota dropped nothing")
	}
	cantest.WaitFor(t, 30*time.Second, "the drop on the audit trail", func() bool { return d.auditLog.Summary().Counts[string(gateway.AuditQueueDrop)] > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d.Close()
	data, _ := os.ReadFile(filepath.Join(dir, "state", "audit.log"))
	if !strings.Contains(string(data), "dropped by the queue's quota") {
		t.Errorf("audit log:\n%s", data)
	}
}
