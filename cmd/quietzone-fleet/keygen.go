package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"quietzone/cmd/internal/cli"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// keygen writes the fleet's sealing key pair.
func keygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("keygen", stderr)
	out := fs.String("out", "", "write NAME.key (private, 0600) and NAME.pub")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return cli.UsageError("keygen: --out is required")
	}
	k, err := uplink.GenerateSealKey()
	if err != nil {
		return err
	}
	priv, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{*out + ".key", priv, 0o600}, {*out + ".pub", k.Public().MarshalPEM(), 0o644}} {
		if _, err := os.Stat(f.name); err == nil {
			return fmt.Errorf("keygen: %s exists; not overwritten", f.name)
		}
		if err := atrest.WriteFile(f.name, f.data, f.mode); err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
	}
	fmt.Fprintf(stdout, "%s.key (keep it with the ingest), %s.pub (key %s: for the vehicles)\n", *out, *out, k.Public().ID())
	return nil
}

// loadOpener reads the fleet's private sealing keys.
func loadOpener(paths []string) (*uplink.Opener, error) {
	var keys []*uplink.OpenKey
	for _, p := range paths {
		data, err := atrest.Read(p, atrest.Secret.Named("sealing key"))
		if err != nil {
			return nil, err
		}
		k, err := uplink.ParseOpenKey(data)
		if err != nil {
			return nil, fmt.Errorf("sealing key %s: %w", p, err)
		}
		keys = append(keys, k)
	}
	return uplink.NewOpener(keys...), nil
}
