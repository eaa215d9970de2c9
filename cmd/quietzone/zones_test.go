package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// osmZones is the OpenStreetMap zone file, from this package's directory.
const osmZones = "../../../shared/data/zones/osm-military-south-sudan.geojson"

func TestZonesCheckOSM(t *testing.T) {
	if _, err := os.Stat(osmZones); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is absent: run the tests with ../shared/data beside the repository", osmZones)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"zones", "check", "--default-buffer", "100", osmZones}, &out, &errOut); err != nil {
		t.Fatalf("zones check: %v\n%s", err, errOut.String())
	}
	want := osmZones + ": ok: 84 zones (84 Polygon, 0 MultiPolygon, 0 Point circles, 0 LineString corridors), 1386 vertices; 0 with a validity window, 0 with policy overrides\n"
	if !strings.HasPrefix(out.String(), want) || strings.Contains(out.String(), "warning") {
		t.Errorf("output\n%s\nwant it to start with\n%s", out.String(), want)
	}
}

func TestZonesCheckWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.geojson")
	src := `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"a","buffer_m":50,"valid_until":"2026-01-01T00:00:00Z"},"geometry":{"type":"Point","coordinates":[10,52]},"id":"x"},
 {"type":"Feature","properties":{"id":"a","buffer_m":50,"radius_m":10},"geometry":{"type":"Point","coordinates":[11,52]}},
 {"type":"Feature","properties":{"id":"long","buffer_m":50,"width_m":10,"valid_from":"2027-01-01T00:00:00Z"},"geometry":{"type":"LineString","coordinates":[[10,50],[11,50]]}},
 {"type":"Feature","properties":{"policy":{"clear_fixes":5}},"geometry":{"type":"Polygon","coordinates":[[[12,52],[12.01,52],[12.01,52.01],[12,52]]]}}]}`
	src = strings.Replace(src, `"valid_until"`, `"radius_m":10,"valid_until"`, 1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := zonesCheck([]string{path}, &out, &errOut, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`warning: feature 0 (id "a"): expired at 2026-01-01T00:00:00Z: it no longer counts (unless the vehicle's clock is not synchronised)`,
		`warning: feature 1 (id "a"): the same id as feature 0`,
		`warning: feature 2 (id "long"): counts only from 2027-01-01T00:00:00Z`,
		`warning: feature 2 (id "long"): an edge is 71 km long: edges follow great circles, not the straight lines of a map`,
		`warning: 1 zones have no buffer (buffer_m 0, --default-buffer 0)`,
		`warning: 1 zones have no id`,
		`: ok: 4 zones (1 Polygon, 0 MultiPolygon, 2 Point circles, 1 LineString corridors), 7 vertices; 2 with a validity window, 1 with policy overrides`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestZonesCheckRejectsBadFile(t *testing.T) {
	var out, errOut bytes.Buffer
	bad := filepath.Join("..", "..", "geofence", "testdata", "bad", "bow-tie.geojson")
	err := run(context.Background(), []string{"zones", "check", bad}, &out, &errOut)
	if err == nil || err.Error() != "load zones: "+bad+": feature 0: ring 0 crosses itself at edge 0" || exitCode(err) != 1 {
		t.Errorf("bad file: %v (exit %d)", err, exitCode(err))
	}
}

func TestZonesQuery(t *testing.T) {
	square := filepath.Join("..", "..", "geofence", "testdata", "good", "square-ccw.geojson") // 52.00–52.01 N, 10.00–10.02 E, buffer 150
	shapes := filepath.Join("..", "..", "geofence", "testdata", "good", "shapes.geojson")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"inside", []string{"52.005", "10.01", "--zones", square},
			[]string{`nearest      inside #0 sq "Square Depot" (Polygon, buffer 150 m)`, "decision     suppress: inside a zone", "position     withheld"}},
		{"heading for it", []string{"--zones", square, "51.9978", "10.01", "--speed", "100", "--heading", "0"},
			[]string{"94.7 m outside its buffer", `look-ahead   100 km/h, heading 0°, 3s horizon: reaches #0 sq`, "decision     suppress: within a buffer or the look-ahead"}},
		{"heading away", []string{"--zones", square, "51.9978", "10.01", "--speed", "100", "--heading", "180"},
			[]string{"look-ahead   100 km/h, heading 180°, 3s horizon: no buffer within reach", "decision     clear"}},
		{"within the exit margin", []string{"--zones", square, "51.9983", "10.01", "--speed", "0"},
			[]string{"decision     hold: within the exit margin (50 m) of a buffer"}},
		{"far", []string{"--zones", square, "-30", "-60"},
			[]string{"nearest      no zone's buffer within 100 km", "decision     clear"}},
		{"outside the window", []string{"--zones", shapes, "0.005", "41.005", "--at", "2026-06-02T00:00:00Z"},
			[]string{"at 2026-06-02T00:00:00Z", `nearest      inside #1 exercise "Exercise Area"`, "decision     clear"}},
		{"inside the window", []string{"--zones", shapes, "0.005", "41.005", "--at", "2026-06-01T12:00:00Z"},
			[]string{"decision     suppress: inside a zone"}},
		{"any time", []string{"--zones", shapes, "0.005", "41.005", "--at", "any"},
			[]string{"decision     suppress: inside a zone"}},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"zones", "query"}, tc.args...), &out, &errOut); err != nil {
			t.Errorf("%s: %v\n%s", tc.name, err, errOut.String())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out.String())
			}
		}
	}
}

func TestZonesUsage(t *testing.T) {
	square := filepath.Join("..", "..", "geofence", "testdata", "good", "square-ccw.geojson")
	for _, args := range [][]string{
		{"zones"},
		{"zones", "frobnicate"},
		{"zones", "check"},
		{"zones", "check", "a", "b"},
		{"zones", "query", "52", "10"},
		{"zones", "query", "52", "--zones", square},
		{"zones", "query", "52", "10", "--zones", square, "--config", "x.yaml"},
		{"zones", "query", "95", "10", "--zones", square},
		{"zones", "query", "north", "10", "--zones", square},
		{"zones", "query", "52", "10", "--zones", square, "--speed", "fast"},
		{"zones", "query", "52", "10", "--zones", square, "--accuracy", "-3"},
		{"zones", "query", "52", "10", "--zones", square, "--at", "tomorrow"},
		{"zones", "query", "52", "10", "--zones", square, "--nope", "1"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if code := exitCode(err); err == nil || code != 2 {
			t.Errorf("%q: err %v, exit code %d, want a usage error (2)", args, err, code)
		}
	}
}
