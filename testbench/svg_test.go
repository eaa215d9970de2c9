package testbench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/geofence"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.svg from the current output")

// mapReport builds a report by hand, so that the map's golden file does
// not move with the gateway's decisions: a drive past a polygon with a
// hole, a circle and a corridor (and a zone far away that the map leaves
// out), with published positions, gaps, faults and two cameras.
func mapReport(t testing.TB) *Report {
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
	r := &Report{
		Scenario: "golden map <past a depot & a radar>", DistanceKm: 5.5,
		Cameras: []CameraReport{{Name: "front", Class: "exterior"}, {Name: "cabin", Class: "cabin"}},
		Faults: []FaultMark{
			{At: 60 * time.Second, Kind: "gps dropout"},
			{At: 200 * time.Second, Kind: "spoofed <jump>"},
		},
		PositionPeriod: 5 * time.Second,
		start:          start,
		zoneFile:       zoneFile,
	}
	v := newVehicle([]scenario.Waypoint{
		{Lat: 51.9985, Lon: 10.0000, SpeedKmh: 60}, {Lat: 52.0060, Lon: 10.0150, SpeedKmh: 60},
		{Lat: 52.0060, Lon: 10.0400, SpeedKmh: 60}, {Lat: 51.9990, Lon: 10.0600, SpeedKmh: 60},
	})
	var seq uint64
	for at := time.Second; !v.Done; at += time.Second {
		v.step(1)
		q := zones.Query(v.Lat, v.Lon, 1000)
		p := TrackPoint{At: at, Lat: v.Lat, Lon: v.Lon, Inside: q.Inside, InBuffer: q.InBuffer(),
			Suppressed: q.MarginM < 150, Recording: q.MarginM >= 150 && (at/(20*time.Second))%2 == 1}
		r.Track = append(r.Track, p)
		for i, f := range r.Faults {
			if f.At == at {
				r.Faults[i].Lat, r.Faults[i].Lon = v.Lat, v.Lon
			}
		}
		if at%(5*time.Second) == 0 && at > 30*time.Second && q.MarginM > 300 {
			seq++
			r.records = append(r.records, uplink.Record{Seq: seq, Time: start.Add(at).Unix(),
				Pos: []float64{math.Round(v.Lat*1e4) / 1e4, math.Round(v.Lon*1e4) / 1e4}})
		}
		state := CameraStandby
		switch {
		case p.Suppressed:
			state = CameraOff
		case p.Recording:
			state = CameraRecording
		}
		if n := len(r.CameraSpans); n > 0 && r.CameraSpans[n-1].State == state {
			r.CameraSpans[n-1].To = at
		} else {
			r.CameraSpans = append(r.CameraSpans, CameraSpan{Camera: "front", State: state, From: at - time.Second, To: at})
		}
	}
	r.Simulated = r.Track[len(r.Track)-1].At
	r.CameraSpans = append(r.CameraSpans, CameraSpan{Camera: "cabin", State: CameraOff, From: 0, To: r.Simulated})
	r.Suppressed = 90 * time.Second
	return r
}

func TestSVGGolden(t *testing.T) {
	r := mapReport(t)
	var got bytes.Buffer
	if err := r.WriteSVG(&got); err != nil {
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
	if err := r.WriteSVG(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), again.Bytes()) {
		t.Error("two writes of one report differ")
	}
	checkSVG(t, got.Bytes(), r)
}

// svgElem is an element of the parsed document with the ids and classes
// of the groups it sits in.
type svgElem struct {
	name    string
	attrs   map[string]string
	parents []string // ids and classes of the enclosing elements
}

func (e svgElem) in(idOrClass string) bool {
	for _, p := range e.parents {
		if p == idOrClass {
			return true
		}
	}
	return false
}

