package gateway

import (
	"errors"
	"fmt"
	"math"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
	"strings"
	"time"
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
	} `yaml:"near_zones"`
	Cameras struct {
		Cabin bool `yaml:"cabin"`
	} `yaml:"cameras"`
}

// Defaults of the near_zones section: protective, since a policy that
// says nothing about zones should not be the one that leaks most.
const (
	defaultTimeQuantumS = 60
	defaultJitterM      = 250
	defaultTripEndM     = 1000
)

type positionRule struct {
	MaxRateHz  float64 `yaml:"max_rate_hz"`
	PrecisionM float64 `yaml:"precision_m"`
}

type signalRule struct {
	MaxRateHz float64 `yaml:"max_rate_hz"`
	Quantum   float64 `yaml:"quantum"`
}

// ParsePolicy reads an uplink policy. Anything it does not list stays in
// the vehicle.
func ParsePolicy(name string, data []byte) (*uplink.Policy, error) {
	var pf policyFile
	pf.TelemetryPeriod = time.Second
	pf.Batch.MaxRecords = 60
	pf.Batch.MaxAge = time.Minute
	pf.NearZones.TimeQuantumS = defaultTimeQuantumS
	pf.NearZones.JitterM = defaultJitterM
	pf.NearZones.TripEndM = defaultTripEndM
	doc, err := DecodeYAML(name, data, &pf)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	p := &uplink.Policy{
		TelemetryPeriod: pf.TelemetryPeriod,
		Signals:         map[string]uplink.Rule{},
		Batch:           uplink.BatchRule{MaxRecords: pf.Batch.MaxRecords, MaxAge: pf.Batch.MaxAge},
		NearZones: uplink.NearZoneRule{
			JitterM:  pf.NearZones.JitterM,
			TripEndM: pf.NearZones.TripEndM,
		},
		CabinCameras: pf.Cameras.Cabin,
	}
	if q := pf.NearZones.TimeQuantumS; q > 0 && q == math.Trunc(q) && q <= uplink.MaxTimeQuantum.Seconds() {
		p.NearZones.TimeQuantum = time.Duration(q) * time.Second
	} // else zero, which Validate refuses with the key's line
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
			return nil, fmt.Errorf("load policy: %w", doc.Errorf(path, "%s", ke.Error()))
		}
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return p, nil
}

// LoadPolicy reads an uplink policy file.
func LoadPolicy(path string) (*uplink.Policy, error) {
	data, err := atrest.Read(path, atrest.Policy)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return ParsePolicy(path, data)
}
