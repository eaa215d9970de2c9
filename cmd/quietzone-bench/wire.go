package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"
	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
)

// vehicleTrips drives scenarios one after another as one vehicle (same
// VIN, keys and state directory), writing the observer's transcript and
// the truth where asked.
func vehicleTrips(ctx context.Context, refs []string, wireTo, truthTo string, log *slog.Logger, stdout, stderr io.Writer) error {
	var scs []scenario.Scenario
	for _, ref := range refs {
		sc, err := scenario.Load(ref)
		if err != nil {
			return err
		}
		scs = append(scs, sc)
	}
	if len(scs) == 0 {
		scs = append(scs, scenario.BuiltIn())
	}
	// One vehicle holds one bundle: the trips on the first one's zones
	// and policy share its covers, the decoys on all their routes.
	var same []int
	var roads [][]scenario.Waypoint
	for i, sc := range scs {
		if sc.Covers == nil && bytes.Equal(sc.Zones, scs[0].Zones) && bytes.Equal(sc.Policy, scs[0].Policy) && sc.DefaultBufferM == scs[0].DefaultBufferM {
			same, roads = append(same, i), append(roads, sc.Route)
		}
	}
	if len(same) > 1 {
		covers, _, err := scenario.DrawCovers(scs[0], roads, scs[0].Seed)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		for _, i := range same {
			scs[i].Covers = covers
		}
	}
	dir, err := os.MkdirTemp("", "quietzone-vehicle-")
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	defer os.RemoveAll(dir)
	wire, truth, closeBoth, err := createTranscripts(wireTo, truthTo)
	if err != nil {
		return err
	}
	defer closeBoth()
	bad := 0
	for i, sc := range scs {
		if i > 0 {
			sc.VIN = scs[0].VIN // one vehicle
			fmt.Fprintln(stdout)
		}
		rep, err := testbench.Run(ctx, sc, testbench.Options{Logger: log, Wire: wire != nil, Truth: truth != nil, StateDir: dir})
		if rep != nil {
			report.WriteText(stdout, rep)
			if !rep.OK() {
				bad++
			}
			if wire != nil {
				if werr := testbench.WriteJSONLines(wire.Encoder, rep.Wire); werr != nil {
					return fmt.Errorf("sim: write transcript: %w", werr)
				}
			}
			if truth != nil && rep.Truth != nil {
				if werr := truth.Encode(rep.Truth); werr != nil {
					return fmt.Errorf("sim: write truth: %w", werr)
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if err := closeBoth(); err != nil {
		return err
	}
	if bad > 0 {
		return cli.ErrInvariant
	}
	return nil
}

// populationCmd drives an attack population and writes its transcript and
// truth.
func populationCmd(ctx context.Context, name string, seed uint64, trips, parallel int, wireTo, truthTo string, stdout, stderr io.Writer) error {
	if seed == 0 {
		seed = 1
	}
	p, err := scenario.Generate(name, seed, trips)
	if err != nil {
		return cli.UsageError("sim: " + err.Error())
	}
	wire, truth, closeBoth, err := createTranscripts(wireTo, truthTo)
	if err != nil {
		return err
	}
	defer closeBoth()
	fmt.Fprintf(stdout, "quietzone population — %s\n", p.Name)
	if len(p.Trips) > 0 {
		if cov, err := config.ParseCovers("covers", p.Trips[0].Covers); err == nil {
			fmt.Fprintf(stdout, "every vehicle holds one bundle: %d secret covers (the zones' and decoys; the truth says which)\n", cov.Len())
		}
		if p.CoversNote != "" {
			fmt.Fprintf(stdout, "  %s\n", p.CoversNote)
		}
	}
	bar := cli.NewProgress(stdout, stderr, float64(len(p.Trips)), "trips")
	start := time.Now()
	o := testbench.PopulationOptions{Workers: parallel, Progress: func(d, _ int) { bar.Set(float64(d)) },
		Broken: func(r *testbench.Report) { bar.Clear(); report.WriteText(stdout, r) }}
	if wire != nil {
		o.Wire = wire.w
	}
	if truth != nil {
		o.Truth = truth.w
	}
	res, err := testbench.RunPopulation(ctx, p, o)
	bar.Clear()
	fmt.Fprintf(stdout, "%d trips driven in %s, %d messages on the wire; %d broke an invariant\n",
		res.Trips, time.Since(start).Round(time.Second), res.Messages, res.Violations)
	if err != nil {
		return err
	}
	if err := closeBoth(); err != nil {
		return err
	}
	if res.Violations > 0 {
		return cli.ErrInvariant
	}
	return nil
}

// jsonLines is a file of one JSON object a line.
type jsonLines struct {
	*json.Encoder
	w io.Writer
}

// createTranscripts creates the wire and the truth files (either path
// may be empty: none); closeBoth closes them, once each, and says what
// failed.
func createTranscripts(wireTo, truthTo string) (wire, truth *jsonLines, closeBoth func() error, err error) {
	wire, closeWire, err := createJSONLines(wireTo)
	if err != nil {
		return nil, nil, nil, err
	}
	truth, closeTruth, err := createJSONLines(truthTo)
	if err != nil {
		closeWire()
		return nil, nil, nil, err
	}
	return wire, truth, func() error { return errors.Join(closeWire(), closeTruth()) }, nil
}

// createJSONLines creates path (and its directory); an empty path gives
// nil. The close function is safe to call twice.
func createJSONLines(path string) (*jsonLines, func() error, error) {
	if path == "" {
		return nil, func() error { return nil }, nil
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("create %s: %w", path, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	closed := false
	return &jsonLines{Encoder: json.NewEncoder(f), w: f}, func() error {
		if closed {
			return nil
		}
		closed = true
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", path, err)
		}
		return nil
	}, nil
}

// isFlagSet reports whether name was given on the command line.
func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
