package testbench

import (
	"quietzone/can/profiles"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/geofence"
	"quietzone/testbench/scenario"
)

// DefaultSetup is the configuration replay uses without one: the built-in
// vehicle profile with the demo drive's zones, policy and cameras.
func DefaultSetup() (*config.Setup, error) {
	sc := scenario.BuiltIn()
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
