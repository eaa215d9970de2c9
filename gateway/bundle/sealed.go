package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"quietzone/uplink/atrest"
)

// SealedName is the body that carries, sealed, what an observer of the
// bundle (whoever reads the broker's retained /policy topic) must not
// read: the zones and their covers. Every vehicle of the fleet holds the
// key it is sealed under (BodyKey); the fleet's console too.
//
// The body is "quietzone-sealed 1\n", the key's check (8 bytes, so that a
// vehicle with another key says so), then AES-256-GCM (atrest.Sealer,
// random nonce) of a JSON object from file names to their contents
// (base64), the magic as associated data. The bundle's signature covers
// the sealed body as it covers every body: sealing hides, signing
// vouches.
const SealedName = "sealed"

const (
	sealedMagic = "quietzone-sealed 1\n"
	// labelBody derives the sealing key from the fleet's bundle key.
	labelBody   = "quietzone/v1 bundle body"
	sealedLabel = "quietzone bundle body"
)

// Why a sealed body does not open. Errors wrap one of them.
var (
	// ErrNoBodyKey: the bundle has a sealed body and the reader no key.
	ErrNoBodyKey = errors.New("the bundle's zones are sealed and no bundle key is configured (fleet.bundle_key_file)")
	// ErrSealedBody: the sealed body does not open under the key (another
	// fleet's key, or damaged), or what it holds is malformed.
	ErrSealedBody = errors.New("the bundle's sealed body does not open")
)

// BodyKey seals and opens bundle bodies: the fleet's bundle key (a
// secret of atrest.KeyLen bytes every vehicle holds, installed at
// enrolment), from which the sealing key is derived.
type BodyKey struct{ s *atrest.Sealer }

// NewBodyKey derives the body sealing key from a bundle key.
func NewBodyKey(secret []byte) (*BodyKey, error) {
	if len(secret) != atrest.KeyLen {
		return nil, fmt.Errorf("bundle key: %d bytes, want %d", len(secret), atrest.KeyLen)
	}
	s, err := atrest.NewSealer(atrest.DeriveKey(secret, labelBody), sealedLabel)
	if err != nil {
		return nil, fmt.Errorf("bundle key: %w", err)
	}
	return &BodyKey{s: s}, nil
}

// LoadBodyKey reads a bundle key file (atrest.LoadKey: 32 bytes raw or
// in hex, the owner's alone).
func LoadBodyKey(path string) (*BodyKey, error) {
	raw, err := atrest.LoadKey(path, "bundle key")
	if err != nil {
		return nil, err
	}
	return NewBodyKey(raw)
}

// Seal seals files (by name) into a body for SealedName.
func (k *BodyKey) Seal(files map[string][]byte) ([]byte, error) {
	if err := checkSealedNames(slices.Collect(maps.Keys(files))); err != nil {
		return nil, fmt.Errorf("seal bundle body: %w", err)
	}
	plain, err := json.Marshal(files) // keys sorted: one body, one plaintext
	if err != nil {
		return nil, fmt.Errorf("seal bundle body: %w", err)
	}
	check := k.s.Check()
	out := append([]byte(sealedMagic), check[:]...)
	return k.s.Seal(out, plain, []byte(sealedMagic))
}

// Open opens a sealed body.
func (k *BodyKey) Open(body []byte) (map[string][]byte, error) {
	rest, ok := bytes.CutPrefix(body, []byte(sealedMagic))
	if !ok || len(rest) < 8 {
		return nil, fmt.Errorf("%w: not a sealed body", ErrSealedBody)
	}
	check := k.s.Check()
	if !bytes.Equal(rest[:8], check[:]) {
		return nil, fmt.Errorf("%w: sealed under another bundle key", ErrSealedBody)
	}
	plain, err := k.s.Open(nil, rest[8:], []byte(sealedMagic))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealedBody, err)
	}
	var files map[string][]byte
	dec := json.NewDecoder(bytes.NewReader(plain))
	if err := dec.Decode(&files); err != nil || dec.More() || files == nil {
		return nil, fmt.Errorf("%w: its contents are not a set of files", ErrSealedBody)
	}
	if err := checkSealedNames(slices.Collect(maps.Keys(files))); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealedBody, err)
	}
	return files, nil
}

func checkSealedNames(names []string) error {
	if len(names) < 1 || len(names) > MaxFiles {
		return fmt.Errorf("1 to %d sealed files", MaxFiles)
	}
	for _, n := range names {
		if !ValidName(n) || n == SealedName {
			return errors.New("a sealed file's name must be lower-case letters, digits and ._- (up to 64), not " + SealedName)
		}
	}
	return nil
}

// Opened returns every file of the bundle, its sealed body opened with k
// (which may be nil for a bundle without one): the files in the clear and
// the sealed ones, which may not share a name. A bundle with a sealed
// body and no key, or one that does not open, is an error wrapping
// ErrNoBodyKey or ErrSealedBody: its zones cannot be read, and a vehicle
// must not take the bundle without them.
func (b *Bundle) Opened(k *BodyKey) (map[string][]byte, error) {
	out := maps.Clone(b.contents)
	sealed, ok := out[SealedName]
	if !ok {
		return out, nil
	}
	delete(out, SealedName)
	if k == nil {
		return nil, ErrNoBodyKey
	}
	inner, err := k.Open(sealed)
	if err != nil {
		return nil, err
	}
	for name, data := range inner {
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: %s both sealed and in the clear", ErrSealedBody, name)
		}
		out[name] = data
	}
	return out, nil
}
