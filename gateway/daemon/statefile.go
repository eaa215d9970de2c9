package daemon

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"quietzone/gateway"
	"quietzone/uplink/atrest"
	"time"
)

const (
	stateFormat = "quietzone.suppression"
	// stateVersion 2 adds the trust in GNSS (distrusted, debt_m, the
	// sealed anchor); it is what a file without a key is written as.
	// Version 1 files still load (GNSS trusted, no anchor). Version 3 is
	// a file with a key: version 2's document and its MAC. A version this
	// build does not know is refused (the gateway starts held and
	// distrusted): its fields may say more than this build can honour.
	stateVersion      = 2
	stateVersionKeyed = 3
	// anchorLabel names the key's use in its check (atrest.Sealer).
	anchorLabel = "quietzone suppression anchor"
	// Labels of the keys derived from the state key (atrest.DeriveKey).
	labelStateAnchor = "quietzone/v1 state anchor"
	labelStateMAC    = "quietzone/v1 state mac"
	// anchorLen is the anchor's plaintext: lat, lon, margin (float64
	// bits) and the time (Unix ns), big-endian.
	anchorLen = 32
)

// errNoKey: the file is authenticated, or holds a sealed anchor, and
// there is no key to check or open it.
var errNoKey = errors.New("the file was written with a state key and no key is configured")

// StateFile keeps the suppression state in one small JSON file, replaced
// atomically on every save: written to a temporary file in the same
// directory, fsynced, renamed over the old one, and the directory
// fsynced, so that a power cut leaves the old state or the new one, never
// a torn one. A CRC-32C over the document catches a damaged one.
//
//	{"format":"quietzone.suppression","version":3,"state":"inside","manual":false,
//	 "need_clear":3,"held":true,"distrusted":true,"debt_m":0,
//	 "anchor":"<base64>","crc32c":"7f3a09c1","mac":"<64 hex>"}
//
// With a key (the vehicle's state key, Keys.State) the file is version 3
// and authenticated whole: mac is HMAC-SHA256, under a key derived from
// the state key, of the file's bytes before `,"mac"` with a closing brace,
// that is of the version-2 document exactly as written, whatever fields
// it holds. A file whose MAC is missing or wrong, or that is not version
// 3, does not load: someone who can write the file cannot make the
// gateway start released or trusting GNSS. Such a file can only make the
// start stricter: Load returns its manual mode along with the error, and
// the gateway keeps it.
//
// The anchor (the last trusted fix: a position and a time) is sealed with
// another key derived from the state key (AES-256-GCM, atrest.Sealer, the
// format name as associated data), after its key's check:
// base64(check[8] || sealed).
//
// Without a key the file is version 2, with the CRC alone: anyone who
// can write it can make it say anything, and no anchor is written. A file
// that says "distrusted" without an anchor restores GNSS distrusted with
// nothing to hold fixes against (trust.go says what that costs).
type StateFile struct {
	path   string
	sealer *atrest.Sealer // nil: no key, no anchor kept
	macKey []byte         // nil: no key
}

var _ gateway.StateStore = (*StateFile)(nil)

// NewStateFile returns the state file at path, without a key: it keeps
// no anchor. Its directory is created on the first save.
func NewStateFile(path string) *StateFile { return &StateFile{path: path} }

// NewSealedStateFile returns the state file at path that is authenticated
// and keeps the anchor sealed, under keys derived from key (atrest.KeyLen
// bytes: the vehicle's Keys.State).
func NewSealedStateFile(path string, key []byte) (*StateFile, error) {
	if len(key) != atrest.KeyLen {
		return nil, fmt.Errorf("suppression state key: %d bytes, want %d", len(key), atrest.KeyLen)
	}
	s, err := atrest.NewSealer(atrest.DeriveKey(key, labelStateAnchor), anchorLabel)
	if err != nil {
		return nil, fmt.Errorf("suppression state %w", err)
	}
	return &StateFile{path: path, sealer: s, macKey: atrest.DeriveKey(key, labelStateMAC)}, nil
}

