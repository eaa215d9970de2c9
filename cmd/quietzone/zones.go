package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"
	"strconv"
	"time"

	"quietzone/gateway"
	"quietzone/geofence"
)

// zones holds the operator's tools for zone files. They print zone ids
// and names to stdout, for the person at the terminal; nothing here logs.
func zones(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: quietzone zones check FILE | quietzone zones query LAT LON [flags]")
		return cli.UsageError("zones: want check or query")
	}
	switch args[0] {
	case "check":
		return zonesCheck(args[1:], stdout, stderr, time.Now())
	case "query":
		return zonesQuery(args[1:], stdout, stderr, time.Now())
	}
	return cli.UsageError("zones: unknown command " + args[0] + " (want check or query)")
}

// optionalFloat is a float flag that is NaN (unknown) until set.
func optionalFloat(fs *flag.FlagSet, name, usage string) *float64 {
	v := math.NaN()
	fs.Func(name, usage, func(s string) error {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%q is not a number", s)
		}
		v = x
		return nil
	})
	return &v
}

func zonesCheck(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := cli.NewFlags("zones check", stderr)
	buffer := fs.Float64("default-buffer", 0, "buffer in metres of zones without buffer_m")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return cli.UsageError("zones check: want one zone file")
	}
	path := pos[0]
	start := time.Now()
	ix, err := config.LoadZoneFile(path, geofence.Options{DefaultBufferM: *buffer})
	if err != nil {
		return err
	}
	took := time.Since(start)

	kinds := map[string]int{}
	var vertices, windowed, overrides, noBuffer, noID int
	var warnings []string
	warn := func(i int, z geofence.Zone, format string, a ...any) {
		warnings = append(warnings, fmt.Sprintf("feature %d (id %q): %s", i, z.ID, fmt.Sprintf(format, a...)))
	}
	seen := map[string]int{}
	for i := range ix.Len() {
		z := ix.Zone(i)
		kinds[z.Geometry]++
		vertices += z.Vertices()
		if z.BufferM == 0 {
			noBuffer++
		}
		if z.Policy != (geofence.Policy{}) {
			overrides++
		}
		if z.ID == "" {
			noID++
		} else if j, ok := seen[z.ID]; ok {
			warn(i, z, "the same id as feature %d", j)
		} else {
			seen[z.ID] = i
		}
		if !z.ValidFrom.IsZero() || !z.ValidUntil.IsZero() {
			windowed++
			switch {
			case !z.ValidUntil.IsZero() && z.ValidUntil.Before(now):
				warn(i, z, "expired at %s: it no longer counts (unless the vehicle's clock is not synchronised)", z.ValidUntil.Format(time.RFC3339))
			case !z.ValidFrom.IsZero() && z.ValidFrom.After(now):
				warn(i, z, "counts only from %s", z.ValidFrom.Format(time.RFC3339))
			}
		}
		if l := z.LongestEdgeM(); l > 50e3 {
			warn(i, z, "an edge is %.0f km long: edges follow great circles, not the straight lines of a map", l/1000)
		}
	}
	if noBuffer > 0 {
		warnings = append(warnings, fmt.Sprintf("%d zones have no buffer (buffer_m 0, --default-buffer %g): cameras stop only by the look-ahead at their edge", noBuffer, *buffer))
	}
	if noID > 0 {
		warnings = append(warnings, fmt.Sprintf("%d zones have no id", noID))
	}
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	cells, entries := ix.Cells()
	fmt.Fprintf(stdout, "%s: ok: %d zones (%d Polygon, %d MultiPolygon, %d Point circles, %d LineString corridors), %d vertices; %d with a validity window, %d with policy overrides\n",
		path, ix.Len(), kinds["Polygon"], kinds["MultiPolygon"], kinds["Point"], kinds["LineString"], vertices, windowed, overrides)
	fmt.Fprintf(stdout, "index: %d cells, %d entries, reach %.0f m, loaded in %v\n", cells, entries, ix.ReachM(), took.Round(time.Millisecond))
	return nil
}

