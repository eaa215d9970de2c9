package testbench

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// The map is hand-written SVG: a handful of element kinds, written in a
// fixed order with fixed number formats, so that the same report gives
// the same bytes (the golden test depends on it) and any browser opens it.

const (
	svgWidth    = 960.0
	svgMargin   = 20.0
	mapTop      = 52.0
	mapMinH     = 260.0
	mapMaxH     = 640.0
	stripLabelW = 80.0
	stripH      = 14.0
	stripGap    = 8.0
	// zonesNearM: zones farther than this from the drive are left off.
	zonesNearM = 3000.0
)

// Colours, one per meaning; the legend and the timeline share them.
const (
	colZone      = "#7f0000"
	colBuffer    = "#f4a582"
	colRouteOn   = "#2ca02c"
	colRouteRec  = "#1f77b4"
	colRouteOff  = "#d62728"
	colPublished = "#08306b"
	colGap       = "#969696"
	colFault     = "#6a3d9a"
	colBlocked   = "#ff7f0e"
	colStandby   = colRouteOn
)

var stateColour = map[CameraState]string{
	CameraOff: colRouteOff, CameraBlocked: colBlocked, CameraStandby: colStandby, CameraRecording: colRouteRec,
}

// svgWriter collects the document; the first write error sticks.
type svgWriter struct {
	w   *bufio.Writer
	err error
}

func (s *svgWriter) p(format string, a ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, a...)
	}
}

// num formats a coordinate: one decimal, never "-0.0".
func num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0
	}
	s := strconv.FormatFloat(x, 'f', 1, 64)
	if s == "-0.0" {
		return "0.0"
	}
	return s
}

// esc escapes text for XML content and attribute values.
func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to memory: cannot fail
	return b.String()
}

// view maps the local plane onto the map's pixels, north up.
type view struct {
	pl     plane
	lo     xy // plane point at the map's left, bottom
	scale  float64
	x0, y0 float64 // pixel of lo
	w, h   float64
	// zones are those near the drive, which the map draws.
	zones []zoneShape
}

func (v view) px(lat, lon float64) (float64, float64) {
	q := v.pl.xy(lat, lon)
	return v.x0 + (q.x-v.lo.x)*v.scale, v.y0 - (q.y-v.lo.y)*v.scale
}

func (v view) pt(lat, lon float64) string {
	x, y := v.px(lat, lon)
	return num(x) + "," + num(y)
}

// newView fits the drive, its published points, its faults and the zones
// near it into the map.
func newView(r *Report, zones []zoneShape) view {
	var lats, lons []float64
	for _, p := range r.Track {
		lats, lons = append(lats, p.Lat), append(lons, p.Lon)
	}
	for _, p := range r.PublishedPositions() {
		lats, lons = append(lats, p.Lat), append(lons, p.Lon)
	}
	for _, f := range r.Faults {
		lats, lons = append(lats, f.Lat), append(lons, f.Lon)
	}
	if len(lats) == 0 {
		for _, z := range zones {
			c := z.centroid(newPlane(0, 0))
			lat, lon := newPlane(0, 0).latLon(c)
			lats, lons = append(lats, lat), append(lons, lon)
		}
	}
	if len(lats) == 0 {
		lats, lons = []float64{0}, []float64{0}
	}
	minLat, maxLat, minLon, maxLon := lats[0], lats[0], lons[0], lons[0]
	for i := range lats {
		minLat, maxLat = math.Min(minLat, lats[i]), math.Max(maxLat, lats[i])
		minLon, maxLon = math.Min(minLon, lons[i]), math.Max(maxLon, lons[i])
	}
	pl := newPlane((minLat+maxLat)/2, (minLon+maxLon)/2)
	lo, hi := pl.xy(minLat, minLon), pl.xy(maxLat, maxLon)
	v := view{pl: pl}
	for _, z := range zones {
		zlo, zhi := z.bounds(pl)
		if zlo.x > hi.x+zonesNearM || zhi.x < lo.x-zonesNearM || zlo.y > hi.y+zonesNearM || zhi.y < lo.y-zonesNearM {
			continue
		}
		v.zones = append(v.zones, z)
		lo.x, lo.y = math.Min(lo.x, zlo.x), math.Min(lo.y, zlo.y)
		hi.x, hi.y = math.Max(hi.x, zhi.x), math.Max(hi.y, zhi.y)
	}
	// Pad by 5% and at least 100 m, so that a straight drive has a width.
	pad := math.Max(100, 0.05*math.Max(hi.x-lo.x, hi.y-lo.y))
	lo, hi = xy{lo.x - pad, lo.y - pad}, xy{hi.x + pad, hi.y + pad}
	v.w = svgWidth - 2*svgMargin
	v.h = math.Max(mapMinH, math.Min(mapMaxH, v.w*(hi.y-lo.y)/(hi.x-lo.x)))
	v.scale = math.Min(v.w/(hi.x-lo.x), v.h/(hi.y-lo.y))
	// Centre the extent in the map.
	v.lo = xy{(lo.x+hi.x)/2 - v.w/2/v.scale, (lo.y+hi.y)/2 - v.h/2/v.scale}
	v.x0, v.y0 = svgMargin, mapTop+v.h
	return v
}

