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

func records(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("records", stderr)
	dsn := dbFlag(fs)
	vehicle := fs.String("vehicle", "", "one vehicle's pseudonym")
	alarms := fs.Bool("alarms", false, "alarms only")
	limit := fs.Int("limit", 100, "at most this many, newest first")
	asJSON := fs.Bool("json", false, "JSON lines")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rs, err := db.Records(ctx, store.RecordQuery{Vehicle: *vehicle, Alarms: *alarms, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range rs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VEHICLE\tSEQ\tTIME\tPOSITION\tALARM\tSIGNALS")
	for _, r := range rs {
		pos := "-"
		if len(r.Pos) == 2 {
			pos = fmt.Sprintf("%.4f,%.4f", r.Pos[0], r.Pos[1])
		}
		var sig []string
		for _, k := range slices.Sorted(maps.Keys(r.Signals)) {
			sig = append(sig, fmt.Sprintf("%s=%g", k, r.Signals[k]))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Vehicle, r.Seq, r.Time.Format(time.RFC3339), pos, orDash(r.Alarm), strings.Join(sig, " "))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