// Path returns where the state is kept.
func (f *StateFile) Path() string { return f.path }

type stateDoc struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	State     string `json:"state"`
	Manual    bool   `json:"manual"`
	NeedClear int    `json:"need_clear"`
	Held      bool   `json:"held"`
	// Version 2.
	Distrusted bool    `json:"distrusted,omitempty"`
	DebtM      float64 `json:"debt_m,omitempty"`
	Anchor     string  `json:"anchor,omitempty"`
	// Since when a zone held the vehicle, on the steady clock: sealed
	// like the anchor (when the vehicle came near a zone stays in it);
	// without a key it is not kept, and every zone counts while held.
	HeldSince string `json:"held_since,omitempty"`
	// The steady clock's base: a wall time (RFC 3339) and the monotonic
	// time then, in nanoseconds.
	SteadyWall string `json:"steady_wall,omitempty"`
	SteadyMono int64  `json:"steady_mono_ns,omitempty"`
	CRC        string `json:"crc32c"`
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

// macKey is the member that carries a keyed file's MAC, at its end.
const stateMACKey = `,"mac":"`

// stateMACLen is the length of `,"mac":"<64 hex>"}`.
const stateMACLen = len(stateMACKey) + 2*sha256.Size + 2

// stateMAC is the MAC of a document's bytes.
func stateMAC(key, doc []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(doc)
	return m.Sum(nil)
}

// cutStateMAC splits a keyed file into the document it authenticates and
// its MAC; ok is false when the file carries none.
func cutStateMAC(data []byte) (doc, mac []byte, ok bool) {
	n := len(data)
	if n < stateMACLen+2 || !bytes.HasSuffix(data, []byte(`"}`)) || !bytes.HasPrefix(data[n-stateMACLen:], []byte(stateMACKey)) {
		return data, nil, false
	}
	mac = make([]byte, sha256.Size)
	if _, err := hex.Decode(mac, data[n-stateMACLen+len(stateMACKey):n-2]); err != nil {
		return data, nil, false
	}
	return append(bytes.Clone(data[:n-stateMACLen]), '}'), mac, true
}

// errUnauthenticated: a keyed state file whose MAC is missing or wrong.
var errUnauthenticated = fmt.Errorf("%w: the file is not authenticated by the state key (written without it, edited, or damaged)", atrest.ErrOpen)

// Load reads the saved state. A file that does not load is an error, but
// if it says the manual mode was on, the Saved returned with the error
// says so too: a file that cannot be trusted may still make the start
// stricter.
func (f *StateFile) Load() (gateway.Saved, error) {
	data, err := atrest.Read(f.path, atrest.State.Named("suppression state"))
	if err != nil {
		return gateway.Saved{}, fmt.Errorf("load suppression state: %w", err)
	}
	s, err := f.load(data)
	if err != nil {
		return stricterOnly(data), err
	}
	return s, nil
}

// stricterOnly is what a file that does not load may still say: only
// what makes the start stricter, the manual mode.
func stricterOnly(data []byte) gateway.Saved {
	var d stateDoc
	if doc, _, ok := cutStateMAC(bytes.TrimSuffix(data, []byte("\n"))); ok {
		data = doc
	}
	if json.Unmarshal(data, &d) != nil {
		return gateway.Saved{}
	}
	return gateway.Saved{Manual: d.Manual}
}

