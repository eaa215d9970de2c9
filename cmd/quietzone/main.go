// Command quietzone is the in-vehicle privacy gateway.
//
//	quietzone demo                 run the built-in drive on a virtual bus
//	quietzone attack               fit a zone's outline from many trips' published tracks
//	quietzone run --config FILE    run the daemon on the vehicle's buses
//	quietzone check --config FILE  validate a configuration and every file it names
//	quietzone replay FILE.log      run the whole pipeline on a candump log
//	quietzone record --iface IF --out FILE.log   record a bus as a candump log
//	quietzone sim NAME|FILE.yaml   play a scenario (faults, fleets, random trips) and check it
//	quietzone bench                frames per second through the whole pipeline
//	quietzone zones check FILE     validate a zone file and say what it holds
//	quietzone zones query LAT LON  where a position is relative to the zones
//	quietzone policy keygen|sign|verify   signed fleet policy bundles
//	quietzone audit verify FILE    check the audit log's hash chain
//	quietzone status               counters of the running daemon
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version and commit are stamped at build time with
// -ldflags "-X main.version=... -X main.commit=..." (make build, make cross).
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `quietzone — in-vehicle privacy gateway (%s)

Usage:
  quietzone demo [--log LEVEL] [--record FILE.log] [--svg FILE.svg] [--json FILE.json]
                                         run the built-in drive on a virtual bus with an embedded broker;
                                         optionally draw it as an SVG map and write its figures as JSON
  quietzone attack [--trips N] [--seed S] [--zone ID] [--svg FILE.svg]
                                         many trips past a built-in zone: how far from its edge an
                                         attacker fitting it from the published tracks' gaps ends up
  quietzone run --config FILE [--status-socket PATH]
                                         run the gateway on the vehicle's CAN buses (systemd Type=notify;
                                         SIGHUP reloads, SIGTERM stops gracefully)
  quietzone status [--socket PATH] [--json]
                                         counters of the running daemon: state, fix age, frames/s,
                                         anomalies, queue, drops, cameras
  quietzone check --config FILE          validate a configuration and every file it names
  quietzone replay FILE.log [--config FILE] [--iface NAME]
                                         run the whole pipeline on a candump log; print the decisions
  quietzone record --iface IF --out FILE.log [--duration D]
                                         record a SocketCAN interface as a candump log
  quietzone sim NAME|FILE.yaml [--fleet N] [--broker URL] [--iface vcan0]
  quietzone sim --random [--seed S] [--trips N]   quietzone sim --list
                                         play a scenario against the gateway (faults on a timeline,
                                         a fleet on one broker, random trips) and check every invariant
  quietzone bench [--frames N]           frames per second through the whole pipeline on the virtual bus
  quietzone zones check FILE [--default-buffer M]
                                         validate a zone file and say what it holds
  quietzone zones query LAT LON (--zones FILE | --config FILE) [--speed KMH] [--heading DEG]
                  [--accuracy M] [--at TIME|any]
                                         where a position is relative to the zones, and what
                                         the gateway would decide there
  quietzone policy keygen --out PREFIX   a fleet key pair: PREFIX.key (private), PREFIX.pub (to pin)
  quietzone policy sign --key FILE --zones FILE --policy FILE --version N --out FILE
                  [--expires 720h|TIME] [--profile NAME]...
                                         sign zones and a policy into a bundle
  quietzone policy verify --pub FILE [--above N] BUNDLE
                                         check a bundle as a vehicle would
  quietzone policy enrol --secret FILE --vin VIN --out FILE
                                         a vehicle's identity: its pseudonym and root secret
  quietzone audit verify FILE [--key IDENTITY] [--head SEQ:HASH]
                                         check the audit log; names every edited, removed or forged
                                         entry; exits 4 if it could not check everything
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
	case errors.Is(err, errAuditUnvouched):
		return 4
	case errors.Is(err, context.Canceled):
		return 130 // stopped by Ctrl-C, as a shell reports SIGINT
	default:
		return 1
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, usage, version)
		return usageError{"no command"}
	}
	name, args := args[0], args[1:]
	switch name {
	case "version":
		fmt.Fprintln(stdout, "quietzone", version, commit)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, usage, version)
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, usage, version)
		return usageError{"unknown command " + name}
	}
	return cmd(ctx, args, stdout, stderr)
}

// command is one subcommand; each lives in its own file.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"demo":   demo,
	"attack": attack,
	"run":    runDaemon,
	"check":  check,
	"replay": replay,
	"record": record,
	"bench":  bench,
	"zones":  zones,
	"policy": policy,
	"audit":  auditCmd,
	"status": status,
	"sim":    sim,
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log %q: want debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
