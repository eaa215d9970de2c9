package report

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"time"

	"quietzone/testbench"
	"quietzone/testbench/internal/zonemap"
)

// The map is hand-written SVG (zonemap.SVG): a handful of element kinds,
// written in a fixed order with fixed number formats, so that the same
// report gives the same bytes (the golden test depends on it) and any
// browser opens it.

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
	colZone      = zonemap.ColZone
	colBuffer    = zonemap.ColBuffer
	colRouteOn   = "#2ca02c"
	colRouteRec  = "#1f77b4"
	colRouteOff  = "#d62728"
	colPublished = zonemap.ColPublished
	colGap       = "#969696"
	colFault     = "#6a3d9a"
	colBlocked   = "#ff7f0e"
	colStandby   = colRouteOn
)

var stateColour = map[testbench.CameraState]string{
	testbench.CameraOff: colRouteOff, testbench.CameraBlocked: colBlocked, testbench.CameraStandby: colStandby, testbench.CameraRecording: colRouteRec,
}

// newView fits the drive, its published points, its faults and the zones
// near it into the map.
func newView(r *testbench.Report, zones []zonemap.Shape) zonemap.View {
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
			c := z.Centroid(zonemap.NewPlane(0, 0))
			lat, lon := zonemap.NewPlane(0, 0).LatLon(c)
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
	pl := zonemap.NewPlane((minLat+maxLat)/2, (minLon+maxLon)/2)
	lo, hi := pl.XY(minLat, minLon), pl.XY(maxLat, maxLon)
	v := zonemap.View{Plane: pl}
	for _, z := range zones {
		zlo, zhi := z.Bounds(pl)
		if zlo.X > hi.X+zonesNearM || zhi.X < lo.X-zonesNearM || zlo.Y > hi.Y+zonesNearM || zhi.Y < lo.Y-zonesNearM {
			continue
		}
		v.Zones = append(v.Zones, z)
		lo.X, lo.Y = math.Min(lo.X, zlo.X), math.Min(lo.Y, zlo.Y)
		hi.X, hi.Y = math.Max(hi.X, zhi.X), math.Max(hi.Y, zhi.Y)
	}
	// Pad by 5% and at least 100 m, so that a straight drive has a width.
	pad := math.Max(100, 0.05*math.Max(hi.X-lo.X, hi.Y-lo.Y))
	lo, hi = zonemap.XY{X: lo.X - pad, Y: lo.Y - pad}, zonemap.XY{X: hi.X + pad, Y: hi.Y + pad}
	v.W = svgWidth - 2*svgMargin
	v.H = math.Max(mapMinH, math.Min(mapMaxH, v.W*(hi.Y-lo.Y)/(hi.X-lo.X)))
	v.Scale = math.Min(v.W/(hi.X-lo.X), v.H/(hi.Y-lo.Y))
	// Centre the extent in the map.
	v.Lo = zonemap.XY{X: (lo.X+hi.X)/2 - v.W/2/v.Scale, Y: (lo.Y+hi.Y)/2 - v.H/2/v.Scale}
	v.X0, v.Y0 = svgMargin, mapTop+v.H
	return v
}

