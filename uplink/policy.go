package uplink

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Policy is what may leave the vehicle. Anything it does not list is denied.
type Policy struct {
	// TelemetryPeriod is how often the gateway offers a snapshot.
	TelemetryPeriod time.Duration
	// Signals allowed by role name, each with its own limits.
	Signals map[string]Rule
	// Position, when set, allows latitude and longitude snapped to a grid,
	// and only where the gateway does not withhold them.
	Position *PositionRule
	// Batch limited how long records waited before they were sent. Since
	// the constant cadence (Cadence) slots decide it; it is kept so that
	// policies that set it still load.
	Batch BatchRule
	// NearZones says how stretches near zones are hidden.
	NearZones NearZoneRule
	// Cadence says when telemetry leaves: one fixed-size publish per slot,
	// whatever the vehicle holds or withholds. Zero fields take defaults.
	Cadence CadenceRule
	// CabinCameras lets the vehicle's cabin cameras record outside zones
	// (each also enabled in the vehicle's configuration). Off by default:
	// cabin data stays in the car. The uplink does not read it; the
	// gateway does, so that the fleet decides it with the rest of what
	// the vehicle may collect.
	CabinCameras bool
}

// NearZoneRule hides when, and from how far, the vehicle was near a zone.
// The gateway applies the distances, because it knows where zones are;
// the uplink applies the time quantum, to whatever the gateway withholds.
type NearZoneRule struct {
	// TimeQuantum: the records of every quantum of time (aligned to Unix
	// time) in which location was withheld are merged into one record
	// stamped with the quantum's start, holding no location data; every
	// record waits in the vehicle until its quantum is over. A gap or a
	// change of cadence thus shows when a stretch began and ended only to
	// within a quantum.
	TimeQuantum time.Duration
	// JitterM: every trip draws, for each zone, a random extra margin in
	// [0, JitterM) around its buffer, inside which location is withheld,
	// so that where withholding starts and ends differs from trip to trip.
	JitterM float64
	// TripEndM: a trip that starts within TripEndM (plus a random margin
	// of up to JitterM) of a zone's buffer withholds location until it is
	// farther; one that ends that near drops its last stretch, which is
	// held back in the vehicle until the vehicle is farther.
	TripEndM float64
	// TripEndSpreadM: each trip draws how far from its first fix its start
	// is withheld, and how far the release of its records trails the
	// vehicle, each uniform in [TripEndM, TripEndM+TripEndSpreadM) (the
	// gateway, privacy.go).
	TripEndSpreadM float64
	// CoverOffsetM: a cover's centre is offset from what it covers by a
	// random point of a disc of this radius (policy sign for zones and
	// decoys, the vehicle for its own end covers). Decoys is how many decoy
	// covers policy sign places per real zone.
	CoverOffsetM float64
	Decoys       int
	// EndLinger: after the ignition goes off the unit stays powered, and
	// publishes, for a random time in [0, EndLinger) drawn each trip (the
	// gateway's PowerHold, through the daemon's power.hold_line), so that
	// when it goes offline does not say when the trip ended.
	EndLinger time.Duration
}

// CadenceRule is the constant cadence (issue 14): while the daemon runs,
// the telemetry topic gets exactly one publish every Every, at a phase
// fixed per vehicle, each payload padded to exactly PayloadBytes (before
// sealing, which adds a constant), whether it holds records, alarms or
// nothing. What an observer of times and sizes sees is then the same for
// every vehicle, near a zone or far from one, moving or parked.
type CadenceRule struct {
	// Every is the slot length: whole seconds, 0 for DefaultCadence.
	Every time.Duration
	// PayloadBytes is the size of every telemetry payload, 0 for
	// DefaultPayloadBytes. Records that do not fit wait for later slots;
	// it must hold more than one slot's records, or a backlog grows.
	PayloadBytes int
	// AlarmQuantum coarsens alarms' times: an alarm is stamped with the
	// start of its AlarmQuantum (aligned to Unix time) and waits until
	// then is over, and until the telemetry of that time may leave. 0 for
	// DefaultAlarmQuantum; a multiple of NearZones.TimeQuantum.
	AlarmQuantum time.Duration
}

