package scenario

import (
	"fmt"
	"math"
	"time"
)

// FaultKind names a fault the bench can inject.
type FaultKind string

// The faults. Each is something a vehicle meets on the road or in the
// workshop; the gateway must stay fail-closed through every one.
const (
	// GPSDropout: the GNSS messages stop (tunnel, antenna cable).
	GPSDropout FaultKind = "gps_dropout"
	// GPSJump: the reported position is offset by NorthM/EastM (spoofing,
	// multipath); the offset holds for For, or for the next fix sent if
	// For is zero.
	GPSJump FaultKind = "gps_jump"
	// StaleFix: the GNSS messages arrive stamped Age in the past (a
	// receiver or another ECU buffering them).
	StaleFix FaultKind = "stale_fix"
	// MalformedFrames: every step, mapped frames of the wrong length.
	MalformedFrames FaultKind = "malformed_frames"
	// UnknownFrames: every step, frames of identifiers nobody maps.
	UnknownFrames FaultKind = "unknown_frames"
	// BusOff: no frame crosses the bus either way (the gateway's camera
	// commands are lost too); the power lines still work.
	BusOff FaultKind = "bus_off"
	// BrokerOutage: the vehicle's link to the broker is cut; connections
	// are dropped and refused.
	BrokerOutage FaultKind = "broker_outage"
	// GatewayRestart: the gateway stops and, after For, a new one starts
	// on the same state directory, as after a crash or an update.
	GatewayRestart FaultKind = "gateway_restart"
	// GPSCreep: a spoof within the receiver's claimed accuracy. The
	// receiver reports an accuracy of SigmaM and moves the fix by StepM
	// with every GNSS message, towards NorthM/EastM, until it is that far
	// off the truth, and holds it there for the rest of For: each step a
	// little less than two accuracy margins, what a check against the
	// previous fix alone would forgive.
	GPSCreep FaultKind = "gps_creep"
	// ClockStep: the wall clock steps by By (an NTP or GNSS time
	// correction): no time passes, the monotonic clock does not move.
	ClockStep FaultKind = "clock_step"
	// GPSDrag: for For, the receiver reports a track of its own, with no
	// jump: it moves at SpeedRatio times the vehicle's speed in the
	// vehicle's direction turned clockwise by TurnDeg (180: reversed),
	// and TurnDps more every second. When it ends, the fix is back on
	// the truth (a jump).
	GPSDrag FaultKind = "gps_drag"
)

// faultKinds lists every kind, in the order the docs give them. Random
// trips draw from firstKinds (random.go) and add the others themselves,
// fitted to the trip.
var faultKinds = []FaultKind{GPSDropout, GPSJump, StaleFix, MalformedFrames, UnknownFrames, BusOff, BrokerOutage, GatewayRestart, ClockStep, GPSCreep, GPSDrag}

// Fault is one fault on the drive's timeline. It starts once the drive has
// lasted At and the vehicle has driven AtKm (both: whichever is later).
type Fault struct {
	Kind FaultKind
	At   time.Duration
	AtKm float64
	// For is how long it lasts (for a restart: how long the gateway is
	// down).
	For time.Duration
	// NorthM, EastM offset the position (GPSJump).
	NorthM, EastM float64
	// Age is how old the stale GNSS messages are (StaleFix).
	Age time.Duration
	// By is the clock's jump, forward or back (ClockStep).
	By time.Duration
	// StepM and SigmaM are a creeping spoof's step per fix and the
	// accuracy the receiver reports meanwhile (GPSCreep).
	StepM, SigmaM float64
	// SpeedRatio, TurnDeg and TurnDps shape the dragged track (GPSDrag).
	SpeedRatio, TurnDeg, TurnDps float64
}

// Validate reports what is wrong with a fault, or nil.
func (f Fault) Validate() error {
	switch {
	case f.At < 0 || f.AtKm < 0 || f.For < 0:
		return fmt.Errorf("%s: at, at_km and for must not be negative", f.Kind)
	}
	switch f.Kind {
	case GPSDropout, StaleFix, MalformedFrames, UnknownFrames, BusOff, BrokerOutage, GatewayRestart:
		if f.For <= 0 {
			return fmt.Errorf("%s: a positive duration (for) is required", f.Kind)
		}
	case GPSJump:
		if f.NorthM == 0 && f.EastM == 0 {
			return fmt.Errorf("%s: north_m or east_m is required", f.Kind)
		}
	case GPSCreep:
		switch {
		case f.NorthM == 0 && f.EastM == 0:
			return fmt.Errorf("%s: north_m or east_m (where the spoof creeps to) is required", f.Kind)
		case f.For <= 0:
			return fmt.Errorf("%s: a positive duration (for) is required", f.Kind)
		case !(f.StepM > 0) || f.StepM > 10000:
			return fmt.Errorf("%s: step_m %v: want more than 0, at most 10000", f.Kind, f.StepM)
		case !(f.SigmaM > 0) || f.SigmaM > 1000:
			return fmt.Errorf("%s: sigma_m %v: want more than 0, at most 1000", f.Kind, f.SigmaM)
		}
	case ClockStep:
		if f.By == 0 {
			return fmt.Errorf("%s: by (the jump, such as 30s or -5s) is required", f.Kind)
		}
	case GPSDrag:
		switch {
		case f.For <= 0:
			return fmt.Errorf("%s: a positive duration (for) is required", f.Kind)
		case !(f.SpeedRatio > 0 && f.SpeedRatio <= 2):
			return fmt.Errorf("%s: speed_ratio %v: want more than 0, at most 2 (times the vehicle's speed)", f.Kind, f.SpeedRatio)
		case !(math.Abs(f.TurnDeg) <= 360 && math.Abs(f.TurnDps) <= 90):
			return fmt.Errorf("%s: turn_deg %v, turn_dps %v: want at most 360° and 90 °/s either way", f.Kind, f.TurnDeg, f.TurnDps)
		}
	default:
		return fmt.Errorf("unknown fault kind %q (want one of %v)", f.Kind, faultKinds)
	}
	if f.Kind != GPSDrag && (f.SpeedRatio != 0 || f.TurnDeg != 0 || f.TurnDps != 0) {
		return fmt.Errorf("%s: speed_ratio, turn_deg and turn_dps are a gps_drag's", f.Kind)
	}
	if f.Kind == StaleFix && f.Age <= 0 {
		return fmt.Errorf("%s: a positive age is required", f.Kind)
	}
	return nil
}
