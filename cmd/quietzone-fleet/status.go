package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"quietzone/cmd/internal/cli"
	"quietzone/uplink/store"
)

// Compliance is one vehicle's standing: what status prints and the
// console shows.
type Compliance struct {
	store.Vehicle
	Online bool `json:"online"`
	// Lags: its policy is older than the newest signed one.
	Lags bool `json:"lags"`
	// Problems say, in words, what is wrong; none when it complies.
	Problems []string `json:"problems,omitempty"`
}

// Fleet is the compliance view of the whole fleet.
type Fleet struct {
	Newest   uint64            `json:"newest_policy"`
	Vehicles []Compliance      `json:"vehicles"`
	Rejects  map[string]uint64 `json:"rejected_messages,omitempty"`
	// Lagging and Broken count the vehicles that lag and whose chain
	// broke.
	Lagging int `json:"lagging"`
	Broken  int `json:"broken_chains"`
}

// compliance builds the view: newest is the newest signed policy (0: the
// newest rolled out); a vehicle not heard from in offlineAfter is
// offline whatever it said last.
func compliance(ctx context.Context, db *store.DB, newest uint64, offlineAfter time.Duration, now time.Time) (*Fleet, error) {
	if newest == 0 {
		var err error
		if newest, err = db.NewestVersion(ctx); err != nil {
			return nil, err
		}
	}
	vs, err := db.Vehicles(ctx)
	if err != nil {
		return nil, err
	}
	rej, err := db.Rejects(ctx)
	if err != nil {
		return nil, err
	}
	f := &Fleet{Newest: newest, Rejects: rej}
	for _, v := range vs {
		c := Compliance{Vehicle: v}
		c.Online = v.Status == "online" && (offlineAfter <= 0 || now.Sub(v.LastSeen) < offlineAfter)
		if newest > 0 && v.Policy < newest {
			c.Lags = true
			f.Lagging++
			p := fmt.Sprintf("policy %d, newest %d", v.Policy, newest)
			if v.RefusedVersion >= newest {
				p += fmt.Sprintf(" (refused %d: %s)", v.RefusedVersion, v.RefusedCause)
			}
			c.Problems = append(c.Problems, p)
		}
		if v.ChainBroken != "" {
			f.Broken++
			c.Problems = append(c.Problems, "audit chain "+v.ChainBroken)
		} else if strings.HasPrefix(v.Chain, "unverified") {
			c.Problems = append(c.Problems, "audit chain "+v.Chain)
		}
		for _, k := range slices.Sorted(maps.Keys(v.Alarms)) {
			c.Problems = append(c.Problems, fmt.Sprintf("%d× %s", v.Alarms[k], k))
		}
		if v.DroppedRecords > 0 {
			c.Problems = append(c.Problems, fmt.Sprintf("queue dropped %d records", v.DroppedRecords))
		}
		f.Vehicles = append(f.Vehicles, c)
	}
	return f, nil
}

func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("status", stderr)
	dsn := dbFlag(fs)
	asJSON := fs.Bool("json", false, "JSON")
	newest := fs.Uint64("newest", 0, "the newest signed policy version (default: the newest rolled out)")
	offline := fs.Duration("offline-after", 10*time.Minute, "a vehicle not heard from this long is offline")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := compliance(ctx, db, *newest, *offline, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			return err
		}
	} else {
		printStatus(stdout, f)
	}
	if f.Lagging > 0 || f.Broken > 0 {
		return errNotCompliant
	}
	return nil
}

func printStatus(w io.Writer, f *Fleet) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VEHICLE\tONLINE\tPOLICY\tRECORDS\tGAPS\tREPEATS\tALARMS\tDROPS\tAUDIT CHAIN")
	for _, c := range f.Vehicles {
		online := "no"
		if c.Online {
			online = "yes"
		}
		pol := fmt.Sprint(c.Policy)
		if c.Lags {
			pol += " (lags)"
		}
		var alarms uint64
		for _, n := range c.Alarms {
			alarms += n
		}
		chain := c.Chain
		if c.ChainBroken != "" {
			chain = c.ChainBroken
		}
		if chain == "" {
			chain = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", c.Pseudonym, online, pol, c.Records, c.Gaps, c.Repeats, alarms, c.DroppedRecords, chain)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d vehicles; newest policy %d; %d lag; %d audit chains broken", len(f.Vehicles), f.Newest, f.Lagging, f.Broken)
	if n := sumRejects(f.Rejects); n > 0 {
		fmt.Fprintf(w, "; %d messages refused", n)
	}
	fmt.Fprintln(w)
	for _, c := range f.Vehicles {
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  %s: %s\n", c.Pseudonym, p)
		}
	}
}

func sumRejects(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
