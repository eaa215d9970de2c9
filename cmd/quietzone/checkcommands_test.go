package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRefusesACommandLayout: `check` refuses, at the profile's
// line, a profile whose cabin command shares the front's bits (it used to
// say ok), and warns about a camera of the profile the config leaves out.
func TestCheckRefusesACommandLayout(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"zones.geojson", "policy.yaml"} {
		data, err := os.ReadFile(filepath.Join(goodDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const dbc = `VERSION ""

BO_ 768 CAM_Command: 8 GW
 SG_ CAM_FrontCmd : 0|2@1+ (1,0) [0|3] "" CAMF
 SG_ CAM_CabinCmd : 1|2@1+ (1,0) [0|3] "" CAMC
`
	files := map[string]string{
		"v.dbc":        dbc,
		"overlap.yaml": "dbc: v.dbc\ncommands:\n  camera.front: CAM_Command.CAM_FrontCmd\n  camera.cabin: CAM_Command.CAM_CabinCmd\n",
		"quietzone.yaml": `vehicle: {profile: overlap.yaml, vin: QZTEST00000000042, interfaces: [can0]}
zones: {file: zones.geojson}
policy: policy.yaml
cameras: [{name: front, class: exterior}, {name: cabin, class: cabin}]
`,
		"good.yaml": `vehicle: {profile: builtin:quietzone, vin: QZTEST00000000042, interfaces: [can0]}
zones: {file: zones.geojson}
policy: policy.yaml
cameras: [{name: front, class: exterior}]
`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", filepath.Join(dir, "quietzone.yaml")}, &out, &errOut)
	if want := filepath.Join(dir, "overlap.yaml") + ":4: command camera.cabin: CAM_Command.CAM_CabinCmd shares bits with CAM_Command.CAM_FrontCmd"; err == nil || !strings.Contains(err.Error(), want) || exitCode(err) != 1 {
		t.Errorf("check: %v, want exit 1 and %q", err, want)
	}
	out.Reset()
	if err := run(context.Background(), []string{"check", "--config", filepath.Join(dir, "good.yaml")}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, cam := range []string{"rear", "cabin"} {
		if want := "warning: " + filepath.Join(dir, "good.yaml") + ": camera " + cam + " has a command in the profile but is not among cameras: every command frame tells it deny"; !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}