// WriteSVG draws the drive: the zones with their buffers, the exact route
// coloured by what the cameras were allowed to do, the positions that
// were published, the redaction gaps between them and the injected
// faults; below the map, a timeline strip per camera.
//
// Buffers are drawn exactly in the local plane: a zone's outline stroked
// twice the buffer wide with round joins covers every point within the
// buffer of its edge, which with the zone's own area is the buffered zone.
func (r *Report) WriteSVG(w io.Writer) error {
	var zones []zoneShape
	if len(r.zoneFile) > 0 {
		var err error
		if zones, err = parseZoneShapes(r.zoneFile); err != nil {
			return fmt.Errorf("write svg: %w", err)
		}
	}
	v := newView(r, zones)
	legendTop := mapTop + v.h + 14
	stripsTop := legendTop + 52
	nStrips := 2 + len(r.Cameras) // vehicle, cameras..., position
	height := stripsTop + float64(nStrips)*(stripH+stripGap) + 40

	s := &svgWriter{w: bufio.NewWriter(w)}
	s.p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.p(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11">`+"\n",
		num(svgWidth), num(height), num(svgWidth), num(height))
	s.p("<title>quietzone — %s</title>\n", esc(r.Scenario))
	s.p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	s.p(`<text x="%s" y="22" font-size="15" font-weight="bold">quietzone — %s</text>`+"\n", num(svgMargin), esc(r.Scenario))
	verdict := "all invariants hold"
	if !r.OK() {
		verdict = "INVARIANT VIOLATED"
	}
	s.p(`<text x="%s" y="40">%.1f km in %s; suppressed %s; positions published: %d, redaction gaps: %d; %s</text>`+"\n",
		num(svgMargin), r.DistanceKm, clock(r.Simulated), clock(r.Suppressed), len(r.PublishedPositions()), len(r.RedactionGaps()), verdict)

	s.p(`<g id="map"><rect x="%s" y="%s" width="%s" height="%s" fill="#f7f7f7" stroke="#bdbdbd"/>`+"\n",
		num(v.x0), num(mapTop), num(v.w), num(v.h))
	s.p(`<clipPath id="mapclip"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>`+"\n", num(v.x0), num(mapTop), num(v.w), num(v.h))
	s.p(`<g clip-path="url(#mapclip)">` + "\n")
	r.svgZones(s, v)
	r.svgGaps(s, v)
	r.svgRoute(s, v)
	r.svgPublished(s, v)
	r.svgFaults(s, v)
	s.p("</g>\n")
	svgScaleBar(s, v)
	s.p("</g>\n")
	svgLegend(s, legendTop)
	r.svgTimeline(s, stripsTop)
	s.p("</svg>\n")
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return fmt.Errorf("write svg: %w", s.err)
	}
	return nil
}

