// Package attack measures what the published tracks give away about a
// zone: the boundary-inference attack. Someone who holds the published
// tracks of many trips past one zone (a fleet operator, or whoever breaks
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