// WriteSVG draws the drive: the zones with their buffers, the exact route
// coloured by what the cameras were allowed to do, the positions that
// were published, the redaction gaps between them and the injected
// faults; below the map, a timeline strip per camera.
func WriteSVG(w io.Writer, r *testbench.Report) error {
	var zones []zonemap.Shape
	if len(r.ZoneFile) > 0 {
		var err error
		if zones, err = zonemap.ParseShapes(r.ZoneFile); err != nil {
			return fmt.Errorf("write svg: %w", err)
		}
	}
	v := newView(r, zones)
	legendTop := mapTop + v.H + 14
	stripsTop := legendTop + 52
	nStrips := 2 + len(r.Cameras) // vehicle, cameras..., position
	height := stripsTop + float64(nStrips)*(stripH+stripGap) + 40

	s := zonemap.NewSVG(w)
	s.Printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.Printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11">`+"\n",
		zonemap.Num(svgWidth), zonemap.Num(height), zonemap.Num(svgWidth), zonemap.Num(height))
	s.Printf("<title>quietzone — %s</title>\n", zonemap.Esc(r.Scenario))
	s.Printf(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	s.Printf(`<text x="%s" y="22" font-size="15" font-weight="bold">quietzone — %s</text>`+"\n", zonemap.Num(svgMargin), zonemap.Esc(r.Scenario))
	verdict := "all invariants hold"
	if !r.OK() {
		verdict = "INVARIANT VIOLATED"
	}
	s.Printf(`<text x="%s" y="40">%.1f km in %s; suppressed %s; positions published: %d, redaction gaps: %d; %s</text>`+"\n",
		zonemap.Num(svgMargin), r.DistanceKm, clock(r.Simulated), clock(r.Suppressed), len(r.PublishedPositions()), len(r.RedactionGaps()), verdict)

	s.Printf(`<g id="map"><rect x="%s" y="%s" width="%s" height="%s" fill="#f7f7f7" stroke="#bdbdbd"/>`+"\n",
		zonemap.Num(v.X0), zonemap.Num(mapTop), zonemap.Num(v.W), zonemap.Num(v.H))
	s.Printf(`<clipPath id="mapclip"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>`+"\n", zonemap.Num(v.X0), zonemap.Num(mapTop), zonemap.Num(v.W), zonemap.Num(v.H))
	s.Printf(`<g clip-path="url(#mapclip)">` + "\n")
	v.DrawZones(s)
	svgGaps(s, v, r)
	svgRoute(s, v, r)
	svgPublished(s, v, r)
	svgFaults(s, v, r)
	s.Printf("</g>\n")
	svgScaleBar(s, v)
	s.Printf("</g>\n")
	svgLegend(s, legendTop)
	svgTimeline(s, stripsTop, r)
	s.Printf("</svg>\n")
	if err := s.Flush(); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
}

// routeColour is the colour of the route where the vehicle was at p.
func routeColour(p testbench.TrackPoint) (class, colour string) {
	switch {
	case p.Suppressed:
		return "route-suppressed", colRouteOff
	case p.Recording:
		return "route-recording", colRouteRec
	}
	return "route-on", colRouteOn
}

func svgRoute(s *zonemap.SVG, v zonemap.View, r *testbench.Report) {
	s.Printf(`<g id="route" fill="none" stroke-width="3" stroke-linejoin="round" stroke-linecap="round">` + "\n")
	for i := 0; i+1 < len(r.Track); {
		class, colour := routeColour(r.Track[i+1])
		var pts bytes.Buffer
		pts.WriteString(v.Pt(r.Track[i].Lat, r.Track[i].Lon))
		j := i + 1
		for ; j < len(r.Track); j++ {
			if c, _ := routeColour(r.Track[j]); c != class {
				break
			}
			pts.WriteByte(' ')
			pts.WriteString(v.Pt(r.Track[j].Lat, r.Track[j].Lon))
		}
		s.Printf(`<polyline class="%s" stroke="%s" points="%s"/>`+"\n", class, colour, pts.Bytes())
		i = j - 1
	}
	if n := len(r.Track); n > 0 {
		x, y := v.Px(r.Track[0].Lat, r.Track[0].Lon)
		s.Printf(`<circle id="start" cx="%s" cy="%s" r="5" fill="#ffffff" stroke="#000000" stroke-width="2"><title>start</title></circle>`+"\n", zonemap.Num(x), zonemap.Num(y))
		x, y = v.Px(r.Track[n-1].Lat, r.Track[n-1].Lon)
		s.Printf(`<rect id="end" x="%s" y="%s" width="9" height="9" fill="#000000"><title>end</title></rect>`+"\n", zonemap.Num(x-4.5), zonemap.Num(y-4.5))
	}
	s.Printf("</g>\n")
}

