package atrest

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Kind is what a file holds, for Read and Open: it names the file in
// errors, bounds its size, and says whether it is a secret.
type Kind struct {
	// What names the kind in errors: "policy", "queue key".
	What string
	// Max is the most bytes a file of the kind may hold.
	Max int64
	// Secret: the file must be the daemon's alone (see Open).
	Secret bool
}

// The kinds of file the daemon reads. The bounds are far above any real
// file of the kind (a DBC of a whole car is under 1 MiB, 10,000 zones
// about 6 MiB), and far below what would exhaust a head unit's memory.
var (
	Config    = Kind{What: "configuration", Max: 1 << 20}
	Profile   = Kind{What: "vehicle profile", Max: 1 << 20}
	DBC       = Kind{What: "DBC file", Max: 16 << 20}
	Zones     = Kind{What: "zone file", Max: 64 << 20}
	Policy    = Kind{What: "policy", Max: 1 << 20}
	Bundle    = Kind{What: "bundle", Max: 64 << 20}
	PublicKey = Kind{What: "public key", Max: 64 << 10}
	Cert      = Kind{What: "certificate", Max: 1 << 20}
	VIN       = Kind{What: "VIN file", Max: 4 << 10}
	Scenario  = Kind{What: "scenario", Max: 16 << 20}
	// State is a file the daemon wrote itself into its state directory.
	State = Kind{What: "state file", Max: 1 << 20}
	// Secret is any key file: the owner's alone, and small.
	Secret = Kind{What: "key", Max: 64 << 10, Secret: true}
)

// Named returns k under another name ("queue key").
func (k Kind) Named(what string) Kind { k.What = what; return k }

// Public returns k without the checks of a secret.
func (k Kind) Public() Kind { k.Secret = false; return k }

// Bounded returns k with another size bound.
func (k Kind) Bounded(max int64) Kind { k.Max = max; return k }

// Read reads a whole file of kind k through Open, refusing one larger
// than k.Max before reading it (and one that grows past it while being
// read). Errors start with the kind and the path:
//
//	queue key /etc/quietzone/queue.key: mode 0644 lets others read or write it; chmod 600 it
//	policy /etc/quietzone/policy.yaml: 2097152 bytes, more than a policy may be (1 MiB)
func Read(path string, k Kind) ([]byte, error) {
	f, fi, err := open(path, k)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > k.Max {
		return nil, tooLarge(path, k, fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, k.Max+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", k.What, path, err)
	}
	if int64(len(data)) > k.Max {
		return nil, tooLarge(path, k, int64(len(data)))
	}
	return data, nil
}

func tooLarge(path string, k Kind, n int64) error {
	return fmt.Errorf("%s %s: %d bytes, more than a %s may be (%s)", k.What, path, n, k.What, sizeString(k.Max))
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Open opens a file of kind k for reading, for a reader that streams it
// (Max is then the reader's to apply). It never blocks: the file is
// opened non-blocking, so that a FIFO without a writer does not hang the
// daemon (nor make it deaf to SIGTERM), and anything but a regular file
// is refused: a FIFO, a device such as /dev/zero, a socket, a directory.
// Pipes are refused too, <(…) included: the daemon reads its files again
// on a reload, and `check` must read what `run` will.
//
// A secret must also be the daemon's alone: neither group nor others may
// read or write it (mode 0600 or 0400), and it is owned by the effective
// user or by root.
func Open(path string, k Kind) (*os.File, error) {
	f, _, err := open(path, k)
	return f, err
}

func open(path string, k Kind) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", k.What, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s %s: %w", k.What, path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s %s: not a regular file (%s)", k.What, path, describeType(fi.Mode()))
	}
	if k.Secret {
		if err := checkOwnerOnly(fi, path, k.What); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	return f, fi, nil
}

func describeType(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDir != 0:
		return "a directory"
	}
	return "mode " + m.String()
}

func checkOwnerOnly(fi fs.FileInfo, path, what string) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s: mode %04o lets others read or write it; chmod 600 it", what, path, perm)
	}
	uid, ok := fileOwner(fi)
	if !ok {
		return fmt.Errorf("%s %s: cannot tell who owns it: %w", what, path, ErrNotSupported)
	}
	if uid != os.Geteuid() && uid != 0 {
		return fmt.Errorf("%s %s: owned by user %d, not by the daemon's user %d or root", what, path, uid, os.Geteuid())
	}
	return nil
}

// ErrSigningKey: a file the vehicle reads as a raw secret holds a PEM
// private key, such as the fleet's bundle signing key from `policy
// keygen`.
var ErrSigningKey = errors.New("a PEM private key (a signing key, such as the fleet's from policy keygen): a vehicle's key files hold raw keys, and a fleet's signing key must never be on a vehicle")

// RefuseSigningKey returns ErrSigningKey (with the file) when data holds
// a PEM private key block.
func RefuseSigningKey(path, what string, data []byte) error {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return fmt.Errorf("%s %s: %w", what, path, ErrSigningKey)
		}
	}
	if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		return fmt.Errorf("%s %s: %w", what, path, ErrSigningKey)
	}
	return nil
}
