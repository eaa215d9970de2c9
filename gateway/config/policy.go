package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

type policyFile struct {
	TelemetryPeriod time.Duration          `yaml:"telemetry_period"`
	Position        *positionRule          `yaml:"position"`
	Signals         map[string]*signalRule `yaml:"signals"`
	Batch           struct {
		MaxRecords int           `yaml:"max_records"`
		MaxAge     time.Duration `yaml:"max_age"`
	} `yaml:"batch"`
	NearZones struct {
		TimeQuantumS float64 `yaml:"time_quantum_s"` // a float: yaml would truncate 1.5 into an int
		JitterM      float64 `yaml:"jitter_m"`
		TripEndM     float64 `yaml:"trip_end_m"`
		// Trip ends and covers (issue 14): see uplink.NearZoneRule.
		TripEndSpreadM float64 `yaml:"trip_end_spread_m"`
		CoverOffsetM   float64 `yaml:"cover_offset_m"`
		Decoys         int     `yaml:"decoys"`
		EndLingerS     float64 `yaml:"end_linger_s"`
	} `yaml:"near_zones"`
	Cameras struct {
		Cabin bool `yaml:"cabin"`
	} `yaml:"cameras"`
	Cadence struct { // floats: yaml would truncate 1.5 into an int
		EverySeconds        float64 `yaml:"every_s"`
		PayloadBytes        int     `yaml:"payload_bytes"`
		AlarmQuantumSeconds float64 `yaml:"alarm_quantum_s"`
	} `yaml:"cadence"`
}

// Defaults of the near_zones section: protective, since a policy that
// says nothing about zones should not be the one that leaks most.
const (
	defaultTimeQuantumS = 60
	defaultJitterM      = 250
	defaultTripEndM     = 1000
	// A trip's ends are hidden 1–2 km from where it started or ended; a
	// cover is offset by up to 2 km (median 1.4 km); 3 decoys a zone.
	defaultTripEndSpreadM = 1000
	DefaultCoverOffsetM   = 2000
	DefaultDecoys         = 3
	// After the ignition goes off the unit lingers up to 10 min (5 on
	// average), where its power can be held (power.hold_line).
	DefaultEndLingerS = 600
)

type positionRule struct {
	MaxRateHz  float64 `yaml:"max_rate_hz"`
	PrecisionM float64 `yaml:"precision_m"`
}

type signalRule struct {
	MaxRateHz float64 `yaml:"max_rate_hz"`
	Quantum   float64 `yaml:"quantum"`
}

// ParsePolicy reads an uplink policy without a vehicle profile: it may
// name well-known vehicle roles alone (ParsePolicyFor). Anything it does
// not list stays in the vehicle.
func ParsePolicy(name string, data []byte) (*uplink.Policy, error) {
	p, _, err := ParsePolicyFor(name, data, nil)
	return p, err
}