// svgGaps marks each redaction gap: the stretch of the exact route it
// hid, and a dashed line between the published positions around it
// (what an observer of the published track sees).
func svgGaps(s *zonemap.SVG, v zonemap.View, r *testbench.Report) {
	s.Printf(`<g id="gaps" fill="none">` + "\n")
	for _, g := range r.RedactionGaps() {
		var pts bytes.Buffer
		for _, p := range r.Track {
			if p.At >= g.From.At && p.At <= g.To.At {
				if pts.Len() > 0 {
					pts.WriteByte(' ')
				}
				pts.WriteString(v.Pt(p.Lat, p.Lon))
			}
		}
		title := fmt.Sprintf("redaction gap %s – %s (%.0f s)", clock(g.From.At), clock(g.To.At), (g.To.At - g.From.At).Seconds())
		switch {
		case g.TripStart:
			title += ", from the start of the trip"
		case g.TripEnd:
			title += ", to the end of the trip"
		}
		s.Printf(`<g class="gap"><title>%s</title>`, zonemap.Esc(title))
		if pts.Len() > 0 {
			s.Printf(`<polyline points="%s" stroke="%s" stroke-opacity="0.5" stroke-width="10" stroke-linecap="round"/>`, pts.Bytes(), colGap)
		}
		if !g.TripStart && !g.TripEnd {
			x1, y1 := v.Px(g.From.Lat, g.From.Lon)
			x2, y2 := v.Px(g.To.Lat, g.To.Lon)
			s.Printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>`,
				zonemap.Num(x1), zonemap.Num(y1), zonemap.Num(x2), zonemap.Num(y2), colPublished)
		}
		s.Printf("</g>\n")
	}
	s.Printf("</g>\n")
}

func svgPublished(s *zonemap.SVG, v zonemap.View, r *testbench.Report) {
	s.Printf(`<g id="published" fill="%s">`+"\n", colPublished)
	for _, p := range r.PublishedPositions() {
		x, y := v.Px(p.Lat, p.Lon)
		s.Printf(`<circle cx="%s" cy="%s" r="2.5"/>`+"\n", zonemap.Num(x), zonemap.Num(y))
	}
	s.Printf("</g>\n")
}

func svgFaults(s *zonemap.SVG, v zonemap.View, r *testbench.Report) {
	s.Printf(`<g id="faults" fill="%s">`+"\n", colFault)
	for _, f := range r.Faults {
		x, y := v.Px(f.Lat, f.Lon)
		s.Printf(`<g class="fault"><title>%s</title><path d="M%s,%s l6,6 l-6,6 l-6,-6 Z" stroke="#ffffff"/><text x="%s" y="%s">%s</text></g>`+"\n",
			zonemap.Esc(fmt.Sprintf("%s at %s", f.Kind, clock(f.At))), zonemap.Num(x), zonemap.Num(y-6), zonemap.Num(x+8), zonemap.Num(y+4), zonemap.Esc(f.Kind))
	}
	s.Printf("</g>\n")
}

// svgScaleBar draws a bar of a round length near a fifth of the map.
func svgScaleBar(s *zonemap.SVG, v zonemap.View) {
	want := v.W / 5 / v.Scale
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
	x, y := v.X0+10, v.Y0-12
	s.Printf(`<g id="scale"><path d="M%s,%s v4 h%s v-4" fill="none" stroke="#000000" stroke-width="1.5"/><text x="%s" y="%s">%s (north up)</text></g>`+"\n",
		zonemap.Num(x), zonemap.Num(y-4), zonemap.Num(m*v.Scale), zonemap.Num(x+m*v.Scale+6), zonemap.Num(y), label)
}

func svgLegend(s *zonemap.SVG, top float64) {
	type entry struct{ shape, colour, label string }
	rows := [][]entry{
		{{"area", colZone, "zone"}, {"area", colBuffer, "buffer"}, {"dot", colPublished, "published position"},
			{"gap", colGap, "redaction gap: route hidden, dashed as an observer sees it"}, {"fault", colFault, "injected fault"}},
		{{"line", colRouteOn, "cameras on, may record"}, {"line", colRouteRec, "a camera recording"},
			{"line", colRouteOff, "cameras suppressed (camera off)"}, {"line", colBlocked, "camera told not to record"}},
	}
	s.Printf(`<g id="legend">` + "\n")
	for i, row := range rows {
		y := top + float64(i)*20
		x := svgMargin
		for _, e := range row {
			switch e.shape {
			case "area":
				s.Printf(`<rect x="%s" y="%s" width="14" height="10" fill="%s" fill-opacity="0.7"/>`, zonemap.Num(x), zonemap.Num(y-9), e.colour)
			case "line":
				s.Printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"/>`, zonemap.Num(x), zonemap.Num(y-4), zonemap.Num(x+14), zonemap.Num(y-4), e.colour)
			case "dot":
				s.Printf(`<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, zonemap.Num(x+7), zonemap.Num(y-4), e.colour)
			case "gap":
				s.Printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-opacity="0.5" stroke-width="8"/>`, zonemap.Num(x), zonemap.Num(y-4), zonemap.Num(x+14), zonemap.Num(y-4), e.colour)
			case "fault":
				s.Printf(`<path d="M%s,%s l5,5 l-5,5 l-5,-5 Z" fill="%s"/>`, zonemap.Num(x+7), zonemap.Num(y-9), e.colour)
			}
			s.Printf(`<text x="%s" y="%s">%s</text>`+"\n", zonemap.Num(x+20), zonemap.Num(y), zonemap.Esc(e.label))
			x += 20 + 6.2*float64(len(e.label)) + 22
		}
	}
	s.Printf("</g>\n")
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
func svgTimeline(s *zonemap.SVG, top float64, r *testbench.Report) {
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
		s.Printf(`<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n", class, zonemap.Num(x1), zonemap.Num(y), zonemap.Num(math.Max(x2-x1, 0.5)), zonemap.Num(stripH), colour)
	}
	label := func(i int, text string) {
		s.Printf(`<text x="%s" y="%s">%s</text>`+"\n", zonemap.Num(svgMargin), zonemap.Num(rowY(i)+stripH-3), zonemap.Esc(text))
		s.Printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="#f0f0f0"/>`+"\n", zonemap.Num(x0), zonemap.Num(rowY(i)), zonemap.Num(w), zonemap.Num(stripH))
	}
	s.Printf(`<g id="timeline">` + "\n")

	// The vehicle: runs of track points within a buffer or inside a zone.
	s.Printf(`<g class="strip" id="strip-vehicle">` + "\n")
	label(0, "vehicle")
	for _, run := range truthRuns(r) {
		colour := colBuffer
		if run.state == "inside" {
			colour = colZone
		}
		rect("truth-"+run.state, run.from, run.to, rowY(0), colour)
	}
	s.Printf("</g>\n")

	for i, c := range r.Cameras {
		s.Printf(`<g class="strip" id="strip-camera-%s">`+"\n", zonemap.Esc(c.Name))
		label(i+1, c.Name)
		for _, sp := range r.CameraSpans {
			if sp.Camera == c.Name {
				rect("camera-"+string(sp.State), sp.From, sp.To, rowY(i+1), stateColour[sp.State])
			}
		}
		s.Printf("</g>\n")
	}

	n := len(r.Cameras) + 1
	s.Printf(`<g class="strip" id="strip-position">` + "\n")
	label(n, "position")
	for _, g := range r.RedactionGaps() {
		rect("gap-span", g.From.At, g.To.At, rowY(n), colGap)
	}
	for _, p := range r.PublishedPositions() {
		x := tx(p.At)
		s.Printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", zonemap.Num(x), zonemap.Num(rowY(n)), zonemap.Num(x), zonemap.Num(rowY(n)+stripH), colPublished)
	}
	s.Printf("</g>\n")

	axisY := rowY(n+1) + 2
	s.Printf(`<g id="axis"><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#000000"/>`+"\n", zonemap.Num(x0), zonemap.Num(axisY), zonemap.Num(x0+w), zonemap.Num(axisY))
	step := tickStep(total)
	for t := time.Duration(0); t <= total; t += step {
		x := tx(t)
		s.Printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#000000"/><text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n",
			zonemap.Num(x), zonemap.Num(axisY), zonemap.Num(x), zonemap.Num(axisY+4), zonemap.Num(x), zonemap.Num(axisY+16), clock(t))
	}
	s.Printf("</g>\n")

	s.Printf(`<g id="timeline-faults" stroke="%s" fill="%s">`+"\n", colFault, colFault)
	for _, f := range r.Faults {
		x := tx(f.At)
		s.Printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke-dasharray="3 2"><title>%s</title></line>`+"\n",
			zonemap.Num(x), zonemap.Num(top-4), zonemap.Num(x), zonemap.Num(axisY), zonemap.Esc(fmt.Sprintf("%s at %s", f.Kind, clock(f.At))))
	}
	s.Printf("</g>\n</g>\n")
}

type truthRun struct {
	state    string // "inside" or "buffer"
	from, to time.Duration
}

// truthRuns returns the stretches of the exact track within a buffer or
// inside a zone.
func truthRuns(r *testbench.Report) []truthRun {
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
