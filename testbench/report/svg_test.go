package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/geofence"
	"quietzone/testbench"
	"quietzone/testbench/internal/svgtest"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.svg from the current output")

// mapReport builds a report by hand, so that the map's golden file does
// not move with the gateway's decisions: a drive past a polygon with a
// hole, a circle and a corridor (and a zone far away that the map leaves
// out), with published positions, gaps, faults and two cameras.
func mapReport(t testing.TB) *testbench.Report {
	t.Helper()
	zoneFile, err := os.ReadFile(filepath.Join("testdata", "map-zones.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	zones, err := geofence.Parse("map-zones.geojson", zoneFile, geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	r := &testbench.Report{
		Scenario: "golden map <past a depot & a radar>", DistanceKm: 5.5,
		Cameras: []testbench.CameraReport{{Name: "front", Class: "exterior"}, {Name: "cabin", Class: "cabin"}},
		Faults: []testbench.FaultMark{
			{At: 60 * time.Second, Kind: "gps dropout"},
			{At: 200 * time.Second, Kind: "spoofed <jump>"},
		},
		PositionPeriod: 5 * time.Second,
		Start:          start,
		ZoneFile:       zoneFile,
	}
	v := scenario.NewMotion([]scenario.Waypoint{
		{Lat: 51.9985, Lon: 10.0000, SpeedKmh: 60}, {Lat: 52.0060, Lon: 10.0150, SpeedKmh: 60},
		{Lat: 52.0060, Lon: 10.0400, SpeedKmh: 60}, {Lat: 51.9990, Lon: 10.0600, SpeedKmh: 60},
	})
	var seq uint64
	for at := time.Second; !v.Done; at += time.Second {
		v.Step(1)
		q := zones.Query(v.Lat, v.Lon, 1000)
		p := testbench.TrackPoint{At: at, Lat: v.Lat, Lon: v.Lon, Inside: q.Inside, InBuffer: q.InBuffer(),
			Suppressed: q.MarginM < 150, Recording: q.MarginM >= 150 && (at/(20*time.Second))%2 == 1}
		r.Track = append(r.Track, p)
		for i, f := range r.Faults {
			if f.At == at {
				r.Faults[i].Lat, r.Faults[i].Lon = v.Lat, v.Lon
			}
		}
		if at%(5*time.Second) == 0 && at > 30*time.Second && q.MarginM > 300 {
			seq++
			r.Records = append(r.Records, uplink.Record{Seq: seq, Time: start.Add(at).Unix(),
				Pos: []float64{math.Round(v.Lat*1e4) / 1e4, math.Round(v.Lon*1e4) / 1e4}})
		}
		state := testbench.CameraStandby
		switch {
		case p.Suppressed:
			state = testbench.CameraOff
		case p.Recording:
			state = testbench.CameraRecording
		}
		if n := len(r.CameraSpans); n > 0 && r.CameraSpans[n-1].State == state {
			r.CameraSpans[n-1].To = at
		} else {
			r.CameraSpans = append(r.CameraSpans, testbench.CameraSpan{Camera: "front", State: state, From: at - time.Second, To: at})
		}
	}
	r.Simulated = r.Track[len(r.Track)-1].At
	r.CameraSpans = append(r.CameraSpans, testbench.CameraSpan{Camera: "cabin", State: testbench.CameraOff, From: 0, To: r.Simulated})
	r.Suppressed = 90 * time.Second
	return r
}

func TestSVGGolden(t *testing.T) {
	r := mapReport(t)
	var got bytes.Buffer
	if err := WriteSVG(&got, r); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "map.golden.svg")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSVGGolden -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("SVG differs from %s at line %d:\n got: %.300s\nwant: %.300s\n(go test -run TestSVGGolden -update rewrites it after a deliberate change)", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("SVG differs from %s in length: %d lines, want %d", golden, len(gl), len(wl))
	}
	// The same report gives the same bytes.
	var again bytes.Buffer
	if err := WriteSVG(&again, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), again.Bytes()) {
		t.Error("two writes of one report differ")
	}
	checkSVG(t, got.Bytes(), r)
}

