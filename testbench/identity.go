package testbench

import "quietzone/gateway/config"

// demoFleetSecret is the simulated fleet's pseudonym secret: the fleet
// side of enrolment, which a real fleet keeps off its vehicles. Each
// simulated vehicle gets only its own identity (demoIdentity).
var demoFleetSecret = []byte("quietzone-demo-fleet-key-not-secret")

// demoIdentity enrols a simulated vehicle as the fleet would (quietzone
// policy enrol): its pseudonym, which the collector listens for, and its
// root secret, from which its queue, state file and audit keys derive.
func demoIdentity(vin string) (config.Identity, error) {
	return config.Enrol(demoFleetSecret, vin)
}
