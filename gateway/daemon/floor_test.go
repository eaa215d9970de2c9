package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
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
	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// testFleet is a Fleet in dir under a fixed key, counting what it applies.
func testFleet(t testing.TB, dir string, priv ed25519.PrivateKey, clock gateway.Clock, applied *[]uint64) *Fleet {
	t.Helper()
	var f *Fleet
	f, err := NewFleet(FleetOptions{
		Keys:        []bundle.PublicKey{bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))},
		Profile:     "quietzone-reference",
		Dir:         dir,
		StoreKey:    bytes.Repeat([]byte{7}, 32),
		Clock:       clock,
		ZoneOptions: func(*uplink.Policy) geofence.Options { return geofence.Options{} },
		Apply: func(context.Context, *geofence.Index, *uplink.Policy) error {
			*applied = append(*applied, f.Stats().Version)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Putting an older bundle.sealed back, or deleting it and offering an
// older bundle over MQTT, does not roll the vehicle back: the version
// floor is kept apart from the store. An expired stored bundle is not
// applied at start either.
func TestFleetStoreRollback(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	later := time.Now().Add(24 * time.Hour)
	v2 := signBundle(t, priv, 2, later, fleetFiles(t))
	v3 := signBundle(t, priv, 3, later, fleetFiles(t))
	setup := func(t *testing.T) (dir string, sealedV2 []byte) {
		dir = t.TempDir()
		var applied []uint64
		f := testFleet(t, dir, priv, nil, &applied)
		if err := f.Offer(ctx, v2, SourceMQTT); err != nil {
			t.Fatal(err)
		}
		sealedV2, err := os.ReadFile(filepath.Join(dir, storeName))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Offer(ctx, v3, SourceMQTT); err != nil || f.Stats().Version != 3 {
			t.Fatalf("v3: %v, %+v", err, f.Stats())
		}
		return dir, sealedV2
	}

	t.Run("an older bundle.sealed put back", func(t *testing.T) {
		dir, sealedV2 := setup(t)
		if err := os.WriteFile(filepath.Join(dir, storeName), sealedV2, 0o600); err != nil {
			t.Fatal(err)
		}
		var applied []uint64
		f := testFleet(t, dir, priv, nil, &applied)
		ok, err := f.LoadStored(ctx)
		if ok || !errors.Is(err, ErrRollback) || len(applied) != 0 || f.Stats().Version != 0 {
			t.Fatalf("loaded %v, %v; applied %v; want the older stored bundle refused as a rollback", ok, err, applied)
		}
		if err := f.Offer(ctx, v2, SourceMQTT); !errors.Is(err, ErrRollback) {
			t.Errorf("v2 over MQTT after: %v", err)
		}
		if err := f.Offer(ctx, v3, SourceMQTT); err != nil || f.Stats().Version != 3 {
			t.Errorf("v3 over MQTT after: %v, %+v", err, f.Stats())
		}
	})
	t.Run("bundle.sealed deleted, an older bundle over MQTT", func(t *testing.T) {
		dir, _ := setup(t)
		if err := os.Remove(filepath.Join(dir, storeName)); err != nil {
			t.Fatal(err)
		}
		var applied []uint64
		f := testFleet(t, dir, priv, nil, &applied)
		if ok, err := f.LoadStored(ctx); ok || err != nil {
			t.Fatalf("no stored bundle: %v, %v", ok, err)
		}
		if err := f.Offer(ctx, v2, SourceMQTT); !errors.Is(err, ErrRollback) || len(applied) != 0 {
			t.Fatalf("v2 over MQTT after v3 was in force: %v, applied %v", err, applied)
		}
		if err := f.Offer(ctx, v3, SourceMQTT); err != nil || f.Stats().Version != 3 {
			t.Errorf("v3 again: %v, %+v", err, f.Stats())
		}
	})
	t.Run("an expired stored bundle", func(t *testing.T) {
		dir := t.TempDir()
		clock := gatewaytest.NewClock(time.Now())
		var applied []uint64
		f := testFleet(t, dir, priv, clock, &applied)
		soon := signBundle(t, priv, 2, clock.Now().Add(time.Hour), fleetFiles(t))
		if err := f.Offer(ctx, soon, SourceMQTT); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Hour)
		applied = nil
		f = testFleet(t, dir, priv, clock, &applied)
		if ok, err := f.LoadStored(ctx); ok || !errors.Is(err, ErrExpired) || len(applied) != 0 {
			t.Fatalf("an expired stored bundle: %v, %v, applied %v", ok, err, applied)
		}
	})
}

// fleetDaemon is a vehicle under fleet management without a broker:
// bundles come from the bundle file, the audit log is in the state
// directory, as on a vehicle.
type fleetDaemon struct {
	dir    string
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func startFleetDaemon(t *testing.T, dir string, pub ed25519.PublicKey) *fleetDaemon {
	t.Helper()
	pem, err := bundle.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"fleet.pub": pem, "queue.key": bytes.Repeat([]byte("5a"), 32)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "quietzone.yaml")
	if err := os.WriteFile(cfg, []byte(`vehicle: {profile: builtin:quietzone, vin: QZTEST00000000042, interfaces: [vbus0]}
cameras: [{name: front, class: exterior, power_line: GPIO17}]
uplink: {state_dir: state, queue: {key_file: queue.key}}
fleet:
  keys: [fleet.pub]
  bundle: policy.qzb
`), 0o600); err != nil {
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
	}, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &fleetDaemon{dir: dir, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { v.done <- d.Run(ctx) }()
	cantest.WaitFor(t, 30*time.Second, "the gateway to start", func() bool { return d.gw.Ticks() > 0 })
	return v
}

func (v *fleetDaemon) stop(t *testing.T) {
	t.Helper()
	v.cancel()
	if err := <-v.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := v.d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A vehicle that lost its version floor (the floor file, or the store
// with it) is held to the newest bundle its audit log says it applied: an
// older bundle put back in the store is not applied, nor one offered over
// MQTT, and it stays without zones (suppressed) until a bundle at least
// as new comes.
func TestFleetFloorFromAuditLog(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	later := time.Now().Add(24 * time.Hour)
	v2 := signBundle(t, priv, 2, later, fleetFiles(t))
	v3 := signBundle(t, priv, 3, later, fleetFiles(t))
	bundleFile := filepath.Join(dir, "policy.qzb")
	store := filepath.Join(dir, "state", storeName)

	os.WriteFile(bundleFile, v2, 0o600)
	v := startFleetDaemon(t, dir, pub)
	if v.d.fleet.Stats().Version != 2 {
		t.Fatalf("v2 not applied: %+v", v.d.fleet.Stats())
	}
	v.stop(t)
	sealedV2, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bundleFile, v3, 0o600)
	v = startFleetDaemon(t, dir, pub)
	if v.d.fleet.Stats().Version != 3 {
		t.Fatalf("v3 not applied: %+v", v.d.fleet.Stats())
	}
	v.stop(t)

	// The attacker: the older store back, the floor gone, no bundle file.
	os.WriteFile(store, sealedV2, 0o600)
	if err := os.Remove(filepath.Join(dir, "state", floorName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	os.Remove(bundleFile)
	v = startFleetDaemon(t, dir, pub)
	defer v.stop(t)
	if st := v.d.fleet.Stats(); st.Version != 0 {
		t.Fatalf("the older stored bundle was applied: %+v", st)
	}
	if st := v.d.Status(); !st.Suppressed {
		t.Errorf("not suppressed without a bundle: %+v", st)
	}
	ctx := context.Background()
	if err := v.d.fleet.Offer(ctx, v2, SourceMQTT); !errors.Is(err, ErrRollback) {
		t.Errorf("v2 over MQTT: %v, want a rollback", err)
	}
	if err := v.d.fleet.Offer(ctx, v3, SourceMQTT); err != nil || v.d.fleet.Stats().Version != 3 {
		t.Errorf("v3 over MQTT: %v, %+v", err, v.d.fleet.Stats())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "state", "audit.log"))
	if !strings.Contains(string(data), "floor lost from stored (version 2)") {
		t.Errorf("the refusal is not on the audit trail:\n%s", data)
	}
}

// A bundle larger than the bound (fleet.max_bundle_mb, 16 MiB by default)
// is refused before anything of it is parsed or hashed, with a cause of
// its own on the audit trail; one within it is not refused for its size.
func TestFleetBoundsBundles(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	rec := auditRecorder{events: make(chan gateway.AuditEvent, 8)}
	var applied []uint64
	f := testFleet(t, t.TempDir(), priv, nil, &applied)
	f.audit = rec
	big := make([]byte, 16<<20+1)
	copy(big, bundle.Magic+"\n")
	if err := f.Offer(context.Background(), big, SourceMQTT); err == nil {
		t.Fatal("accepted")
	}
	next := func() gateway.AuditEvent {
		select {
		case e := <-rec.events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no audit event")
			return gateway.AuditEvent{}
		}
	}
	if e := next(); e.Kind != gateway.AuditPolicyRejected || !strings.HasPrefix(e.Reason, "too large from mqtt") {
		t.Errorf("audit %+v, want too large", e)
	}
	if err := f.Offer(context.Background(), big[:16<<20], SourceMQTT); err == nil {
		t.Fatal("accepted")
	}
	if e := next(); strings.HasPrefix(e.Reason, "too large") {
		t.Errorf("16 MiB refused as too large: %+v", e)
	}
}

// A floor that is gone or does not authenticate is a lost floor: the
// audit log's version stands in for it; with neither, the stored bundle
// is not applied, and only a bundle at least as new is taken.
func TestFleetLostFloor(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	later := time.Now().Add(24 * time.Hour)
	v2 := signBundle(t, priv, 2, later, fleetFiles(t))
	v3 := signBundle(t, priv, 3, later, fleetFiles(t))
	v4 := signBundle(t, priv, 4, later, fleetFiles(t))
	stored := func(t *testing.T) string {
		dir := t.TempDir()
		var applied []uint64
		f := testFleet(t, dir, priv, nil, &applied)
		if err := f.Offer(ctx, v3, SourceMQTT); err != nil {
			t.Fatal(err)
		}
		if st := f.Stats(); st.Floor != 3 {
			t.Fatalf("floor %d after v3", st.Floor)
		}
		return dir
	}
	restart := func(t *testing.T, dir string, audited Applied) (*Fleet, *[]uint64) {
		var applied []uint64
		f := testFleet(t, dir, priv, nil, &applied)
		f.audited, f.floor = audited, audited.Version
		return f, &applied
	}
	t.Run("a forged floor", func(t *testing.T) {
		dir := stored(t)
		p := filepath.Join(dir, floorName)
		data, _ := os.ReadFile(p)
		os.WriteFile(p, bytes.Replace(data, []byte("version 3"), []byte("version 1"), 1), 0o600)
		f, applied := restart(t, dir, Applied{Version: 2, Keyed: true}) // the log cut before v3's entry
		if ok, err := f.LoadStored(ctx); ok || !errors.Is(err, ErrFloorLost) || len(*applied) != 0 || f.Stats().Floor != 3 {
			t.Fatalf("a keyed vehicle's floor lost: %v, %v, %+v", ok, err, f.Stats())
		}
		if err := f.Offer(ctx, v2, SourceMQTT); !errors.Is(err, ErrRollback) {
			t.Errorf("v2 after: %v", err)
		}
		if err := f.Offer(ctx, v3, SourceMQTT); err != nil || f.Stats().Version != 3 {
			t.Errorf("v3 after: %v, %+v", err, f.Stats())
		}
		if v, err := f.readFloor(); err != nil || v != 3 {
			t.Errorf("the floor was not written again: %d, %v", v, err)
		}
	})
	t.Run("first start after the upgrade", func(t *testing.T) {
		dir := stored(t)
		os.Remove(filepath.Join(dir, floorName))
		f, _ := restart(t, dir, Applied{Version: 3}) // entries of the earlier version, without MACs
		if ok, err := f.LoadStored(ctx); !ok || err != nil || f.Stats().Floor != 3 {
			t.Fatalf("the upgrade: %v, %v, %+v", ok, err, f.Stats())
		}
		if v, err := f.readFloor(); err != nil || v != 3 {
			t.Errorf("the floor was not written: %d, %v", v, err)
		}
	})
	t.Run("floor and audit log lost", func(t *testing.T) {
		dir := stored(t)
		os.Remove(filepath.Join(dir, floorName))
		f, applied := restart(t, dir, Applied{})
		if ok, err := f.LoadStored(ctx); ok || !errors.Is(err, ErrFloorLost) || len(*applied) != 0 {
			t.Fatalf("nothing known: %v, %v, applied %v", ok, err, *applied)
		}
		if err := f.Offer(ctx, v2, SourceMQTT); !errors.Is(err, ErrRollback) {
			t.Errorf("v2 below the stored v3: %v", err)
		}
		if err := f.Offer(ctx, v3, SourceMQTT); err != nil || f.Stats().Version != 3 {
			t.Errorf("v3: %v, %+v", err, f.Stats())
		}
		if err := f.Offer(ctx, v4, SourceMQTT); err != nil || f.Stats().Version != 4 {
			t.Errorf("v4: %v, %+v", err, f.Stats())
		}
	})
}

// A bundle stored by an earlier version under the raw key (fleet.key_file
// or uplink.queue.key_file) still loads, and is stored again under the
// derived key; the floor comes from the audit log, as on the first start
// after the upgrade (no floor file yet).
func TestFleetStoreMigration(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	dir := t.TempDir()
	raw := bytes.Repeat([]byte{0x5a}, 32)
	v5 := signBundle(t, priv, 5, time.Now().Add(24*time.Hour), fleetFiles(t))
	old, err := atrest.NewSealer(raw, storeLabel) // as the earlier version sealed it
	if err != nil {
		t.Fatal(err)
	}
	check := old.Check()
	sealed, err := old.Seal(append([]byte(storeMagic), check[:]...), v5, []byte(storeMagic))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, storeName), sealed, 0o600)
	var applied []uint64
	f, err := NewFleet(FleetOptions{
		Keys:         []bundle.PublicKey{bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))},
		Dir:          dir,
		StoreKey:     config.DeriveKeys(raw).Fleet,
		OldStoreKeys: [][]byte{raw},
		Audited:      Applied{Version: 5},
		ZoneOptions:  func(*uplink.Policy) geofence.Options { return geofence.Options{} },
		Apply: func(context.Context, *geofence.Index, *uplink.Policy) error {
			applied = append(applied, 5)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.LoadStored(ctx); !ok || err != nil || f.Stats().Version != 5 {
		t.Fatalf("the old store: %v, %v, %+v", ok, err, f.Stats())
	}
	again, _ := os.ReadFile(filepath.Join(dir, storeName))
	if bytes.Equal(again, sealed) {
		t.Error("not stored again under the derived key")
	}
	if v, err := f.readFloor(); err != nil || v != 5 {
		t.Errorf("floor %d, %v", v, err)
	}
	if _, oldKey, err := f.unseal(again); err != nil || oldKey {
		t.Errorf("stored again: old key %v, %v", oldKey, err)
	}
}

// FuzzParseFloor: no floor file makes parseFloor panic; one it accepts
// (under the fuzz key) is exactly what writeFloor writes for its version.
func FuzzParseFloor(f *testing.F) {
	dir := f.TempDir()
	_, priv, _ := ed25519.GenerateKey(nil)
	var applied []uint64
	fl := testFleet(f, dir, priv, nil, &applied)
	if err := fl.writeFloor(42); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, floorName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(floorMagic + "version 1\nmac 00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseFloor(data, fl.floorMAC)
		if err != nil {
			return
		}
		body := fmt.Appendf(nil, "%sversion %d\n", floorMagic, v)
		if want := fmt.Appendf(body, "mac %x\n", fl.floorMAC(body)); !bytes.Equal(want, data) {
			t.Fatalf("accepted %q as version %d", data, v)
		}
	})
}
