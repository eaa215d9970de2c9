package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"quietzone/cmd/internal/cli"
	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
)

const simUsage = `usage: quietzone-bench sim [NAME|FILE.yaml]... [--fleet N] [--broker tcp://HOST:PORT] [--iface vcan0] [--log LEVEL] [--wire OUT.jsonl] [--truth OUT.jsonl]
       quietzone-bench sim --random [--seed S] [--trips N] [--parallel P] [--save DIR] [--broker tcp://HOST:PORT]
       quietzone-bench sim --population fleet|car [--seed S] [--trips N] [--parallel P] --wire OUT.jsonl --truth OUT.jsonl
       quietzone-bench sim --list

Plays a scenario against the gateway and checks every leak invariant:
NAME is a shipped scenario (--list), FILE.yaml one of your own; a fleet
without one drives the demo's. Several scenarios are driven one after
another by one vehicle (same VIN, keys and state directory): a car's
trips. --wire writes what the broker received from the vehicle (the
observer's transcript, for quietzone-bench attack), --truth the true
tracks and zones. --population drives the attacks' populations: a fleet
between 14 places, the zones two of them (1,000 trips), one car on three
roads from its home near a zone (300 trips).
`

// sim runs scenarios: one, a fleet of one, or random trips.
func sim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("sim", stderr)
	fleet := fs.Int("fleet", 1, "vehicles driving the scenario at once, each with its own gateway, against one broker")
	broker := fs.String("broker", "", "broker to use, tcp://HOST:PORT (default: an embedded one on 127.0.0.1)")
	iface := fs.String("iface", "", "play on this SocketCAN interface (vcan0) in real time instead of the virtual bus")
	random := fs.Bool("random", false, "drive randomly generated trips (routes, zones, faults)")
	seed := fs.Uint64("seed", 0, "first seed of --random (default: from the time; printed)")
	trips := fs.Int("trips", 10, "number of --random trips")
	parallel := fs.Int("parallel", 1, "--random trips driven at once (each with its own broker, unless --broker)")
	list := fs.Bool("list", false, "list the shipped scenarios")
	level := fs.String("log", "error", "gateway log level shown on stderr (debug, info, warn, error)")
	save := fs.String("save", "", "with --random: write each trip that broke an invariant (every trip, with --trips 1) as a scenario file in this directory, to keep as a regression test")
	wireTo := fs.String("wire", "", "write what the broker received from the vehicle, one JSON object a line (the observer's transcript)")
	truthTo := fs.String("truth", "", "write the simulator's truth (true tracks, zones, homes), one JSON object a trip")
	population := fs.String("population", "", "drive an attack population: fleet or car (--trips: 0 for its 1,000 or 300)")
	fs.Usage = func() {
		fmt.Fprint(stderr, simUsage)
		fs.PrintDefaults()
	}
	var refs []string
	for len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		refs, args = append(refs, args[0]), args[1:]
	}
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	refs = append(refs, fs.Args()...)
	var ref string
	if len(refs) > 0 {
		ref = refs[0]
	}
	if *population != "" {
		if ref != "" || *random || *fleet != 1 {
			return cli.UsageError("sim: --population drives its own trips: no scenario, --random or --fleet")
		}
		if !isFlagSet(fs, "trips") {
			*trips = 0
		}
		return populationCmd(ctx, *population, *seed, *trips, *parallel, *wireTo, *truthTo, stdout, stderr)
	}
	if (*wireTo != "" || *truthTo != "") && (*random || *fleet > 1 || *broker != "" || *iface != "") {
		return cli.UsageError("sim: --wire and --truth are for scenarios on the embedded broker and the virtual bus: not with --random, --fleet, --broker or --iface")
	}
	if len(refs) > 1 || *wireTo != "" || *truthTo != "" {
		if *fleet > 1 {
			return cli.UsageError("sim: several scenarios are one vehicle's trips: not with --fleet")
		}
		log, err := cli.NewLogger(stderr, *level)
		if err != nil {
			return err
		}
		return vehicleTrips(ctx, refs, *wireTo, *truthTo, log, stdout, stderr)
	}
	if *list {
		for _, n := range scenario.Shipped() {
			sc, err := scenario.Load(n)
			title := sc.Name
			if err != nil {
				title = "(" + err.Error() + ")"
			}
			fmt.Fprintf(stdout, "  %-16s %s\n", n, title)
		}
		return nil
	}
	switch {
	case *random && ref != "":
		return cli.UsageError("sim: give a scenario or --random, not both")
	case !*random && ref == "" && *fleet == 1:
		fs.Usage()
		return cli.UsageError("sim needs a scenario (or --random, --fleet N, or --list)")
	case *fleet < 1 || *fleet > 1000:
		return cli.UsageError(fmt.Sprintf("--fleet %d: want 1 to 1000", *fleet))
	case *parallel < 1 || *parallel > 64:
		return cli.UsageError(fmt.Sprintf("--parallel %d: want 1 to 64", *parallel))
	case *trips < 1:
		return cli.UsageError(fmt.Sprintf("--trips %d: want at least 1", *trips))
	case *iface != "" && (*fleet > 1 || *random):
		return cli.UsageError("--iface plays one vehicle: not with --fleet or --random")
	case *save != "" && !*random:
		return cli.UsageError("--save keeps random trips: give --random")
	}
	log, err := cli.NewLogger(stderr, *level)
	if err != nil {
		return err
	}
	o := testbench.Options{Logger: log, BrokerURL: *broker, Iface: *iface}
	if *random {
		s := *seed
		if s == 0 {
			s = uint64(time.Now().UnixNano()) % 1_000_000_000
		}
		return soak(ctx, s, *trips, *parallel, o, *save, stdout, stderr)
	}
	sc := scenario.BuiltIn() // a fleet without a scenario drives the demo's
	if ref != "" {
		if sc, err = scenario.Load(ref); err != nil {
			return err
		}
	}
	if *fleet > 1 {
		bar := cli.NewProgress(stdout, stderr, float64(*fleet), "vehicles")
		o.Progress = func(f float64) { bar.Set(f * float64(*fleet)) }
		reps, err := testbench.RunFleet(ctx, sc, *fleet, o)
		bar.Clear()
		return fleetSummary(reps, err, stdout)
	}
	bar := cli.NewProgress(stdout, stderr, 1, "drives")
	o.Progress = bar.Set
	rep, err := testbench.Run(ctx, sc, o)
	bar.Clear()
	if rep != nil {
		report.WriteText(stdout, rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return cli.ErrInvariant
	}
	return nil
}

