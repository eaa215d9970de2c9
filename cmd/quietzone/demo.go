package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"quietzone/can"
	"quietzone/testbench"
)

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	level := fs.String("log", "error", "gateway log level shown on stderr (debug, info, warn, error)")
	recordTo := fs.String("record", "", "also write the drive's frames to this candump log (for quietzone replay)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	opts := testbench.Options{Logger: log}
	if *recordTo != "" {
		f, err := os.Create(*recordTo)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		w := can.NewLogWriter(f, "vcan0", false)
		defer w.Close()
		opts.Record = w
	}
	rep, err := testbench.Run(ctx, testbench.BuiltIn(), opts)
	if rep != nil {
		rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errInvariant
	}
	return nil
}
