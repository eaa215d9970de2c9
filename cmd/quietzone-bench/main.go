// Command quietzone-bench is quietzone's test bench: the demo drive,
// scenarios and random trips against the whole daemon on a virtual bus
// with an embedded broker, the boundary attack, the throughput bench, and
// replays with the demo's configuration. None of it goes into the
// vehicle's binary.
package main

import (
	"quietzone/cmd/internal/cli"
	"quietzone/cmd/internal/replaycmd"
	"quietzone/testbench"
)

var (
	version = "dev"
	commit  = "unknown"
)

const usage = `quietzone-bench — the quietzone test bench (%s): simulated drives against the gateway

Usage:
  quietzone-bench demo [--log LEVEL] [--record FILE.log] [--svg FILE.svg] [--json FILE.json]
                                         run the built-in drive on a virtual bus with an embedded broker;
                                         optionally draw it as an SVG map and write its figures as JSON
  quietzone-bench attack [--trips N] [--seed S] [--zone ID] [--svg FILE.svg]
                                         many trips past a built-in zone: how far from its edge an
                                         attacker fitting it from the published tracks' gaps ends up
  quietzone-bench replay FILE.log [--config FILE] [--iface NAME]
                                         run the whole pipeline on a candump log; print the decisions
  quietzone-bench sim NAME|FILE.yaml [--fleet N] [--broker URL] [--iface vcan0]
  quietzone-bench sim --random [--seed S] [--trips N]   quietzone-bench sim --list
                                         play a scenario against the gateway (faults on a timeline,
                                         a fleet on one broker, random trips) and check every invariant
  quietzone-bench bench [--frames N]           frames per second through the whole pipeline on the virtual bus
  quietzone-bench version
`

func main() { program().Main() }

func program() cli.Program {
	return cli.Program{Name: "quietzone-bench", Usage: usage, Version: version, Commit: commit, Commands: map[string]cli.Command{
		"demo":   demo,
		"sim":    sim,
		"attack": attackCmd,
		"bench":  bench,
		"replay": replaycmd.Command("quietzone-bench", testbench.DefaultSetup),
	}}
}
