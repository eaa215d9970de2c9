// Package cli is what the quietzone commands share: one way to run a
// command line (dispatch, version, exit codes, Ctrl-C), to parse flags
// and to make a logger. It knows nothing of what the commands do.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// Command is one subcommand.
type Command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Program is a command with subcommands.
type Program struct {
	Name     string
	Usage    string // printed with the version formatted in (%s)
	Version  string
	Commit   string
	Commands map[string]Command
}

// Main runs p on the process's arguments and exits with its code; SIGINT
// and SIGTERM cancel the command's context.
func (p Program) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := p.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue UsageError
		if !errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p.Name, err)
		}
		os.Exit(ExitCode(err))
	}
}

// Run runs the subcommand args[0] with the rest of args.
func (p Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, p.Usage, p.Version)
		return UsageError("no command")
	}
	name, args := args[0], args[1:]
	switch name {
	case "version":
		fmt.Fprintln(stdout, p.Name, p.Version, p.Commit)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, p.Usage, p.Version)
		return nil
	}
	cmd, ok := p.Commands[name]
	if !ok {
		fmt.Fprintf(stderr, p.Usage, p.Version)
		return UsageError("unknown command " + name)
	}
	return cmd(ctx, args, stdout, stderr)
}

// UsageError is a command line the command cannot take: exit code 2.
type UsageError string

func (e UsageError) Error() string { return string(e) }

// ErrInvariant is returned when a drive broke an invariant: exit code 3.
var ErrInvariant = errors.New("an invariant was violated")

// ExitCoder is an error that says its own exit code.
type ExitCoder interface {
	error
	ExitCode() int
}

// ExitCode is the process's exit code for err: 2 for a usage error, 3 for
// a broken invariant, 130 when stopped by Ctrl-C (as a shell reports
// SIGINT), an ExitCoder's own, else 1.
func ExitCode(err error) int {
	var ue UsageError
	var ec ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, ErrInvariant):
		return 3
	case errors.As(err, &ec):
		return ec.ExitCode()
	case errors.Is(err, context.Canceled):
		return 130
	default:
		return 1
	}
}

// NewLogger is the commands' text logger at level.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, UsageError(fmt.Sprintf("--log %q: want debug, info, warn or error", level))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// NewFlags is a command's flag set: errors are returned, help goes to
// stderr.
func NewFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// Parse parses flags that may come before, between or after positional
// arguments, and returns the positional ones. A number, negative or not,
// is positional; a flag that is not boolean takes the next argument as
// its value unless it is written --flag=value; "--" ends the flags.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if _, err := strconv.ParseFloat(a, 64); err == nil || len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		pair := []string{a}
		if f := fs.Lookup(name); f != nil && !hasValue && !isBool(f) && i+1 < len(args) {
			pair = append(pair, args[i+1])
			i++
		}
		if err := fs.Parse(pair); err != nil {
			return nil, UsageError(err.Error())
		}
		pos = append(pos, fs.Args()...)
	}
	return pos, nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// ListFlag is a flag that may be given more than once.
type ListFlag []string

func (l *ListFlag) String() string     { return strings.Join(*l, ",") }
func (l *ListFlag) Set(v string) error { *l = append(*l, v); return nil }

// ParseInto is Parse that leaves the positional arguments in fs.Args().
func ParseInto(fs *flag.FlagSet, args []string) error {
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
