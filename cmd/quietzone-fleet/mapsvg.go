package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"

	"quietzone/gateway/bundle"
)

// The zones of the bundle in force on an SVG map, drawn here, offline:
// no tile server, nothing fetched. Polygons (with holes), circles
// (Point + radius_m) and corridors (LineString + width_m), each with its
// buffer, equirectangular around the zones' middle latitude.

type geoFeature struct {
	Geometry struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	} `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type mapZone struct {
	Name  string
	Paths []string // SVG path data, rings or lines
	Width float64  // stroke width for corridors, in px
	Kind  string
}

type zoneMapData struct {
	Version uint64
	Zones   []mapZone
	SVG     template.HTML
	Note    string
}

func (c *console) zoneMap(r *http.Request) (any, error) {
	return zonesOfNewest(r.Context(), c)
}

func zonesOfNewest(ctx context.Context, c *console) (*zoneMapData, error) {
	rs, err := c.db.Rollouts(ctx)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return &zoneMapData{Note: "no bundle rolled out yet"}, nil
	}
	newest := rs[0]
	for _, r := range rs {
		if r.Version > newest.Version {
			newest = r
		}
	}
	data, err := c.db.RolloutBundle(ctx, newest.ID)
	if err != nil {
		return nil, err
	}
	b, err := bundle.ParseManifest(data)
	if err != nil {
		return nil, err
	}
	if err := b.CheckBodies(); err != nil {
		return nil, err
	}
	zones, ok := b.File("zones")
	if !ok {
		return &zoneMapData{Version: b.Version, Note: "the bundle has no zones"}, nil
	}
	d, err := drawZones(zones)
	if err != nil {
		return nil, err
	}
	d.Version = b.Version
	return d, nil
}

const mapW, mapH, mapPad = 900.0, 560.0, 30.0

func drawZones(geojson []byte) (*zoneMapData, error) {
	var fc struct {
		Features []geoFeature `json:"features"`
	}
	if err := json.Unmarshal(geojson, &fc); err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	type shape struct {
		name  string
		kind  string
		rings [][][2]float64 // lon, lat
		width float64        // metres, corridors
	}
	var shapes []shape
	minLat, maxLat, minLon, maxLon := 90.0, -90.0, 180.0, -180.0
	grow := func(p [2]float64, padM float64) {
		dLat := padM / 111_320
		dLon := dLat / math.Max(math.Cos(p[1]*math.Pi/180), 0.01)
		minLat, maxLat = math.Min(minLat, p[1]-dLat), math.Max(maxLat, p[1]+dLat)
		minLon, maxLon = math.Min(minLon, p[0]-dLon), math.Max(maxLon, p[0]+dLon)
	}
	for _, f := range fc.Features {
		name, _ := f.Properties["name"].(string)
		num := func(k string) float64 { v, _ := f.Properties[k].(float64); return v }
		var s shape
		s.name = name
		switch f.Geometry.Type {
		case "Polygon":
			var rings [][][2]float64
			if json.Unmarshal(f.Geometry.Coordinates, &rings) == nil {
				s.kind, s.rings = "polygon", rings
			}
		case "MultiPolygon":
			var polys [][][][2]float64
			if json.Unmarshal(f.Geometry.Coordinates, &polys) == nil {
				s.kind = "polygon"
				for _, p := range polys {
					s.rings = append(s.rings, p...)
				}
			}
		case "Point":
			var p [2]float64
			if json.Unmarshal(f.Geometry.Coordinates, &p) == nil {
				r := num("radius_m")
				var ring [][2]float64
				for i := 0; i <= 48; i++ {
					a := float64(i) / 48 * 2 * math.Pi
					dLat := r * math.Cos(a) / 111_320
					dLon := r * math.Sin(a) / (111_320 * math.Max(math.Cos(p[1]*math.Pi/180), 0.01))
					ring = append(ring, [2]float64{p[0] + dLon, p[1] + dLat})
				}
				s.kind, s.rings = "circle", [][][2]float64{ring}
			}
		case "LineString":
			var line [][2]float64
			if json.Unmarshal(f.Geometry.Coordinates, &line) == nil {
				s.kind, s.rings, s.width = "corridor", [][][2]float64{line}, num("width_m")
			}
		}
		if s.kind == "" {
			continue
		}
		for _, ring := range s.rings {
			for _, p := range ring {
				grow(p, math.Max(num("buffer_m"), s.width))
			}
		}
		shapes = append(shapes, s)
	}
	d := &zoneMapData{}
	if len(shapes) == 0 {
		d.Note = "the bundle's zone list is empty"
		return d, nil
	}
	midLat := (minLat + maxLat) / 2
	kx := math.Cos(midLat * math.Pi / 180)
	w, h := (maxLon-minLon)*kx, maxLat-minLat
	scale := math.Min((mapW-2*mapPad)/math.Max(w, 1e-9), (mapH-2*mapPad)/math.Max(h, 1e-9))
	xy := func(p [2]float64) (float64, float64) {
		return mapPad + (p[0]-minLon)*kx*scale, mapH - mapPad - (p[1]-minLat)*scale
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" id="zonemap" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f">`, mapW, mapH, mapW, mapH)
	sb.WriteString(`<rect width="100%" height="100%" fill="#f4f1ea"/>`)
	mPerPx := 1 / (scale / 111_320)
	for _, s := range shapes {
		z := mapZone{Name: s.name, Kind: s.kind}
		for _, ring := range s.rings {
			var p strings.Builder
			for i, pt := range ring {
				x, y := xy(pt)
				if i == 0 {
					fmt.Fprintf(&p, "M%.1f %.1f", x, y)
				} else {
					fmt.Fprintf(&p, "L%.1f %.1f", x, y)
				}
			}
			if s.kind != "corridor" {
				p.WriteString("Z")
			}
			z.Paths = append(z.Paths, p.String())
		}
		title := template.HTMLEscapeString(s.name)
		if s.kind == "corridor" {
			z.Width = math.Max(s.width/mPerPx, 2)
			for _, path := range z.Paths {
				fmt.Fprintf(&sb, `<path class="zone corridor" d="%s" fill="none" stroke="#b3261e" stroke-opacity="0.5" stroke-width="%.1f" stroke-linecap="round"><title>%s</title></path>`, path, z.Width, title)
			}
		} else {
			fmt.Fprintf(&sb, `<path class="zone %s" d="%s" fill="#b3261e" fill-opacity="0.35" fill-rule="evenodd" stroke="#b3261e"><title>%s</title></path>`, s.kind, strings.Join(z.Paths, " "), title)
		}
		d.Zones = append(d.Zones, z)
	}
	// A scale bar.
	barM := math.Pow(10, math.Floor(math.Log10(mPerPx*200)))
	barPx := barM / mPerPx
	fmt.Fprintf(&sb, `<g class="scale"><line x1="%.0f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#333" stroke-width="3"/><text x="%.0f" y="%.0f" font-size="12" font-family="sans-serif">%s</text></g>`,
		mapPad, mapH-10, mapPad+barPx, mapH-10, mapPad, mapH-16, scaleLabel(barM))
	sb.WriteString(`</svg>`)
	d.SVG = template.HTML(sb.String())
	return d, nil
}

func scaleLabel(m float64) string {
	if m >= 1000 {
		return fmt.Sprintf("%g km", m/1000)
	}
	return fmt.Sprintf("%g m", m)
}
