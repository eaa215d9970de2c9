package main

import (
	"context"
	"io"
	"quietzone/cmd/internal/cli"

	"quietzone/testbench"
)

// bench measures frames per second through the whole pipeline.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("bench", stderr)
	frames := fs.Int("frames", 200000, "frames per workload")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *frames < 1 || fs.NArg() != 0 {
		fs.Usage()
		return cli.UsageError("--frames must be positive")
	}
	rs, err := testbench.Bench(ctx, *frames)
	testbench.WriteBench(stdout, rs)
	return err
}
