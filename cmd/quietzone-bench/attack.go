package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"
	"quietzone/testbench"
	"quietzone/testbench/attack"
	"quietzone/testbench/scenario"
)

const attackUsage = `usage: quietzone-bench attack WIRE.jsonl --truth TRUTH.jsonl [--policy FILE.yaml] [--json] [--repeats N] [--seed S]
       quietzone-bench attack [--trips N] [--seed S] [--zone ID] [--svg FILE.svg]

With a transcript (quietzone-bench sim --wire, --population): plays the
observer who holds what the broker received, knowing the policy's public
parameters (--policy, default the demo's), and scores every attack against
the simulator's truth: (a) the zones' centres, (b) passes from publish
times and sizes, (c) dead reckoning inside gaps, (d) homes, (e) which
candidate holds a real zone.

Without one: the boundary-inference attack on a built-in zone (many
straight trips past it, an outline fitted to the published tracks' gaps).
`

// attackCmd runs the attack suite on a transcript, or the
// boundary-inference attack on a built-in zone.
func attackCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("attack", stderr)
	trips := fs.Int("trips", 100, "boundary attack: trips past the zone, each with its own gateway and trip jitter")
	seed := fs.Uint64("seed", 1, "draws the trips (boundary attack), or the subsets of trips scored (suite)")
	zone := fs.String("zone", "demo-a", "boundary attack: id of the built-in zone attacked")
	workers := fs.Int("workers", 0, "boundary attack: trips run at once (0: one per CPU)")
	svgTo := fs.String("svg", "", "boundary attack: also draw the samples and fitted outlines to this SVG file")
	truthFrom := fs.String("truth", "", "suite: the simulator's truth (sim --truth), to score against")
	policyFrom := fs.String("policy", "", "suite: the fleet's policy, for its public parameters (default: the demo's)")
	asJSON := fs.Bool("json", false, "suite: print the figures as JSON")
	repeats := fs.Int("repeats", 15, "suite: random draws of trips per trip count")
	fs.Usage = func() {
		fmt.Fprint(stderr, attackUsage)
		fs.PrintDefaults()
	}
	var files []string
	for len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		files, args = append(files, args[0]), args[1:]
	}
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	files = append(files, fs.Args()...)
	if len(files) > 0 {
		if *truthFrom == "" {
			return cli.UsageError("attack: a transcript is scored against the truth: give --truth")
		}
		return suite(files, *truthFrom, *policyFrom, *asJSON, *repeats, *seed, stdout)
	}
	if *trips <= 0 {
		return cli.UsageError(attackUsage)
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

// suite scores the attacks on transcripts.
func suite(files []string, truthFrom, policyFrom string, asJSON bool, repeats int, seed uint64, stdout io.Writer) error {
	var msgs []testbench.WireMessage
	for _, f := range files {
		m, err := readWith(f, attack.ReadTranscript)
		if err != nil {
			return err
		}
		msgs = append(msgs, m...)
	}
	truth, err := readWith(truthFrom, attack.ReadTruth)
	if err != nil {
		return err
	}
	name, data := scenario.BuiltIn().PolicyName, scenario.BuiltIn().Policy
	if policyFrom != "" {
		if data, err = os.ReadFile(policyFrom); err != nil {
			return fmt.Errorf("attack: %w", err)
		}
		name = policyFrom
	}
	pol, err := config.ParsePolicy(name, data)
	if err != nil {
		return fmt.Errorf("attack: %w", err)
	}
	s, err := attack.Score(msgs, truth, attack.PublicOf(pol), attack.SuiteOptions{Repeats: repeats, Seed: seed})
	if err != nil {
		return err
	}
	if asJSON {
		return s.WriteJSON(stdout)
	}
	s.WriteText(stdout)
	return nil
}

func readWith[T any](path string, read func(string, io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	defer f.Close()
	return read(path, f)
}
