package zonemap

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
)

// The drawings are hand-written SVG: a handful of element kinds, written
// in a fixed order with fixed number formats, so that the same input
// gives the same bytes (the report's golden test depends on it) and any
// browser opens it.

// Colours the report's map and the attack's drawing share.
const (
	ColZone      = "#7f0000"
	ColBuffer    = "#f4a582"
	ColPublished = "#08306b" // a published position
)

// SVG collects a document; the first write error sticks.
type SVG struct {
	w   *bufio.Writer
	err error
}

// NewSVG writes a document to w, buffered: Flush ends it.
func NewSVG(w io.Writer) *SVG { return &SVG{w: bufio.NewWriter(w)} }

// Printf writes to the document, unless a write failed before.
func (s *SVG) Printf(format string, a ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, a...)
	}
}

// Flush writes what is buffered and returns the first error.
func (s *SVG) Flush() error {
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}

// Num formats a coordinate: one decimal, never "-0.0".
func Num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0
	}
	s := strconv.FormatFloat(x, 'f', 1, 64)
	if s == "-0.0" {
		return "0.0"
	}
	return s
}

// Esc escapes text for XML content and attribute values.
func Esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to memory: cannot fail
	return b.String()
}

// View maps the local plane onto a drawing's pixels, north up.
type View struct {
	Plane  Plane
	Lo     XY // plane point at the map's left, bottom
	Scale  float64
	X0, Y0 float64 // pixel of Lo
	W, H   float64
	// Zones are those the drawing shows.
	Zones []Shape
}

// Px returns the pixel of a position.
func (v View) Px(lat, lon float64) (float64, float64) {
	q := v.Plane.XY(lat, lon)
	return v.X0 + (q.X-v.Lo.X)*v.Scale, v.Y0 - (q.Y-v.Lo.Y)*v.Scale
}

// Pt returns the pixel of a position as "x,y".
func (v View) Pt(lat, lon float64) string {
	x, y := v.Px(lat, lon)
	return Num(x) + "," + Num(y)
}

// DrawZones draws the view's zones with their buffers, in a group with
// the id "zones".
//
// Buffers are drawn exactly in the local plane: a zone's outline stroked
// twice the buffer wide with round joins covers every point within the
// buffer of its edge, which with the zone's own area is the buffered zone.
func (v View) DrawZones(s *SVG) {
	s.Printf(`<g id="zones">` + "\n")
	for _, z := range v.Zones {
		b, zw := 2*z.BufferM*v.Scale, z.WidthM*v.Scale
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
						d.WriteString(v.Pt(c[1], c[0]))
					}
					d.WriteString(" Z ")
				}
			}
			path := bytes.TrimSpace(d.Bytes())
			s.Printf(`<path class="buffer" d="%s" fill="%s" fill-rule="evenodd" stroke="%s" stroke-width="%s" stroke-linejoin="round" opacity="0.45"/>`+"\n",
				path, ColBuffer, ColBuffer, Num(b))
			s.Printf(`<path class="zone" d="%s" fill="%s" fill-opacity="0.55" fill-rule="evenodd" stroke="%s"><title>%s (buffer %.0f m)</title></path>`+"\n",
				path, ColZone, ColZone, Esc(z.ID), z.BufferM)
		case "circle":
			x, y := v.Px(z.Center[1], z.Center[0])
			s.Printf(`<circle class="buffer" cx="%s" cy="%s" r="%s" fill="%s" fill-opacity="0.45"/>`+"\n", Num(x), Num(y), Num((z.RadiusM+z.BufferM)*v.Scale), ColBuffer)
			s.Printf(`<circle class="zone" cx="%s" cy="%s" r="%s" fill="%s" fill-opacity="0.55" stroke="%s"><title>%s (buffer %.0f m)</title></circle>`+"\n",
				Num(x), Num(y), Num(z.RadiusM*v.Scale), ColZone, ColZone, Esc(z.ID), z.BufferM)
		case "corridor":
			var pts bytes.Buffer
			for i, c := range z.Line {
				if i > 0 {
					pts.WriteByte(' ')
				}
				pts.WriteString(v.Pt(c[1], c[0]))
			}
			s.Printf(`<polyline class="buffer" points="%s" fill="none" stroke="%s" stroke-opacity="0.45" stroke-width="%s" stroke-linejoin="round" stroke-linecap="round"/>`+"\n",
				pts.Bytes(), ColBuffer, Num(zw+b))
			s.Printf(`<polyline class="zone" points="%s" fill="none" stroke="%s" stroke-opacity="0.55" stroke-width="%s" stroke-linejoin="round" stroke-linecap="round"><title>%s (buffer %.0f m)</title></polyline>`+"\n",
				pts.Bytes(), ColZone, Num(zw), Esc(z.ID), z.BufferM)
		}
	}
	s.Printf("</g>\n")
}
