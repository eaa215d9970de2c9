package main

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages pkg imports, itself and the standard library
// included (go list -deps).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command here: the dependencies are checked where the code is built")
	}
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestVehicleBinaryDependencies: the vehicle's binary carries what a car
// needs and nothing of the test bench: no simulator, no embedded broker,
// no test fake, not even the testing package.
func TestVehicleBinaryDependencies(t *testing.T) {
	for _, d := range deps(t, "quietzone/cmd/quietzone") {
		switch {
		case d == "quietzone/testbench" || strings.HasPrefix(d, "quietzone/testbench/"),
			strings.HasPrefix(d, "github.com/mochi-mqtt/"),
			strings.HasSuffix(d, "test") && strings.HasPrefix(d, "quietzone/"),
			strings.HasSuffix(d, "/gpiotest"), d == "testing":
			t.Errorf("the vehicle's binary imports %s", d)
		}
	}
}

// TestLeavesImportNoGateway: the dependencies point one way: can,
// geofence and camera know nothing of the gateway or the uplink.
func TestLeavesImportNoGateway(t *testing.T) {
	for _, leaf := range []string{"quietzone/can", "quietzone/geofence", "quietzone/camera"} {
		for _, d := range deps(t, leaf) {
			if strings.HasPrefix(d, "quietzone/gateway") || strings.HasPrefix(d, "quietzone/uplink") {
				t.Errorf("%s imports %s", leaf, d)
			}
		}
	}
	for _, d := range deps(t, "quietzone/uplink") {
		if strings.HasPrefix(d, "quietzone/gateway") || strings.HasPrefix(d, "quietzone/testbench") {
			t.Errorf("quietzone/uplink imports %s", d)
		}
	}
}