// ParsePolicyFor reads an uplink policy for a vehicle, and holds what it
// allows against what the vehicle's signals are: a policy may allow only
// vehicle data. A key that is not a role's one spelling, or that names a
// location or personal role (well-known, or declared so by prof), is an
// error at its line; so is a custom role when prof is nil, since only a
// profile says what a custom role is. A role prof does not map is a
// warning (returned): nothing of it can leave, and a fleet's policy may
// name roles other vehicles have.
func ParsePolicyFor(name string, data []byte, prof *Profile) (*uplink.Policy, []string, error) {
	var pf policyFile
	pf.TelemetryPeriod = time.Second
	pf.Batch.MaxRecords = 60
	pf.Batch.MaxAge = time.Minute
	pf.NearZones.TimeQuantumS = defaultTimeQuantumS
	pf.NearZones.JitterM = defaultJitterM
	pf.NearZones.TripEndM = defaultTripEndM
	pf.NearZones.TripEndSpreadM = defaultTripEndSpreadM
	pf.NearZones.CoverOffsetM = DefaultCoverOffsetM
	pf.NearZones.Decoys = DefaultDecoys
	pf.NearZones.EndLingerS = DefaultEndLingerS
	doc, err := DecodeYAML(name, data, &pf)
	if err != nil {
		return nil, nil, fmt.Errorf("load policy: %w", err)
	}
	p := &uplink.Policy{
		TelemetryPeriod: pf.TelemetryPeriod,
		Signals:         map[string]uplink.Rule{},
		Batch:           uplink.BatchRule{MaxRecords: pf.Batch.MaxRecords, MaxAge: pf.Batch.MaxAge},
		NearZones: uplink.NearZoneRule{
			JitterM:        pf.NearZones.JitterM,
			TripEndM:       pf.NearZones.TripEndM,
			TripEndSpreadM: pf.NearZones.TripEndSpreadM,
			CoverOffsetM:   pf.NearZones.CoverOffsetM,
			Decoys:         pf.NearZones.Decoys,
			EndLinger:      wholeSeconds(pf.NearZones.EndLingerS),
		},
		CabinCameras: pf.Cameras.Cabin,
	}
	if q := pf.NearZones.TimeQuantumS; q > 0 && q == math.Trunc(q) && q <= uplink.MaxTimeQuantum.Seconds() {
		p.NearZones.TimeQuantum = time.Duration(q) * time.Second
	} // else zero, which Validate refuses with the key's line
	p.Cadence.PayloadBytes = pf.Cadence.PayloadBytes
	p.Cadence.Every, p.Cadence.AlarmQuantum = wholeSeconds(pf.Cadence.EverySeconds), wholeSeconds(pf.Cadence.AlarmQuantumSeconds)
	if pf.Position != nil {
		p.Position = &uplink.PositionRule{MaxRateHz: pf.Position.MaxRateHz, PrecisionM: pf.Position.PrecisionM}
	}
	for role, r := range pf.Signals {
		if r == nil {
			r = &signalRule{}
		}
		p.Signals[role] = uplink.Rule{MaxRateHz: r.MaxRateHz, Quantum: r.Quantum}
	}
	if err := p.Validate(); err != nil {
		var ke *uplink.KeyError
		if errors.As(err, &ke) {
			path := []any{ke.Key}
			if _, ok := p.Signals[ke.Key]; ok {
				path = []any{"signals", ke.Key}
			} else if k, sub, ok := strings.Cut(ke.Key, "."); ok {
				path = []any{k, sub}
			}
			return nil, nil, fmt.Errorf("load policy: %w", doc.Errorf(path, "%s", ke.Error()))
		}
		return nil, nil, fmt.Errorf("load policy: %w", err)
	}
	var warnings []string
	for _, role := range slices.Sorted(maps.Keys(p.Signals)) {
		at := []any{"signals", role}
		_, wellKnown := uplink.RoleClass(role) // Validate let through vehicle ones alone
		if prof == nil {
			if !wellKnown {
				return nil, nil, fmt.Errorf("load policy: %w", doc.Errorf(at, "%s: not a well-known role, and the policy is read without a vehicle profile to say what it is", role))
			}
			continue
		}
		switch c, mapped := prof.Class(role); {
		case !mapped:
			warnings = append(warnings, doc.Errorf(at, "%s: the vehicle profile%s does not map it: nothing of it can leave", role, prof.label()).Error())
		case c != uplink.ClassVehicle:
			return nil, nil, fmt.Errorf("load policy: %w", doc.Errorf(at, "%s: %s data in the vehicle profile%s, which never leaves the vehicle: only vehicle data can be allowed", role, c, prof.label()))
		}
	}
	return p, warnings, nil
}

// LoadPolicy reads an uplink policy file for a vehicle (ParsePolicyFor).
func LoadPolicy(path string, prof *Profile) (*uplink.Policy, []string, error) {
	data, err := atrest.Read(path, atrest.Policy)
	if err != nil {
		return nil, nil, fmt.Errorf("load policy: %w", err)
	}
	return ParsePolicyFor(path, data, prof)
}

// wholeSeconds is a duration of s seconds; a fraction or a negative or
// huge number becomes -1s, which Validate refuses with the key's line.
func wholeSeconds(s float64) time.Duration {
	if s < 0 || s != math.Trunc(s) || s > 1e6 {
		return -time.Second
	}
	return time.Duration(s) * time.Second
}
