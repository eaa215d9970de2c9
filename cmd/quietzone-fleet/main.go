// Command quietzone-fleet is the fleet's half of quietzone: it reads what
// vehicles send (ingest), says who complies (status, records, serve) and
// rolls signed bundles out (rollout). It is a binary of its own: the
// vehicle's, cmd/quietzone, imports none of it (deps_test.go).
//
//	quietzone-fleet keygen --out NAME       the fleet's sealing key pair
//	quietzone-fleet migrate --db DSN        create or update the database's schema
//	quietzone-fleet ingest --db DSN --broker URL   store what vehicles send
//	quietzone-fleet status --db DSN         per vehicle: online, policy, alarms, drops, audit chain
//	quietzone-fleet records --db DSN        read records and alarms back
//	quietzone-fleet rollout BUNDLE --db DSN --broker URL   publish a bundle in stages
//	quietzone-fleet serve --db DSN          the web console
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"quietzone/uplink/atrest"
	"quietzone/uplink/store"
)

var (
	version = "dev"
	commit  = "unknown"
)

const usage = `quietzone-fleet — the fleet's side of quietzone (%s)

Usage:
  quietzone-fleet keygen --out NAME      NAME.key (the ingest's, 0600) and NAME.pub (for vehicles:
                                         uplink.fleet_public_key, or policy sign --seal-pub)
  quietzone-fleet migrate --db DSN [--status]
                                         bring the database's schema up to date (or say where it is)
  quietzone-fleet ingest --db DSN --broker URL [--client-id ID] [--group G] [--key FILE]...
                  [--require-sealed] [--insecure-plaintext] [--ca FILE --cert FILE --tls-key FILE]
                                         store what vehicles publish; several processes under one
                                         group split the load (shared subscriptions)
  quietzone-fleet status --db DSN [--json] [--newest N] [--offline-after D]
                                         per vehicle: online, policy in force, alarms, queue drops,
                                         audit chain; exits 1 when a vehicle lags or a chain broke
  quietzone-fleet records --db DSN [--vehicle P] [--alarms] [--limit N] [--json]
                                         records and alarms as stored, newest first
  quietzone-fleet rollout BUNDLE --db DSN --broker URL [--pub FILE] [--percent P] [--stages 1,10,50,100]
                  [--wait D] [--confirm F]
                                         publish a signed bundle (retained) to the vehicles' policy
                                         topics in stages; each waits for the vehicles to confirm
  quietzone-fleet serve --db DSN [--listen ADDR] --token-file FILE [--bundle FILE] [--broker URL]
                                         the web console: compliance, alarms, timelines, the zones,
                                         rollouts (state changes need the token)
  quietzone-fleet ack-chain --db DSN PSEUDONYM
                                         clear a vehicle's broken-chain flag once it is looked into
  quietzone-fleet version

DSN: a SQLite file (the default: fleet.db) or postgres://USER@HOST/DB.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if !errors.As(err, &ue) && !errors.Is(err, errNotCompliant) {
			fmt.Fprintln(os.Stderr, "quietzone-fleet:", err)
		}
		os.Exit(exitCode(err))
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errNotCompliant: status found a vehicle that lags or a chain that broke;
// a rollout stage that stopped.
var errNotCompliant = errors.New("not every vehicle complies")

func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, errNotCompliant):
		return 1
	case errors.Is(err, context.Canceled):
		return 130
	default:
		return 1
	}
}

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands map[string]command

func init() {
	commands = map[string]command{
		"keygen":    keygen,
		"migrate":   migrate,
		"ingest":    ingestCmd,
		"status":    status,
		"records":   records,
		"rollout":   rollout,
		"serve":     serve,
		"ack-chain": ackChain,
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
		fmt.Fprintln(stdout, "quietzone-fleet", version, commit)
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

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses flags anywhere among the arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "fleet.db", "database: a SQLite file, or postgres://USER@HOST/DB")
}

func openDB(ctx context.Context, dsn string) (*store.DB, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return db, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log %q: want debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// tlsFlags are a client's TLS files.
type tlsFlags struct{ ca, cert, key *string }

func addTLSFlags(fs *flag.FlagSet) tlsFlags {
	return tlsFlags{
		ca:   fs.String("ca", "", "CA certificate of the broker (PEM)"),
		cert: fs.String("cert", "", "client certificate (PEM)"),
		key:  fs.String("tls-key", "", "client key (PEM, 0600)"),
	}
}

func (f tlsFlags) config() (*tls.Config, error) {
	if *f.ca == "" && *f.cert == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if *f.ca != "" {
		ca, err := atrest.Read(*f.ca, atrest.Cert.Named("CA certificate"))
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("no PEM certificate in %s", *f.ca)
		}
	}
	if *f.cert != "" {
		certPEM, err := atrest.Read(*f.cert, atrest.Cert)
		if err != nil {
			return nil, err
		}
		keyPEM, err := atrest.Read(*f.key, atrest.Secret.Named("TLS key"))
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
