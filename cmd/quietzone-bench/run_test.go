package main

import (
	"context"
	"io"

	"quietzone/cmd/internal/cli"
)

// run runs a command line as main does, without exiting.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return program().Run(ctx, args, stdout, stderr)
}

// exitCode is the code main exits with for err.
func exitCode(err error) int { return cli.ExitCode(err) }
