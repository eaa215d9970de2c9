// Package replaycmd is the replay subcommand, which the vehicle's command
// and the bench's share: the vehicle replays with its configuration, the
// bench also with the demo's. It knows nothing of the simulator.
package replaycmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"quietzone/can"
	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
)

// Command returns the replay subcommand of program (its name in the
// usage). Without --config the replay takes defaultSetup's configuration;
// a nil defaultSetup makes --config required.
func Command(program string, defaultSetup func() (*config.Setup, error)) cli.Command {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := cli.NewFlags("replay", stderr)
		what := "configuration file"
		if defaultSetup != nil {
			what += " (default: the built-in profile with the demo's zones and policy)"
		}
		cfgPath := fs.String("config", "", what)
		iface := fs.String("iface", "", "replay only the frames of this interface (default: all)")
		level := fs.String("log", "error", "gateway log level shown on stderr (debug, info, warn, error)")
		maxGap := fs.Duration("max-gap", daemon.DefaultMaxGap, "a longer jump in the log's time is a step of the clock, not ticked through")
		fs.Usage = func() {
			fmt.Fprintf(stderr, "usage: %s replay FILE.log [--config FILE] [--iface NAME] [--log LEVEL] [--max-gap DURATION]\n", program)
			fs.PrintDefaults()
		}
		pos, err := cli.Parse(fs, args)
		if err != nil {
			return err
		}
		switch {
		case *maxGap <= 0:
			return cli.UsageError("replay: --max-gap must be positive")
		case len(pos) != 1:
			fs.Usage()
			return cli.UsageError("replay needs one log file")
		case *cfgPath == "" && defaultSetup == nil:
			fs.Usage()
			return cli.UsageError("replay needs --config: the vehicle's configuration")
		}
		path := pos[0]
		log, err := cli.NewLogger(stderr, *level)
		if err != nil {
			return err
		}
		var setup *config.Setup
		if *cfgPath != "" {
			setup, err = config.Load(*cfgPath)
		} else {
			setup, err = defaultSetup()
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
			bar := cli.NewProgress(stdout, stderr, float64(st.Size())/1e6, "MB")
			defer bar.Clear()
			r = &countingReader{f: f, progress: bar}
		}
		src := can.NewLogReader(r, *iface)
		defer src.Close()
		rep, err := daemon.Replay(ctx, src, setup, daemon.ReplayOptions{Logger: log, Name: path, MaxGap: *maxGap})
		if err != nil {
			return err
		}
		rep.WriteText(stdout)
		return nil
	}
}

// countingReader reports how much of a file has been read.
type countingReader struct {
	f        *os.File
	n        int64
	progress *cli.Progress
}

func (c *countingReader) Close() error { return c.f.Close() }

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n += int64(n)
	c.progress.Set(float64(c.n) / 1e6)
	return n, err
}
