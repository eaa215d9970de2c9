// Package attack measures what reaches the broker gives away about zones,
// passes and homes.
//
// The suite (transcript.go, suite.go, score.go) plays an observer who
// holds the broker's transcript (testbench.WireMessage, written by
// quietzone-bench sim --wire) and the policy's public parameters: Observe
// turns the transcript into trips, and the attacks — zone centres (gap
// ends, chord bisectors, dead reckoning, release-point rings, alarms), a
// passive pass detector from publish times and sizes, dead reckoning in
// gaps, homes from a vehicle's stops, decoy candidates — read nothing
// else. Score holds each against the simulator's truth (testbench.Truth);
// Targets says which of issue 14's targets the figures miss.
//
// The older one, Run, is the boundary-inference attack: someone who
// holds the published tracks of many trips past one zone (a fleet operator, or whoever breaks
// into its broker) sees each track stop and start again near it. The last
// position before each gap and the first after it are samples of where
// withholding began and ended; the attacker fits an outline to them and
// takes it for the zone's. The attacker's error is how far that outline
// is from the zone's true edge. The gateway's promise is that it is at
// least the zone's buffer: what can be learnt is the buffer, not the zone.
//
// Run drives the trips through the simulator (package testbench), each
// with its own gateway, broker and trip jitter, and fits the outline four
// ways; Result prints and draws what came out.
//
// The attacker knows only what is on the wire and what a fleet's policy
// makes known: it must never read the gateway's internals or the
// simulator's ground truth to fit the zone (the true zone is used only to
// measure the attacker's error).
package attack