func (r *Report) svgZones(s *svgWriter, v view) {
	s.p(`<g id="zones">` + "\n")
	for _, z := range v.zones {
		b, zw := 2*z.BufferM*v.scale, z.WidthM*v.scale
		switch z.Kind {
		case "polygon":
			var d bytes.Buffer
			for _, rings := range z.Parts {
				for _, ring := range rings {
					for i, c := range ring {
						if i == 0 {
							d.WriteString("M")
						} else {
							d.WriteString(" L")
						}
						d.WriteString(v.pt(c[1], c[0]))
					}
					d.WriteString(" Z ")
				}
			}
			path := bytes.TrimSpace(d.Bytes())
			s.p(`<path class="buffer" d="%s" fill="%s" fill-rule="evenodd" stroke="%s" stroke-width="%s" stroke-linejoin="round" opacity="0.45"/>`+"\n",
				path, colBuffer, colBuffer, num(b))
			s.p(`<path class="zone" d="%s" fill="%s" fill-opacity="0.55" fill-rule="evenodd" stroke="%s"><title>%s (buffer %.0f m)</title></path>`+"\n",
				path, colZone, colZone, esc(z.ID), z.BufferM)
		case "circle":
			x, y := v.px(z.Center[1], z.Center[0])
			s.p(`<circle class="buffer" cx="%s" cy="%s" r="%s" fill="%s" fill-opacity="0.45"/>`+"\n", num(x), num(y), num((z.RadiusM+z.BufferM)*v.scale), colBuffer)
			s.p(`<circle class="zone" cx="%s" cy="%s" r="%s" fill="%s" fill-opacity="0.55" stroke="%s"><title>%s (buffer %.0f m)</title></circle>`+"\n",
				num(x), num(y), num(z.RadiusM*v.scale), colZone, colZone, esc(z.ID), z.BufferM)
		case "corridor":
			var pts bytes.Buffer
			for i, c := range z.Line {
				if i > 0 {
					pts.WriteByte(' ')
				}
				pts.WriteString(v.pt(c[1], c[0]))
			}
			s.p(`<polyline class="buffer" points="%s" fill="none" stroke="%s" stroke-opacity="0.45" stroke-width="%s" stroke-linejoin="round" stroke-linecap="round"/>`+"\n",
				pts.Bytes(), colBuffer, num(zw+b))
			s.p(`<polyline class="zone" points="%s" fill="none" stroke="%s" stroke-opacity="0.55" stroke-width="%s" stroke-linejoin="round" stroke-linecap="round"><title>%s (buffer %.0f m)</title></polyline>`+"\n",
				pts.Bytes(), colZone, num(zw), esc(z.ID), z.BufferM)
		}
	}
	s.p("</g>\n")
}

// routeColour is the colour of the route where the vehicle was at p.
func routeColour(p TrackPoint) (class, colour string) {
	switch {
	case p.Suppressed:
		return "route-suppressed", colRouteOff
	case p.Recording:
		return "route-recording", colRouteRec
	}
	return "route-on", colRouteOn
}

func (r *Report) svgRoute(s *svgWriter, v view) {
	s.p(`<g id="route" fill="none" stroke-width="3" stroke-linejoin="round" stroke-linecap="round">` + "\n")
	for i := 0; i+1 < len(r.Track); {
		class, colour := routeColour(r.Track[i+1])
		var pts bytes.Buffer
		pts.WriteString(v.pt(r.Track[i].Lat, r.Track[i].Lon))
		j := i + 1
		for ; j < len(r.Track); j++ {
			if c, _ := routeColour(r.Track[j]); c != class {
				break
			}
			pts.WriteByte(' ')
			pts.WriteString(v.pt(r.Track[j].Lat, r.Track[j].Lon))
		}
		s.p(`<polyline class="%s" stroke="%s" points="%s"/>`+"\n", class, colour, pts.Bytes())
		i = j - 1
	}
	if n := len(r.Track); n > 0 {
		x, y := v.px(r.Track[0].Lat, r.Track[0].Lon)
		s.p(`<circle id="start" cx="%s" cy="%s" r="5" fill="#ffffff" stroke="#000000" stroke-width="2"><title>start</title></circle>`+"\n", num(x), num(y))
		x, y = v.px(r.Track[n-1].Lat, r.Track[n-1].Lon)
		s.p(`<rect id="end" x="%s" y="%s" width="9" height="9" fill="#000000"><title>end</title></rect>`+"\n", num(x-4.5), num(y-4.5))
	}
	s.p("</g>\n")
}