// fleetSummary prints one line per vehicle, the full report of each that
// broke an invariant, and the fleet's totals.
func fleetSummary(reps []*testbench.Report, runErr error, stdout io.Writer) error {
	bad := 0
	var km float64
	var wall time.Duration
	fmt.Fprintf(stdout, "quietzone fleet — %d vehicles against one broker\n\n", len(reps))
	for i, r := range reps {
		if r == nil {
			fmt.Fprintf(stdout, "  vehicle %3d  no report\n", i+1)
			bad++
			continue
		}
		km += r.DistanceKm
		wall = max(wall, r.Wall)
		fmt.Fprintf(stdout, "  vehicle %3d  %s\n", i+1, line(r))
		if !r.OK() {
			bad++
		}
	}
	for _, r := range reps {
		if r != nil && !r.OK() {
			fmt.Fprintln(stdout)
			report.WriteText(stdout, r)
		}
	}
	fmt.Fprintf(stdout, "\n%d vehicles, %.1f km in all, %s wall; %d broke an invariant\n", len(reps), km, wall.Round(10*time.Millisecond), bad)
	if runErr != nil {
		return runErr
	}
	if bad > 0 {
		return cli.ErrInvariant
	}
	return nil
}

// line is a report in one line.
func line(r *testbench.Report) string {
	f := r.Findings
	state := "ok"
	if !r.OK() {
		state = "FAIL"
	}
	return fmt.Sprintf("%-4s %5.1f km  %6s sim  %7s wall  in zones %5s  cam-in-zone %s  pos %d  forbidden %d  ids %d  time %d  lost %d  delivered %.0f%%  faults %d",
		state, r.DistanceKm, r.Simulated.Round(time.Second), r.Wall.Round(10*time.Millisecond), r.TimeInZones.Round(time.Second), r.CameraOnInside,
		f.PositionLeaks, f.ForbiddenSignals, f.IdentifierLeaks, f.TimingLeaks, f.LostRecords, 100*r.Utility.Delivered(), len(r.Faults))
}

