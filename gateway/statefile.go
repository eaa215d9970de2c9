package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// Saved is the part of the decision loop's state that outlives a restart.
// It holds no position, zone or time.
type Saved struct {
	// State is the safety state when saved. A restart starts Manual if
	// Manual is set, Unknown otherwise: the state is for people reading
	// the file, what follows from it is in the other fields.
	State State
	// Manual: the privacy switch had the manual mode on.
	Manual bool
	// NeedClear is how many consecutive clear fixes leaving suppression
	// takes (ClearFixes, or more if a zone's policy asked).
	NeedClear int
	// Held: a zone held the vehicle since it was last clear; a parked
	// vehicle's clear fixes do not count until it moves.
	Held bool
}

// StateStore keeps the suppression state across restarts. Load returns an
// error wrapping fs.ErrNotExist when nothing was saved; any other error
// means the state could not be read, and the gateway starts held (fail
// closed). Save is called off the decision loop, one call at a time.
type StateStore interface {
	Load() (Saved, error)
	Save(s Saved) error
}

// StateFileName is the suppression state's file in uplink.state_dir,
// beside the durable queue (queue/).
const StateFileName = "suppression.json"

// maxNeedClear bounds a saved hysteresis, so that a damaged file cannot
// hold the cameras off for ever.
const maxNeedClear = 1000

const (
	stateFormat  = "quietzone.suppression"
	stateVersion = 1
)

// StateFile keeps the suppression state in one small JSON file, replaced
// atomically on every save: written to a temporary file in the same
// directory, fsynced, renamed over the old one, and the directory
// fsynced, so that a power cut leaves the old state or the new one, never
// a torn one. A CRC-32C over the document catches a damaged one.
//
//	{"format":"quietzone.suppression","version":1,"state":"inside","manual":false,
//	 "need_clear":3,"held":true,"crc32c":"7f3a09c1"}
type StateFile struct {
	path string
}

var _ StateStore = (*StateFile)(nil)

// NewStateFile returns the state file at path; its directory is created
// on the first save.
func NewStateFile(path string) *StateFile { return &StateFile{path: path} }

// Path returns where the state is kept.
func (f *StateFile) Path() string { return f.path }

type stateDoc struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	State     string `json:"state"`
	Manual    bool   `json:"manual"`
	NeedClear int    `json:"need_clear"`
	Held      bool   `json:"held"`
	CRC       string `json:"crc32c"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC-32C of the document without its checksum.
func (d stateDoc) checksum() (string, error) {
	d.CRC = ""
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli)), nil
}

// Load reads the saved state.
func (f *StateFile) Load() (Saved, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return Saved{}, fmt.Errorf("load suppression state: %w", err)
	}
	var d stateDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Saved{}, fmt.Errorf("load suppression state %s: %w", f.path, err)
	}
	if d.Format != stateFormat || d.Version != stateVersion {
		return Saved{}, fmt.Errorf("load suppression state %s: format %q version %d, want %q version %d", f.path, d.Format, d.Version, stateFormat, stateVersion)
	}
	if sum, err := d.checksum(); err != nil || sum != d.CRC {
		return Saved{}, fmt.Errorf("load suppression state %s: checksum mismatch: the file is damaged", f.path)
	}
	st, ok := parseState(d.State)
	if !ok || d.NeedClear < 1 || d.NeedClear > maxNeedClear {
		return Saved{}, fmt.Errorf("load suppression state %s: state %q, need_clear %d out of range", f.path, d.State, d.NeedClear)
	}
	return Saved{State: st, Manual: d.Manual, NeedClear: d.NeedClear, Held: d.Held}, nil
}

func parseState(s string) (State, bool) {
	for i, name := range stateNames {
		if name == s {
			return State(i), true
		}
	}
	return 0, false
}

// Save replaces the saved state atomically.
func (f *StateFile) Save(s Saved) error {
	d := stateDoc{Format: stateFormat, Version: stateVersion, State: s.State.String(), Manual: s.Manual, NeedClear: s.NeedClear, Held: s.Held}
	sum, err := d.checksum()
	if err != nil {
		return fmt.Errorf("save suppression state: %w", err)
	}
	d.CRC = sum
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("save suppression state: %w", err)
	}
	if err := writeAtomic(f.path, append(data, '\n')); err != nil {
		return fmt.Errorf("save suppression state: %w", err)
	}
	return nil
}

// writeAtomic replaces path with data: temporary file, fsync, rename,
// fsync of the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// saveable is the state to keep, as the loop has it now.
func (g *Gateway) saveable() Saved {
	return Saved{State: g.state, Manual: g.manual, NeedClear: g.z.needClear, Held: g.e.held}
}

// persist hands the state to the writer when it changed. The loop never
// waits for the disk: a state the writer has not taken yet is replaced by
// the newer one.
func (g *Gateway) persist() {
	if g.e.save == nil {
		return
	}
	s := g.saveable()
	if s == g.e.saved {
		return
	}
	g.e.saved = s
	for { // the loop is the only sender
		select {
		case g.e.save <- s:
			return
		default:
			select {
			case <-g.e.save:
			default:
			}
		}
	}
}

// writeStates saves what persist hands over until ctx is done.
func (g *Gateway) writeStates(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-g.e.save:
			g.writeState(s)
		}
	}
}

func (g *Gateway) writeState(s Saved) {
	if err := g.opts.Enforcement.State.Save(s); err != nil {
		g.e.saveErrors.Add(1)
		g.log.Error("suppression state not saved", "err", err)
		return
	}
	g.e.saves.Add(1)
}

// saveFinal writes the state the gateway stops in, after the writer has
// stopped.
func (g *Gateway) saveFinal() {
	if g.e.save == nil {
		return
	}
	select {
	case <-g.e.save: // older than what follows
	default:
	}
	g.writeState(g.saveable())
}
