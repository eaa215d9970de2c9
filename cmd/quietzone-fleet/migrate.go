package main

import (
	"context"
	"fmt"
	"io"

	"quietzone/cmd/internal/cli"
	"quietzone/uplink/store"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("migrate", stderr)
	dsn := dbFlag(fs)
	only := fs.Bool("status", false, "only say which schema version the database is at")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	db, err := store.OpenNoMigrate(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if *only {
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			v = 0
		}
		fmt.Fprintf(stdout, "%s: schema version %d, this build's %d\n", db.Backend(), v, store.Latest())
		return nil
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	v, _ := db.SchemaVersion(ctx)
	fmt.Fprintf(stdout, "%s: schema version %d (applied now: %v)\n", db.Backend(), v, applied)
	return nil
}

func ackChain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("ack-chain", stderr)
	dsn := dbFlag(fs)
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.UsageError("ack-chain: one pseudonym")
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.AcknowledgeChain(ctx, fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "acknowledged")
	return nil
}