// soak drives trips random trips, seeds first..first+trips-1, parallel at
// a time, and prints them in seed order: the seed of every one that broke
// an invariant, and the totals. A trip's result depends on its seed
// alone, not on what runs beside it.
func soak(ctx context.Context, first uint64, trips, parallel int, o testbench.Options, save string, stdout, stderr io.Writer) error {
	fmt.Fprintf(stdout, "quietzone soak — %d random trips from seed %d (rerun one: quietzone-bench sim --random --seed S --trips 1)\n\n", trips, first)
	bar := cli.NewProgress(stdout, stderr, float64(trips), "trips")
	type result struct {
		sc  scenario.Scenario
		rep *testbench.Report
		err error
	}
	results := make([]chan result, trips)
	for i := range results {
		results[i] = make(chan result, 1)
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range trips {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range max(1, parallel) {
		go func() {
			for i := range next {
				sc := scenario.Random(first + uint64(i))
				rep, err := testbench.Run(ctx, sc, o)
				results[i] <- result{sc, rep, err}
			}
		}()
	}
	var failed []string
	var runErr error
	var sum soakTotals
	done := 0
	for i := range trips {
		var r result
		select {
		case r = <-results[i]:
		case <-ctx.Done():
		}
		if ctx.Err() != nil && r.rep == nil {
			break
		}
		s := first + uint64(i)
		bar.Set(float64(i + 1))
		bar.Clear()
		if r.rep != nil {
			fmt.Fprintf(stdout, "  seed %-10d %s  %s\n", s, line(r.rep), kinds(r.rep))
			sum.add(r.rep)
			done++
		}
		if r.rep != nil && !r.rep.OK() && !r.rep.Interrupted {
			failed = append(failed, fmt.Sprint(s))
			report.WriteText(stdout, r.rep)
		}
		if save != "" && (trips == 1 || (r.rep != nil && !r.rep.OK())) {
			path, err := scenario.Write(save, fmt.Sprintf("random-%d", s), r.sc)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "  saved %s\n", path)
		}
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			failed = append(failed, fmt.Sprint(s))
			runErr = errors.Join(runErr, fmt.Errorf("seed %d: %w", s, r.err))
		}
	}
	fmt.Fprintf(stdout, "\n%d of %d trips driven: %s\n", done, trips, sum)
	if len(failed) > 0 {
		fmt.Fprintf(stdout, "FAILED seeds: %s\n", strings.Join(failed, " "))
		if runErr != nil {
			return runErr
		}
		return cli.ErrInvariant
	}
	fmt.Fprintln(stdout, "all invariants held")
	return ctx.Err()
}

// soakTotals adds up a soak's trips.
type soakTotals struct {
	km                                        float64
	simulated, inZones, camInZone             time.Duration
	faults, pos, forbidden, ids, timing, lost int
	delivered                                 float64
}

func (t *soakTotals) add(r *testbench.Report) {
	f := r.Findings
	t.km += r.DistanceKm
	t.simulated += r.Simulated
	t.inZones += r.TimeInZones
	t.camInZone += r.CameraOnInside
	t.faults += len(r.Faults)
	t.pos += f.PositionLeaks
	t.forbidden += f.ForbiddenSignals
	t.ids += f.IdentifierLeaks
	t.timing += f.TimingLeaks
	t.lost += f.LostRecords
	t.delivered += r.Utility.Delivered()
}

func (t soakTotals) String() string {
	return fmt.Sprintf("%.0f km, %s simulated, %s inside zones, %d faults; camera on inside a zone %s, positions in buffers %d, forbidden %d, identifiers %d, exact times %d, lost %d",
		t.km, t.simulated.Round(time.Second), t.inZones.Round(time.Second), t.faults, t.camInZone, t.pos, t.forbidden, t.ids, t.timing, t.lost)
}

func kinds(r *testbench.Report) string {
	var k []string
	for _, f := range r.Faults {
		k = append(k, f.Kind)
	}
	return strings.Join(k, ",")
}
