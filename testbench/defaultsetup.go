package testbench

import (
	"fmt"
	"quietzone/can/profiles"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/geofence"
	"time"
)

// DefaultSetup is the configuration replay uses without one: the built-in
// vehicle profile with the demo drive's zones, policy and cameras.
func DefaultSetup() (*config.Setup, error) {
	sc := BuiltIn()
	zones, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{})
	if err != nil {
		return nil, err
	}
	pol, err := config.ParsePolicy(sc.PolicyName, sc.Policy)
	if err != nil {
		return nil, err
	}
	prof, err := config.LoadProfile(config.BuiltinPrefix + profiles.Default)
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{
		Vehicle:  config.VehicleConfig{Profile: config.BuiltinPrefix + profiles.Default, Interfaces: []string{"replay0"}},
		Cameras:  sc.Cameras,
		Decision: gateway.DefaultDecision(),
	}
	return &config.Setup{Config: cfg, Profile: prof, Zones: zones, Policy: pol, VIN: sc.VIN}, nil
}

// stamp formats a duration as h:mm:ss.mmm.
func stamp(d time.Duration) string {
	d = d.Round(time.Millisecond)
	return fmt.Sprintf("%d:%02d:%02d.%03d", d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second, d%time.Second/time.Millisecond)
}