// Defaults and bounds of the cadence.
const (
	DefaultCadence      = 30 * time.Second
	DefaultPayloadBytes = 160 // about 1.9× a full slot of the demo policy (84 bytes, format 3)
	DefaultAlarmQuantum = 30 * time.Minute
	MinPayloadBytes     = 128
	MaxPayloadBytes     = 64 << 10
	MaxCadence          = 10 * time.Minute
)

// Slot returns the slot length in force.
func (c CadenceRule) Slot() time.Duration {
	if c.Every <= 0 {
		return DefaultCadence
	}
	return c.Every
}

// Size returns the payload size in force.
func (c CadenceRule) Size() int {
	if c.PayloadBytes <= 0 {
		return DefaultPayloadBytes
	}
	return c.PayloadBytes
}

// alarmQuantum returns the alarms' time quantum in force, a multiple of
// the time quantum q.
func (c CadenceRule) alarmQuantum(q time.Duration) time.Duration {
	a := c.AlarmQuantum
	if a <= 0 {
		a = DefaultAlarmQuantum
	}
	if q > 0 && a%q != 0 {
		a = (a/q + 1) * q
	}
	return max(a, q)
}

// Rule limits one allowed signal.
type Rule struct {
	// MaxRateHz caps how often the signal is included; 0 means once per
	// telemetry period.
	MaxRateHz float64
	// Quantum rounds the value to a multiple of itself; 0 sends it as is.
	Quantum float64
}

// PositionRule limits the position.
type PositionRule struct {
	MaxRateHz float64
	// PrecisionM is the grid the position is snapped to, in metres.
	PrecisionM float64
}

// BatchRule said when a batch was closed and queued, before the cadence
// (Batcher.Add and Due still follow it).
type BatchRule struct {
	MaxRecords int
	MaxAge     time.Duration
}

// PositionKey is the policy key that allows the position.
const PositionKey = "position"

// KeyError is a policy problem with one key.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Reason) }

// Validate checks the policy: its numbers, and that every key of Signals is
// a role's one spelling (ValidRole). Which roles a policy may name at all
// (only vehicle-class ones) is for the gateway, which knows the roles'
// classes: it refuses a policy that asks for location or personal data
// (the fleet must know), and whatever a policy lists, only samples of
// ClassVehicle leave (Redactor).
func (p *Policy) Validate() error {
	if p.TelemetryPeriod <= 0 {
		return &KeyError{Key: "telemetry_period", Reason: "must be positive"}
	}
	for _, role := range slices.Sorted(maps.Keys(p.Signals)) { // the same key every time
		if reason := notVehicle(role); reason != "" {
			return &KeyError{Key: role, Reason: reason}
		}
		switch r := p.Signals[role]; {
		case !finiteNonNeg(r.MaxRateHz) || !finiteNonNeg(r.Quantum):
			return &KeyError{Key: role, Reason: "max_rate_hz and quantum must be non-negative numbers"}
		}
	}
	if p.Position != nil {
		if !finiteNonNeg(p.Position.MaxRateHz) {
			return &KeyError{Key: PositionKey, Reason: "max_rate_hz must be a non-negative number"}
		}
		if !(p.Position.PrecisionM >= 1) || math.IsInf(p.Position.PrecisionM, 0) {
			return &KeyError{Key: PositionKey, Reason: "precision_m must be at least 1"}
		}
	}
	if p.Batch.MaxRecords < 1 {
		return &KeyError{Key: "batch.max_records", Reason: "must be at least 1"}
	}
	if p.Batch.MaxAge <= 0 {
		return &KeyError{Key: "batch.max_age", Reason: "must be positive"}
	}
	c := p.Cadence
	switch {
	case c.Every < 0 || c.Every%time.Second != 0 || c.Every > MaxCadence:
		return &KeyError{Key: "cadence.every_s", Reason: fmt.Sprintf("must be whole seconds, at most %v", MaxCadence)}
	case c.Every > 0 && c.Every < p.TelemetryPeriod:
		return &KeyError{Key: "cadence.every_s", Reason: fmt.Sprintf("must be at least the telemetry period (%v)", p.TelemetryPeriod)}
	case c.PayloadBytes != 0 && (c.PayloadBytes < MinPayloadBytes || c.PayloadBytes > MaxPayloadBytes):
		return &KeyError{Key: "cadence.payload_bytes", Reason: fmt.Sprintf("must be %d to %d", MinPayloadBytes, MaxPayloadBytes)}
	case c.AlarmQuantum < 0 || c.AlarmQuantum%time.Second != 0 || c.AlarmQuantum > 24*time.Hour:
		return &KeyError{Key: "cadence.alarm_quantum_s", Reason: "must be whole seconds, at most a day"}
	}
	nz := p.NearZones
	switch {
	case nz.TimeQuantum < p.TelemetryPeriod || nz.TimeQuantum%time.Second != 0 || nz.TimeQuantum > MaxTimeQuantum:
		return &KeyError{Key: "near_zones.time_quantum_s", Reason: fmt.Sprintf("must be whole seconds, at least the telemetry period (%v) and at most %v", p.TelemetryPeriod, MaxTimeQuantum)}
	case !finiteNonNeg(nz.JitterM) || nz.JitterM > MaxJitterM:
		return &KeyError{Key: "near_zones.jitter_m", Reason: fmt.Sprintf("must be 0 to %g metres", float64(MaxJitterM))}
	case !finiteNonNeg(nz.TripEndM) || nz.TripEndM > MaxTripEndM:
		return &KeyError{Key: "near_zones.trip_end_m", Reason: fmt.Sprintf("must be 0 to %g metres", float64(MaxTripEndM))}
	case !finiteNonNeg(nz.TripEndSpreadM) || nz.TripEndSpreadM > MaxTripEndM:
		return &KeyError{Key: "near_zones.trip_end_spread_m", Reason: fmt.Sprintf("must be 0 to %g metres", float64(MaxTripEndM))}
	case !finiteNonNeg(nz.CoverOffsetM) || nz.CoverOffsetM > MaxCoverOffsetM:
		return &KeyError{Key: "near_zones.cover_offset_m", Reason: fmt.Sprintf("must be 0 to %g metres", float64(MaxCoverOffsetM))}
	case nz.EndLinger < 0 || nz.EndLinger > MaxEndLinger || nz.EndLinger%time.Second != 0:
		return &KeyError{Key: "near_zones.end_linger_s", Reason: fmt.Sprintf("must be whole seconds, 0 to %v", MaxEndLinger)}
	case nz.Decoys < 0 || nz.Decoys > MaxDecoys:
		return &KeyError{Key: "near_zones.decoys", Reason: fmt.Sprintf("must be 0 to %d", MaxDecoys)}
	}
	return nil
}

