package scenario

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quietzone/gateway/config"
	"quietzone/geofence"
)

func TestRouteFiles(t *testing.T) {
	for _, f := range []string{"testdata/gpx.yaml", "testdata/geojson.yaml"} {
		sc, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Route) < 5 {
			t.Errorf("%s: route of %d points", f, len(sc.Route))
		}
		if got := RouteLength(sc.Route); math.Abs(got-8400) > 500 {
			t.Errorf("%s: route %.0f m long, want about 8.4 km", f, got)
		}
	}
	sc, err := Load("testdata/gpx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The speed profile splits the legs where the speed changes.
	var kmh []float64
	for _, w := range sc.Route {
		if len(kmh) == 0 || kmh[len(kmh)-1] != w.SpeedKmh {
			kmh = append(kmh, w.SpeedKmh)
		}
	}
	if want := []float64{50, 80, 50}; !equalFloats(kmh, want) {
		t.Errorf("speeds along the route %v, want %v", kmh, want)
	}
	if sc.GPSRateHz != 2 || sc.Step != defaultStep || sc.Profile != config.BuiltinPrefix+"quietzone" {
		t.Errorf("defaults: %+v", sc)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Bad scenario files are refused with file:line: reason.
func TestScenarioErrors(t *testing.T) {
	const head = "name: x\nzones: builtin:demo-zones.geojson\n"
	for _, tc := range []struct {
		yaml, want string
	}{
		{"", "bad.yaml:1: empty file"},
		{"name: x\nzonez: a\n", "bad.yaml:2: field zonez not found"},
		{"zones: builtin:demo-zones.geojson\nroute: {waypoints: [[1, 2], [1, 3]]}\n", "bad.yaml:1: name is required"},
		{head + "route: {waypoints: [[1, 2]]}\n", "bad.yaml:3: route: two waypoints"},
		{head + "route:\n  waypoints:\n    - [1, 2]\n    - [91, 2]\n", "bad.yaml:6: waypoint 1: lat 91, lon 2: out of range"},
		{head + "route:\n  waypoints:\n    - [1, 2, 0]\n    - [1, 3]\n", "bad.yaml:5: waypoint 0: speed 0 km/h"},
		{head + "route: {gpx: a.gpx, geojson: b.json}\n", "bad.yaml:3: route: give exactly one"},
		{head + "route: {gpx: missing.gpx}\n", "bad.yaml:3: route: open"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nseed: 1.5\n", "bad.yaml:4: seed: want a whole number"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nstep: 5s\n", "bad.yaml:4: step 5s"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\ngps: {rate_hz: -1}\n", "bad.yaml:4: gps.rate_hz -1"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\ntriggers: {burst: [3s]}\n", "bad.yaml:4: triggers.burst"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: gps_dropout}\n", "bad.yaml:5: fault 0: gps_dropout: a positive duration"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: meteor, for: 1s}\n", `bad.yaml:5: fault 0: unknown fault kind "meteor"`},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: stale_fix, for: 1s}\n", "bad.yaml:5: fault 0: stale_fix: a positive age"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: clock_step, by: x}\n", "bad.yaml:5:"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: gps_drag, turn_deg: 180, speed_ratio: 1}\n", "bad.yaml:5: fault 0: gps_drag: a positive duration"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: gps_drag, for: 1m, turn_deg: 180}\n", "bad.yaml:5: fault 0: gps_drag: speed_ratio 0: want more than 0, at most 2"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: gps_drag, for: 1m, speed_ratio: .nan}\n", "bad.yaml:5: fault 0: gps_drag: speed_ratio NaN"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: gps_drag, for: 1m, speed_ratio: 1, turn_dps: 400}\n", "bad.yaml:5: fault 0: gps_drag: turn_deg 0, turn_dps 400: want at most 360° and 90 °/s"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\nfaults:\n  - {kind: gps_jump, north_m: 10, turn_deg: 180}\n", "bad.yaml:5: fault 0: gps_jump: speed_ratio, turn_deg and turn_dps are a gps_drag's"},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\ndrop_roles: [vehicle.yaw_rate, vehicle.yaw_rate]\n", `bad.yaml:4: drop_roles: "vehicle.yaw_rate" is not a role the vehicle's profile maps, or is named twice`},
		{head + "route: {waypoints: [[1, 2], [1, 3]]}\ndrop_roles:\n  - vehicle.speed\n  - vehicle.yaw\n", `bad.yaml:6: drop_roles: "vehicle.yaw" is not a role`},
		{"name: x\nroute: {waypoints: [[1, 2], [1, 3]]}\n", "bad.yaml:1: zones is required"},
		{"name: x\nzones: nowhere.geojson\n", "bad.yaml:2: zones: open"},
		{"name: x\nzones: builtin:nowhere.geojson\n", `bad.yaml:2: zones: no built-in file "nowhere.geojson"`},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tc.want)) && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.yaml, err, tc.want)
		}
	}
	if _, err := Load("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "urban") {
		t.Errorf("unknown shipped scenario: %v", err)
	}
}

func TestParseGPX(t *testing.T) {
	for _, tc := range []struct{ gpx, want string }{
		{`<gpx><rte><rtept lat="1" lon="2"/><rtept lat="1.5" lon="2"/></rte></gpx>`, ""},
		{`<gpx><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>`, "two points or more"},
		{"<gpx>\n<trk><trkseg>\n<trkpt lat=\"1\" lon=\"200\"/>", "r.gpx:3: GPX trkpt: lat 1, lon 200: out of range"},
		{"<gpx>\n<trkpt lat=\"x\" lon=\"2\"/>", "r.gpx:2: GPX trkpt: lat \"x\""},
		{"<gpx>\n<trkpt lat=\"1\"/>", "r.gpx:2: GPX trkpt: lat and lon attributes are required"},
		{"<kml></kml>", "r.gpx:1: not a GPX file"},
		{"<gpx>\n<trk></gpx>", "r.gpx:2: GPX:"},
	} {
		pts, err := parseGPX("r.gpx", []byte(tc.gpx))
		switch {
		case tc.want == "" && (err != nil || len(pts) != 2):
			t.Errorf("%q: %v, %d points", tc.gpx, err, len(pts))
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q:\n got %v\nwant %s", tc.gpx, err, tc.want)
		}
	}
}

func TestParseGeoJSONRoute(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"type":"LineString","coordinates":[[2,1],[2,1.5,30]]}`, ""},
		{`{"type":"FeatureCollection","features":[{"geometry":{"type":"Point","coordinates":[1,2]}},{"geometry":{"type":"LineString","coordinates":[[2,1],[3,1]]}}]}`, ""},
		{`{"type":"Point","coordinates":[1,2]}`, `type "Point"`},
		{`{"type":"LineString","coordinates":[[2,1]]}`, "two points or more"},
		{`{"type":"LineString","coordinates":[[2,100],[2,1]]}`, "point 0: lat 100"},
		{"{\n\"type\": \"LineString\",\n oops}", "r.json:3: GeoJSON route:"},
		{`{"type":"Feature","geometry":null}`, "no geometry"},
	} {
		pts, err := parseGeoJSONRoute("r.json", []byte(tc.json))
		switch {
		case tc.want == "" && (err != nil || len(pts) != 2):
			t.Errorf("%q: %v, %d points", tc.json, err, len(pts))
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q:\n got %v\nwant %s", tc.json, err, tc.want)
		}
	}
}

