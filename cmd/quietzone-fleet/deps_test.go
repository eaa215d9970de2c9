package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The vehicle's binary imports nothing of the fleet's: not its packages,
// not their database drivers or browser tooling (issue 15; the general
// dependency test is issue 13's).
func TestVehicleBinaryHasNoFleetCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "quietzone/cmd/quietzone").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"quietzone/uplink/ingest", "quietzone/uplink/store", "quietzone/cmd/quietzone-fleet",
			"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/chromedp"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("cmd/quietzone imports %s", dep)
			}
		}
	}
}
