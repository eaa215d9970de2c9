package config

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"quietzone/gateway"
	"quietzone/geofence"
)

// ParseCovers reads a bundle's covers: a GeoJSON FeatureCollection of
// circles (Point features with radius_m) and nothing else, no buffer, no
// validity window, no policy: a cover withholds always, as drawn. Which
// are decoys is not said anywhere: on the vehicle a decoy is a cover.
// Errors name the feature by its index, never a position.
func ParseCovers(name string, data []byte) (*geofence.Index, error) {
	ix, err := geofence.Parse(name, data, geofence.Options{})
	if err != nil {
		return nil, fmt.Errorf("load covers: %w", err)
	}
	for i := range ix.Len() {
		z := ix.Zone(i)
		if z.Geometry != "Point" || z.BufferM != 0 || !z.ValidFrom.IsZero() || !z.ValidUntil.IsZero() || z.Policy != (geofence.Policy{}) {
			return nil, fmt.Errorf("load covers: %w", &geofence.FeatureError{File: name, Feature: i,
				Reason: "a cover is a circle (a Point with radius_m) without buffer_m, window or policy"})
		}
	}
	return ix, nil
}

// CoverPlan is what MakeCovers chooses covers and decoys with.
type CoverPlan struct {
	// OffsetM: each cover's centre is offset from its zone's by a point
	// drawn uniformly from the ring from OffsetM/2 to OffsetM
	// (near_zones.cover_offset_m; gateway.CoverOffset).
	OffsetM float64
	// ReachM is added to every cover beyond the zone, its buffer and its
	// own withhold_m and look-ahead: the farthest the vehicle's decisions
	// look (Decision.ZoneReachM), the snapping error included.
	ReachM float64
	// LookAheadMps turns a zone's lookahead_s into metres.
	LookAheadMps float64
	// Decoys per real zone. With Tracks (the fleet's own past trips,
	// one per feature) a decoy goes where the tracks' traffic is closest
	// to its zone's cover's; else on Roads (uniform by length) or, without
	// roads, in Region.
	Decoys int
	Tracks *Roads
	Roads  *Roads
	Region *Region
	// Rand is the source of every draw; nil is crypto/rand. A failing
	// source is an error: covers drawn without randomness hide nothing.
	Rand io.Reader
}

// Region is a box of latitudes and longitudes (degrees) decoys may be
// placed in.
type Region struct{ South, West, North, East float64 }

// ParseRegion reads "SOUTH,WEST,NORTH,EAST" in degrees.
func ParseRegion(s string) (*Region, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, errors.New("want SOUTH,WEST,NORTH,EAST in degrees")
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		v[i] = f
	}
	r := &Region{South: v[0], West: v[1], North: v[2], East: v[3]}
	if !(r.South >= -90 && r.North <= 90 && r.South < r.North && r.West >= -180 && r.East <= 180 && r.West < r.East) {
		return nil, errors.New("want -90 ≤ SOUTH < NORTH ≤ 90 and -180 ≤ WEST < EAST ≤ 180")
	}
	return r, nil
}

// decoyDraws is how many places MakeCovers weighs for each decoy it
// places by the tracks, and decoyFew how many of the closest in traffic
// it picks among at random.
const (
	decoyDraws = 1500
	decoyFew   = 5
)

