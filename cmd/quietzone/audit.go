package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"quietzone/gateway/audit"
)

// errAuditBroken is returned when an audit log does not verify.
var errAuditBroken = errors.New("the audit log does not verify")

// auditCmd holds the tools for the vehicle's audit log.
func auditCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: quietzone audit verify FILE [--head SEQ:HASH]"
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, use)
		return usageError{"audit: want verify"}
	}
	fs := newFlags("audit verify", stderr)
	headFlag := fs.String("head", "", "the last SEQ:HASH the fleet received (audit summary): also finds entries cut from the end")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, use)
		return usageError{"audit verify: one log file is required"}
	}
	var head *audit.Head
	if *headFlag != "" {
		h, err := audit.ParseHead(*headFlag)
		if err != nil {
			return usageError{"audit verify: --" + err.Error()}
		}
		head = &h
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, head)
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "%s: %s\n", path, p)
	}
	for _, k := range rep.SortedKinds() {
		fmt.Fprintf(stdout, "  %-22s %d\n", k, rep.Counts[k])
	}
	if !rep.OK() {
		return fmt.Errorf("%w: %s: %d problems, the first at %s", errAuditBroken, path, len(rep.Problems), rep.Problems[0])
	}
	headStr := "empty"
	if rep.HaveLast {
		headStr = audit.Head{Seq: rep.Last.Seq, Hash: rep.Last.Hash}.String()
	}
	fmt.Fprintf(stdout, "%s: ok, %d entries, head %s\n", path, rep.Entries, headStr)
	return nil
}
