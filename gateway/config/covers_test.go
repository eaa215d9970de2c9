package config

import (
	"fmt"
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
		// As tracks: every count is of tracks, at most all of them.
		tr, err := newTraffic(r)
		if err != nil {
			return
		}
		cross, ends, _ := tr.at(lat, lon, 5000)
		if cross < 1 || cross > len(tr.seen) || ends > 2*len(tr.seen) {
			t.Fatalf("%d crossing, %d ends of %d tracks", cross, ends, len(tr.seen))
		}
	})
}

// Tracks are counted at a disc once each, however many of their
// segments or lines come near it (a MultiLineString is one trip), by any
// point of a segment, not its ends alone; their starts and ends in it
// each count.
func TestTraffic(t *testing.T) {
	r, err := ParseRoads("tracks.geojson", []byte(`{"type": "FeatureCollection", "features": [
  {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[9.9, 52.0], [10.0, 52.0], [10.0, 52.001], [10.1, 52.0]]}},
  {"type": "Feature", "geometry": {"type": "MultiLineString", "coordinates": [[[9.5, 52.01], [10.5, 52.01]], [[10.0, 51.9], [10.0, 52.0]]]}},
  {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[10.0, 52.2], [10.0, 52.3]]}},
  {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[9.0, 52.0], [11.0, 52.0]]}}
]}`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTraffic(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                     string
		lat, lon, r              float64
		wantCross, ends, through int
	}{
		{"the crossing", 52.0, 10.0, 500, 3, 1, 2},             // track 1 twice, track 2's second line ends there, the long one; 1 and the long one pass through
		{"wider", 52.0, 10.0, 1500, 3, 1, 2},                   // the first line of track 2 is 1.1 km north: still one track
		{"middle of a long segment", 52.0, 10.6, 200, 1, 0, 1}, // the 137 km segment, no vertex near
		{"a start", 52.2, 10.0, 100, 1, 1, 0},
		{"near a start", 52.2, 10.0 + 1.0/68.5, 100, 0, 0, 0}, // a kilometre east: nothing crosses
		{"the ends of one", 52.25, 10.0, 6000, 1, 2, 0},
		{"nothing", 53.0, 10.0, 1000, 0, 0, 0},
		{"the pole", 90, 0, 1000, 0, 0, 0},        // more cells than the index holds: its own
		{"the whole earth", 52, 10, 3e7, 4, 8, 0}, // every track, every end
	} {
		t.Run(tc.name, func(t *testing.T) {
			cross, ends, through := tr.at(tc.lat, tc.lon, tc.r)
			if cross != tc.wantCross || ends != tc.ends || through != tc.through {
				t.Errorf("%d crossing, %d ends, %d through; want %d, %d, %d", cross, ends, through, tc.wantCross, tc.ends, tc.through)
			}
		})
	}
}

// A tracks file is read as roads are, its errors naming the file and line.
func TestLoadTracks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tracks.geojson")
	if err := os.WriteFile(p, []byte("{\"type\": \"FeatureCollection\", \"features\": [\n{\"type\": \"Feature\", \"geometry\": {\"type\": \"Point\", \"coordinates\": [10, 52]}}]}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTracks(p); err == nil || !strings.Contains(err.Error(), p+":2: feature 0: geometry \"Point\"") {
		t.Errorf("err = %v", err)
	}
	if _, err := LoadTracks(p + ".none"); err == nil || !strings.Contains(err.Error(), "load tracks") {
		t.Errorf("err = %v", err)
	}
}

// trackCountry is a fleet's past: a zone at a place where 60 tracks end
// and 30 pass, another place as busy 20 km east, a quiet one 20 km
// west where 5 end, and quiet roads between them.
func trackCountry(t *testing.T) (*geofence.Index, *Roads) {
	t.Helper()
	zones, err := geofence.Parse("z.geojson", []byte(`{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"radius_m":300,"buffer_m":200},"geometry":{"type":"Point","coordinates":[10.0,52.0]}}]}`), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	n := 0
	line := func(pts ...[2]float64) {
		if n > 0 {
			b.WriteString(",")
		}
		n++
		b.WriteString(`{"type":"Feature","geometry":{"type":"LineString","coordinates":[`)
		for i, p := range pts {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "[%.5f,%.5f]", p[0], p[1])
		}
		b.WriteString("]}}")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, place := range []struct {
		lon        float64
		ends, pass int
	}{{10.0, 60, 30}, {10.3, 60, 30}, {9.7, 5, 0}} {
		for range place.ends { // from 4–8 km away, any direction
			a, d := rng.Float64()*2*math.Pi, 4000+rng.Float64()*4000
			line([2]float64{place.lon + d*math.Sin(a)/68600, 52.0 + d*math.Cos(a)/111200}, [2]float64{place.lon, 52.0})
		}
		for range place.pass { // north to south through it
			line([2]float64{place.lon + (rng.Float64()-0.5)*0.01, 51.93}, [2]float64{place.lon + (rng.Float64()-0.5)*0.01, 52.07})
		}
	}
	for i := range 10 { // quiet roads, a track each
		lat := 51.8 + 0.04*float64(i)
		line([2]float64{9.6, lat}, [2]float64{10.4, lat + 0.01})
	}
	b.WriteString("]}")
	r, err := ParseRoads("tracks", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return zones, r
}

// With tracks, a decoy goes where the fleet's traffic is the real
// cover's: at the other busy place, not on a quiet road (as decoys
// placed uniformly on roads mostly were: an observer saw a real cover
// busy and its decoys empty, and picked the real one); it overlaps no
// cover, and has the real cover's radius.
func TestMakeCoversByTracks(t *testing.T) {
	zones, tracks := trackCountry(t)
	tr, err := newTraffic(tracks)
	if err != nil {
		t.Fatal(err)
	}
	const offset, reach = 2000.0, 400.0
	zlat, zlon, _ := zones.Zone(0).Cap()
	busy := 0
	const seeds = 40
	for seed := range uint64(seeds) {
		for _, plan := range []CoverPlan{
			{OffsetM: offset, ReachM: reach, Decoys: 1, Tracks: tracks},
			{OffsetM: offset, ReachM: reach, Decoys: 1, Roads: tracks}, // as before: for the figure in the message
		} {
			plan.Rand = rand.NewChaCha8([32]byte{byte(seed)})
			data, err := MakeCovers(zones, plan)
			if err != nil {
				t.Fatal(err)
			}
			cov, err := ParseCovers("covers", data)
			if err != nil {
				t.Fatal(err)
			}
			var realC, decoy [3]float64
			for i := range cov.Len() {
				lat, lon, r := cov.Zone(i).Cap()
				if geofence.DistanceM(lat, lon, zlat, zlon) <= offset+1 {
					realC = [3]float64{lat, lon, r}
				} else {
					decoy = [3]float64{lat, lon, r}
				}
			}
			if realC[2] == 0 || decoy[2] == 0 {
				t.Fatal("want a real cover and a decoy")
			}
			if math.Abs(decoy[2]-realC[2]) > 1 {
				t.Fatalf("decoy radius %.0f, real %.0f", decoy[2], realC[2])
			}
			if d := geofence.DistanceM(realC[0], realC[1], decoy[0], decoy[1]); d < realC[2]+decoy[2]-2 {
				t.Fatalf("the decoy overlaps the real cover: %.0f m apart", d)
			}
			rc, re, rt := tr.at(realC[0], realC[1], realC[2])
			dc, de, dt := tr.at(decoy[0], decoy[1], decoy[2])
			if plan.Tracks != nil {
				if math.Abs(float64(dc-rc)) > 0.25*float64(rc) || math.Abs(float64(de-re)) > 0.25*float64(re) || math.Abs(float64(dt-rt)) > 0.25*float64(rt)+1 {
					t.Errorf("seed %d: decoy with %d crossing, %d ends, %d through; the real cover %d, %d, %d", seed, dc, de, dt, rc, re, rt)
				}
			} else if math.Abs(float64(dc-rc)) <= 0.25*float64(rc) && math.Abs(float64(de-re)) <= 0.25*float64(re) {
				busy++
			}
		}
	}
	t.Logf("without tracks, %d of %d decoys as busy as the real cover", busy, seeds)
}

// Decoys overlap no cover, real or decoy, whatever places them; but real
// covers that overlap (zones close together) have their decoys made as
// copies of the pair, overlapping as much: overlap is then no sign of a
// real cover.
func TestMakeCoversApart(t *testing.T) {
	_, tracks := trackCountry(t)
	for _, tc := range []struct {
		name  string
		zones string
		pairs int // of overlapping covers
	}{
		{"apart", `[10.0,52.0]}},{"type":"Feature","properties":{"radius_m":600},"geometry":{"type":"Point","coordinates":[10.3,52.02]`, 0},
		{"close", `[10.0,52.0]}},{"type":"Feature","properties":{"radius_m":600},"geometry":{"type":"Point","coordinates":[10.01,52.01]`, 4},
	} {
		zones, err := geofence.Parse("z.geojson", []byte(`{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"radius_m":300},"geometry":{"type":"Point","coordinates":`+tc.zones+`}}]}`), geofence.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for seed := range uint64(10) {
			for _, plan := range []CoverPlan{
				{OffsetM: 1000, Decoys: 3, Tracks: tracks},
				{OffsetM: 1000, Decoys: 3, Roads: tracks},
				{OffsetM: 1000, Decoys: 3, Region: &Region{51.5, 9.5, 52.5, 10.5}},
			} {
				plan.Rand = rand.NewChaCha8([32]byte{byte(seed), 1})
				data, err := MakeCovers(zones, plan)
				if err != nil {
					t.Fatal(err)
				}
				cov, err := ParseCovers("covers", data)
				if err != nil {
					t.Fatal(err)
				}
				if cov.Len() != 8 {
					t.Fatalf("%d covers", cov.Len())
				}
				var apart []float64
				for i := range cov.Len() {
					for j := range i {
						alat, alon, ar := cov.Zone(i).Cap()
						blat, blon, br := cov.Zone(j).Cap()
						if d := geofence.DistanceM(alat, alon, blat, blon); d < ar+br-2 {
							apart = append(apart, d)
						}
					}
				}
				if len(apart) != tc.pairs {
					t.Fatalf("%s: %d pairs of covers overlap, want %d", tc.name, len(apart), tc.pairs)
				}
				for _, d := range apart {
					if math.Abs(d-apart[0]) > 5 {
						t.Fatalf("%s: overlapping pairs %.0f m and %.0f m apart", tc.name, d, apart[0])
					}
				}
			}
		}
	}
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
