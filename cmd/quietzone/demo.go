package main

import (
	"context"
	"flag"
	"io"

	"quietzone/testbench"
)

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	level := fs.String("log", "error", "gateway log level shown on stderr (debug, info, warn, error)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	rep, err := testbench.Run(ctx, testbench.BuiltIn(), testbench.Options{Logger: log})
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