// parseSVG reads the document with encoding/xml: it must be well-formed,
// and its root an svg element in the SVG namespace.
func parseSVG(t *testing.T, doc []byte) []svgElem {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack [][]string
	var out []svgElem
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if len(out) == 0 && (el.Name.Local != "svg" || el.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v, want svg in the SVG namespace", el.Name)
			}
			e := svgElem{name: el.Name.Local, attrs: map[string]string{}}
			var mine []string
			for _, a := range el.Attr {
				e.attrs[a.Name.Local] = a.Value
				if a.Name.Local == "id" || a.Name.Local == "class" {
					mine = append(mine, a.Value)
				}
			}
			for _, s := range stack {
				e.parents = append(e.parents, s...)
			}
			out = append(out, e)
			stack = append(stack, mine)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	return out
}

// checkSVG holds the map's structure against the report it drew.
func checkSVG(t *testing.T, doc []byte, r *Report) {
	t.Helper()
	els := parseSVG(t, doc)
	count := func(pred func(svgElem) bool) int {
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
		if id := e.attrs["id"]; id != "" {
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
	if n, want := count(func(e svgElem) bool { return e.name == "circle" && e.in("published") }), len(r.PublishedPositions()); n != want || n == 0 {
		t.Errorf("%d published points drawn, want %d (and some)", n, want)
	}
	if n, want := count(func(e svgElem) bool { return e.name == "g" && e.attrs["class"] == "gap" }), len(r.RedactionGaps()); n != want || n == 0 {
		t.Errorf("%d redaction gaps drawn, want %d (and some)", n, want)
	}
	if n, want := count(func(e svgElem) bool { return e.name == "g" && e.attrs["class"] == "fault" }), len(r.Faults); n != want {
		t.Errorf("%d fault markers drawn, want %d", n, want)
	}
	if n := count(func(e svgElem) bool { return e.attrs["class"] == "route-suppressed" }); n == 0 {
		t.Error("no suppressed stretch of route drawn")
	}
	if n := count(func(e svgElem) bool {
		return strings.HasPrefix(e.attrs["class"], "route-") && e.attrs["class"] != "route-suppressed"
	}); n == 0 {
		t.Error("no stretch of route with the cameras on drawn")
	}
	zones, buffers := count(func(e svgElem) bool { return e.attrs["class"] == "zone" }), count(func(e svgElem) bool { return e.attrs["class"] == "buffer" })
	if zones == 0 || zones != buffers {
		t.Errorf("%d zones and %d buffers drawn", zones, buffers)
	}
	for _, e := range els {
		for k, v := range e.attrs {
			if strings.Contains(v, "NaN") || strings.Contains(v, "Inf") {
				t.Errorf("<%s %s=%q>", e.name, k, v)
			}
		}
	}
}

func TestSVGStructure(t *testing.T) {
	r := mapReport(t)
	var doc bytes.Buffer
	if err := r.WriteSVG(&doc); err != nil {
		t.Fatal(err)
	}
	els := parseSVG(t, doc.Bytes())
	// The far-away zone is left off; the three near the drive are drawn.
	n := 0
	for _, e := range els {
		if e.attrs["class"] == "zone" {
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
	if err := (&Report{Scenario: "nothing"}).WriteSVG(&doc); err != nil {
		t.Fatal(err)
	}
	parseSVG(t, doc.Bytes())
}

// The built-in drive's map and figures: the SVG is well-formed and shows
// what the drive did; the JSON has the stable names and agrees with the
// report.
func TestBuiltInReportFiles(t *testing.T) {
	rep, err := Run(context.Background(), scenario.BuiltIn(), Options{})
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
			if sp.State != CameraOff {
				on += sp.To - sp.From
			}
		}
		if on != c.On || all != rep.Simulated {
			t.Errorf("camera %s: spans say on %v over %v; report says on %v over %v", c.Name, on, all, c.On, rep.Simulated)
		}
	}
	var doc bytes.Buffer
	if err := rep.WriteSVG(&doc); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, doc.Bytes(), rep)

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
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
		if err := r.WriteSVG(&out); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(out.Len()))
}
