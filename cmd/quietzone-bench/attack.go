package main

import (
	"context"
	"io"

	"quietzone/cmd/internal/cli"
	"quietzone/testbench/attack"
	"quietzone/testbench/scenario"
)

// attackCmd runs the boundary-inference attack on the built-in scenario's
// depot: many trips past it, and an attacker fitting its outline from
// where the published tracks stop and start again.
func attackCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("attack", stderr)
	trips := fs.Int("trips", 100, "trips past the zone, each with its own gateway and trip jitter")
	seed := fs.Uint64("seed", 1, "draws the trips' directions, offsets and speeds")
	zone := fs.String("zone", "demo-a", "id of the built-in zone attacked")
	workers := fs.Int("workers", 0, "trips run at once (0: one per CPU)")
	svgTo := fs.String("svg", "", "also draw the samples and fitted outlines to this SVG file")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *trips <= 0 {
		return cli.UsageError("usage: quietzone-bench attack [--trips N] [--seed S] [--zone ID] [--workers N] [--svg FILE]")
	}
	res, err := attack.Run(ctx, scenario.BuiltIn(), attack.Options{
		Trips: *trips, Seed: *seed, Zone: *zone, Workers: *workers,
	})
	if res != nil {
		res.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if err := writeOutput(*svgTo, "Map (SVG)", res.WriteSVG, stdout); err != nil {
		return err
	}
	if res.Violations > 0 || res.ErrorM < res.BufferM {
		return cli.ErrInvariant
	}
	return nil
}
