package main

import (
	"context"
	"flag"
	"io"

	"quietzone/testbench"
)

// bench measures frames per second through the whole pipeline.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	frames := fs.Int("frames", 200000, "frames per workload")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *frames < 1 || fs.NArg() != 0 {
		fs.Usage()
		return usageError{"--frames must be positive"}
	}
	rs, err := testbench.Bench(ctx, *frames)
	testbench.WriteBench(stdout, rs)
	return err
}
