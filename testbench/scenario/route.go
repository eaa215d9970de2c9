package scenario

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"quietzone/gateway/config"
)

// maxRoutePoints bounds a route file: a day's drive at one point a second.
const maxRoutePoints = 200_000

// parseGPX reads the points of a GPX file's tracks (trkpt) or, without
// tracks, its routes (rtept), in order. Errors carry the file's line.
func parseGPX(name string, data []byte) ([]Waypoint, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var trk, rte []Waypoint
	sawGPX := false
	for {
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, _ = dec.InputPos()
			return nil, &config.ConfigError{File: name, Line: line, Reason: fmt.Sprintf("GPX: %v", unwrapXML(err))}
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "gpx":
			sawGPX = true
		case "trkpt", "rtept":
			var lat, lon string
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "lat":
					lat = a.Value
				case "lon":
					lon = a.Value
				}
			}
			p, err := parseLatLon(lat, lon)
			if err != nil {
				return nil, &config.ConfigError{File: name, Line: line, Reason: fmt.Sprintf("GPX %s: %v", se.Name.Local, err)}
			}
			if se.Name.Local == "trkpt" {
				trk = append(trk, p)
			} else {
				rte = append(rte, p)
			}
			if len(trk)+len(rte) > maxRoutePoints {
				return nil, &config.ConfigError{File: name, Line: line, Reason: fmt.Sprintf("GPX: more than %d points", maxRoutePoints)}
			}
		}
	}
	if !sawGPX {
		return nil, &config.ConfigError{File: name, Line: 1, Reason: "not a GPX file: no <gpx> element"}
	}
	pts := trk
	if len(pts) == 0 {
		pts = rte
	}
	if len(pts) < 2 {
		return nil, &config.ConfigError{File: name, Reason: fmt.Sprintf("GPX: a route needs two points or more, found %d", len(pts))}
	}
	return pts, nil
}

func unwrapXML(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}

func parseLatLon(lat, lon string) (Waypoint, error) {
	if lat == "" || lon == "" {
		return Waypoint{}, errors.New("lat and lon attributes are required")
	}
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lon, 64)
	if err1 != nil || err2 != nil {
		return Waypoint{}, fmt.Errorf("lat %q, lon %q: not numbers", lat, lon)
	}
	return checkPoint(la, lo)
}

func checkPoint(lat, lon float64) (Waypoint, error) {
	if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return Waypoint{}, fmt.Errorf("lat %v, lon %v: out of range", lat, lon)
	}
	return Waypoint{Lat: lat, Lon: lon}, nil
}

// parseGeoJSONRoute reads a route from GeoJSON: a LineString, or the
// first LineString of a Feature or FeatureCollection. Coordinates are
// [lon, lat] as GeoJSON has them.
func parseGeoJSONRoute(name string, data []byte) ([]Waypoint, error) {
	var obj struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
		Geometry    json.RawMessage `json:"geometry"`
		Features    []struct {
			Geometry json.RawMessage `json:"geometry"`
		} `json:"features"`
	}
	fail := func(reason string) error { return &config.ConfigError{File: name, Reason: "GeoJSON route: " + reason} }
	if err := json.Unmarshal(data, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &config.ConfigError{File: name, Line: 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n")), Reason: "GeoJSON route: " + se.Error()}
		}
		return nil, fail(err.Error())
	}
	switch obj.Type {
	case "LineString":
		return lineString(obj.Coordinates, fail)
	case "Feature":
		if len(obj.Geometry) == 0 || string(obj.Geometry) == "null" {
			return nil, fail("the feature has no geometry")
		}
		return parseGeoJSONRoute(name, obj.Geometry)
	case "FeatureCollection":
		for _, f := range obj.Features {
			var g struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			}
			if json.Unmarshal(f.Geometry, &g) == nil && g.Type == "LineString" {
				return lineString(g.Coordinates, fail)
			}
		}
		return nil, fail("no LineString feature")
	}
	return nil, fail(fmt.Sprintf("type %q: want a LineString, a Feature or a FeatureCollection", obj.Type))
}

func lineString(raw json.RawMessage, fail func(string) error) ([]Waypoint, error) {
	var coords [][]float64
	if err := json.Unmarshal(raw, &coords); err != nil {
		return nil, fail("coordinates: " + err.Error())
	}
	if len(coords) < 2 {
		return nil, fail(fmt.Sprintf("a route needs two points or more, found %d", len(coords)))
	}
	if len(coords) > maxRoutePoints {
		return nil, fail(fmt.Sprintf("more than %d points", maxRoutePoints))
	}
	out := make([]Waypoint, 0, len(coords))
	for i, c := range coords {
		if len(c) < 2 || len(c) > 3 {
			return nil, fail(fmt.Sprintf("point %d: want [lon, lat] or [lon, lat, alt]", i))
		}
		p, err := checkPoint(c[1], c[0])
		if err != nil {
			return nil, fail(fmt.Sprintf("point %d: %v", i, err))
		}
		out = append(out, p)
	}
	return out, nil
}
