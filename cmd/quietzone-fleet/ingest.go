package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"quietzone/cmd/internal/cli"
	"quietzone/uplink/ingest"
)

func ingestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("ingest", stderr)
	dsn := dbFlag(fs)
	broker := fs.String("broker", "", "broker URL: ssl://HOST:PORT, or tcp://127.0.0.1:PORT with --insecure-plaintext")
	plain := fs.Bool("insecure-plaintext", false, "allow a tcp:// broker on a loopback address")
	host, _ := os.Hostname()
	clientID := fs.String("client-id", "quietzone-ingest-"+host, "this process's name to the broker: the same across restarts, another per process")
	group := fs.String("group", "quietzone-ingest", "shared subscription group (\"\": not shared)")
	var keys cli.ListFlag
	fs.Var(&keys, "key", "private sealing key (keygen's NAME.key); repeat during a rotation")
	requireSealed := fs.Bool("require-sealed", false, "refuse payloads that are not sealed")
	every := fs.Duration("stats-every", time.Minute, "log counts this often")
	logLevel := fs.String("log", "info", "log level")
	tf := addTLSFlags(fs)
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *broker == "" || fs.NArg() > 0 {
		fs.Usage()
		return cli.UsageError("ingest: --broker is required")
	}
	log, err := cli.NewLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	tc, err := tf.config()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	opener, err := loadOpener(keys)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if *requireSealed && opener.Len() == 0 {
		return cli.UsageError("ingest: --require-sealed without a --key would refuse everything")
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer db.Close()
	in, err := ingest.New(ingest.Config{Broker: *broker, InsecurePlaintext: *plain, TLS: tc, ClientID: *clientID,
		Group: *group, Opener: opener, RequireSealed: *requireSealed, Logger: log}, db)
	if err != nil {
		return err
	}
	log.Info("ingest starting", "backend", db.Backend(), "keys", opener.Len(), "group", *group)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s := in.Stats()
				log.Info("ingest", "messages", s.Messages, "records", s.Records, "repeats", s.Repeats,
					"rejected", s.Rejects, "flushes", s.Flushes, "failures", s.Failures)
			}
		}
	}()
	err = in.Run(ctx)
	close(done)
	s := in.Stats()
	log.Info("ingest stopped", "messages", s.Messages, "records", s.Records, "repeats", s.Repeats, "rejected", s.Rejects)
	return err
}
