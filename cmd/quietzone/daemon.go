package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"syscall"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/gateway"
)

// daemon is `quietzone run`: the gateway on the vehicle's buses, as a
// systemd service (Type=notify): READY=1 once the decision loop runs with
// every camera suppressed, WATCHDOG=1 while the loop makes progress,
// SIGHUP reloads the bundle file (or zones and policy), SIGTERM stops it
// gracefully: cameras suppressed, the batch flushed, the queue drained
// for uplink.drain_timeout and closed.
func runDaemon(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := cli.NewFlags("run", stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	level := fs.String("log", "info", "log level (debug, info, warn, error)")
	sock := fs.String("status-socket", defaultStatusSocket(), "unix socket for `quietzone status` (empty: none)")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fs.Usage()
		return cli.UsageError("--config is required")
	}
	log, err := newDaemonLogger(stderr, *level)
	if err != nil {
		return err
	}
	s, err := config.Load(*path)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		log.Warn("configuration", "warning", w)
	}
	if err := gateway.ClockStateError(); err != nil {
		log.Warn("zone validity windows are not trusted: every zone counts all the time", "err", err)
	}
	if err := camera.InitHost(); err != nil {
		return err
	}
	hw := daemon.Hardware{
		OpenBus: func(iface string, filters []can.Filter) (daemon.Bus, error) {
			return can.DialSocketCAN(iface, can.SocketCANOptions{Filters: filters, Logger: log})
		},
		OpenPin:   func(line string) (gpio.PinOut, error) { return camera.OpenPin(line) },
		OpenInput: func(line string) (gpio.PinIn, error) { return camera.OpenPin(line) },
	}
	d, err := daemon.New(s, hw, daemon.Options{Logger: log, StatusSocket: *sock})
	if err != nil {
		return err
	}
	defer d.Close()
	return serve(ctx, d, log)
}

// serve runs a daemon and speaks to systemd and signals until ctx is done.
func serve(ctx context.Context, d *daemon.Daemon, log *slog.Logger) error {
	n, err := newNotifier()
	if err != nil {
		log.Warn("not talking to systemd", "err", err)
	}
	defer n.close()
	wd, hasWD, err := watchdogInterval()
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()

	// Ready once the loop has ticked: every camera is suppressed by then.
	ready := time.NewTicker(10 * time.Millisecond)
	for d.Gateway().Ticks() == 0 {
		select {
		case err := <-done:
			ready.Stop()
			return err
		case <-ready.C:
		}
	}
	ready.Stop()
	if err := n.send("READY=1\nSTATUS=running, " + d.Gateway().Stats().State.String()); err != nil {
		log.Warn("systemd not told READY", "err", err)
	}
	log.Info("quietzone running", "version", version, "state", d.Gateway().Stats().State.String(), "watchdog", wd)
	if hasWD {
		go watchdog(runCtx, n, wd, d.Gateway().Ticks, func(err error) {
			log.Error("watchdog not fed", "err", err)
		})
	}
	for {
		select {
		case err := <-done:
			return runResult(err)
		case <-hup:
			log.Info("reloading")
			if err := d.Reload(runCtx); err != nil {
				log.Warn("reload refused; keeping what runs", "err", err)
			}
			n.send("STATUS=running, reloaded")
		case <-ctx.Done():
			n.send("STOPPING=1")
			log.Info("stopping: flushing telemetry and closing the queue")
			return runResult(<-done)
		}
	}
}

func runResult(err error) error {
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// newDaemonLogger logs structured text; under systemd (JOURNAL_STREAM
// set) without timestamps, which the journal adds.
func newDaemonLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, cli.UsageError(fmt.Sprintf("--log %q: want debug, info, warn or error", level))
	}
	o := &slog.HandlerOptions{Level: l}
	if os.Getenv("JOURNAL_STREAM") != "" {
		o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, o)), nil
}