func (f *StateFile) load(data []byte) (gateway.Saved, error) {
	doc, mac, keyed := cutStateMAC(bytes.TrimSuffix(data, []byte("\n")))
	switch {
	case f.macKey != nil && (!keyed || !hmac.Equal(mac, stateMAC(f.macKey, doc))):
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: %w", f.path, errUnauthenticated)
	case f.macKey == nil && keyed:
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: %w", f.path, errNoKey)
	}
	var d stateDoc
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: %w", f.path, err)
	}
	lo, hi := 1, stateVersion
	if keyed {
		lo, hi = stateVersionKeyed, stateVersionKeyed
	}
	if d.Format != stateFormat || d.Version < lo || d.Version > hi {
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: format %q version %d, want %q version %d to %d", f.path, d.Format, d.Version, stateFormat, lo, hi)
	}
	if sum, err := d.checksum(); err != nil || sum != d.CRC {
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: checksum mismatch: the file is damaged", f.path)
	}
	st, ok := gateway.ParseState(d.State)
	if !ok || d.NeedClear < 1 || d.NeedClear > gateway.MaxNeedClear {
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: state %q, need_clear %d out of range", f.path, d.State, d.NeedClear)
	}
	if d.Version == 1 && (d.Distrusted || d.DebtM != 0 || d.Anchor != "") {
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: version 1 with the fields of version 2", f.path)
	}
	if !(d.DebtM >= 0) || math.IsInf(d.DebtM, 1) {
		return gateway.Saved{}, fmt.Errorf("load suppression state %s: debt_m %v out of range", f.path, d.DebtM)
	}
	s := gateway.Saved{State: st, Manual: d.Manual, NeedClear: d.NeedClear, Held: d.Held, Distrusted: d.Distrusted, DebtM: d.DebtM}
	if d.SteadyWall != "" {
		var err error
		if s.SteadyWall, err = time.Parse(time.RFC3339Nano, d.SteadyWall); err != nil || d.SteadyMono < 0 {
			return gateway.Saved{}, fmt.Errorf("load suppression state %s: steady_wall %q, steady_mono_ns %d", f.path, d.SteadyWall, d.SteadyMono)
		}
		s.SteadyMono = time.Duration(d.SteadyMono)
	}
	if d.HeldSince != "" {
		if !d.Held {
			return gateway.Saved{}, fmt.Errorf("load suppression state %s: held_since, and not held", f.path)
		}
		var err error
		if s.HeldSince, err = f.openTime(d.HeldSince); err != nil {
			return gateway.Saved{}, fmt.Errorf("load suppression state %s: held_since: %w", f.path, err)
		}
	}
	if d.Anchor != "" {
		var err error
		if s.Anchor, err = f.openAnchor(d.Anchor); err != nil {
			return gateway.Saved{}, fmt.Errorf("load suppression state %s: anchor: %w", f.path, err)
		}
	}
	return s, nil
}

// sealAnchor seals a (check || sealed, in base64).
func (f *StateFile) sealAnchor(a gateway.Anchor) (string, error) {
	var plain [anchorLen]byte
	binary.BigEndian.PutUint64(plain[0:], math.Float64bits(a.Lat))
	binary.BigEndian.PutUint64(plain[8:], math.Float64bits(a.Lon))
	binary.BigEndian.PutUint64(plain[16:], math.Float64bits(a.AccM))
	binary.BigEndian.PutUint64(plain[24:], uint64(a.At.UnixNano()))
	check := f.sealer.Check()
	out, err := f.sealer.Seal(check[:], plain[:], []byte(stateFormat))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// heldSinceAAD binds a sealed held_since to its field.
const heldSinceAAD = stateFormat + " held_since"

// sealTime seals the time t (check || sealed, in base64).
func (f *StateFile) sealTime(t time.Time) (string, error) {
	var plain [8]byte
	binary.BigEndian.PutUint64(plain[:], uint64(t.UnixNano()))
	check := f.sealer.Check()
	out, err := f.sealer.Seal(check[:], plain[:], []byte(heldSinceAAD))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// openTime opens what sealTime wrote.
func (f *StateFile) openTime(s string) (time.Time, error) {
	if f.sealer == nil {
		return time.Time{}, errNoKey
	}
	sealed, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, err
	}
	check := f.sealer.Check()
	if len(sealed) < len(check) || !bytes.Equal(sealed[:len(check)], check[:]) {
		return time.Time{}, fmt.Errorf("%w: sealed with another key", atrest.ErrOpen)
	}
	plain, err := f.sealer.Open(nil, sealed[len(check):], []byte(heldSinceAAD))
	if err != nil {
		return time.Time{}, err
	}
	if len(plain) != 8 {
		return time.Time{}, fmt.Errorf("%d bytes, want 8", len(plain))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(plain))).UTC(), nil
}

