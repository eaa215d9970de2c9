package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"quietzone/can"
	"quietzone/gateway/config"
	"quietzone/testbench"
)

// replay runs the whole pipeline on a candump log and prints the decisions.
func replay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the built-in profile with the demo's zones and policy)")
	iface := fs.String("iface", "", "replay only the frames of this interface (default: all)")
	level := fs.String("log", "error", "gateway log level shown on stderr (debug, info, warn, error)")
	maxGap := fs.Duration("max-gap", testbench.DefaultMaxGap, "a longer jump in the log's time is a step of the clock, not ticked through")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quietzone replay FILE.log [--config FILE] [--iface NAME] [--log LEVEL] [--max-gap DURATION]")
		fs.PrintDefaults()
	}
	// The log file comes first, flags after it, as in the usage line.
	var path string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		path, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *maxGap <= 0 {
		return usageError{"replay: --max-gap must be positive"}
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	} else if fs.NArg() != 0 || path == "" {
		fs.Usage()
		return usageError{"replay needs one log file"}
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	var setup *config.Setup
	if *cfgPath != "" {
		setup, err = config.Load(*cfgPath)
	} else {
		setup, err = testbench.DefaultSetup()
	}
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	// A large log shows how far the replay has got, on a terminal.
	var r io.ReadCloser = f
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		bar := newProgress(stdout, stderr, float64(st.Size())/1e6, "MB")
		defer bar.clear()
		r = &countingReader{f: f, progress: bar}
	}
	src := can.NewLogReader(r, *iface)
	defer src.Close()
	rep, err := testbench.Replay(ctx, src, setup, testbench.ReplayOptions{Logger: log, Name: path, MaxGap: *maxGap})
	if err != nil {
		return err
	}
	rep.WriteText(stdout)
	return nil
}

// countingReader reports how much of a file has been read.
type countingReader struct {
	f        *os.File
	n        int64
	progress *progress
}

func (c *countingReader) Close() error { return c.f.Close() }

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n += int64(n)
	c.progress.set(float64(c.n) / 1e6)
	return n, err
}
