package testbench

import (
	"fmt"
	"time"

	"quietzone/camera"
)

// CameraTimeline is what one camera was told and how it was powered over
// the drive: every change of its command (as the gateway's frames carried
// it on the bus) and of its power line (as read after each step).
type CameraTimeline struct {
	Name   string
	Events []TimelineEvent
}

// TimelineEvent is a change of a camera's command, its power, or both.
type TimelineEvent struct {
	At time.Duration // since the drive's start
	Km float64
	// Command is "allow", "deny" or "purge" when it changed, else "".
	Command string
	// Power is "on" or "off" when it changed, else "". A camera without
	// a power line is never reported off.
	Power string
}

// timeline follows the cameras' commands and power lines for the report.
type timeline struct {
	start time.Time
	codes camera.Codes
	cams  []CameraTimeline
	cmd   []int64 // last command code seen, -1 before the first
	power []int8  // last power seen: -1 unknown, 0 off, 1 on
}

func newTimeline(start time.Time, codes camera.Codes, names []string) timeline {
	t := timeline{start: start, codes: codes}
	for _, n := range names {
		t.cams = append(t.cams, CameraTimeline{Name: n})
		t.cmd = append(t.cmd, -1)
		t.power = append(t.power, -1)
	}
	return t
}

// event returns camera i's event at at, appending one unless the last
// event is at the same time.
func (t *timeline) event(i int, at time.Time, km float64) *TimelineEvent {
	c := &t.cams[i]
	d := at.Sub(t.start)
	if n := len(c.Events); n > 0 && c.Events[n-1].At == d {
		return &c.Events[n-1]
	}
	c.Events = append(c.Events, TimelineEvent{At: d, Km: km})
	return &c.Events[len(c.Events)-1]
}

// command notes a command frame's code for camera i.
func (t *timeline) command(i int, at time.Time, code int64, km float64) {
	if t.cmd[i] == code {
		return
	}
	t.cmd[i] = code
	name := fmt.Sprintf("code %d", code)
	switch code {
	case t.codes.Allow:
		name = "allow"
	case t.codes.Deny:
		name = "deny"
	case t.codes.Purge:
		name = "purge"
	}
	t.event(i, at, km).Command = name
}

// powerLine notes camera i's power line as read at at.
func (t *timeline) powerLine(i int, at time.Time, on bool, km float64) {
	p := int8(0)
	if on {
		p = 1
	}
	if t.power[i] == p {
		return
	}
	t.power[i] = p
	t.event(i, at, km).Power = map[bool]string{true: "on", false: "off"}[on]
}