func TestRandomScenarioIsReproducible(t *testing.T) {
	a, b := Random(42), Random(42)
	if a.Name != b.Name || !bytes.Equal(a.Zones, b.Zones) || len(a.Route) != len(b.Route) || len(a.Faults) != len(b.Faults) {
		t.Fatal("the same seed made different trips")
	}
	for s := uint64(0); s < 200; s++ {
		sc := Random(s)
		for _, f := range sc.Faults {
			if err := f.Validate(); err != nil {
				t.Fatalf("seed %d: %v", s, err)
			}
		}
		if _, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{}); err != nil {
			t.Fatalf("seed %d: zones: %v", s, err)
		}
	}
}

func FuzzParseScenario(f *testing.F) {
	ents, _ := shipped.ReadDir("scenarios")
	for _, e := range ents {
		data, _ := shipped.ReadFile("scenarios/" + e.Name())
		f.Add(data)
	}
	f.Add([]byte("name: x\nzones: builtin:demo-zones.geojson\nroute: {waypoints: [[1, 2], [1, 3, 20]]}\nspeed: [{from_km: 0, kmh: 9}]\n"))
	f.Add([]byte("name: x\nzones: builtin:demo-zones.geojson\nroute: {waypoints: [[1, 2], [1, 3]]}\ndrop_roles: [vehicle.yaw_rate, '']\nfaults: [{kind: gps_drag, for: 1s, speed_ratio: 2.5, turn_deg: -361, turn_dps: .inf}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Only built-in files load: a mutated path must not open
		// whatever it names on the machine (a FIFO would block).
		noFiles := func(p string) ([]byte, error) { return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist} }
		sc, err := parse("fuzz.yaml", data, "", noFiles)
		if err != nil {
			var ce *config.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if sc.Name == "" || len(sc.Route) < 2 || sc.Step <= 0 {
			t.Fatalf("accepted an unusable scenario: %+v", sc)
		}
		for _, w := range sc.Route {
			if !(w.SpeedKmh > 0) || math.IsNaN(w.Lat) || math.IsNaN(w.Lon) {
				t.Fatalf("accepted a bad waypoint %+v", w)
			}
		}
		for _, ft := range sc.Faults {
			if err := ft.Validate(); err != nil {
				t.Fatalf("accepted a bad fault: %v", err)
			}
		}
	})
}

