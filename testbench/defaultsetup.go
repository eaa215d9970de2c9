package testbench

import (
	"quietzone/can/profiles"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/testbench/scenario"
)

// DefaultSetup is the configuration replay uses without one: the built-in
// vehicle profile with the demo drive's zones, their covers and policy
// (out of the demo's sealed bundle, as the demo's vehicle holds them) and
// cameras, enrolled as the demo's vehicle: its keys seal its state file,
// which then keeps its end covers.
func DefaultSetup() (*config.Setup, error) {
	sc := scenario.BuiltIn()
	b, err := OpenScenarioBundle(sc)
	if err != nil {
		return nil, err
	}
	zones, pol := b.Zones, b.Policy
	id, err := demoIdentity(sc.VIN)
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
	return &config.Setup{Config: cfg, Profile: prof, Zones: zones, Policy: pol, VIN: sc.VIN, Pseudonym: id.Pseudonym, Keys: id.Keys()}, nil
}
