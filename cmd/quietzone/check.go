package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"
)

func configFlag(name string, args []string, stderr io.Writer) (string, *flag.FlagSet, error) {
	fs := cli.NewFlags(name, stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	fs.String("log", "info", "log level (debug, info, warn, error)")
	if err := cli.ParseInto(fs, args); err != nil {
		return "", nil, err
	}
	if *path == "" {
		fs.Usage()
		return "", nil, cli.UsageError("--config is required")
	}
	return *path, fs, nil
}

func check(_ context.Context, args []string, stdout, stderr io.Writer) error {
	path, _, err := configFlag("check", args, stderr)
	if err != nil {
		return err
	}
	s, err := config.Load(path)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	allowed := 0 // of the vehicle's signals: the policy may name others (warnings)
	for role := range s.Policy.Signals {
		if _, mapped := s.Profile.Class(role); mapped {
			allowed++
		}
	}
	fmt.Fprintf(stdout, "%s: ok (%d zones, %d mapped signals, %d cameras, %d signals allowed to leave)\n",
		path, s.Zones.Len(), len(s.Profile.Mappings), len(s.Config.Cameras), allowed)
	if n := len(s.FleetKeys); n > 0 {
		fmt.Fprintf(stdout, "%s: zones and policy come in signed bundles (%d fleet keys pinned)\n", path, n)
	}
	return nil
}