func FuzzParseGPX(f *testing.F) {
	data, _ := os.ReadFile("testdata/route.gpx")
	f.Add(data)
	f.Add([]byte(`<gpx><rte><rtept lat="1" lon="2"/><rtept lat="1.5" lon="2"/></rte></gpx>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pts, err := parseGPX("fuzz.gpx", data)
		if err != nil {
			return
		}
		checkRoute(t, pts)
	})
}

// checkRoute fails t unless an accepted route has two points or more,
// every one a position.
func checkRoute(t *testing.T, pts []Waypoint) {
	t.Helper()
	if len(pts) < 2 {
		t.Fatalf("accepted %d points", len(pts))
	}
	for _, p := range pts {
		if _, err := checkPoint(p.Lat, p.Lon); err != nil {
			t.Fatalf("accepted %v", err)
		}
	}
}

func FuzzParseGeoJSONRoute(f *testing.F) {
	data, _ := os.ReadFile("testdata/route.geojson")
	f.Add(data)
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"geometry":{"type":"LineString","coordinates":[[2,1],[3,1]]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pts, err := parseGeoJSONRoute("fuzz.geojson", data)
		if err != nil {
			var ce *config.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error without a file: %v", err)
			}
			return
		}
		checkRoute(t, pts)
	})
}

// Some random trips wire a proper, non-empty subset of the cameras.
func TestRandomTripsWireSubsets(t *testing.T) {
	all := BuiltIn().Cameras
	subsets := 0
	for seed := range uint64(200) {
		cams := Random(seed).Cameras
		if len(cams) == 0 {
			t.Fatalf("seed %d wires no camera", seed)
		}
		if len(cams) < len(all) {
			subsets++
		}
		for i := 1; i < len(cams); i++ {
			if cams[i-1].Name == cams[i].Name {
				t.Fatalf("seed %d: camera %s twice", seed, cams[i].Name)
			}
		}
	}
	if subsets < 25 || subsets > 80 {
		t.Errorf("%d of 200 trips wire a subset, want about one in four", subsets)
	}
	if len(BuiltIn().Cameras) != len(all) {
		t.Error("Random changed the built-in cameras")
	}
}
