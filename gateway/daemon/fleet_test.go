package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"quietzone/can/cantest"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"periph.io/x/conn/v3/gpio"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway/audit"
	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
	"quietzone/uplink/uplinktest"
)

// fleetFiles are the bodies of a good bundle: the test zones and policy.
func fleetFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for name, file := range map[string]string{bundleZones: "zones.geojson", bundlePolicy: "policy.yaml"} {
		data, err := gatewaytest.ReadGood(file)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = data
	}
	return files
}

// signBundle signs files as bundle version v, valid from an hour ago
// until expires.
func signBundle(t testing.TB, priv ed25519.PrivateKey, v uint64, expires time.Time, files map[string][]byte) []byte {
	t.Helper()
	data, err := bundle.Sign(priv, bundle.Manifest{Version: v, Issued: time.Now().Add(-time.Hour), Expires: expires}, files)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// bundleCases are the bundles a vehicle running version 2 must refuse,
// with the cause the audit trail names.
func bundleCases(t *testing.T, priv, other ed25519.PrivateKey) []struct {
	name, cause string
	data        []byte
} {
	files := fleetFiles(t)
	later := time.Now().Add(24 * time.Hour)
	tampered := signBundle(t, priv, 3, later, files)
	tampered[len(tampered)-10] ^= 0x20 // a byte of the zones, after signing
	resigned := signBundle(t, priv, 3, later, files)
	resigned = bytes.Replace(resigned, []byte("version 3\n"), []byte("version 9\n"), 1)
	unsigned := signBundle(t, priv, 3, later, files)
	i := bytes.Index(unsigned, []byte("signature "))
	j := bytes.IndexByte(unsigned[i:], '\n')
	unsigned = append(unsigned[:i:i], unsigned[i+j+1:]...)
	badPolicy := map[string][]byte{bundleZones: files[bundleZones], bundlePolicy: []byte("signals: {phone.contact.name: {}}\n")}
	withKey := func(key string) map[string][]byte { // a policy allowing one role besides the speed
		return map[string][]byte{bundleZones: files[bundleZones], bundlePolicy: []byte("signals:\n  vehicle.speed: {}\n  " + key + ": {}\n")}
	}
	return []struct {
		name, cause string
		data        []byte
	}{
		{"tampered body", "tampered", tampered},
		{"tampered manifest", "tampered", resigned},
		{"unsigned", "unsigned", unsigned},
		{"another key", "unknown key", signBundle(t, other, 3, later, files)},
		{"rollback", "rollback", signBundle(t, priv, 1, later, files)},
		{"same version, other content", "rollback", signBundle(t, priv, 2, later.Add(time.Hour), files)},
		{"expired", "expired", signBundle(t, priv, 4, time.Now().Add(-time.Minute), files)},
		{"policy asks for phone data", "bad contents", signBundle(t, priv, 5, later, badPolicy)},
		{"policy asks for the heading", "bad contents", signBundle(t, priv, 5, later, withKey("position.heading"))},
		{"policy asks for the odometer", "bad contents", signBundle(t, priv, 5, later, withKey("vehicle.odometer"))},
		{"policy key in another case", "bad contents", signBundle(t, priv, 5, later, withKey("Position.Latitude"))},
		{"policy key a pattern", "bad contents", signBundle(t, priv, 5, later, withKey(`"*"`))},
		{"policy key in another script", "bad contents", signBundle(t, priv, 5, later, withKey("ph\u043ene.contact.chars"))},
		{"not a bundle", "malformed", []byte("{}")},
	}
}

type auditRecorder struct{ events chan gateway.AuditEvent }

func (a auditRecorder) Audit(e gateway.AuditEvent) { a.events <- e }

// TestFleetRefusesBadBundles offers every kind of bad bundle to a fleet
// running version 2: each is refused with its cause on the audit trail,
// and nothing is applied or stored.
func TestFleetRefusesBadBundles(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	rec := auditRecorder{events: make(chan gateway.AuditEvent, 64)}
	var applied int
	f, err := NewFleet(FleetOptions{
		Keys:        []bundle.PublicKey{bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))},
		Profile:     "quietzone-reference",
		Dir:         dir,
		StoreKey:    bytes.Repeat([]byte{7}, 32),
		Audit:       rec,
		ZoneOptions: func(*uplink.Policy) geofence.Options { return geofence.Options{} },
		Apply: func(context.Context, *geofence.Index, *uplink.Policy) error {
			applied++
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := signBundle(t, priv, 2, time.Now().Add(24*time.Hour), fleetFiles(t))
	if err := f.Offer(ctx, good, SourceFile); err != nil {
		t.Fatal(err)
	}
	if e := <-rec.events; e.Kind != gateway.AuditPolicyApplied || e.Reason != "version 2 from file" {
		t.Errorf("audit %+v", e)
	}
	if err := f.Offer(ctx, good, SourceMQTT); err != nil || applied != 1 {
		t.Errorf("the same bundle again: %v, applied %d times", err, applied)
	}
	stored, err := os.ReadFile(filepath.Join(dir, storeName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte("Demo Depot")) || bytes.Contains(stored, []byte("coordinates")) {
		t.Error("the stored bundle shows the zone list in plaintext")
	}
	for _, tc := range bundleCases(t, priv, other) {
		err := f.Offer(ctx, tc.data, SourceMQTT)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		e := <-rec.events
		if e.Kind != gateway.AuditPolicyRejected || !strings.HasPrefix(e.Reason, tc.cause+" from mqtt") {
			t.Errorf("%s: audit %+v, want %s", tc.name, e, tc.cause)
		}
		if strings.Contains(err.Error(), "Demo") {
			t.Errorf("%s: error quotes the bundle: %v", tc.name, err)
		}
	}
	// The last refused bundle again (a retained message on every
	// reconnection): refused without another audit entry.
	last := bundleCases(t, priv, other)
	if err := f.Offer(ctx, last[len(last)-1].data, SourceMQTT); !errors.Is(err, ErrRefusedBefore) {
		t.Errorf("the same bad bundle again: %v", err)
	}
	if len(rec.events) > 0 {
		t.Errorf("audited again: %+v", <-rec.events)
	}
	if st := f.Stats(); applied != 1 || st.Version != 2 || st.Rejected != uint64(len(bundleCases(t, priv, other))) {
		t.Errorf("applied %d, stats %+v", applied, st)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, storeName)); !bytes.Equal(after, stored) {
		t.Error("a refused bundle changed the stored one")
	}
	// A bundle for another profile.
	forOther, err := bundle.Sign(priv, bundle.Manifest{Version: 7, Issued: time.Now(), Expires: time.Now().Add(time.Hour), Profiles: []string{"other-car"}}, fleetFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Offer(ctx, forOther, SourceFile); !errors.Is(err, ErrNotForThis) {
		t.Errorf("bundle for another profile: %v", err)
	}
	<-rec.events

	// A restart finds the last good bundle; with another store key it
	// does not open, and nothing is applied.
	f2, _ := NewFleet(FleetOptions{Keys: f.keys, Profile: f.profile, Dir: dir, StoreKey: bytes.Repeat([]byte{7}, 32), Audit: rec,
		ZoneOptions: f.build, Apply: f.apply})
	if ok, err := f2.LoadStored(ctx); !ok || err != nil || f2.Stats().Version != 2 {
		t.Errorf("stored bundle: %v, %v, %+v", ok, err, f2.Stats())
	}
	<-rec.events
	f3, _ := NewFleet(FleetOptions{Keys: f.keys, Profile: f.profile, Dir: dir, StoreKey: bytes.Repeat([]byte{8}, 32), Audit: rec,
		ZoneOptions: f.build, Apply: f.apply})
	if ok, err := f3.LoadStored(ctx); ok || !errors.Is(err, atrest.ErrOpen) {
		t.Errorf("stored bundle under another key: %v, %v", ok, err)
	}
	if e := <-rec.events; e.Kind != gateway.AuditPolicyRejected {
		t.Errorf("audit %+v", e)
	}
}

// fleetDaemon writes a vehicle configuration that pins key and has no
// local zones or policy, and starts its daemon on a virtual bus.
type fleetVehicle struct {
	dir    string
	cfg    string
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func startFleetVehicle(t *testing.T, dir, broker string, pub ed25519.PublicKey) *fleetVehicle {
	t.Helper()
	return startFleetVehicleWith(t, dir, broker, pub, "")
}

// startFleetVehicleWith is startFleetVehicle with more lines under uplink:
// (two spaces indented).
func startFleetVehicleWith(t *testing.T, dir, broker string, pub ed25519.PublicKey, uplinkLines string) *fleetVehicle {
	t.Helper()
	pem, err := bundle.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"fleet.pub":        pem,
		"vehicle.identity": testIdentity(t).Marshal(),
		"queue.key":        bytes.Repeat([]byte("5a"), 32),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "quietzone.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `vehicle: {profile: builtin:quietzone, identity_file: vehicle.identity, interfaces: [vbus0]}
cameras: [{name: front, class: exterior, power_line: GPIO17}]
uplink:
  broker: %s
  insecure_plaintext: true
  state_dir: state
  queue: {key_file: queue.key}
%sfleet:
  keys: [fleet.pub]
audit: {summary_every: 1s}
`, broker, uplinkLines), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bus := can.NewBus(time.Now)
	d, err := New(s, Hardware{
		OpenBus: func(string, []can.Filter) (Bus, error) { return bus.Open(), nil },
		OpenPin: func(name string) (gpio.PinOut, error) { return cameratest.NewPin(name), nil },
	}, Options{Logger: slog.New(slog.DiscardHandler), StatusSocket: filepath.Join(dir, "status.sock")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &fleetVehicle{dir: dir, cfg: cfg, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { v.done <- d.Run(ctx) }()
	return v
}

func (v *fleetVehicle) stop(t *testing.T) {
	t.Helper()
	v.cancel()
	if err := <-v.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := v.d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestBundlesOverBroker delivers bundles to a running vehicle over a real
// broker, retained on its policy topic, as a fleet would: a good one is
// applied while running; tampered, rolled-back, expired and unsigned
// ones are refused with an audit event each, and the gateway keeps the
// last good bundle, also across a restart. Before the first bundle the
// vehicle has no zones and stays suppressed.
func TestBundlesOverBroker(t *testing.T) {
	m := uplinktest.StartMosquitto(t)
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	v := startFleetVehicle(t, dir, m.URL(), pub)
	topic := uplink.Topic(v.d.pseudonym, "policy")

	fleet := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("fleet-test").SetProtocolVersion(4))
	if tok := fleet.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer fleet.Disconnect(250)
	publish := func(data []byte) {
		t.Helper()
		if tok := fleet.Publish(topic, 1, true, data); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}

	cantest.WaitFor(t, 30*time.Second, "the gateway to start", func() bool { return v.d.gw.Ticks() > 0 })
	st, err := ReadStatus(context.Background(), filepath.Join(dir, "status.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != gateway.Unknown.String() || !st.Suppressed || st.PolicyVersion != 0 {
		t.Errorf("before any bundle: %+v", st)
	}

	good := signBundle(t, priv, 2, time.Now().Add(24*time.Hour), fleetFiles(t))
	publish(good)
	cantest.WaitFor(t, 30*time.Second, "bundle 2 to be applied", func() bool { return v.d.fleet.Stats().Version == 2 })
	cantest.WaitFor(t, 30*time.Second, "the loop to switch", func() bool { return v.d.gw.Stats().PoliciesApplied == 1 })

	cases := bundleCases(t, priv, other)
	for i, tc := range cases {
		publish(tc.data)
		cantest.WaitFor(t, 30*time.Second, tc.name+" to be refused", func() bool { return v.d.fleet.Stats().Rejected == uint64(i+1) })
	}
	if st := v.d.fleet.Stats(); st.Version != 2 || st.Applied != 1 {
		t.Errorf("after the bad bundles: %+v", st)
	}
	if n := v.d.gw.Stats().PoliciesApplied; n != 1 {
		t.Errorf("%d policies applied, want 1", n)
	}
	// The audit summary goes up: counts and the head, nothing else.
	var sumMu sync.Mutex
	var summary []byte
	if tok := fleet.Subscribe(uplink.Topic(v.d.pseudonym, "audit"), 1, func(_ mqtt.Client, m mqtt.Message) {
		sumMu.Lock()
		summary = bytes.Clone(m.Payload())
		sumMu.Unlock()
	}); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	var as AuditSummary
	cantest.WaitFor(t, 30*time.Second, "the audit summary", func() bool {
		sumMu.Lock()
		defer sumMu.Unlock()
		as = AuditSummary{}
		return summary != nil && json.Unmarshal(summary, &as) == nil && as.Counts[string(gateway.AuditPolicyRejected)] == uint64(len(cases))
	})
	if as.V != 1 || !as.Intact || as.Counts[string(gateway.AuditPolicyApplied)] != 1 || !strings.Contains(as.Head, ":") {
		t.Errorf("audit summary %s", summary)
	}
	// For rollouts and the chain's continuity (issue 15): the bundle in
	// force, the last refusal's cause in a word, and a tail ending at the
	// head.
	if as.Policy != 2 || as.Refused == nil || as.Refused.Cause != cases[len(cases)-1].cause {
		t.Errorf("audit summary's policy %d, refused %+v; want 2 and the last case's cause", as.Policy, as.Refused)
	}
	if n := len(as.Tail); n == 0 || !strings.HasPrefix(as.Head, as.Tail[n-1]) {
		t.Errorf("audit summary's tail %q does not end at the head %s", as.Tail, as.Head)
	}
	if _, err := uplink.ParseAuditSummary(summary); err != nil {
		t.Errorf("the fleet does not read the summary: %v", err)
	}
	if bytes.Contains(summary, []byte("reason")) || bytes.Contains(summary, []byte("time")) {
		t.Errorf("audit summary carries more than counts: %s", summary)
	}
	v.stop(t)

	// The log holds the whole story, and verifies.
	f, err := os.Open(filepath.Join(dir, "state", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(f, audit.VerifyOptions{})
	f.Close()
	if err != nil || !rep.OK() {
		t.Fatalf("audit log: %v %+v", err, rep)
	}
	if rep.Counts[string(gateway.AuditPolicyApplied)] != 1 || rep.Counts[string(gateway.AuditPolicyRejected)] != uint64(len(cases)) {
		t.Errorf("audit counts %v", rep.Counts)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "state", "audit.log"))
	for _, tc := range cases {
		if !bytes.Contains(log, []byte(`"reason":"`+tc.cause+` from mqtt`)) {
			t.Errorf("no audit entry for %s", tc.name)
		}
	}

	// A restart runs the last good bundle before any delivery: a
	// rolled-back bundle is still refused (the retained message is now
	// the last bad one).
	v = startFleetVehicle(t, dir, m.URL(), pub)
	if st := v.d.fleet.Stats(); st.Version != 2 {
		t.Errorf("after a restart: %+v", st)
	}
	cantest.WaitFor(t, 30*time.Second, "the retained bad bundle to be refused", func() bool { return v.d.fleet.Stats().Rejected == 1 })
	publish(signBundle(t, priv, 1, time.Now().Add(time.Hour), fleetFiles(t)))
	cantest.WaitFor(t, 30*time.Second, "the rollback to be refused", func() bool { return v.d.fleet.Stats().Rejected == 2 })
	if st := v.d.fleet.Stats(); st.Version != 2 {
		t.Errorf("after a rollback following a restart: %+v", st)
	}
	// A newer bundle from the file on SIGHUP.
	newer := signBundle(t, priv, 10, time.Now().Add(time.Hour), fleetFiles(t))
	if err := os.WriteFile(filepath.Join(dir, "next.qzb"), newer, 0o600); err != nil {
		t.Fatal(err)
	}
	v.d.run.setup.Config.Fleet.Bundle = "next.qzb"
	if err := v.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := v.d.fleet.Stats(); st.Version != 10 {
		t.Errorf("after a reload: %+v", st)
	}
	v.stop(t)
}

// testIdentity is the test vehicle's identity, enrolled as the fleet
// would.
func testIdentity(t testing.TB) config.Identity {
	t.Helper()
	id, err := config.Enrol([]byte("test-fleet-key-0123456789abcdef\n"), "QZTEST00000000042")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestFleetChecksPolicyAgainstProfile: a bundle's policy is held against
// the vehicle's profile when it is applied: a custom role the profile
// says is location data is refused (an audit event; nothing changes), a
// custom vehicle role is applied, and without the profile a custom role
// is refused, since nothing says what it is.
func TestFleetChecksPolicyAgainstProfile(t *testing.T) {
	dir := t.TempDir()
	dbc, err := os.ReadFile(filepath.Join("..", "..", "can", "profiles", "quietzone.dbc"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "v.dbc"), dbc, 0o600)
	os.WriteFile(filepath.Join(dir, "v.yaml"), []byte("name: v\ndbc: v.dbc\nsignals:\n  vehicle.speed: VCU_Speed.VCU_VehicleSpeed\n"+
		"  gnss.sats: {signal: GNSS_Status.GNSS_NumSats, class: location}\n  cam.counter: {signal: CAM_Command.CAM_CmdCounter, class: vehicle}\n"), 0o600)
	prof, err := config.LoadProfile(filepath.Join(dir, "v.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	files := fleetFiles(t)
	withKey := func(key string) map[string][]byte {
		return map[string][]byte{bundleZones: files[bundleZones], bundlePolicy: []byte("signals:\n  vehicle.speed: {}\n  " + key + ": {}\n")}
	}
	later := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name    string
		vehicle *config.Profile
		key     string
		applied bool
	}{
		{"a custom location role", prof, "gnss.sats", false},
		{"a custom vehicle role", prof, "cam.counter", true},
		{"a role the vehicle does not have", prof, "vehicle.ignition", true},
		{"a custom role, no profile", nil, "cam.counter", false},
	} {
		rec := auditRecorder{events: make(chan gateway.AuditEvent, 4)}
		var got *uplink.Policy
		f, err := NewFleet(FleetOptions{
			Keys: []bundle.PublicKey{bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))}, Profile: "v", Vehicle: tc.vehicle,
			Dir: t.TempDir(), StoreKey: bytes.Repeat([]byte{7}, 32), Audit: rec,
			ZoneOptions: func(*uplink.Policy) geofence.Options { return geofence.Options{} },
			Apply:       func(_ context.Context, _ *geofence.Index, p *uplink.Policy) error { got = p; return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		err = f.Offer(context.Background(), signBundle(t, priv, 1, later, withKey(tc.key)), SourceMQTT)
		e := <-rec.events
		if tc.applied {
			if err != nil || got == nil || e.Kind != gateway.AuditPolicyApplied {
				t.Errorf("%s: %v, audit %+v, want it applied", tc.name, err, e)
			}
			continue
		}
		if !errors.Is(err, ErrContents) || got != nil || e.Kind != gateway.AuditPolicyRejected || !strings.HasPrefix(e.Reason, "bad contents") {
			t.Errorf("%s: %v, audit %+v, want it refused for its contents", tc.name, err, e)
		}
	}
}
