package report

import (
	"fmt"
	"io"
	"time"

	"quietzone/testbench"
)

// WriteText prints the report for people.
func WriteText(w io.Writer, r *testbench.Report) {
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
		case iv.Inside > 0:
			why = fmt.Sprintf("through a zone (inside %s)", clock(iv.Inside))
		case iv.InBuffer > 0:
			why = "past a zone, within its buffer"
		case iv.From.After(r.Start):
			why = "look-ahead or fix quality"
		}
		p("  %s – %s  (%5.1fs)  km %5.1f – %5.1f  %s\n", clock(iv.From.Sub(r.Start)), clock(iv.To.Sub(r.Start)), iv.To.Sub(iv.From).Seconds(), iv.FromKm, iv.ToKm, why)
	}
	p("\nCameras      (on = powered or recording; an unlisted one: allowed by its command)\n")
	for _, c := range r.Cameras {
		p("  %-6s %-8s on %s, inside zones %s, %d triggers, %d recordings\n",
			c.Name, c.Class, clock(c.On), clock(c.OnInside), c.Triggers, c.Recordings)
	}
	p("  triggers dropped by the gateway while suppressed: %d\n", r.TriggersDropped)
	writeTimeline(w, r)
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

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
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

// writeTimeline prints each camera's timeline.
func writeTimeline(w io.Writer, r *testbench.Report) {
	if len(r.Timeline) == 0 {
		return
	}
	fmt.Fprintf(w, "\nTimeline     (command on the bus, power line after each step)\n")
	for _, c := range r.Timeline {
		fmt.Fprintf(w, "  %s\n", c.Name)
		for _, e := range c.Events {
			var what string
			if e.Command != "" {
				what = "command " + e.Command
			}
			if e.Power != "" {
				if what != "" {
					what += ", "
				}
				what += "power " + e.Power
			}
			fmt.Fprintf(w, "    %s  km %5.1f  %s\n", stamp(e.At), e.Km, what)
		}
	}
}
