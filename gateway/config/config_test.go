package config_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"
	"time"

	"quietzone/gateway"
)

func TestLoadGoodConfig(t *testing.T) {
	good := gatewaytest.GoodDir(t)
	s, err := config.Load(filepath.Join(good, "quietzone.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Zones.Len() != 2 || len(s.Config.Cameras) != 3 || s.VIN != "QZTEST00000000042" || s.Pseudonym != "6ryhun6r4h6ocotb" || len(s.Keys.Audit) != 32 {
		t.Errorf("loaded %d zones, %d cameras, vin %q", s.Zones.Len(), len(s.Config.Cameras), s.VIN)
	}
	if s.Config.Decision.ClearFixes != 5 || s.Config.Decision.MaxFixAge != 1500*time.Millisecond {
		t.Errorf("decision overrides not applied: %+v", s.Config.Decision)
	}
	if d := gateway.DefaultDecision(); s.Config.Decision.Tick != d.Tick {
		t.Errorf("unset decision keys lost their defaults: %+v", s.Config.Decision)
	}
	if s.Policy.Position == nil || s.Policy.Position.PrecisionM != 500 {
		t.Errorf("policy position %+v", s.Policy.Position)
	}
	if len(s.Profile.Commands) != 3 {
		t.Errorf("profile commands %v", s.Profile.Commands)
	}
	e := s.Config.Enforcement
	if e.Grace != 2*time.Second || e.SwitchMode != "level" || e.IndicatorLine != "GPIO6" ||
		!s.Config.Cameras[0].PurgeOnEntry || !s.Config.Cameras[1].PowerActiveLow {
		t.Errorf("enforcement %+v, cameras %+v", e, s.Config.Cameras)
	}
	if got, want := s.Config.StateFilePath(), filepath.Join(good, "state", config.StateFileName); got != want {
		t.Errorf("state file %s, want %s (in uplink.state_dir)", got, want)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string // "FILE:LINE: reason" with FILE relative to the set's directory
	}{
		{"yaml syntax", map[string]string{"quietzone.yaml": "vehicle:\n  profile: [\n"}, "quietzone.yaml:2: did not find expected node content"},
		{"unknown key", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "camras: []\n"}, "quietzone.yaml:8: field camras not found"},
		{"wrong type", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: f, class: exterior}]\ndecision: {clear_fixes: lots}\n"}, "quietzone.yaml:9: cannot unmarshal"},
		{"no cameras", map[string]string{"quietzone.yaml": gatewaytest.GoodHead}, "quietzone.yaml:1: cameras: at least one camera is required"},
		{"bad class", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras:\n  - name: f\n    class: dashcam\n"}, "quietzone.yaml:10: camera f: class \"dashcam\""},
		{"bad decision", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\ndecision:\n  clear_fixes: 0\n"}, "quietzone.yaml:10: clear_fixes must be at least 1"},
		{"uncontrollable camera", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras:\n  - {name: side, class: exterior}\n"}, "quietzone.yaml:9: camera side: the profile has no command for it and it has no power_line"},
		{"missing vin", map[string]string{"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "  vin: QZTEST00000000042\n", "", 1) + "cameras: [{name: front, class: exterior}]\n"}, "quietzone.yaml:2: vehicle.vin or vehicle.vin_file is required"},
		{"policy allows phone data", map[string]string{"policy.yaml": "signals:\n  vehicle.speed: {}\n  phone.contact.chars: {}\n"}, "policy.yaml:3: phone.contact.chars: personal data, which never leaves the vehicle"},
		{"policy bad precision", map[string]string{"policy.yaml": "position:\n  precision_m: 0\n"}, "policy.yaml:2: position: precision_m must be at least 1"},
		{"policy unknown key", map[string]string{"policy.yaml": "signals: {}\nbatches: {}\n"}, "policy.yaml:2: field batches not found"},
		{"policy time quantum zero", map[string]string{"policy.yaml": "signals: {}\nnear_zones:\n  time_quantum_s: 0\n"}, "policy.yaml:3: near_zones.time_quantum_s: must be whole seconds"},
		{"policy time quantum fraction", map[string]string{"policy.yaml": "near_zones:\n  time_quantum_s: 1.5\n"}, "policy.yaml:2: near_zones.time_quantum_s: must be whole seconds"},
		{"policy time quantum too long", map[string]string{"policy.yaml": "near_zones:\n  jitter_m: 10\n  time_quantum_s: 7200\n"}, "policy.yaml:3: near_zones.time_quantum_s"},
		{"policy default quantum below the period", map[string]string{"policy.yaml": "telemetry_period: 90s\n"}, "policy.yaml:1: near_zones.time_quantum_s: must be whole seconds, at least the telemetry period (1m30s)"},
		{"policy negative jitter", map[string]string{"policy.yaml": "near_zones:\n  trip_end_m: 10\n  jitter_m: -3\n"}, "policy.yaml:3: near_zones.jitter_m: must be 0 to 10000 metres"},
		{"policy trip end too far", map[string]string{"policy.yaml": "near_zones:\n  trip_end_m: 1e9\n"}, "policy.yaml:2: near_zones.trip_end_m: must be 0 to 50000 metres"},
		{"policy unknown near_zones key", map[string]string{"policy.yaml": "near_zones:\n  jiter_m: 3\n"}, "policy.yaml:2: field jiter_m not found"},
		{"zone file", map[string]string{"zones.geojson": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[10,52]}}]}`}, "zones.geojson: feature 0: a Point zone needs a positive radius_m"},
		{"broker without a state dir", map[string]string{"quietzone.yaml": withUplink("  broker: tcp://127.0.0.1:1883\n  insecure_plaintext: true\n")}, "quietzone.yaml:8: uplink.state_dir is required with a broker"},
		{"negative quota", map[string]string{"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    quota_mb: -1\n")}, "quietzone.yaml:11: uplink.queue.quota_mb: -1, want"},
		{"tiny quota", map[string]string{"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    fsync: batch\n    quota_mb: 0.01\n")}, "quietzone.yaml:12: uplink.queue.quota_mb"},
		{"bad fsync", map[string]string{"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    fsync: sometimes\n")}, "quietzone.yaml:11: uplink.queue.fsync: \"sometimes\": want batch, or a duration"},
		{"slow fsync", map[string]string{"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    fsync: 1m\n")}, "quietzone.yaml:11: uplink.queue.fsync"},
		{"queue without a state dir", map[string]string{"quietzone.yaml": withUplink("  queue:\n    fsync: batch\n")}, "quietzone.yaml:10: uplink.queue needs uplink.state_dir"},
		{"unknown queue key", map[string]string{"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    quota: 5\n")}, "quietzone.yaml:11: field quota not found"},
		{"missing queue key file", map[string]string{"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    key_file: nope.key\n")}, "quietzone.yaml:11: queue key: open"},
		{"fleet without keys", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  bundle: b.qzb\n"}, "quietzone.yaml:10: fleet: keys are required"},
		{"fleet without a state dir", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  keys: [fleet.pub]\n"}, "quietzone.yaml:10: fleet.state_dir (or uplink.state_dir) is required"},
		{"fleet without a store key", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  state_dir: s\n  keys: [fleet.pub]\n"}, "quietzone.yaml:10: fleet: a key is required to seal the stored zone list"},
		{"fleet bundle bound", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  state_dir: s\n  key_file: queue.key\n  keys: [fleet.pub]\n  max_bundle_mb: 1000\n"}, "quietzone.yaml:13: fleet.max_bundle_mb: 1000, want 0.0625 (64 KiB) to 256"},
		{"fleet key missing", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  state_dir: s\n  key_file: queue.key\n  keys: [nope.pub]\n", "queue.key": strings.Repeat("ab", 32)}, "quietzone.yaml:12: load public key"},
		{"fleet key not a key", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nfleet:\n  state_dir: s\n  key_file: queue.key\n  keys: [policy.yaml]\n", "queue.key": strings.Repeat("ab", 32)}, "quietzone.yaml:12: load"},
		{"enabled exterior", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras:\n  - {name: front, class: exterior}\n  - name: rear\n    class: exterior\n    enabled: true\n"}, "quietzone.yaml:12: camera rear: enabled is for cabin cameras"},
		{"duplicate camera", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras:\n  - {name: front, class: exterior}\n  - {name: front, class: exterior}\n"}, "quietzone.yaml:10: camera front: a second camera"},
		{"line used twice", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras:\n  - {name: front, class: exterior, power_line: GPIO17}\n  - name: rear\n    class: exterior\n    trigger_line: GPIO17\n"}, "quietzone.yaml:12: gpio line GPIO17 is already the power line of camera front"},
		{"switch on a power line", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior, power_line: GPIO17}]\nenforcement:\n  indicator_line: GPIO5\n  switch_line: GPIO17\n"}, "quietzone.yaml:11: gpio line GPIO17 is already the power line of camera front"},
		{"purge without a command", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras:\n  - name: side\n    class: exterior\n    power_line: GPIO9\n    purge_on_entry: true\n"}, "quietzone.yaml:12: camera side: purge_on_entry needs a command"},
		{"negative grace", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nenforcement:\n  grace: -1s\n"}, "quietzone.yaml:10: enforcement.grace: -1s, want 1ms to 1h"},
		{"bad switch mode", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nenforcement:\n  switch_mode: push\n"}, "quietzone.yaml:10: enforcement.switch mode \"push\": want level or toggle"},
		{"unknown enforcement key", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\nenforcement:\n  grace_period: 2s\n"}, "quietzone.yaml:10: field grace_period not found"},
		{"unknown camera key", map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras:\n  - name: front\n    class: exterior\n    purge: true\n"}, "quietzone.yaml:11: field purge not found"},
		{"missing policy file", map[string]string{"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "policy.yaml", "nope.yaml", 1) + "cameras: [{name: front, class: exterior}]\n"}, "nope.yaml: no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := gatewaytest.WriteSet(t, tc.files)
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("accepted")
			}
			got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
			if !strings.Contains(got, tc.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", got, tc.want)
			}
		})
	}
}

// withUplink is a valid configuration whose uplink section (at line 7)
// has the given lines.
func withUplink(lines string) string {
	return strings.Replace(gatewaytest.GoodHead, "uplink: {drain_timeout: 5s}\n", "uplink:\n  drain_timeout: 5s\n"+lines, 1) +
		"cameras: [{name: front, class: exterior}]\n"
}

// The queue key must be the daemon's alone: a key file others may read is
// refused at its line; one only its owner may read is loaded.
func TestLoadQueueKey(t *testing.T) {
	path := gatewaytest.WriteSet(t, map[string]string{
		"quietzone.yaml": withUplink("  state_dir: s\n  queue:\n    key_file: queue.key\n"),
		"queue.key":      strings.Repeat("ab", 32) + "\n",
	})
	key := filepath.Join(filepath.Dir(path), "queue.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	var ce *config.ConfigError
	if !errors.As(err, &ce) || ce.Line != 11 || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file: %v, want an error at line 11 saying chmod 600", err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Without an identity the key file is the root the keys derive from,
	// and the old key of what earlier versions sealed with it.
	raw := bytes.Repeat([]byte{0xab}, 32)
	if want := config.DeriveKeys(raw); !bytes.Equal(s.Keys.Queue, want.Queue) || !bytes.Equal(s.Keys.OldQueue, raw) || bytes.Equal(s.Keys.Queue, raw) {
		t.Errorf("keys %+v", s.Keys)
	}
}

func TestConfigErrorCarriesLine(t *testing.T) {
	path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: f, class: nope}]\n"})
	_, err := config.Load(path)
	var ce *config.ConfigError
	if !errors.As(err, &ce) || ce.Line != 8 || ce.File != path {
		t.Fatalf("error %v: want a ConfigError at %s:8", err, path)
	}
}

func TestLoadProfileErrors(t *testing.T) {
	dir := t.TempDir()
	dbc := "VERSION \"\"\n\nBO_ 100 M: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" X\n"
	if err := os.WriteFile(filepath.Join(dir, "v.dbc"), []byte(dbc), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ profile, want string }{
		{"dbc: v.dbc\nsignals:\n  vehicle.speed: M.S\n  position.latitude: M.T\n", "p.yaml:4: role position.latitude: signal T is not in message M"},
		{"dbc: v.dbc\nsignals:\n  vehicle.speed: MS\n", "p.yaml:3: vehicle.speed: want MESSAGE.SIGNAL"},
		{"dbc: v.dbc\ncommands:\n  camera.front: M.X\n", "p.yaml:3: command camera.front: no signal"},
		{"signals: {}\n", "p.yaml:1: dbc is required"},
		{"dbc: missing.dbc\n", "missing.dbc: no such file"},
	}
	for _, tc := range cases {
		p := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(p, []byte(tc.profile), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := config.LoadProfile(p)
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir+"/", ""), tc.want) {
			t.Errorf("profile %q: error %v, want %q", tc.profile, err, tc.want)
		}
	}
}

// TestFractionForAnInteger: the YAML library would cut 30.7 to 30 without
// a word; the loaders refuse it with the line.
func TestFractionForAnInteger(t *testing.T) {
	cases := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"policy.yaml": "signals: {}\nbatch:\n  max_records: 30.7\n"}, "policy.yaml:3: a whole number is wanted here"},
		{map[string]string{"quietzone.yaml": gatewaytest.GoodHead + "cameras: [{name: front, class: exterior}]\ndecision:\n  clear_fixes: 2.5\n"}, "quietzone.yaml:10: a whole number is wanted here"},
	}
	for _, tc := range cases {
		_, err := config.Load(gatewaytest.WriteSet(t, tc.files))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	// A whole number written as a float is a whole number.
	if _, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"policy.yaml": "signals: {}\nbatch:\n  max_records: 30.0\n"})); err != nil {
		t.Errorf("30.0 refused: %v", err)
	}
}

func TestLoadReachCoversDecisions(t *testing.T) {
	good := gatewaytest.GoodDir(t)
	s, err := config.Load(filepath.Join(good, "quietzone.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Config.Decision
	// 2 × 50 m accuracy + the larger of 400 km/h × 3 s and the 500 m
	// grid's snapping error (354 m, +1 %).
	want := 100 + math.Max(400/3.6*3, 500*math.Sqrt2/2*1.01)
	if got := s.Zones.ReachM(); math.Abs(got-want) > 1e-6 || got != d.ZoneReachM(s.Policy.PositionMarginM()) {
		t.Errorf("zone index reach %v, want %v", got, want)
	}
}

func TestLoadLookAheadKeys(t *testing.T) {
	head := "vehicle: {profile: builtin:quietzone, vin: QZTEST00000000042}\nzones: {file: zones.geojson}\npolicy: policy.yaml\nuplink: {drain_timeout: 5s}\ncameras: [{name: front, class: exterior}]\n"
	path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": head + "decision:\n  exit_margin_m: 80\n  max_accel_mps2: 2.5\n  max_lateral_accel_mps2: 4\n  heading_sigma_deg: 15\n  min_heading_speed_kmh: 8\n  zone_clock_skew: 1m\n"})
	s, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Config.Decision
	if d.ExitMarginM != 80 || d.MaxAccelMps2 != 2.5 || d.MaxLateralMps2 != 4 || d.HeadingSigmaDeg != 15 || d.MinHeadingSpeedKmh != 8 || d.ZoneClockSkew != time.Minute {
		t.Errorf("decision %+v", d)
	}
	for _, tc := range []struct{ yaml, want string }{ // errors point at decision's line, as the others do
		{"  exit_margin_m: -1\n", "quietzone.yaml:7: exit_margin_m must not be negative"},
		{"  max_accel_mps2: -3\n", "quietzone.yaml:7: max_accel_mps2, max_lateral_accel_mps2 and min_heading_speed_kmh must not be negative"},
		{"  heading_sigma_deg: 120\n", "quietzone.yaml:7: heading_sigma_deg must be from 0 to 90"},
		{"  zone_clock_skew: -1s\n", "quietzone.yaml:7: zone_clock_skew must not be negative"},
	} {
		path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": head + "decision:\n" + tc.yaml})
		_, err := config.Load(path)
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), filepath.Dir(path)+"/", ""), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
