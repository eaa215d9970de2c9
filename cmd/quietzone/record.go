package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"quietzone/cmd/internal/cli"
	"time"

	"quietzone/can"
)

// record writes the frames of a SocketCAN interface to a candump log.
func record(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("record", stderr)
	iface := fs.String("iface", "", "SocketCAN interface to record, such as can0 or vcan0")
	out := fs.String("out", "", "log file to write (candump -l format)")
	duration := fs.Duration("duration", 0, "stop after this long (default: until interrupted)")
	nano := fs.Bool("nano", false, "nanosecond timestamps (9 fraction digits instead of 6)")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *iface == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return cli.UsageError("record needs --iface and --out")
	}
	log, err := cli.NewLogger(stderr, "warn")
	if err != nil {
		return err
	}
	src, err := can.DialSocketCAN(*iface, can.SocketCANOptions{Logger: log})
	if err != nil {
		return err
	}
	defer src.Close()
	file, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	w := can.NewLogWriter(file, *iface, *nano)
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	start := time.Now()
	n, err := can.Record(ctx, src, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	st := src.Stats()
	fmt.Fprintf(stdout, "%s: %d frames from %s in %s; %d error frames", *out, n, *iface, time.Since(start).Round(time.Millisecond), st.ErrorFrames)
	for i, c := range st.ErrorClasses {
		if c > 0 {
			fmt.Fprintf(stdout, ", %s %d", can.ErrorClassName(i), c)
		}
	}
	fmt.Fprintf(stdout, "; %d dropped by the kernel; %d reconnects\n", st.KernelDrops, st.Reconnects)
	return err
}