// openAnchor opens what sealAnchor wrote, and checks it is a fix.
func (f *StateFile) openAnchor(s string) (gateway.Anchor, error) {
	if f.sealer == nil {
		return gateway.Anchor{}, errNoKey
	}
	sealed, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return gateway.Anchor{}, err
	}
	check := f.sealer.Check()
	if len(sealed) < len(check) || !bytes.Equal(sealed[:len(check)], check[:]) {
		return gateway.Anchor{}, fmt.Errorf("%w: sealed with another key", atrest.ErrOpen)
	}
	plain, err := f.sealer.Open(nil, sealed[len(check):], []byte(stateFormat))
	if err != nil {
		return gateway.Anchor{}, err
	}
	if len(plain) != anchorLen {
		return gateway.Anchor{}, fmt.Errorf("%d bytes, want %d", len(plain), anchorLen)
	}
	a := gateway.Anchor{
		Lat:  math.Float64frombits(binary.BigEndian.Uint64(plain[0:])),
		Lon:  math.Float64frombits(binary.BigEndian.Uint64(plain[8:])),
		AccM: math.Float64frombits(binary.BigEndian.Uint64(plain[16:])),
		At:   time.Unix(0, int64(binary.BigEndian.Uint64(plain[24:]))).UTC(),
	}
	if !(a.AccM >= 0) || math.IsInf(a.AccM, 1) || a.At.UnixNano() == 0 {
		return gateway.Anchor{}, errors.New("not a fix")
	}
	return a, nil
}

// Save replaces the saved state atomically.
func (f *StateFile) Save(s gateway.Saved) error {
	d := stateDoc{Format: stateFormat, Version: stateVersion, State: s.State.String(), Manual: s.Manual, NeedClear: s.NeedClear, Held: s.Held,
		Distrusted: s.Distrusted, DebtM: s.DebtM}
	if f.macKey != nil {
		d.Version = stateVersionKeyed
	}
	if f.sealer != nil && !s.Anchor.At.IsZero() {
		a, err := f.sealAnchor(s.Anchor)
		if err != nil {
			return fmt.Errorf("save suppression state: %w", err)
		}
		d.Anchor = a
	}
	if !s.SteadyWall.IsZero() {
		d.SteadyWall, d.SteadyMono = s.SteadyWall.UTC().Format(time.RFC3339Nano), int64(s.SteadyMono)
	}
	if f.sealer != nil && s.Held && !s.HeldSince.IsZero() {
		h, err := f.sealTime(s.HeldSince)
		if err != nil {
			return fmt.Errorf("save suppression state: %w", err)
		}
		d.HeldSince = h
	}
	sum, err := d.checksum()
	if err != nil {
		return fmt.Errorf("save suppression state: %w", err)
	}
	d.CRC = sum
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("save suppression state: %w", err)
	}
	if f.macKey != nil {
		mac := stateMAC(f.macKey, data)
		data = append(data[:len(data)-1], stateMACKey...)
		data = hex.AppendEncode(data, mac)
		data = append(data, '"', '}')
	}
	if err := writeAtomic(f.path, append(data, '\n')); err != nil {
		return fmt.Errorf("save suppression state: %w", err)
	}
	return nil
}

// writeAtomic replaces path with data, whole or not at all, in a
// directory it makes if need be.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atrest.WriteFile(path, data, 0o600)
}
