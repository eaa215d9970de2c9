package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"

	"quietzone/gateway/audit"
	"quietzone/uplink/atrest"
)

// Why audit verify exits non-zero: errAuditBroken (1) when it found
// something wrong; errAuditUnvouched (4) when it found nothing wrong but
// could not check everything: without the vehicle's key or without the
// fleet's head, a log rewritten whole, cut short or replaced looks like
// a good one.
var (
	errAuditBroken    = errors.New("the audit log does not verify")
	errAuditUnvouched = exitError{"the audit log could not be vouched for", 4}
)

// exitError is an error with its own exit code (cli.ExitCoder).
type exitError struct {
	msg  string
	code int
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

// auditCmd holds the tools for the vehicle's audit log.
func auditCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: quietzone audit verify FILE [--key IDENTITY] [--head SEQ:HASH]"
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, use)
		return cli.UsageError("audit: want verify")
	}
	fs := cli.NewFlags("audit verify", stderr)
	headFlag := fs.String("head", "", "the last SEQ:HASH the fleet received (audit summary): also finds entries cut from the end and a log replaced")
	keyFlag := fs.String("key", "", "the vehicle's identity (or its raw root key file): checks every entry's MAC")
	if err := cli.ParseInto(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, use)
		return cli.UsageError("audit verify: one log file is required")
	}
	var o audit.VerifyOptions
	if *headFlag != "" {
		h, err := audit.ParseHead(*headFlag)
		if err != nil {
			return cli.UsageError("audit verify: --" + err.Error())
		}
		o.Head = &h
	}
	if *keyFlag != "" {
		k, err := config.AuditKey(*keyFlag)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		o.Key = k
	}
	path := fs.Arg(0)
	f, err := atrest.Open(path, atrest.State.Named("audit log"))
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, o)
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
	fmt.Fprintf(stdout, "%s: intact, %d entries, head %s\n", path, rep.Entries, headStr)
	var cannot []string
	switch {
	case o.Key == nil:
		cannot = append(cannot, "without the vehicle's key (--key) the entries are not authenticated: anyone who can write the file "+
			"can remove or change entries and recompute every hash after them; this check cannot detect that, only careless edits")
	case rep.Authenticated == 0 && rep.Entries > 0:
		cannot = append(cannot, fmt.Sprintf("no entry carries a MAC: a log written before the vehicle had its key, or one stripped of its MACs; "+
			"the %d entries cannot be authenticated", rep.Unkeyed))
	case rep.Unkeyed > 0 && (o.Head == nil || rep.UnkeyedThrough > o.Head.Seq):
		cannot = append(cannot, fmt.Sprintf("entries up to seq %d carry no MAC (written before the vehicle had its key): "+
			"only the chain to the first entry with one vouches for them", rep.UnkeyedThrough))
	}
	if o.Head == nil {
		cannot = append(cannot, "without the head the fleet recorded (--head SEQ:HASH from the audit summary) entries cut from the end, "+
			"an older copy of the log put back, or a fresh or emptied log cannot be detected")
	}
	if len(cannot) > 0 {
		for _, c := range cannot {
			fmt.Fprintf(stdout, "%s: cannot vouch: %s\n", path, c)
		}
		return fmt.Errorf("%w: %s: nothing wrong found, but not everything could be checked", errAuditUnvouched, path)
	}
	fmt.Fprintf(stdout, "%s: ok: every entry authenticated, and the chain holds the fleet's head\n", path)
	return nil
}
