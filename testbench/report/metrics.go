package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"quietzone/testbench"
)

// Metrics is the report's figures in a form for machines, as WriteJSON
// writes them (and encoding/json reads them back): field names are
// stable, durations are in seconds, times are seconds since the start of
// the drive. Positions (the exact track and the published points) are in
// the SVG map, not here.
type Metrics struct {
	Scenario       string  `json:"scenario"`
	OK             bool    `json:"ok"`
	DistanceKm     float64 `json:"distance_km"`
	SimulatedS     float64 `json:"simulated_s"`
	WallS          float64 `json:"wall_s"`
	FramesSent     uint64  `json:"frames_sent"`
	FramesDecoded  uint64  `json:"frames_decoded"`
	FramesBad      uint64  `json:"frames_bad"`
	Fixes          uint64  `json:"fixes"`
	BadFixes       uint64  `json:"bad_fixes"`
	InZonesS       float64 `json:"in_zones_s"`
	InBuffersS     float64 `json:"in_buffers_s"`
	SuppressedS    float64 `json:"suppressed_s"`
	OverSuppressed float64 `json:"over_suppressed_s"`
	CameraOnInside float64 `json:"camera_on_inside_s"`

	Cameras         []CameraMetrics `json:"cameras"`
	TriggersDropped uint64          `json:"triggers_dropped"`
	Suppression     []SpanMetrics   `json:"suppression"`
	Uplink          UplinkMetrics   `json:"uplink"`
	Invariants      InvariantCounts `json:"invariants"`
	Gaps            []SpanMetrics   `json:"redaction_gaps"`
	Faults          []FaultMetrics  `json:"faults"`
}

// CameraMetrics is one camera's figures.
type CameraMetrics struct {
	Name       string  `json:"name"`
	Class      string  `json:"class"`
	OnS        float64 `json:"on_s"`
	OnInsideS  float64 `json:"on_inside_s"`
	Triggers   int     `json:"triggers"`
	Recordings int     `json:"recordings"`
}

// SpanMetrics is a stretch of the drive, in seconds since its start.
type SpanMetrics struct {
	FromS float64 `json:"from_s"`
	ToS   float64 `json:"to_s"`
}

// UplinkMetrics is what the uplink sent and what it kept in the car.
type UplinkMetrics struct {
	Records           uint64  `json:"records"`
	Batches           uint64  `json:"batches"`
	Acknowledged      uint64  `json:"batches_acknowledged"`
	RawBytes          uint64  `json:"raw_bytes"`
	CompressedBytes   uint64  `json:"compressed_bytes"`
	PositionsSent     uint64  `json:"positions_sent"`
	PositionsWithheld uint64  `json:"positions_withheld"`
	Coarsened         uint64  `json:"records_merged_near_zones"`
	HeldDropped       uint64  `json:"held_back_dropped"`
	SignalsDenied     uint64  `json:"signals_denied"`
	ForbiddenDenied   uint64  `json:"forbidden_denied"`
	QuotaDropped      uint64  `json:"quota_dropped_batches"`
	QuantumS          float64 `json:"time_quantum_s"`
	PositionPeriodS   float64 `json:"position_period_s"`
}

// InvariantCounts are the leak invariants (each must be 0) and what was
// received.
type InvariantCounts struct {
	PositionLeaks    int `json:"position_leaks"`
	ForbiddenSignals int `json:"forbidden_signals"`
	IdentifierLeaks  int `json:"identifier_leaks"`
	TimingLeaks      int `json:"timing_leaks"`
	LostRecords      int `json:"lost_records"`
	BadPayloads      int `json:"bad_payloads"`
	Duplicates       int `json:"duplicates"`
	Received         int `json:"received"`
	PositionsSeen    int `json:"positions_seen"`
}

// FaultMetrics is an injected fault.
type FaultMetrics struct {
	AtS  float64 `json:"at_s"`
	Kind string  `json:"kind"`
}

func secs(d time.Duration) float64 { return d.Seconds() }

// metricsOf returns the report's figures.
func metricsOf(r *testbench.Report) Metrics {
	u := r.Uplink
	f := r.Findings
	m := Metrics{
		Scenario: r.Scenario, OK: r.OK(), DistanceKm: r.DistanceKm,
		SimulatedS: secs(r.Simulated), WallS: secs(r.Wall),
		FramesSent: r.FramesSent, FramesDecoded: r.FramesDecoded, FramesBad: r.FramesBad,
		Fixes: r.Fixes, BadFixes: r.BadFixes,
		InZonesS: secs(r.TimeInZones), InBuffersS: secs(r.TimeInBuffers),
		SuppressedS: secs(r.Suppressed), OverSuppressed: secs(r.OverSuppressed), CameraOnInside: secs(r.CameraOnInside),
		Cameras:         []CameraMetrics{},
		TriggersDropped: r.TriggersDropped,
		Suppression:     []SpanMetrics{},
		Uplink: UplinkMetrics{
			Records: u.Records, Batches: u.Batches, Acknowledged: r.Published.Published,
			RawBytes: u.RawBytes, CompressedBytes: u.CompressedBytes,
			PositionsSent: u.PositionsSent, PositionsWithheld: u.PositionsWithheld,
			Coarsened: u.Coarsened, HeldDropped: u.HeldDropped,
			SignalsDenied: u.SignalsDenied, ForbiddenDenied: u.ForbiddenDenied,
			QuotaDropped: r.Queue.Drops.Batches,
			QuantumS:     secs(r.Quantum), PositionPeriodS: secs(r.PositionPeriod),
		},
		Invariants: InvariantCounts(f),
		Gaps:       []SpanMetrics{},
		Faults:     []FaultMetrics{},
	}
	for _, c := range r.Cameras {
		m.Cameras = append(m.Cameras, CameraMetrics{Name: c.Name, Class: c.Class, OnS: secs(c.On), OnInsideS: secs(c.OnInside),
			Triggers: c.Triggers, Recordings: c.Recordings})
	}
	for _, iv := range r.Intervals {
		m.Suppression = append(m.Suppression, SpanMetrics{FromS: secs(iv.From.Sub(r.Start)), ToS: secs(iv.To.Sub(r.Start))})
	}
	for _, g := range r.RedactionGaps() {
		m.Gaps = append(m.Gaps, SpanMetrics{FromS: secs(g.From.At), ToS: secs(g.To.At)})
	}
	for _, fm := range r.Faults {
		m.Faults = append(m.Faults, FaultMetrics{AtS: secs(fm.At), Kind: fm.Kind})
	}
	return m
}

// WriteJSON writes the report's figures as indented JSON.
func WriteJSON(w io.Writer, r *testbench.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(metricsOf(r)); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