// notVehicle says why a name cannot be allowed out whatever the vehicle:
// it is not a role's spelling, or it is a location or personal role (well
// known, or in a reserved family). "" for a well-known vehicle role or a
// custom role, which only the vehicle's profile can classify.
func notVehicle(role string) string {
	if !ValidRole(role) {
		return fmt.Sprintf("not a role name (%s)", RoleSpelling)
	}
	if role == PositionKey {
		return "the position is allowed with the top-level position key, which snaps it to a grid"
	}
	if role == "position.latitude" || role == "position.longitude" {
		return "allow the position with the \"position\" key, which snaps it to a grid"
	}
	c, ok := RoleClass(role)
	if !ok {
		_, c, ok = Reserved(role)
	}
	if ok && c != ClassVehicle {
		return fmt.Sprintf("%s data, which never leaves the vehicle: only vehicle data can be allowed", c)
	}
	return ""
}

// Limits of the near-zone rule: beyond them a policy is more likely a
// typo than a choice.
const (
	MaxTimeQuantum = time.Hour
	MaxJitterM     = 10000
	MaxTripEndM    = 50000
	MaxEndLinger   = 2 * time.Hour
	// MaxCoverOffsetM and MaxDecoys bound the cover keys (issue 14).
	MaxCoverOffsetM = 50000
	MaxDecoys       = 20
)

func finiteNonNeg(x float64) bool { return x >= 0 && !math.IsInf(x, 0) }

// PositionMarginM is how far a snapped position can be from the true one:
// half the diagonal of a grid cell. The gateway withholds positions this
// close to a buffer, so that snapping cannot move one inside.
func (p *Policy) PositionMarginM() float64 {
	if p.Position == nil {
		return 0
	}
	return p.Position.PrecisionM * math.Sqrt2 / 2 * 1.01 // 1% for the grid's varying longitude step
}
