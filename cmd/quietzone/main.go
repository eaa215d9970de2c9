// Command quietzone is the in-vehicle privacy gateway.
//
//	quietzone demo                 run the built-in drive on a virtual bus
//	quietzone run --config FILE    run the daemon on the vehicle's buses
//	quietzone check --config FILE  validate a configuration and every file it names
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/gateway"
	"quietzone/testbench"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `quietzone — in-vehicle privacy gateway (%s)

Usage:
  quietzone demo [--log LEVEL]           run the built-in drive on a virtual bus with an embedded broker
  quietzone run --config FILE            run the gateway on the vehicle's CAN buses
  quietzone check --config FILE          validate a configuration and every file it names
  quietzone version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if !errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "quietzone:", err)
		}
		os.Exit(exitCode(err))
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errInvariant is returned when a drive broke an invariant.
var errInvariant = errors.New("an invariant was violated")

func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, errInvariant):
		return 3
	default:
		return 1
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, usage, version)
		return usageError{"no command"}
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "demo":
		return demo(ctx, args, stdout, stderr)
	case "run":
		return daemon(ctx, args, stderr)
	case "check":
		return check(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "quietzone", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, usage, version)
		return nil
	default:
		fmt.Fprintf(stderr, usage, version)
		return usageError{"unknown command " + cmd}
	}
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log %q: want debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

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

func configFlag(name string, args []string, stderr io.Writer) (string, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	fs.String("log", "info", "log level (debug, info, warn, error)")
	if err := fs.Parse(args); err != nil {
		return "", nil, usageError{err.Error()}
	}
	if *path == "" {
		fs.Usage()
		return "", nil, usageError{"--config is required"}
	}
	return *path, fs, nil
}

func check(args []string, stdout, stderr io.Writer) error {
	path, _, err := configFlag("check", args, stderr)
	if err != nil {
		return err
	}
	s, err := gateway.Load(path)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d zones, %d mapped signals, %d cameras, %d signals allowed to leave)\n",
		path, s.Zones.Len(), len(s.Profile.Mappings), len(s.Config.Cameras), len(s.Policy.Signals))
	return nil
}

func daemon(ctx context.Context, args []string, stderr io.Writer) error {
	path, fs, err := configFlag("run", args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, fs.Lookup("log").Value.String())
	if err != nil {
		return err
	}
	s, err := gateway.Load(path)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		log.Warn("configuration", "warning", w)
	}
	hw := gateway.Hardware{
		OpenBus: func(iface string) (gateway.Bus, error) { return can.DialSocketCAN(iface) },
		OpenPin: func(line string) (gpio.PinOut, error) { return camera.OpenPin(line) },
	}
	d, err := gateway.NewDaemon(s, hw, gateway.DaemonOptions{Logger: log})
	if err != nil {
		return err
	}
	log.Info("quietzone running", "version", version, "zones", s.Zones.Len(), "interfaces", len(s.Config.Vehicle.Interfaces))
	if err := d.Gateway.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