// svgGaps marks each redaction gap: the stretch of the exact route it
// hid, and a dashed line between the published positions around it
// (what an observer of the published track sees).
func (r *Report) svgGaps(s *svgWriter, v view) {
	s.p(`<g id="gaps" fill="none">` + "\n")
	for _, g := range r.RedactionGaps() {
		var pts bytes.Buffer
		for _, p := range r.Track {
			if p.At >= g.From.At && p.At <= g.To.At {
				if pts.Len() > 0 {
					pts.WriteByte(' ')
				}
				pts.WriteString(v.pt(p.Lat, p.Lon))
			}
		}
		title := fmt.Sprintf("redaction gap %s – %s (%.0f s)", clock(g.From.At), clock(g.To.At), (g.To.At - g.From.At).Seconds())
		switch {
		case g.TripStart:
			title += ", from the start of the trip"
		case g.TripEnd:
			title += ", to the end of the trip"
		}
		s.p(`<g class="gap"><title>%s</title>`, esc(title))
		if pts.Len() > 0 {
			s.p(`<polyline points="%s" stroke="%s" stroke-opacity="0.5" stroke-width="10" stroke-linecap="round"/>`, pts.Bytes(), colGap)
		}
		if !g.TripStart && !g.TripEnd {
			x1, y1 := v.px(g.From.Lat, g.From.Lon)
			x2, y2 := v.px(g.To.Lat, g.To.Lon)
			s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>`,
				num(x1), num(y1), num(x2), num(y2), colPublished)
		}
		s.p("</g>\n")
	}
	s.p("</g>\n")
}

func (r *Report) svgPublished(s *svgWriter, v view) {
	s.p(`<g id="published" fill="%s">`+"\n", colPublished)
	for _, p := range r.PublishedPositions() {
		x, y := v.px(p.Lat, p.Lon)
		s.p(`<circle cx="%s" cy="%s" r="2.5"/>`+"\n", num(x), num(y))
	}
	s.p("</g>\n")
}

func (r *Report) svgFaults(s *svgWriter, v view) {
	s.p(`<g id="faults" fill="%s">`+"\n", colFault)
	for _, f := range r.Faults {
		x, y := v.px(f.Lat, f.Lon)
		s.p(`<g class="fault"><title>%s</title><path d="M%s,%s l6,6 l-6,6 l-6,-6 Z" stroke="#ffffff"/><text x="%s" y="%s">%s</text></g>`+"\n",
			esc(fmt.Sprintf("%s at %s", f.Kind, clock(f.At))), num(x), num(y-6), num(x+8), num(y+4), esc(f.Kind))
	}
	s.p("</g>\n")
}

// svgScaleBar draws a bar of a round length near a fifth of the map.
func svgScaleBar(s *svgWriter, v view) {
	want := v.w / 5 / v.scale
	m := 1.0
	for _, c := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000} {
		if c <= want {
			m = c
		}
	}
	label := fmt.Sprintf("%.0f m", m)
	if m >= 1000 {
		label = fmt.Sprintf("%.0f km", m/1000)
	}
	x, y := v.x0+10, v.y0-12
	s.p(`<g id="scale"><path d="M%s,%s v4 h%s v-4" fill="none" stroke="#000000" stroke-width="1.5"/><text x="%s" y="%s">%s (north up)</text></g>`+"\n",
		num(x), num(y-4), num(m*v.scale), num(x+m*v.scale+6), num(y), label)
}

func svgLegend(s *svgWriter, top float64) {
	type entry struct{ shape, colour, label string }
	rows := [][]entry{
		{{"area", colZone, "zone"}, {"area", colBuffer, "buffer"}, {"dot", colPublished, "published position"},
			{"gap", colGap, "redaction gap: route hidden, dashed as an observer sees it"}, {"fault", colFault, "injected fault"}},
		{{"line", colRouteOn, "cameras on, may record"}, {"line", colRouteRec, "a camera recording"},
			{"line", colRouteOff, "cameras suppressed (camera off)"}, {"line", colBlocked, "camera told not to record"}},
	}
	s.p(`<g id="legend">` + "\n")
	for i, row := range rows {
		y := top + float64(i)*20
		x := svgMargin
		for _, e := range row {
			switch e.shape {
			case "area":
				s.p(`<rect x="%s" y="%s" width="14" height="10" fill="%s" fill-opacity="0.7"/>`, num(x), num(y-9), e.colour)
			case "line":
				s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"/>`, num(x), num(y-4), num(x+14), num(y-4), e.colour)
			case "dot":
				s.p(`<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, num(x+7), num(y-4), e.colour)
			case "gap":
				s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-opacity="0.5" stroke-width="8"/>`, num(x), num(y-4), num(x+14), num(y-4), e.colour)
			case "fault":
				s.p(`<path d="M%s,%s l5,5 l-5,5 l-5,-5 Z" fill="%s"/>`, num(x+7), num(y-9), e.colour)
			}
			s.p(`<text x="%s" y="%s">%s</text>`+"\n", num(x+20), num(y), esc(e.label))
			x += 20 + 6.2*float64(len(e.label)) + 22
		}
	}
	s.p("</g>\n")
}

