package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestSim(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"sim", "--list"}, []string{"urban", "highway", "gps-loss", "spoof", "outage-restart"}},
		{[]string{"sim", "highway"}, []string{"highway at 130 km/h with 1 Hz GPS", "Utility", "All invariants hold."}},
		{[]string{"sim", "spoof", "--fleet", "2"}, []string{"quietzone fleet — 2 vehicles", "vehicle   2  ok", "0 broke an invariant"}},
		{[]string{"sim", "--fleet", "2"}, []string{"quietzone fleet — 2 vehicles", "vehicle   1  ok", "km in all"}},
		{[]string{"sim", "--random", "--seed", "7", "--trips", "2"}, []string{"seed 7 ", "seed 8 ", "2 of 2 trips driven: ", "camera on inside a zone 0s", "all invariants held"}},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), tc.args, &out, &errOut); err != nil {
			t.Fatalf("%q: %v\n%s\n%s", tc.args, err, out.String(), errOut.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, w, out.String())
			}
		}
		if errOut.Len() != 0 {
			t.Errorf("%q: stderr not a terminal, yet: %q", tc.args, errOut.String())
		}
	}
}

func TestSimErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nzones: builtin:demo-zones.geojson\nroute: {waypoints: [[1, 2]]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim"}, 2, "needs a scenario"},
		{[]string{"sim", "urban", "--random"}, 2, "not both"},
		{[]string{"sim", "urban", "--fleet", "0"}, 2, "--fleet 0"},
		{[]string{"sim", "urban", "--iface", "vcan0", "--fleet", "2"}, 2, "one vehicle"},
		{[]string{"sim", "nowhere"}, 1, "no shipped scenario"},
		{[]string{"sim", bad}, 1, bad + ":3: route: two waypoints"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v (exit %d), want exit %d and %q", tc.args, err, exitCode(err), tc.code, tc.want)
		}
	}
}

// A scenario that breaks an invariant (a camera the gateway cannot cut
// the power of) exits with the invariant code, and says which invariant
// broke.
func TestSimReportsAViolation(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"sim", "../../testbench/testdata/unswitched-camera.yaml"}, &out, &errOut)
	if exitCode(err) != 3 || !strings.Contains(out.String(), "INVARIANT VIOLATED") ||
		!regexp.MustCompile(`camera on inside a zone +[0-9:]+ +FAIL`).MatchString(out.String()) {
		t.Fatalf("err %v:\n%s", err, out.String())
	}
}
