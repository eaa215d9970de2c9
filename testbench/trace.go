package testbench

import (
	"sort"
	"time"

	"quietzone/geofence"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
)

// TrackPoint is where the simulated vehicle really was, and what held there.
type TrackPoint struct {
	At       time.Duration // since the start of the drive
	Lat, Lon float64
	// Inside and InBuffer are the ground truth: inside a zone, within a
	// zone or its buffer.
	Inside, InBuffer bool
	// Suppressed: no exterior camera powered or recording (the gateway's
	// suppression as seen on the power lines). Recording: some camera
	// recording.
	Suppressed, Recording bool
}

// CameraState is what a simulated camera was doing.
type CameraState string

// The states of a camera, from the bench's side of its power line and
// command frame.
const (
	CameraOff       CameraState = "off"       // power line low
	CameraBlocked   CameraState = "blocked"   // powered, commanded not to record
	CameraStandby   CameraState = "standby"   // powered and allowed, no motion
	CameraRecording CameraState = "recording" // recording
)

// CameraSpan is a stretch of time a camera spent in one state.
type CameraSpan struct {
	Camera   string
	State    CameraState
	From, To time.Duration
}

// trackEvery is how often the report keeps a point of the exact track.
const trackEvery = time.Second

// trace records the exact track and the cameras' states during a drive.
type trace struct {
	track []TrackPoint
	last  TrackPoint
	next  time.Duration // when the next track point is due
	open  []CameraSpan  // per camera, the span in progress
	spans []CameraSpan
}

// observe accounts one step, from at-dt to at.
func (t *trace) observe(now, start time.Time, dt time.Duration, v *vehicle, truth geofence.Result, suppressed bool, cams []*simCamera) {
	at := now.Sub(start)
	p := TrackPoint{At: at, Lat: v.Lat, Lon: v.Lon, Inside: truth.Inside, InBuffer: truth.InBuffer(), Suppressed: suppressed}
	if t.open == nil {
		t.open = make([]CameraSpan, len(cams))
	}
	for i, c := range cams {
		st := cameraState(c, now)
		if st == CameraRecording {
			p.Recording = true
		}
		o := &t.open[i]
		if o.Camera != "" && o.State == st && o.To == at-dt {
			o.To = at
			continue
		}
		if o.Camera != "" {
			t.spans = append(t.spans, *o)
		}
		*o = CameraSpan{Camera: c.name, State: st, From: at - dt, To: at}
	}
	t.last = p
	if at >= t.next {
		t.track = append(t.track, p)
		t.next = (at/trackEvery + 1) * trackEvery
	}
}

func cameraState(c *simCamera, now time.Time) CameraState {
	switch {
	case c.recording(now):
		return CameraRecording
	case !c.powered:
		return CameraOff
	case !c.allowed:
		return CameraBlocked
	}
	return CameraStandby
}

// fill hands what was traced to the report, with what the map needs of
// the scenario and the policy.
func (t *trace) fill(r *Report, sc scenario.Scenario, pol *uplink.Policy) {
	if n := len(t.track); n > 0 && t.track[n-1].At != t.last.At {
		t.track = append(t.track, t.last)
	}
	for _, o := range t.open {
		if o.Camera != "" {
			t.spans = append(t.spans, o)
		}
	}
	order := map[string]int{}
	for i, o := range t.open { // the simulator's cameras, unlisted ones last
		order[o.Camera] = i
	}
	sort.SliceStable(t.spans, func(i, j int) bool {
		a, b := t.spans[i], t.spans[j]
		if order[a.Camera] != order[b.Camera] {
			return order[a.Camera] < order[b.Camera]
		}
		return a.From < b.From
	})
	r.Track, r.CameraSpans = t.track, t.spans
	r.ZoneFile = sc.Zones
	r.PositionPeriod = pol.TelemetryPeriod
	if p := pol.Position; p != nil && p.MaxRateHz > 0 {
		r.PositionPeriod = time.Duration(float64(time.Second) / p.MaxRateHz)
	}
}

// Point is a published position and when it was taken.
type Point struct {
	At       time.Duration // since the start of the drive
	Lat, Lon float64
}

// PublishedPositions returns the positions that reached the broker, in time order.
func (r *Report) PublishedPositions() []Point {
	var pts []Point
	for _, rec := range r.Records {
		if len(rec.Pos) == 2 {
			pts = append(pts, Point{At: time.Unix(rec.Time, 0).Sub(r.Start), Lat: rec.Pos[0], Lon: rec.Pos[1]})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].At < pts[j].At })
	return pts
}

// Gap is a stretch of a trip where the published track stops and starts
// again: From is the last published position before it, To the first
// after it. A gap at a trip's start or end has a published position on
// one side only: TripStart says From holds only the time (the start of the
// trip), TripEnd that To does (its end).
type Gap struct {
	From, To           Point
	TripStart, TripEnd bool
}

// gapPeriods is how many position periods without a position make a gap:
// more than rate limiting or a lost record explain.
const gapPeriods = 3

// Gaps finds the redaction gaps in a published track (in time order) of
// a policy that sends a position every period: where two consecutive
// positions are more than gapPeriods periods apart. This is what anyone
// holding the published tracks can see, and what the boundary-inference
// attack uses.
func Gaps(pts []Point, period time.Duration) []Gap {
	if period <= 0 {
		return nil
	}
	var gaps []Gap
	for i := 1; i < len(pts); i++ {
		if pts[i].At-pts[i-1].At > gapPeriods*period {
			gaps = append(gaps, Gap{From: pts[i-1], To: pts[i]})
		}
	}
	return gaps
}

// RedactionGaps returns the gaps in the drive's published track, with
// the stretch before its first position when the trip started near a
// zone (or without a fix) and, when the uplink dropped a held-back trip
// end, the stretch after its last. A trip's last records may simply not
// have been sent yet when the run stops, so that stretch counts only then.
func (r *Report) RedactionGaps() []Gap {
	pts := r.PublishedPositions()
	gaps := Gaps(pts, r.PositionPeriod)
	if r.PositionPeriod <= 0 {
		return gaps
	}
	long := gapPeriods * r.PositionPeriod
	if len(pts) == 0 {
		if r.Simulated > long {
			gaps = append(gaps, Gap{From: Point{At: 0}, To: Point{At: r.Simulated}, TripStart: true, TripEnd: true})
		}
		return gaps
	}
	if pts[0].At > long {
		gaps = append([]Gap{{From: Point{At: 0}, To: pts[0], TripStart: true}}, gaps...)
	}
	if last := pts[len(pts)-1]; r.Uplink.HeldDropped > 0 && r.Simulated-last.At > long {
		gaps = append(gaps, Gap{From: last, To: Point{At: r.Simulated}, TripEnd: true})
	}
	return gaps
}