// checkSVG holds the map's structure against the report it drew.
func checkSVG(t *testing.T, doc []byte, r *testbench.Report) {
	t.Helper()
	els := svgtest.Parse(t, doc)
	count := func(pred func(svgtest.Elem) bool) int {
		n := 0
		for _, e := range els {
			if pred(e) {
				n++
			}
		}
		return n
	}
	ids := map[string]bool{}
	for _, e := range els {
		if id := e.Attrs["id"]; id != "" {
			if ids[id] {
				t.Errorf("id %q twice", id)
			}
			ids[id] = true
		}
	}
	for _, id := range []string{"map", "zones", "route", "gaps", "published", "faults", "legend", "timeline", "axis", "strip-vehicle", "strip-position", "start", "end", "scale"} {
		if !ids[id] {
			t.Errorf("no element with id %q", id)
		}
	}
	for _, c := range r.Cameras {
		if !ids["strip-camera-"+c.Name] {
			t.Errorf("no timeline strip for camera %s", c.Name)
		}
	}
	if n, want := count(func(e svgtest.Elem) bool { return e.Name == "circle" && e.In("published") }), len(r.PublishedPositions()); n != want || n == 0 {
		t.Errorf("%d published points drawn, want %d (and some)", n, want)
	}
	if n, want := count(func(e svgtest.Elem) bool { return e.Name == "g" && e.Attrs["class"] == "gap" }), len(r.RedactionGaps()); n != want || n == 0 {
		t.Errorf("%d redaction gaps drawn, want %d (and some)", n, want)
	}
	if n, want := count(func(e svgtest.Elem) bool { return e.Name == "g" && e.Attrs["class"] == "fault" }), len(r.Faults); n != want {
		t.Errorf("%d fault markers drawn, want %d", n, want)
	}
	if n := count(func(e svgtest.Elem) bool { return e.Attrs["class"] == "route-suppressed" }); n == 0 {
		t.Error("no suppressed stretch of route drawn")
	}
	if n := count(func(e svgtest.Elem) bool {
		return strings.HasPrefix(e.Attrs["class"], "route-") && e.Attrs["class"] != "route-suppressed"
	}); n == 0 {
		t.Error("no stretch of route with the cameras on drawn")
	}
	zones, buffers := count(func(e svgtest.Elem) bool { return e.Attrs["class"] == "zone" }), count(func(e svgtest.Elem) bool { return e.Attrs["class"] == "buffer" })
	if zones == 0 || zones != buffers {
		t.Errorf("%d zones and %d buffers drawn", zones, buffers)
	}
	for _, e := range els {
		for k, v := range e.Attrs {
			if strings.Contains(v, "NaN") || strings.Contains(v, "Inf") {
				t.Errorf("<%s %s=%q>", e.Name, k, v)
			}
		}
	}
}

func TestSVGStructure(t *testing.T) {
	r := mapReport(t)
	var doc bytes.Buffer
	if err := WriteSVG(&doc, r); err != nil {
		t.Fatal(err)
	}
	els := svgtest.Parse(t, doc.Bytes())
	// The far-away zone is left off; the three near the drive are drawn.
	n := 0
	for _, e := range els {
		if e.Attrs["class"] == "zone" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d zones drawn, want the 3 near the drive", n)
	}
	// Text is escaped, not dropped.
	if !strings.Contains(doc.String(), "golden map &lt;past a depot &amp; a radar&gt;") || !strings.Contains(doc.String(), "spoofed &lt;jump&gt;") {
		t.Error("the scenario's name or a fault's kind is not in the SVG, escaped")
	}
	// The gap at the trip's start (no position before 30 s) has no
	// dashed line: there is no published position before it.
	if g := r.RedactionGaps(); len(g) < 2 || !g[0].TripStart {
		t.Errorf("gaps %+v: want one from the trip's start and one past the depot", g)
	}
}

