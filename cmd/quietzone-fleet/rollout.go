package main

import (
	"context"
	"io"
)

func rollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return usageError{"rollout: not yet"}
}
