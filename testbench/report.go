package testbench

import (
	"time"

	"quietzone/uplink"
)

// CameraReport is one camera's figures over the drive.
type CameraReport struct {
	Name, Class string
	// On is how long the camera was powered or recording (a camera of the
	// profile the scenario does not list, Class "unlisted": allowed by its
	// command); OnInside the part of it while the vehicle was inside a
	// zone (must be 0).
	On, OnInside time.Duration
	Triggers     int // motion bursts its sensor saw
	Recordings   int // recordings it started
}

// Report is the outcome of one scenario.
type Report struct {
	Scenario      string
	DistanceKm    float64
	Simulated     time.Duration
	Wall          time.Duration
	FramesSent    uint64
	FramesDecoded uint64
	FramesBad     uint64
	// FramesUnmapped are frames the decoder had no use for;
	// FramesInjected the malformed and unknown frames the faults sent.
	FramesUnmapped uint64
	FramesInjected int
	Fixes          uint64
	BadFixes       uint64
	// GNSSDistrusts counts the times the gateway stopped trusting GNSS
	// (a jump, a clock step, a course the yaw rate cannot explain);
	// CourseFixes the fixes whose course it held against the yaw rate
	// or the steering angle.
	GNSSDistrusts uint64
	CourseFixes   uint64
	// DragMaxM is the farthest a gps_drag carried the fix from the truth.
	DragMaxM       float64
	TimeInZones    time.Duration
	TimeInBuffers  time.Duration
	Suppressed     time.Duration
	OverSuppressed time.Duration // suppressed while outside every buffer
	CameraOnInside time.Duration
	Cameras        []CameraReport
	// TriggersDropped counts triggers the gateway saw while suppressed.
	TriggersDropped uint64
	// Timeline is each camera's command and power over the drive.
	Timeline  []CameraTimeline
	Uplink    uplink.Stats
	Published uplink.PublisherStats
	// Queue is the durable queue's state at the end; Quantum the policy's
	// time quantum near zones.
	Queue         uplink.DiskStats
	Quantum       time.Duration
	ContactFrames int
	Findings      Findings
	// Utility is what the privacy costs.
	Utility Utility
	// Faults are the faults injected, when and where; GatewayStarts
	// counts the gateways run (more than one after restarts).
	Faults        []FaultMark
	GatewayStarts int
	// Interrupted: the drive was stopped before its end (Ctrl-C); the
	// figures cover the drive so far.
	Interrupted bool

	// Intervals are the stretches the cameras were suppressed, as seen on
	// the power lines, with the ground truth during each.
	Intervals []Interval

	// What the map needs (trace.go; report.WriteSVG draws it): the
	// simulator's exact track once per second, each camera's state over
	// time, where the bench injected faults, and the policy's position
	// period (redaction gaps are read from the published positions with
	// it).
	Track          []TrackPoint
	CameraSpans    []CameraSpan
	PositionPeriod time.Duration

	// Start is when the drive started on the simulated clock; ZoneFile
	// the scenario's zones GeoJSON, for the map; Records the distinct
	// records received, by sequence number.
	Start    time.Time
	ZoneFile []byte
	Records  []uplink.Record
}

// Utility figures: how much the vehicle still tells its fleet.
type Utility struct {
	// AllowedSeconds are the seconds the vehicle spent wholly outside
	// every buffer, DeliveredSeconds those of them a received record
	// stands for.
	AllowedSeconds, DeliveredSeconds int
	// Delays from a record's time to its arrival at the collector, in
	// simulated time (batching and outages included).
	DelayMean, DelayP95, DelayMax time.Duration
}

// Delivered returns the share of allowed telemetry delivered, 0 to 1.
func (u Utility) Delivered() float64 {
	if u.AllowedSeconds == 0 {
		return 0
	}
	return float64(u.DeliveredSeconds) / float64(u.AllowedSeconds)
}

// Interval is a stretch of suppression as seen on the power lines: when
// and where it began and ended, and how long of it the vehicle was in
// truth inside a zone, within a buffer or outside every buffer.
type Interval struct {
	From, To                         time.Time
	FromKm, ToKm                     float64
	Inside, InBuffer, OutsideBuffers time.Duration
}

// OK reports whether every invariant held: no camera on inside a zone and
// every leak count zero.
func (r *Report) OK() bool { return r.CameraOnInside == 0 && r.Findings.Clean() }