// An empty report (a drive that failed at once) still gives a document.
func TestSVGEmptyReport(t *testing.T) {
	var doc bytes.Buffer
	if err := WriteSVG(&doc, &testbench.Report{Scenario: "nothing"}); err != nil {
		t.Fatal(err)
	}
	svgtest.Parse(t, doc.Bytes())
}

// The built-in drive's map and figures: the SVG is well-formed and shows
// what the drive did; the JSON has the stable names and agrees with the
// report.
func TestBuiltInReportFiles(t *testing.T) {
	rep, err := testbench.Run(context.Background(), scenario.BuiltIn(), testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Track) < int(rep.Simulated/time.Second) || len(rep.CameraSpans) == 0 {
		t.Fatalf("%d track points over %v, %d camera spans", len(rep.Track), rep.Simulated, len(rep.CameraSpans))
	}
	// The spans agree with the cameras' own figures: on is every state
	// but off, and the spans of a camera tile the drive.
	for _, c := range rep.Cameras {
		var on, all time.Duration
		for _, sp := range rep.CameraSpans {
			if sp.Camera != c.Name {
				continue
			}
			if sp.From != all {
				t.Errorf("camera %s: a span starts at %v, the previous ended at %v", c.Name, sp.From, all)
			}
			all = sp.To
			if sp.State != testbench.CameraOff {
				on += sp.To - sp.From
			}
		}
		if on != c.On || all != rep.Simulated {
			t.Errorf("camera %s: spans say on %v over %v; report says on %v over %v", c.Name, on, all, c.On, rep.Simulated)
		}
	}
	var doc bytes.Buffer
	if err := WriteSVG(&doc, rep); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, doc.Bytes(), rep)

	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatalf("JSON: %v\n%s", err, js.String())
	}
	for _, k := range []string{"scenario", "ok", "distance_km", "simulated_s", "suppressed_s", "over_suppressed_s",
		"camera_on_inside_s", "cameras", "uplink", "invariants", "redaction_gaps", "faults", "suppression"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if m["ok"] != true || m["simulated_s"] != rep.Simulated.Seconds() {
		t.Errorf("JSON ok=%v simulated_s=%v, report %v %v", m["ok"], m["simulated_s"], rep.OK(), rep.Simulated.Seconds())
	}
	inv := m["invariants"].(map[string]any)
	if inv["position_leaks"] != 0.0 || inv["positions_seen"] != float64(rep.Findings.PositionsSeen) {
		t.Errorf("invariants %v", inv)
	}
	if gaps := m["redaction_gaps"].([]any); len(gaps) != len(rep.RedactionGaps()) || len(gaps) == 0 {
		t.Errorf("JSON has %d gaps, report %d", len(gaps), len(rep.RedactionGaps()))
	}
}

func BenchmarkWriteSVG(b *testing.B) {
	r := mapReport(b)
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		if err := WriteSVG(&out, r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(out.Len()))
}

// Whatever zone file a report carries, the map is written or refused
// with an error, never a panic.
func FuzzWriteSVGZones(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "map-zones.geojson")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"features":[{"properties":{"radius_m":1e308},"geometry":{"type":"Point","coordinates":[0,0]}}]}`))
	f.Add([]byte(`{"features":[{"geometry":{"type":"MultiPolygon","coordinates":[[]]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &testbench.Report{Scenario: "fuzz", ZoneFile: data, Simulated: time.Minute,
			Track: []testbench.TrackPoint{{At: time.Second, Lat: 1, Lon: 1}, {At: 2 * time.Second, Lat: 1.001, Lon: 1}}}
		var out bytes.Buffer
		_ = WriteSVG(&out, r)
	})
}
