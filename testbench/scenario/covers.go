package scenario

import (
	"encoding/binary"
	"encoding/json"
	"errors"
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
// Decoys keep 2·cover_offset_m and more from every zone and each other:
// when the roads have no room for them (a single short route, a car's few
// roads near its zones), they go in the box around the roads widened until
// they fit, which the returned note says (empty when the roads did).
// The covers file returned is the bundle's secret: the bench's vehicles
// withhold by it, the truth carries it, the observer never reads it.
func DrawCovers(sc Scenario, roads [][]Waypoint, seed uint64) (covers []byte, note string, err error) {
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
	var lines [][][2]float64
	for _, r := range roads {
		var l [][2]float64
		for _, w := range r {
			l = append(l, [2]float64{w.Lon, w.Lat})
			lo.Lat, lo.Lon = math.Min(lo.Lat, w.Lat), math.Min(lo.Lon, w.Lon)
			hi.Lat, hi.Lon = math.Max(hi.Lat, w.Lat), math.Max(hi.Lon, w.Lon)
		}
		if len(l) >= 2 {
			lines = append(lines, l)
		}
	}
	if plan.Decoys == 0 {
		plan.Rand = rnd()
		c, err := config.MakeCovers(zones, plan)
		return c, "", err
	}
	if len(lines) == 0 {
		return nil, "", errors.New("draw covers: decoys need roads")
	}
	fc := map[string]any{"type": "FeatureCollection"}
	var fs []any
	for _, l := range lines {
		fs = append(fs, map[string]any{"type": "Feature", "geometry": map[string]any{"type": "LineString", "coordinates": l}})
	}
	fc["features"] = fs
	data, err := json.Marshal(fc)
	if err != nil {
		return nil, "", err
	}
	if plan.Roads, err = config.ParseRoads("roads", data); err != nil {
		return nil, "", fmt.Errorf("draw covers: %w", err)
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
