package scenario

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/geofence"
)

// DrawCovers chooses the covers a fleet's signing tool (quietzone policy
// sign, config.MakeCovers) would seal with sc's zones: a secret cover per
// zone and near_zones.decoys decoys per zone (sc's policy: cover_offset_m,
// decoys), the decoys placed on roads, where the fleet drives. Every draw
// comes from seed: the same seed, the same covers, so that a population's
// vehicles share one bundle's covers and a trip replays from its seed.
//
// Decoys overlap no other cover (but copies of real covers that overlap
// do, as those): when the roads have no room for them (a single short route, a car's few
// roads near its zones), they go in the box around the roads widened until
// they fit, which the returned note says (empty when the roads did).
// The covers file returned is the bundle's secret: the bench's vehicles
// withhold by it, the truth carries it, the observer never reads it.
func DrawCovers(sc Scenario, roads [][]Waypoint, seed uint64) (covers []byte, note string, err error) {
	return drawCovers(sc, roads, nil, seed)
}

// drawCovers is DrawCovers with the fleet's past tracks, one per trip,
// when it has them: the decoys go where the tracks' traffic is closest to
// the real covers' (config.CoverPlan.Tracks, as policy sign --tracks),
// else on the roads as DrawCovers says.
func drawCovers(sc Scenario, roads, tracks [][]Waypoint, seed uint64) (covers []byte, note string, err error) {
	pol, err := config.ParsePolicy(sc.PolicyName, sc.Policy)
	if err != nil {
		return nil, "", fmt.Errorf("draw covers: %w", err)
	}
	d := gateway.DefaultDecision()
	zones, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{DefaultBufferM: sc.DefaultBufferM, ReachM: d.ZoneReachM(pol.PositionMarginM())})
	if err != nil {
		return nil, "", fmt.Errorf("draw covers: %w", err)
	}
	plan := config.CoverPlan{
		OffsetM:      pol.NearZones.CoverOffsetM,
		ReachM:       d.ZoneReachM(pol.PositionMarginM()),
		LookAheadMps: d.MaxPlausibleKmh / 3.6,
		Decoys:       pol.NearZones.Decoys,
	}
	rnd := func() *rand.ChaCha8 {
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:], seed)
		copy(s[8:], "quietzone bench bundle covers")
		return rand.NewChaCha8(s)
	}
	var lo, hi Waypoint
	lo.Lat, lo.Lon, hi.Lat, hi.Lon = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, r := range roads {
		for _, w := range r {
			lo.Lat, lo.Lon = math.Min(lo.Lat, w.Lat), math.Min(lo.Lon, w.Lon)
			hi.Lat, hi.Lon = math.Max(hi.Lat, w.Lat), math.Max(hi.Lon, w.Lon)
		}
	}
	if plan.Decoys == 0 {
		plan.Rand = rnd()
		c, err := config.MakeCovers(zones, plan)
		return c, "", err
	}
	if len(tracks) > 0 {
		if plan.Tracks, err = lineStrings("tracks", tracks); err != nil {
			return nil, "", fmt.Errorf("draw covers: %w", err)
		}
		plan.Rand = rnd()
		if c, err := config.MakeCovers(zones, plan); err == nil {
			return c, "", nil
		}
		plan.Tracks = nil
	}
	if plan.Roads, err = lineStrings("roads", roads); err != nil {
		return nil, "", fmt.Errorf("draw covers: decoys need roads: %w", err)
	}
	plan.Rand = rnd()
	if c, err := config.MakeCovers(zones, plan); err == nil {
		return c, "", nil
	}
	// No room on the roads: the box around them, widened; then fewer
	// decoys (many zones close together).
	plan.Roads = nil
	want := plan.Decoys
	for ; plan.Decoys > 0; plan.Decoys-- {
		for _, w := range []float64{5e3, 10e3, 20e3, 40e3} {
			s, wst := Offset(lo.Lat, lo.Lon, -w, -w)
			n, e := Offset(hi.Lat, hi.Lon, w, w)
			plan.Region = &config.Region{South: s, West: wst, North: n, East: e}
			plan.Rand = rnd()
			if c, err := config.MakeCovers(zones, plan); err == nil {
				note := fmt.Sprintf("no room for %d decoys a zone on the roads: placed within %.0f km of them", want, w/1000)
				if plan.Decoys < want {
					note = fmt.Sprintf("no room for %d decoys a zone on the roads or near them: %d a zone, placed within %.0f km of them", want, plan.Decoys, w/1000)
				}
				return c, note, nil
			}
		}
	}
	plan.Region, plan.Rand = nil, rnd()
	c, err := config.MakeCovers(zones, plan)
	if err != nil {
		return nil, "", fmt.Errorf("draw covers: %w", err)
	}
	return c, fmt.Sprintf("no room for %d decoys a zone on the roads or near them: none", want), nil
}

// lineStrings reads lines as a roads file would be (config.ParseRoads):
// one LineString feature each, those of fewer than two points left out.
func lineStrings(name string, lines [][]Waypoint) (*config.Roads, error) {
	type feature struct {
		Type     string `json:"type"`
		Geometry struct {
			Type        string       `json:"type"`
			Coordinates [][2]float64 `json:"coordinates"`
		} `json:"geometry"`
	}
	fs := []feature{}
	for _, l := range lines {
		if len(l) < 2 {
			continue
		}
		f := feature{Type: "Feature"}
		f.Geometry.Type = "LineString"
		for _, w := range l {
			f.Geometry.Coordinates = append(f.Geometry.Coordinates, [2]float64{w.Lon, w.Lat})
		}
		fs = append(fs, f)
	}
	data, err := json.Marshal(map[string]any{"type": "FeatureCollection", "features": fs})
	if err != nil {
		return nil, err
	}
	return config.ParseRoads(name, data)
}