func zonesQuery(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := cli.NewFlags("zones query", stderr)
	file := fs.String("zones", "", "zone file (GeoJSON)")
	cfgPath := fs.String("config", "", "configuration file: its zones and decision thresholds")
	buffer := fs.Float64("default-buffer", 0, "with --zones: buffer in metres of zones without buffer_m")
	kmh := optionalFloat(fs, "speed", "speed in km/h (default: unknown)")
	heading := optionalFloat(fs, "heading", "heading in degrees clockwise from north (default: unknown)")
	accuracy := fs.Float64("accuracy", 0, "how far in metres the vehicle may be from the position")
	at := fs.String("at", "", `time, RFC 3339 (default: now; "any": every zone counts, as on a clock that is not synchronised)`)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (*file == "") == (*cfgPath == "") {
		fs.Usage()
		return cli.UsageError("zones query: want LAT LON and one of --zones or --config")
	}
	lat, err1 := strconv.ParseFloat(pos[0], 64)
	lon, err2 := strconv.ParseFloat(pos[1], 64)
	if err1 != nil || err2 != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return cli.UsageError(fmt.Sprintf("zones query: %q %q is not a latitude and longitude in degrees", pos[0], pos[1]))
	}
	if !(*accuracy >= 0) || math.IsInf(*accuracy, 1) {
		return cli.UsageError(fmt.Sprintf("--accuracy %g: want metres, 0 or more", *accuracy))
	}
	d := gateway.DefaultDecision()
	var ix *geofence.Index
	if *cfgPath != "" {
		s, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		ix, d = s.Zones, s.Config.Decision
		d.WithholdMarginM = s.Policy.PositionMarginM()
	} else if ix, err = config.LoadZoneFile(*file, geofence.Options{DefaultBufferM: *buffer}); err != nil {
		return err
	}
	when := now
	switch *at {
	case "":
	case "any":
		when = time.Time{}
	default:
		if when, err = time.Parse(time.RFC3339, *at); err != nil {
			return cli.UsageError(fmt.Sprintf("--at %q: want an RFC 3339 time such as 2026-06-01T08:00:00Z, or any", *at))
		}
	}
	name := func(i int) string {
		z := ix.Zone(i)
		return fmt.Sprintf("#%d %s %q (%s, buffer %g m)", i, z.ID, z.Name, z.Geometry, z.BufferM)
	}

	fmt.Fprintf(stdout, "position     %.6f, %.6f", lat, lon)
	if !when.IsZero() {
		fmt.Fprintf(stdout, " at %s", when.Format(time.RFC3339))
	}
	fmt.Fprintln(stdout)
	r := ix.Query(lat, lon, 100e3)
	switch {
	case r.Zone < 0:
		fmt.Fprintln(stdout, "nearest      no zone's buffer within 100 km")
	case r.Inside:
		fmt.Fprintf(stdout, "nearest      inside %s\n", name(r.Zone))
	default:
		fmt.Fprintf(stdout, "nearest      %s: %.1f m from the zone, %.1f m %s its buffer\n",
			name(r.Zone), r.DistanceM, math.Abs(r.MarginM), map[bool]string{true: "inside", false: "outside"}[r.MarginM <= 0])
	}

	f := geofence.Fix{
		Lat: lat, Lon: lon, AccuracyM: *accuracy, SpeedMps: *kmh / 3.6, HeadingDeg: *heading,
		At: when, Skew: d.ZoneClockSkew, ExitMarginM: d.ExitMarginM, WithholdM: d.WithholdMarginM,
	}
	k := d.Kinematics()
	a := ix.Assess(&f, &k)
	motion := "speed unknown"
	if !math.IsNaN(*kmh) {
		motion = fmt.Sprintf("%g km/h", *kmh)
	}
	if !math.IsNaN(*heading) {
		motion += fmt.Sprintf(", heading %g°", *heading)
	} else {
		motion += ", heading unknown"
	}
	fmt.Fprintf(stdout, "look-ahead   %s, %v horizon: ", motion, k.Horizon)
	if a.AheadZone >= 0 {
		fmt.Fprintf(stdout, "reaches %s\n", name(a.AheadZone))
	} else {
		fmt.Fprintln(stdout, "no buffer within reach")
	}
	decision := "clear: the fix counts towards letting the cameras record"
	switch {
	case a.Inside:
		decision = "suppress: inside a zone"
	case a.Ahead:
		decision = "suppress: within a buffer or the look-ahead"
	case !a.Clear:
		decision = fmt.Sprintf("hold: within the exit margin (%g m) of a buffer: suppression, if on, stays on", d.ExitMarginM)
	}
	fmt.Fprintln(stdout, "decision    ", decision)
	fmt.Fprintf(stdout, "position     %s\n", map[bool]string{true: "may be uplinked (under the policy)", false: "withheld: too close to a zone"}[a.PositionClear])
	return nil
}
