package uplink

import (
	"fmt"
	"math"
	"strings"
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
	// Batch limits how long records wait before they are sent.
	Batch BatchRule
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

// BatchRule says when a batch is closed and queued.
type BatchRule struct {
	MaxRecords int
	MaxAge     time.Duration
}

// PositionKey is the policy key that allows the position.
const PositionKey = "position"

// forbiddenPrefixes name data that never leaves the vehicle, whatever the
// policy says: the phone link's contacts, calls and messages.
var forbiddenPrefixes = []string{"phone."}

// locationRoles reveal where the vehicle is or has been; they are withheld
// whenever the gateway withholds the position.
var locationPrefixes = []string{"position."}
var locationRoles = []string{"vehicle.odometer"}

// Forbidden reports whether a role may never be uplinked.
func Forbidden(role string) bool {
	for _, p := range forbiddenPrefixes {
		if strings.HasPrefix(role, p) {
			return true
		}
	}
	return false
}

// LocationRevealing reports whether a role reveals where the vehicle is.
func LocationRevealing(role string) bool {
	for _, p := range locationPrefixes {
		if strings.HasPrefix(role, p) {
			return true
		}
	}
	for _, r := range locationRoles {
		if role == r {
			return true
		}
	}
	return false
}

// KeyError is a policy problem with one key.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Reason) }

// Validate checks the policy. A policy that asks for forbidden data is an
// error, not something to quietly ignore: the fleet must know.
func (p *Policy) Validate() error {
	if p.TelemetryPeriod <= 0 {
		return &KeyError{Key: "telemetry_period", Reason: "must be positive"}
	}
	for role, r := range p.Signals {
		switch {
		case Forbidden(role):
			return &KeyError{Key: role, Reason: "phone and contact data can never be uplinked"}
		case role == "position.latitude" || role == "position.longitude":
			return &KeyError{Key: role, Reason: "allow the position with the \"position\" key, which snaps it to a grid"}
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
	return nil
}

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
