package gateway

import (
	"math"
	"slices"

	"quietzone/geofence"
)

// Limits of the vehicle's own trip ends and end covers: the oldest go.
const (
	MaxRecentEnds = 16
	MaxEndCovers  = 8
	// EndClusterM: two trip ends this near each other make a place where
	// trips end (a home, a workplace): the vehicle covers it.
	EndClusterM = 1000
)

// Ends are where the vehicle's trips ended lately and the covers it made
// of the places where they end again and again. They are secret: kept in
// the decision loop and in the state file (sealed when it has a key),
// never logged, never sent.
type Ends struct {
	// Recent are the last trip ends, oldest first.
	Recent []Place
	// Covers are the end covers, oldest first: withheld within them.
	Covers []EndCover
}

// Place is a position.
type Place struct{ Lat, Lon float64 }

// EndCover is a disc around a place where trips end, offset from it at
// random. Anchor is the place it covers (the mean of the ends that made
// it): an end near it makes no new cover.
type EndCover struct {
	Lat, Lon, RadiusM float64
	Anchor            Place
}

// Clone returns a deep copy.
func (e Ends) Clone() Ends {
	return Ends{Recent: slices.Clone(e.Recent), Covers: slices.Clone(e.Covers)}
}

// Valid reports whether every position and radius in e is one, within
// the limits: a state file that says otherwise is not taken.
func (e Ends) Valid() bool {
	ok := func(lat, lon float64) bool { return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 }
	if len(e.Recent) > MaxRecentEnds || len(e.Covers) > MaxEndCovers {
		return false
	}
	for _, p := range e.Recent {
		if !ok(p.Lat, p.Lon) {
			return false
		}
	}
	for _, c := range e.Covers {
		if !ok(c.Lat, c.Lon) || !ok(c.Anchor.Lat, c.Anchor.Lon) || !(c.RadiusM > 0 && c.RadiusM <= geofence.MaxShapeRadiusM) {
			return false
		}
	}
	return true
}

// endCoverRadiusM is an end cover's radius: the offset's disc, the
// cluster, and the farthest a trip's start or end is hidden, so that
// what shows of a trip from there is the cover's edge, not the place.
func (g *Gateway) endCoverRadiusM() float64 {
	o := g.opts.Privacy
	return o.EndCoverOffsetM + EndClusterM + o.TripEndM + o.TripEndSpreadM
}

// noteEnd counts a trip end at (lat, lon): where two ends fall within
// EndClusterM of each other and no end cover is anchored near them, it
// makes one.
func (g *Gateway) noteEnd(lat, lon float64) {
	p := &g.priv
	if g.opts.Privacy.EndCoverOffsetM <= 0 || math.IsNaN(lat) || math.IsNaN(lon) {
		return
	}
	e := &p.ends
	e.Recent = append(e.Recent, Place{lat, lon})
	if len(e.Recent) > MaxRecentEnds {
		e.Recent = slices.Delete(e.Recent, 0, len(e.Recent)-MaxRecentEnds)
	}
	defer g.endsChanged()
	for _, c := range e.Covers {
		if geofence.DistanceM(c.Anchor.Lat, c.Anchor.Lon, lat, lon) <= EndClusterM {
			return // covered already
		}
	}
	var sumLat, sumLon float64
	n := 0
	for _, r := range e.Recent {
		if geofence.DistanceM(r.Lat, r.Lon, lat, lon) <= EndClusterM {
			sumLat, sumLon, n = sumLat+r.Lat, sumLon+r.Lon, n+1
		}
	}
	if n < 2 {
		return
	}
	anchor := Place{sumLat / float64(n), sumLon / float64(n)}
	cLat, cLon := g.offset(anchor.Lat, anchor.Lon, g.opts.Privacy.EndCoverOffsetM)
	e.Covers = append(e.Covers, EndCover{Lat: cLat, Lon: cLon, RadiusM: g.endCoverRadiusM(), Anchor: anchor})
	if len(e.Covers) > MaxEndCovers {
		e.Covers = slices.Delete(e.Covers, 0, len(e.Covers)-MaxEndCovers)
	}
	g.log.Info("a place where trips end is covered from now on") // no position
}

// endsChanged takes a copy of the ends for the state file: the loop goes
// on changing its own.
func (g *Gateway) endsChanged() {
	c := g.priv.ends.Clone()
	g.priv.endsSaved = &c
}

// offset moves (lat, lon) to a random point of the ring from rM/2 to rM
// around it (CoverOffset).
func (g *Gateway) offset(lat, lon, rM float64) (float64, float64) {
	return CoverOffset(lat, lon, rM, g.uniform(), g.uniform())
}

// CoverOffset moves (lat, lon) to the point of the ring from maxM/2 to
// maxM around it that u and v (uniform in [0, 1)) pick, uniformly over
// the ring's area. A ring, not a disc: a cover's centre is never nearer
// its zone (or home) than maxM/2, so that whoever finds a cover and takes
// its centre for the place it hides is off by at least that much, for
// every cover and not only for most (a disc puts a quarter of them within
// maxM/2). The median offset is 0.79·maxM.
func CoverOffset(lat, lon, maxM, u, v float64) (float64, float64) {
	r := maxM * math.Sqrt((1+3*u)/4)
	theta := 2 * math.Pi * v
	return OffsetM(lat, lon, r*math.Cos(theta), r*math.Sin(theta))
}

// OffsetM moves (lat, lon) north by northM and east by eastM metres, on
// the local tangent plane: good to well under a metre over a few km.
func OffsetM(lat, lon, northM, eastM float64) (float64, float64) {
	const mPerDeg = geofence.EarthRadiusM * math.Pi / 180
	lat2 := lat + northM/mPerDeg
	lon2 := lon + eastM/(mPerDeg*math.Max(math.Cos(lat*math.Pi/180), 1e-6))
	lat2 = math.Max(-90, math.Min(90, lat2))
	lon2 = math.Mod(lon2+540, 360) - 180
	return lat2, lon2
}