// tickStep picks a round time step giving at most 12 ticks.
func tickStep(total time.Duration) time.Duration {
	for _, d := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour} {
		if total/d <= 12 {
			return d
		}
	}
	return 24 * time.Hour
}

// svgTimeline draws a strip for the vehicle (inside a zone, within a
// buffer), one per camera (its states) and one for the uplink (published
// positions and redaction gaps), over a shared time axis with the faults.
func (r *Report) svgTimeline(s *svgWriter, top float64) {
	x0 := svgMargin + stripLabelW
	w := svgWidth - svgMargin - x0
	total := r.Simulated
	if total <= 0 {
		total = time.Second
	}
	tx := func(d time.Duration) float64 { return x0 + w*math.Max(0, math.Min(1, d.Seconds()/total.Seconds())) }
	rowY := func(i int) float64 { return top + float64(i)*(stripH+stripGap) }
	rect := func(class string, from, to time.Duration, y float64, colour string) {
		x1, x2 := tx(from), tx(to)
		s.p(`<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n", class, num(x1), num(y), num(math.Max(x2-x1, 0.5)), num(stripH), colour)
	}
	label := func(i int, text string) {
		s.p(`<text x="%s" y="%s">%s</text>`+"\n", num(svgMargin), num(rowY(i)+stripH-3), esc(text))
		s.p(`<rect x="%s" y="%s" width="%s" height="%s" fill="#f0f0f0"/>`+"\n", num(x0), num(rowY(i)), num(w), num(stripH))
	}
	s.p(`<g id="timeline">` + "\n")

	// The vehicle: runs of track points within a buffer or inside a zone.
	s.p(`<g class="strip" id="strip-vehicle">` + "\n")
	label(0, "vehicle")
	for _, run := range r.truthRuns() {
		colour := colBuffer
		if run.state == "inside" {
			colour = colZone
		}
		rect("truth-"+run.state, run.from, run.to, rowY(0), colour)
	}
	s.p("</g>\n")

	for i, c := range r.Cameras {
		s.p(`<g class="strip" id="strip-camera-%s">`+"\n", esc(c.Name))
		label(i+1, c.Name)
		for _, sp := range r.CameraSpans {
			if sp.Camera == c.Name {
				rect("camera-"+string(sp.State), sp.From, sp.To, rowY(i+1), stateColour[sp.State])
			}
		}
		s.p("</g>\n")
	}

	n := len(r.Cameras) + 1
	s.p(`<g class="strip" id="strip-position">` + "\n")
	label(n, "position")
	for _, g := range r.RedactionGaps() {
		rect("gap-span", g.From.At, g.To.At, rowY(n), colGap)
	}
	for _, p := range r.PublishedPositions() {
		x := tx(p.At)
		s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(x), num(rowY(n)), num(x), num(rowY(n)+stripH), colPublished)
	}
	s.p("</g>\n")

	axisY := rowY(n+1) + 2
	s.p(`<g id="axis"><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#000000"/>`+"\n", num(x0), num(axisY), num(x0+w), num(axisY))
	step := tickStep(total)
	for t := time.Duration(0); t <= total; t += step {
		x := tx(t)
		s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#000000"/><text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n",
			num(x), num(axisY), num(x), num(axisY+4), num(x), num(axisY+16), clock(t))
	}
	s.p("</g>\n")

	s.p(`<g id="timeline-faults" stroke="%s" fill="%s">`+"\n", colFault, colFault)
	for _, f := range r.Faults {
		x := tx(f.At)
		s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke-dasharray="3 2"><title>%s</title></line>`+"\n",
			num(x), num(top-4), num(x), num(axisY), esc(fmt.Sprintf("%s at %s", f.Kind, clock(f.At))))
	}
	s.p("</g>\n</g>\n")
}

type truthRun struct {
	state    string // "inside" or "buffer"
	from, to time.Duration
}

// truthRuns returns the stretches of the exact track within a buffer or
// inside a zone.
func (r *Report) truthRuns() []truthRun {
	var runs []truthRun
	prev := time.Duration(0)
	for _, p := range r.Track {
		state := ""
		switch {
		case p.Inside:
			state = "inside"
		case p.InBuffer:
			state = "buffer"
		}
		if state != "" {
			if n := len(runs); n > 0 && runs[n-1].state == state && runs[n-1].to == prev {
				runs[n-1].to = p.At
			} else {
				runs = append(runs, truthRun{state: state, from: prev, to: p.At})
			}
		}
		prev = p.At
	}
	return runs
}
