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

	"quietzone/cmd/internal/cli"
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

func main() { program().Main() }

// program is the command line: one way with the vehicle's and the
// bench's commands (cmd/internal/cli).
func program() cli.Program {
	return cli.Program{Name: "quietzone-fleet", Usage: usage, Version: version, Commit: commit, Commands: map[string]cli.Command{
		"keygen":    keygen,
		"migrate":   migrate,
		"ingest":    ingestCmd,
		"status":    status,
		"records":   records,
		"rollout":   rollout,
		"serve":     serve,
		"ack-chain": ackChain,
	}}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return program().Run(ctx, args, stdout, stderr)
}

// errNotCompliant: status found a vehicle that lags or a chain that broke;
// a rollout stage that stopped. Exit code 1.
var errNotCompliant = errors.New("not every vehicle complies")

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
