package testbench

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math"
	"time"

	"quietzone/gateway"
	"quietzone/gateway/bundle"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/geofence"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
)

// The simulated fleet's signing key and bundle key: the fleet's side, as
// demoFleetSecret is; a real fleet keeps the first off its vehicles and
// installs the second at enrolment.
var (
	demoSigningKey = ed25519.NewKeyFromSeed(sha256Of("quietzone-demo-signing-key-not-secret"))
	demoBundleKey  = sha256Of("quietzone-demo-bundle-key-not-secret")
)

func sha256Of(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Bundle is what a scenario's vehicle runs on: its zones with their covers
// and decoys, and its policy, out of a bundle signed and sealed as the
// fleet's signing tool does it and opened with the vehicle's own code.
type Bundle struct {
	Zones  *geofence.Index
	Policy *uplink.Policy
	// Covers is the covers file sealed in it; CoversNote says where the
	// decoys went when the route had no room for them (DrawCovers).
	Covers     []byte
	CoversNote string
}

// OpenScenarioBundle signs a policy bundle of sc's policy, with its zones
// and covers (sc.Covers, or drawn from sc.Seed on its route) sealed under
// the fleet's bundle key, and opens it as the vehicle does
// (daemon.OpenBundle): the vehicle withholds by the covers it holds.
func OpenScenarioBundle(sc scenario.Scenario) (*Bundle, error) {
	out := &Bundle{Covers: sc.Covers}
	if out.Covers == nil {
		var err error
		if out.Covers, out.CoversNote, err = scenario.DrawCovers(sc, [][]scenario.Waypoint{sc.Route}, sc.Seed); err != nil {
			return nil, err
		}
	}
	key, err := bundle.NewBodyKey(demoBundleKey)
	if err != nil {
		return nil, err
	}
	body, err := key.Seal(map[string][]byte{"zones": sc.Zones, "covers": out.Covers})
	if err != nil {
		return nil, err
	}
	issued := sc.Start.Add(-time.Hour).UTC().Truncate(time.Second)
	data, err := bundle.Sign(demoSigningKey, bundle.Manifest{Version: 1, Issued: issued, Expires: issued.Add(10 * 365 * 24 * time.Hour)},
		map[string][]byte{"policy": sc.Policy, bundle.SealedName: body})
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	b, err := bundle.Open(data, []bundle.PublicKey{bundle.NewPublicKey(demoSigningKey.Public().(ed25519.PublicKey))})
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	d := gateway.DefaultDecision()
	zo := func(pol *uplink.Policy) geofence.Options {
		return geofence.Options{DefaultBufferM: sc.DefaultBufferM, ReachM: d.ZoneReachM(pol.PositionMarginM())}
	}
	if out.Zones, out.Policy, err = daemon.OpenBundle(b, key, nil, zo); err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	return out, nil
}

// TruthCover is one of the bundle's covers: the secret the observer must
// not hold, carried in the truth to score the decoy attack and the cost.
type TruthCover struct {
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	RadiusM float64 `json:"radius_m"`
	// Decoy: no zone lies in it. Zone names the real zone it covers.
	Decoy bool   `json:"decoy"`
	Zone  string `json:"zone,omitempty"`
}

// truthCovers lists the covers of a covers file; a cover that holds a
// zone's centre covers it (a real cover holds its zone whatever its
// offset; a decoy keeps 2·cover_offset_m from every zone).
func truthCovers(covers []byte, zones []TruthZone) []TruthCover {
	ix, err := config.ParseCovers("covers", covers)
	if err != nil {
		return nil
	}
	out := make([]TruthCover, 0, ix.Len())
	for i := range ix.Len() {
		lat, lon, r := ix.Zone(i).Cap()
		tc := TruthCover{Lat: lat, Lon: lon, RadiusM: math.Round(r), Decoy: true}
		best := math.Inf(1)
		for _, z := range zones {
			if d := geofence.DistanceM(lat, lon, z.Lat, z.Lon); d <= r && d < best {
				best, tc.Decoy, tc.Zone = d, false, z.ID
			}
		}
		out = append(out, tc)
	}
	return out
}
