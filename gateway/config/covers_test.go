package config

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quietzone/geofence"
)

const testRoads = `{"type": "FeatureCollection", "features": [
  {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[9.9, 52.0], [10.3, 52.0]]}},
  {"type": "Feature", "properties": {}, "geometry": {"type": "MultiLineString",
     "coordinates": [[[9.9, 52.2], [10.3, 52.2]], [[10.0, 51.8], [10.0, 52.3]]]}}
]}
`

func TestParseRoads(t *testing.T) {
	r, err := ParseRoads("roads.geojson", []byte(testRoads))
	if err != nil {
		t.Fatal(err)
	}
	if l := r.LengthM(); l < 100e3 || l > 120e3 {
		t.Errorf("length %.0f m", l)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"not json", "{\n\"type\": ", "roads.geojson:2: "},
		{"a polygon", `{"type": "FeatureCollection", "features": [
{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}]}`, "roads.geojson:2: feature 0: geometry \"Polygon\""},
		{"one position", `{"type": "FeatureCollection", "features": [
{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2]]}},
{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2]]}}]}`, "roads.geojson:2: feature 0: a line needs at least two"},
		{"bad latitude, second feature", `{"type": "FeatureCollection", "features": [
{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2], [1, 3]]}},
{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2], [1, 93]]}}]}`, "roads.geojson:3: feature 1: position 1"},
		{"no length", `{"type": "FeatureCollection", "features": []}`, "roads.geojson:1: the roads have no length"},
		{"not a collection", `{"type": "Feature"}`, "roads.geojson:1: type \"Feature\""},
		{"trailing data", `{"type": "FeatureCollection", "features": []} {}`, "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRoads("roads.geojson", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParseRoads(f *testing.F) {
	f.Add([]byte(testRoads))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[0,1]]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRoads("f", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		lat, lon := r.at(0.5)
		if math.IsNaN(lat) || math.IsNaN(lon) {
			t.Fatal("a point of the roads is not a position")
		}
	})
}

func TestParseRegion(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"51.9,9.9,52.3,10.3", true},
		{"52.3,9.9,51.9,10.3", false},
		{"51.9,9.9,52.3", false},
		{"51.9,9.9,NaN,10.3", false},
		{"-91,0,0,1", false},
	} {
		if _, err := ParseRegion(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.in, err)
		}
	}
}

// Every zone is within its cover, with its buffer and reach, whatever the
// offset; offsets spread over the ring from half the offset to all of it
// (median near 0.79 of it);
// decoys lie away from the zones, on the roads' side, with the radius of
// the zone they stand beside.
func TestMakeCovers(t *testing.T) {
	zones, err := geofence.Parse("z.geojson", []byte(`{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"buffer_m":200},"geometry":{"type":"Polygon","coordinates":[[[10.0,52.0],[10.01,52.0],[10.01,52.01],[10.0,52.01],[10.0,52.0]]]}}]}`), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	roads, err := ParseRoads("roads.geojson", []byte(testRoads))
	if err != nil {
		t.Fatal(err)
	}
	const offset, reach = 2000.0, 400.0
	zlat, zlon, zr := zones.Zone(0).Cap()
	var offsets []float64
	for seed := range uint64(60) {
		data, err := MakeCovers(zones, CoverPlan{OffsetM: offset, ReachM: reach, Decoys: 3, Roads: roads, Rand: rand.NewChaCha8([32]byte{byte(seed)})})
		if err != nil {
			t.Fatal(err)
		}
		cov, err := ParseCovers("covers", data)
		if err != nil {
			t.Fatal(err)
		}
		if cov.Len() != 4 {
			t.Fatalf("%d covers, want 4", cov.Len())
		}
		real := 0
		for i := range cov.Len() {
			clat, clon, cr := cov.Zone(i).Cap()
			if math.Abs(cr-(offset+zr+200+reach)) > 2 {
				t.Fatalf("cover radius %.0f, want %.0f", cr, offset+zr+200+reach)
			}
			d := geofence.DistanceM(clat, clon, zlat, zlon)
			if d <= offset+1 {
				real++
				offsets = append(offsets, d)
				if d+zr+200+reach > cr+1 {
					t.Fatalf("the zone reaches beyond its cover")
				}
			} else if d < offset+2*(zr+200+reach)-1 { // placed 2·offset away, then offset
				t.Fatalf("a decoy %.0f m from the zone", d)
			}
		}
		if real != 1 {
			t.Fatalf("%d covers within the offset of the zone, want 1", real)
		}
	}
	below := 0
	for _, d := range offsets {
		if d < offset/2-1 {
			t.Fatalf("an offset of %.0f m, under half the offset %.0f m", d, offset)
		}
		if d < offset*0.79 {
			below++
		}
	}
	if below < 18 || below > 42 {
		t.Errorf("%d of %d offsets below the median 0.79·offset", below, len(offsets))
	}
	if _, err := MakeCovers(zones, CoverPlan{OffsetM: offset, Decoys: 3}); err == nil {
		t.Error("decoys without roads or a region")
	}
	if _, err := MakeCovers(zones, CoverPlan{OffsetM: offset, Decoys: 3, Region: &Region{52, 10, 52.001, 10.001}}); err == nil {
		t.Error("decoys in a region without room")
	}
}

// zones.covers_file: the covers go with the zones; a bad one is refused
// with file:line, as is one without zones.
func TestConfigCoversFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("zones.geojson", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"radius_m":100},"geometry":{"type":"Point","coordinates":[10,52]}}]}`)
	write("covers.geojson", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"radius_m":3000},"geometry":{"type":"Point","coordinates":[10.01,52.01]}}]}`)
	write("bad.geojson", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"radius_m":3000,"buffer_m":5},"geometry":{"type":"Point","coordinates":[10.01,52.01]}}]}`)
	for _, tc := range []struct {
		name, yaml, want string
		covers           int
	}{
		{"covers", "zones:\n  file: zones.geojson\n  covers_file: covers.geojson\n", "", 1},
		{"no covers", "zones:\n  file: zones.geojson\n", "", 0},
		{"bad covers", "zones:\n  file: zones.geojson\n  covers_file: bad.geojson\n", "bad.geojson: feature 0: a cover is a circle", 0},
		{"covers without zones", "zones:\n  covers_file: covers.geojson\n", "c.yaml:2: zones.covers_file without zones.file", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{path: filepath.Join(dir, "c.yaml")}
			doc, err := DecodeYAML(cfg.path, []byte(tc.yaml), cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg.root = doc.root
			_, zones, _, err := cfg.LoadZonesPolicy(nil)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := 0; zones.Covers() != nil {
				n = zones.Covers().Len()
				if n != tc.covers {
					t.Errorf("%d covers, want %d", n, tc.covers)
				}
			} else if tc.covers != 0 {
				t.Error("no covers")
			}
		})
	}
}

func FuzzParseRegion(f *testing.F) {
	f.Add("51.9,9.9,52.3,10.3")
	f.Add("-90,-180,90,180")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRegion(s)
		if err == nil && !(r.South < r.North && r.West < r.East && r.South >= -90 && r.North <= 90) {
			t.Fatalf("%q: region %+v", s, r)
		}
	})
}