// MakeCovers chooses a secret cover for every zone and plan.Decoys decoy
// covers per zone, and returns them as a covers file (ParseCovers), in a
// random order: which is a decoy is said nowhere.
//
// A zone's cover holds the disc that holds the zone (Zone.Cap) widened by
// its buffer, its withhold_m, its look-ahead and plan.ReachM, whatever the
// offset: its radius is plan.OffsetM plus all of them, and its centre the
// zone's moved by a point uniform over the ring from OffsetM/2 to
// OffsetM. Many trips converge on the cover; what they tell of the zone
// is that it lies somewhere in that ring around the cover's centre: the
// centre is off by at least OffsetM/2 (median 0.79·OffsetM).
//
// A decoy is made the same way around a virtual zone, with the radius of
// the real cover it stands for (so that radii tell nothing), and
// overlaps no other cover but its own copies': a decoy that overlapped a
// real cover would widen it into a shape no lone cover has, and point at
// it. Real covers that overlap (zones close together) have their decoys
// made as copies of the whole group, moved and turned as one, so that
// overlapping covers are no sign of real ones either. The virtual zone is
// a point where the fleet drives. With plan.Tracks, decoyDraws candidate
// copies are drawn around points of the tracks (uniform by length), each
// cover weighed by its traffic (tracks crossing it, tracks' ends in it)
// against the real one's, and one of the decoyFew closest is taken at
// random: a decoy is as busy as the cover it stands for, since an
// observer sees a cover by the trips that withhold in it. Without
// tracks, the virtual zone is uniform on Roads or in Region.
// The groups take turns, so that none takes all the busiest places.
func MakeCovers(zones *geofence.Index, plan CoverPlan) ([]byte, error) {
	src := plan.Rand
	if src == nil {
		src = rand.Reader
	}
	var failed error
	uniform := func() float64 {
		var b [8]byte
		if _, err := io.ReadFull(src, b[:]); err != nil {
			failed = err
			return 0
		}
		return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)
	}
	if !(plan.OffsetM >= 0) || !(plan.ReachM >= 0) {
		return nil, errors.New("make covers: negative offset or reach")
	}
	if plan.Decoys > 0 && plan.Tracks == nil && plan.Roads == nil && plan.Region == nil {
		return nil, errors.New("make covers: decoys need tracks, roads or a region to be placed where the fleet drives (or no decoys)")
	}
	type disc struct{ lat, lon, r float64 }
	var covers []disc
	for i := range zones.Len() {
		z := zones.Zone(i)
		lat, lon, r := z.Cap()
		if math.IsNaN(lat) {
			return nil, fmt.Errorf("make covers: zone %d has no centre", i)
		}
		extra := z.BufferM + z.Policy.WithholdM + z.Policy.LookAhead.Seconds()*plan.LookAheadMps + plan.ReachM
		clat, clon := gateway.CoverOffset(lat, lon, plan.OffsetM, uniform(), uniform())
		covers = append(covers, disc{clat, clon, plan.OffsetM + r + extra})
	}
	real := len(covers)
	free := func(c disc) bool {
		for _, p := range covers {
			if geofence.DistanceM(p.lat, p.lon, c.lat, c.lon) < p.r+c.r {
				return false
			}
		}
		return true
	}
	var tr *traffic
	if plan.Tracks != nil && plan.Decoys > 0 {
		var err error
		if tr, err = newTraffic(plan.Tracks); err != nil {
			return nil, fmt.Errorf("make covers: %w", err)
		}
	}
	// The real covers that overlap, in groups: each group's decoys are
	// copies of it, moved and turned as one.
	group := make([]int, real)
	for i := range group {
		group[i] = i
	}
	for i := range real {
		for j := range i {
			if geofence.DistanceM(covers[i].lat, covers[i].lon, covers[j].lat, covers[j].lon) < covers[i].r+covers[j].r {
				from, to := group[i], group[j]
				for k := range group {
					if group[k] == from {
						group[k] = to
					}
				}
			}
		}
	}
	var groups [][]int
	for i := range real {
		if group[i] == i {
			var g []int
			for k := range real {
				if group[k] == i {
					g = append(g, k)
				}
			}
			groups = append(groups, g)
		}
	}
	// draw is a candidate copy of the group g: its first cover around a
	// virtual zone where the fleet drives, offset from it as a zone's
	// cover is; the others where they lie from the first, turned with it.
	const mPerDeg = geofence.EarthRadiusM * math.Pi / 180
	draw := func(g []int) []disc {
		var lat, lon float64
		switch {
		case plan.Tracks != nil:
			lat, lon = plan.Tracks.at(uniform())
		case plan.Roads != nil:
			lat, lon = plan.Roads.at(uniform())
		default:
			r := plan.Region
			lat, lon = r.South+(r.North-r.South)*uniform(), r.West+(r.East-r.West)*uniform()
		}
		lat, lon = gateway.CoverOffset(lat, lon, plan.OffsetM, uniform(), uniform())
		sin, cos := math.Sincos(2 * math.Pi * uniform())
		c0 := covers[g[0]]
		out := []disc{{lat, lon, c0.r}}
		for _, i := range g[1:] {
			c := covers[i]
			n, e := (c.lat-c0.lat)*mPerDeg, (c.lon-c0.lon)*mPerDeg*math.Cos(c0.lat*math.Pi/180)
			dlat, dlon := gateway.OffsetM(lat, lon, n*cos-e*sin, n*sin+e*cos)
			out = append(out, disc{dlat, dlon, c.r})
		}
		return out
	}
	allFree := func(ds []disc) bool {
		for _, d := range ds {
			if !free(d) {
				return false
			}
		}
		return true
	}
	for range plan.Decoys {
		for _, g := range groups {
			if tr == nil {
				ok := false
				for try := 0; try < 200 && !ok && failed == nil; try++ {
					if ds := draw(g); allFree(ds) {
						covers, ok = append(covers, ds...), true
					}
				}
				if !ok && failed == nil {
					return nil, errors.New("make covers: no room for a decoy apart from every cover: give more roads or a larger region, or fewer decoys")
				}
				continue
			}
			type weighed struct {
				ds   []disc
				diff float64
			}
			var want [][3]int
			for _, i := range g {
				cross, ends, through := tr.at(covers[i].lat, covers[i].lon, covers[i].r)
				want = append(want, [3]int{cross, ends, through})
			}
			var cands []weighed
			for range decoyDraws {
				ds := draw(g)
				if failed != nil {
					break
				}
				if !allFree(ds) {
					continue
				}
				diff := 0.0
				for k, d := range ds {
					cross, ends, through := tr.at(d.lat, d.lon, d.r)
					diff += math.Abs(math.Log1p(float64(cross))-math.Log1p(float64(want[k][0]))) +
						math.Abs(math.Log1p(float64(ends))-math.Log1p(float64(want[k][1]))) +
						math.Abs(math.Log1p(float64(through))-math.Log1p(float64(want[k][2])))
				}
				cands = append(cands, weighed{ds, diff})
			}
			if failed != nil {
				break
			}
			if len(cands) == 0 {
				return nil, errors.New("make covers: no room on the tracks for a decoy apart from every cover: give more tracks, or fewer decoys")
			}
			slices.SortStableFunc(cands, func(a, b weighed) int { return cmp.Compare(a.diff, b.diff) })
			k := min(int(uniform()*float64(min(decoyFew, len(cands)))), len(cands)-1)
			covers = append(covers, cands[k].ds...)
		}
	}
	if failed != nil {
		return nil, fmt.Errorf("make covers: no random numbers: %w", failed)
	}
	// Shuffle (Fisher–Yates), so that the order tells nothing.
	for i := len(covers) - 1; i > 0; i-- {
		j := min(int(uniform()*float64(i+1)), i)
		covers[i], covers[j] = covers[j], covers[i]
	}
	type feature struct {
		Type       string             `json:"type"`
		Properties map[string]float64 `json:"properties"`
		Geometry   struct {
			Type        string     `json:"type"`
			Coordinates [2]float64 `json:"coordinates"`
		} `json:"geometry"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: []feature{}}
	for _, c := range covers {
		f := feature{Type: "Feature", Properties: map[string]float64{"radius_m": math.Ceil(c.r)}}
		f.Geometry.Type = "Point"
		f.Geometry.Coordinates = [2]float64{round7(c.lon), round7(c.lat)}
		fc.Features = append(fc.Features, f)
	}
	return json.Marshal(fc)
}

func round7(x float64) float64 { return math.Round(x*1e7) / 1e7 }
