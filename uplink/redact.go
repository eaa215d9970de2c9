package uplink

import (
	"math"
	"time"
)

// Sample is the latest value of one signal role, with the role's class.
// Only ClassVehicle samples can leave; the class comes from the gateway,
// which has it from the vehicle profile, never from the role's name.
type Sample struct {
	Role  string
	Value float64
	Class Class
}

// Snapshot is the gateway's view of the vehicle at one instant, with what
// the gateway decided about it: the uplink knows nothing of zones.
type Snapshot struct {
	Time time.Time
	// Withhold: the vehicle is near a zone, or the gateway is not sure it
	// is not; the position may not leave, and the time of the whole
	// quantum around it is coarsened (NearZoneRule.TimeQuantum). (No other
	// location data ever leaves: see Class.)
	Withhold bool
	// ReleaseBefore: records stamped before it may leave (subject to quanta and
	// cadence); records at or after it wait in the vehicle. The gateway moves it
	// forward as the vehicle gets far enough from where they were taken.
	// Zero means: nothing new may leave yet.
	ReleaseBefore time.Time
	// TripEnd: the trip is over here. Every record still waiting leaves WITHOUT
	// position and without motion, merged like a withheld stretch (Withhold
	// semantics), never with its position; nothing is dropped for it.
	// "Still waiting" is judged on the ReleaseBefore of the snapshots before
	// this one: this snapshot's own ReleaseBefore counts only after the end.
	TripEnd bool
	// HavePosition: Lat and Lon hold a fresh, plausible fix.
	HavePosition bool
	Lat, Lon     float64
	// Samples are fresh values by role. The Redactor reads them during
	// Redact and keeps nothing that refers to the slice.
	Samples []Sample
}

// Record is what one snapshot, one time quantum near a zone, or one alarm
// becomes on the wire.
type Record struct {
	Seq  uint64 `json:"seq"`
	Time int64  `json:"t"` // Unix seconds
	// Pos is [latitude, longitude] snapped to the policy's grid.
	Pos     []float64          `json:"pos,omitempty"`
	Signals map[string]float64 `json:"s,omitempty"`
	// Alarm names what an alarm record reports; empty in telemetry.
	Alarm string `json:"alarm,omitempty"`
}

// Redactor applies a Policy to snapshots.
type Redactor struct {
	p        *Policy
	lastSent map[string]time.Time
}

// NewRedactor returns a Redactor for a validated policy.
func NewRedactor(p *Policy) *Redactor {
	return &Redactor{p: p, lastSent: map[string]time.Time{}}
}

// Outcome says what Redact left out.
type Outcome struct {
	PositionWithheld bool
	// SignalsDenied counts samples left out: not allowed by the policy,
	// not of ClassVehicle, or not a finite number.
	SignalsDenied int
	// ForbiddenDenied counts those of ClassPersonal: phone and contact
	// data, the privacy switch.
	ForbiddenDenied int
}

// Redact turns a snapshot into a record; ok is false when nothing may be sent.
func (r *Redactor) Redact(s Snapshot) (rec Record, out Outcome, ok bool) {
	rec.Time = s.Time.Unix()
	validPos := s.HavePosition && s.Lat >= -90 && s.Lat <= 90 && s.Lon >= -180 && s.Lon <= 180 // false for NaN
	if pr := r.p.Position; pr != nil && validPos {
		switch {
		case s.Withhold:
			out.PositionWithheld = true
		case r.due(PositionKey, pr.MaxRateHz, s.Time):
			lat, lon := snap(s.Lat, s.Lon, pr.PrecisionM)
			rec.Pos = []float64{lat, lon}
			r.lastSent[PositionKey] = s.Time
		}
	}
	for _, smp := range s.Samples {
		if smp.Class != ClassVehicle { // by class, whatever the policy lists
			out.SignalsDenied++
			if smp.Class == ClassPersonal {
				out.ForbiddenDenied++
			}
			continue
		}
		rule, allowed := r.p.Signals[smp.Role]
		if !allowed || math.IsNaN(smp.Value) || math.IsInf(smp.Value, 0) {
			out.SignalsDenied++
			continue
		}
		if !r.due(smp.Role, rule.MaxRateHz, s.Time) {
			continue
		}
		v := smp.Value
		if rule.Quantum > 0 {
			v = math.Round(v/rule.Quantum) * rule.Quantum
		}
		if rec.Signals == nil {
			rec.Signals = map[string]float64{}
		}
		rec.Signals[smp.Role] = v
		r.lastSent[smp.Role] = s.Time
	}
	return rec, out, rec.Pos != nil || len(rec.Signals) > 0
}

func (r *Redactor) due(key string, maxRateHz float64, now time.Time) bool {
	if maxRateHz <= 0 {
		return true
	}
	last, ok := r.lastSent[key]
	return !ok || now.Sub(last) >= time.Duration(float64(time.Second)/maxRateHz)
}

const metresPerDegreeLat = 111320.0

// snap moves a position to the nearest point of a grid of about
// precisionM × precisionM cells.
func snap(lat, lon, precisionM float64) (float64, float64) {
	dLat := precisionM / metresPerDegreeLat
	lat = math.Round(lat/dLat) * dLat
	cos := math.Max(math.Cos(lat*math.Pi/180), 1e-6)
	dLon := precisionM / (metresPerDegreeLat * cos)
	lon = math.Round(lon/dLon) * dLon
	lon = math.Mod(lon+540, 360) - 180
	return math.Max(-90, math.Min(90, lat)), lon
}
