package camera_test

import (
	"strings"
	"testing"

	"quietzone/camera"
)

// OpenPin on a line that no chip has is an error naming the line, on any
// machine (one without GPIO chips included), never a nil pin.
func TestOpenPinUnknownLine(t *testing.T) {
	if err := camera.InitHost(); err != nil {
		t.Fatal(err)
	}
	p, err := camera.OpenPin("QZ_NO_SUCH_LINE")
	if err == nil || p != nil || !strings.Contains(err.Error(), "open gpio QZ_NO_SUCH_LINE") {
		t.Fatalf("OpenPin of a missing line: %v, %v", p, err)
	}
}
