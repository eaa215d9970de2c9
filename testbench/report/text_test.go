package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"quietzone/testbench"
)

// The timeline's text: one line per event, the command and the power line
// that changed together on one line (the events testbench's
// TestTimelineMergesChanges records).
func TestTimelineText(t *testing.T) {
	r := &testbench.Report{Timeline: []testbench.CameraTimeline{{Name: "front", Events: []testbench.TimelineEvent{
		{At: 0, Command: "deny"},
		{At: 100 * time.Millisecond, Power: "off"},
		{At: 1500 * time.Millisecond, Km: 0.2, Command: "allow", Power: "on"},
		{At: 9 * time.Second, Km: 1.5, Command: "purge", Power: "off"},
		{At: 10 * time.Second, Km: 1.6, Command: "deny"},
	}}}}
	var out bytes.Buffer
	writeTimeline(&out, r)
	if s := out.String(); !strings.Contains(s, "0:00:09.000  km   1.5  command purge, power off") {
		t.Errorf("timeline text:\n%s", s)
	}
}
