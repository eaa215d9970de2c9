package testbench

import (
	"fmt"
	"io"
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

	Intervals []interval

	// What the map needs (trace.go, svg.go): the simulator's exact track
	// once per second, each camera's state over time, where the bench
	// injected faults, and the policy's position period (redaction gaps
	// are read from the published positions with it).
	Track          []TrackPoint
	CameraSpans    []CameraSpan
	PositionPeriod time.Duration

	start    time.Time
	zoneFile []byte          // the scenario's zones GeoJSON, for the map
	records  []uplink.Record // distinct records received, by sequence number
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

// OK reports whether every invariant held: no camera on inside a zone and
// every leak count zero.
func (r *Report) OK() bool { return r.CameraOnInside == 0 && r.Findings.Clean() }

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("quietzone — %s\n\n", r.Scenario)
	p("Drive        %.1f km in %s simulated (ran in %s)\n", r.DistanceKm, clock(r.Simulated), r.Wall.Round(10*time.Millisecond))
	p("Bus          %d frames sent, %d decoded, %d bad; %d fixes accepted, %d refused\n", r.FramesSent, r.FramesDecoded, r.FramesBad, r.Fixes, r.BadFixes)
	p("GNSS         distrusted %d times; course held against the vehicle's turning on %d fixes\n", r.GNSSDistrusts, r.CourseFixes)
	if len(r.Faults) > 0 {
		p("Faults       %d injected; %d malformed or unknown frames sent, %d bad and %d unmapped dropped; %d gateway starts\n",
			len(r.Faults), r.FramesInjected, r.FramesBad, r.FramesUnmapped, r.GatewayStarts)
		for _, f := range r.Faults {
			p("  %s  %s\n", clock(f.At), f.Kind)
		}
		if r.DragMaxM > 0 {
			p("  the drag carried the fix up to %.0f m from the truth\n", r.DragMaxM)
		}
	}
	p("Zones        inside zones %s, within buffers %s\n", clock(r.TimeInZones), clock(r.TimeInBuffers))
	p("\nSuppressed   %s in %d stretches (outside every buffer: %s, start-up and look-ahead)\n",
		clock(r.Suppressed), len(r.Intervals), clock(r.OverSuppressed))
	for _, iv := range r.Intervals {
		why := "start-up: no plausible fix yet"
		switch {
		case iv.insideTruth > 0:
			why = fmt.Sprintf("through a zone (inside %s)", clock(iv.insideTruth))
		case iv.inBufferTruth > 0:
			why = "past a zone, within its buffer"
		case iv.from.After(r.start):
			why = "look-ahead or fix quality"
		}
		p("  %s – %s  (%5.1fs)  km %5.1f – %5.1f  %s\n", clock(iv.from.Sub(r.start)), clock(iv.to.Sub(r.start)), iv.to.Sub(iv.from).Seconds(), iv.fromKm, iv.toKm, why)
	}
	p("\nCameras      (on = powered or recording; an unlisted one: allowed by its command)\n")
	for _, c := range r.Cameras {
		p("  %-6s %-8s on %s, inside zones %s, %d triggers, %d recordings\n",
			c.Name, c.Class, clock(c.On), clock(c.OnInside), c.Triggers, c.Recordings)
	}
	p("  triggers dropped by the gateway while suppressed: %d\n", r.TriggersDropped)
	r.writeTimeline(w)
	u := r.Uplink
	ratio := 0.0
	if u.CompressedBytes > 0 {
		ratio = float64(u.RawBytes) / float64(u.CompressedBytes)
	}
	p("\nUplink       %d records in %d batches, %d B JSON -> %d B zstd (%.1fx), %d batches acknowledged\n",
		u.Records, u.Batches, u.RawBytes, u.CompressedBytes, ratio, r.Published.Published)
	p("Queue        on disk, fsync every batch: %d fsyncs, %d batches left, %d dropped by the quota\n",
		r.Queue.Syncs, r.Queue.Batches, r.Queue.Drops.Batches)
	p("Redacted     positions: %d sent on a grid, %d withheld near zones\n", u.PositionsSent, u.PositionsWithheld)
	p("             near zones: %d records merged into one per %s; %d held back and dropped at trip ends\n",
		u.Coarsened, r.Quantum, u.HeldDropped)
	p("             signal values kept in the car: %d not allowed by the policy or not vehicle data\n",
		u.SignalsDenied)
	p("             phone contacts synced on the bus: %d; personal values kept in the car (contacts, the privacy switch): %d (never uplinked, whatever the policy)\n",
		r.ContactFrames, u.ForbiddenDenied)
	ut := r.Utility
	p("\nUtility      allowed telemetry delivered: %.1f%% of %d s outside every buffer; over-suppressed %s\n",
		100*ut.Delivered(), ut.AllowedSeconds, clock(r.OverSuppressed))
	p("             delay to the collector (simulated): mean %s, p95 %s, max %s\n",
		ut.DelayMean.Round(100*time.Millisecond), ut.DelayP95.Round(100*time.Millisecond), ut.DelayMax.Round(100*time.Millisecond))
	f := r.Findings
	p("\nInvariants   (ground truth: the simulator's exact position)\n")
	p("  camera on inside a zone            %-8s %s\n", clock(r.CameraOnInside), mark(r.CameraOnInside == 0))
	p("  position published within a buffer %-8d %s\n", f.PositionLeaks, mark(f.PositionLeaks == 0))
	p("  forbidden signal published         %-8d %s\n", f.ForbiddenSignals, mark(f.ForbiddenSignals == 0))
	p("  VIN, zone or contact on the wire   %-8d %s\n", f.IdentifierLeaks, mark(f.IdentifierLeaks == 0))
	p("  exact time from within a buffer    %-8d %s\n", f.TimingLeaks, mark(f.TimingLeaks == 0))
	p("  accepted record never arrived      %-8d %s\n", f.LostRecords, mark(f.LostRecords == 0))
	p("  undecodable telemetry              %-8d %s\n", f.BadPayloads, mark(f.BadPayloads == 0))
	p("  (%d records received, %d with a position, %d repeats dropped by sequence number)\n", f.Received, f.PositionsSeen, f.Duplicates)
	if r.Interrupted {
		p("\nINTERRUPTED: the figures cover the drive so far.\n")
	}
	if r.OK() {
		p("\nAll invariants hold.\n")
	} else {
		p("\nINVARIANT VIOLATED.\n")
	}
}

// clock formats a duration as h:mm:ss.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d:%02d", d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second)
}

// stamp formats a duration as h:mm:ss.mmm.
func stamp(d time.Duration) string {
	d = d.Round(time.Millisecond)
	return fmt.Sprintf("%s.%03d", clock(d.Truncate(time.Second)), d%time.Second/time.Millisecond)
}
