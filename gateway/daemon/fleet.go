package daemon

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"strconv"
	"strings"
	"sync"
	"time"

	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// Where a bundle came from, for the audit trail.
const (
	SourceMQTT   = "mqtt"
	SourceFile   = "file"
	SourceStored = "stored"
)

// Bundle files the vehicle reads.
const (
	bundleZones  = "zones"
	bundlePolicy = "policy"
)

// Why a bundle is refused beyond what bundle.Open checks.
var (
	ErrExpired    = errors.New("bundle expired")
	ErrRollback   = errors.New("bundle version is not above the one in force (rollback)")
	ErrNotForThis = errors.New("bundle is not for this vehicle's profile")
	ErrContents   = errors.New("bundle contents do not load")
	// ErrRefusedBefore: the same bytes were refused just before.
	ErrRefusedBefore = errors.New("the same bundle was refused before")
	// ErrTooLarge: larger than the vehicle takes (fleet.max_bundle_mb).
	ErrTooLarge = errors.New("bundle larger than the vehicle takes")
	// ErrFloorLost: the version floor is gone: the stored bundle cannot
	// be told from an older one put back in its place.
	ErrFloorLost = errors.New("the version floor is lost: the stored bundle may be an older one put back")
)

// The files that keep the last good bundle and the version floor, in
// the fleet state directory.
const (
	// storeMagic starts the sealed file that keeps the last good bundle.
	storeMagic = "quietzone-bundle-store 1\n"
	storeName  = "bundle.sealed"
	storeLabel = "quietzone bundle store"
	floorName  = "bundle.floor"
	floorMagic = "quietzone-bundle-floor 1\n"
	// Labels of the keys derived from the fleet state key.
	labelStore = "quietzone/v1 bundle store"
	labelFloor = "quietzone/v1 bundle floor"
	// DefaultMaxBundle is the largest bundle taken without
	// fleet.max_bundle_mb: 10,000 zones make about 6 MiB.
	DefaultMaxBundle = config.DefaultMaxBundleMB << 20
)

// Fleet takes signed policy bundles for a running gateway: it checks
// each against the pinned keys, its expiry, the version in force and the
// vehicle's profile, loads its zones and policy, and only if all is well
// hands them to the gateway in one step (Gateway.SetBundle) and keeps
// the bundle, sealed, as the last good one. A refused bundle changes
// nothing; each outcome is an audit event. Without any good bundle the
// gateway keeps what it started with: under pinned keys and no local
// files, no zones (suppressed) and DenyAll.
//
// A bundle that expires while in force stays in force: it is the last
// good one, and dropping its zones would protect nothing. The expiry
// stops a bundle from being applied (delivered late, replayed, or found
// in the store at a start), not from being kept while the gateway runs.
//
// Rollback: a bundle is applied only if its version is above the one in
// force and at least the version floor: the highest version this vehicle
// applied, kept apart from the store in bundle.floor (HMAC under a key
// derived from the store key, written after each bundle is stored) and
// bound to the audit log, whose policy.applied entries name the version:
// at a start the floor is the larger of the file's and the highest
// version the authenticated audit log applied (FleetOptions.Audited). So
// putting an older bundle.sealed back, or deleting it and offering an
// older bundle, is refused. A floor file that is gone or does not
// authenticate is a lost floor: the stored bundle is not applied (the
// gateway stays without zones, suppressed) and the floor is the higher
// of the audit log's version and the stored one's: only a bundle at least
// as new, from MQTT or the bundle file, is taken. One case is spared: the
// first start after the upgrade to version floors, told by an audit log
// without a keyed policy.applied entry that names a version: the stored
// bundle is applied if it is not below that version, and the floor
// written.
type Fleet struct {
	keys      []bundle.PublicKey
	profile   string
	vehicle   *config.Profile
	dir       string
	sealer    *atrest.Sealer
	old       []*atrest.Sealer // of earlier versions' raw store keys
	floorKey  []byte
	audited   Applied
	maxBundle int64
	clock     gateway.Clock
	audit     gateway.Auditor
	log       *slog.Logger
	build     func(pol *uplink.Policy) geofence.Options
	apply     func(ctx context.Context, ix *geofence.Index, p *uplink.Policy) error
	sealKey   func(k *uplink.SealKey) // sealkey.go

	mu sync.Mutex // one bundle at a time
	// current is the bundle in force: its version and header digest
	// only, not its contents (the zone list may be megabytes; the index
	// has it).
	current *inForce
	// floor is the lowest version that may be applied (see Fleet).
	floor uint64
	// refusedHead and refused are the digests of the last bundles
	// refused before and after their signature verified (of the header,
	// bundle.MaxHeaderLen bytes, before): the same bytes again (a
	// retained message on every reconnection) are refused without
	// another audit entry, so that a bad retained bundle does not fill
	// the log, and without hashing more than the header of one that is
	// not signed.
	refusedHead, refused [sha256.Size]byte
	// statsMu guards stats alone, so that the status never waits for a
	// bundle being handed to the decision loop.
	statsMu sync.Mutex
	stats   FleetStats
}

// Applied is what an audit log says of the bundles a vehicle applied,
// from its policy.applied entries that pass every check (audit.Verify).
type Applied struct {
	// Version is the highest version they name.
	Version uint64
	// Keyed: one of them carries a MAC that verified: the vehicle ran
	// with its keys, and so kept a floor file, since.
	Keyed bool
}

type inForce struct {
	version uint64
	// head is the digest of the bundle's header (manifest and
	// signature), size its length: a verified header fixes the bodies'
	// digests, so the same header and length are the same bundle (or one
	// whose bodies do not match, which would be refused anyway).
	head [sha256.Size]byte
	size int
}

// FleetStats count bundles; they hold no contents.
type FleetStats struct {
	Version  uint64 // of the bundle in force; 0 for none
	Expires  time.Time
	Applied  uint64
	Rejected uint64
	// Floor is the lowest version the vehicle takes.
	Floor uint64
	// Refused is the last bundle refused: its version (0 when it was
	// refused before its version was read) and the cause, in words that
	// hold no contents (rejectCause). It goes up in the audit summary.
	Refused uplink.Refusal
}

// FleetOptions build a Fleet.
type FleetOptions struct {
	Keys []bundle.PublicKey
	// Profile is the vehicle profile's name, matched against a bundle's
	// profile lines.
	Profile string
	// Vehicle is the vehicle's profile: a bundle's policy may allow only
	// what it says is vehicle data (ParsePolicyFor). Without one, a
	// policy may name well-known vehicle roles alone.
	Vehicle *config.Profile
	// Dir keeps the last good bundle and the version floor, under keys
	// derived from StoreKey (Keys.Fleet). OldStoreKeys open a bundle
	// stored by an earlier version under a raw key; it is stored again
	// under the derived key.
	Dir          string
	StoreKey     []byte
	OldStoreKeys [][]byte
	// Audited is what the audit log says of the bundles this vehicle
	// applied; zero for nothing.
	Audited Applied
	// MaxBundle bounds a bundle, in bytes; 0 is DefaultMaxBundle.
	MaxBundle int64
	Clock     gateway.Clock
	Audit     gateway.Auditor
	Logger    *slog.Logger
	// ZoneOptions are the options a bundle's zones are built with under
	// its policy (Config.ZoneOptions).
	ZoneOptions func(pol *uplink.Policy) geofence.Options
	// Apply switches the gateway to a bundle's zones and policy
	// (Gateway.SetBundle, or, before the gateway runs, taking them into
	// its options).
	Apply func(ctx context.Context, ix *geofence.Index, p *uplink.Policy) error
	// SealKey, when set, takes the fleet's sealing key from a bundle that
	// carries one (seal.pub), once the bundle is applied (sealkey.go).
	SealKey func(k *uplink.SealKey)
}

// NewFleet checks the options.
func NewFleet(o FleetOptions) (*Fleet, error) {
	if len(o.Keys) == 0 || o.Dir == "" || o.ZoneOptions == nil || o.Apply == nil {
		return nil, errors.New("new fleet: keys, a directory, zone options and an apply function are required")
	}
	if len(o.StoreKey) != atrest.KeyLen {
		return nil, fmt.Errorf("new fleet: store key: %d bytes, want %d", len(o.StoreKey), atrest.KeyLen)
	}
	s, err := atrest.NewSealer(atrest.DeriveKey(o.StoreKey, labelStore), storeLabel)
	if err != nil {
		return nil, fmt.Errorf("new fleet: bundle store %w", err)
	}
	var old []*atrest.Sealer
	for _, k := range o.OldStoreKeys {
		if k == nil {
			continue
		}
		s, err := atrest.NewSealer(k, storeLabel)
		if err != nil {
			return nil, fmt.Errorf("new fleet: old bundle store %w", err)
		}
		old = append(old, s)
	}
	if o.MaxBundle <= 0 {
		o.MaxBundle = DefaultMaxBundle
	}
	if o.Clock == nil {
		o.Clock = gateway.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Fleet{
		keys: o.Keys, profile: o.Profile, vehicle: o.Vehicle, dir: o.Dir, sealer: s, old: old,
		floorKey: atrest.DeriveKey(o.StoreKey, labelFloor), audited: o.Audited, maxBundle: o.MaxBundle,
		clock: o.Clock, audit: o.Audit, log: o.Logger, build: o.ZoneOptions, apply: o.Apply,
		sealKey: o.SealKey, floor: o.Audited.Version,
	}
	f.stats.Floor = f.floor
	return f, nil
}

// SetApply replaces the function that switches the gateway: the daemon
// starts with one that fills in the gateway's options and, once the
// gateway exists, uses Gateway.SetBundle.
func (f *Fleet) SetApply(apply func(ctx context.Context, ix *geofence.Index, p *uplink.Policy) error) {
	f.mu.Lock()
	f.apply = apply
	f.mu.Unlock()
}

// Stats returns the counters.
func (f *Fleet) Stats() FleetStats {
	f.statsMu.Lock()
	defer f.statsMu.Unlock()
	return f.stats
}

// Offer checks a bundle and, if it is good and newer than the one in
// force and not below the floor, applies it. The same bundle delivered
// again (a retained MQTT message after a reconnection) is a no-op. The
// error says why a bundle was refused (wrapping bundle.ErrUnsigned,
// ErrTampered, ErrUnknownKey, ErrMalformed, or ErrTooLarge, ErrExpired,
// ErrRollback, ErrNotForThis, ErrContents); it holds no contents of the
// bundle.
//
// What it costs: a bundle larger than MaxBundle is refused on its length;
// of the rest, only the header (bundle.MaxHeaderLen bytes) is read and
// hashed and its signature checked before anything else: the bodies are
// hashed only when a pinned key signed them.
func (f *Fleet) Offer(ctx context.Context, data []byte, source string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	head := headerDigest(data)
	if head == f.refusedHead {
		return fmt.Errorf("bundle from %s: %w", source, ErrRefusedBefore)
	}
	refuseHead := func(err error) error {
		f.refusedHead = head
		return f.reject(now, source, 0, err)
	}
	if int64(len(data)) > f.maxBundle {
		return refuseHead(fmt.Errorf("%w: %d bytes, more than %d (fleet.max_bundle_mb)", ErrTooLarge, len(data), f.maxBundle))
	}
	b, err := bundle.ParseManifest(data)
	if err != nil {
		return refuseHead(err)
	}
	if err := b.Verify(f.keys); err != nil {
		return refuseHead(err)
	}
	if c := f.current; c != nil && head == c.head && len(data) == c.size {
		return nil
	}
	if err := b.CheckBodies(); err != nil {
		f.refused = sha256.Sum256(data)
		return f.reject(now, source, b.Version, err)
	}
	if b.Digest == f.refused {
		return fmt.Errorf("bundle from %s: %w", source, ErrRefusedBefore)
	}
	refuse := func(err error) error {
		f.refused = b.Digest
		return f.reject(now, source, b.Version, err)
	}
	switch {
	case !now.Before(b.Expires):
		return refuse(fmt.Errorf("%w at %s", ErrExpired, b.Expires.Format(time.RFC3339)))
	case f.current != nil && b.Version <= f.current.version:
		return refuse(fmt.Errorf("%w: %d, in force %d", ErrRollback, b.Version, f.current.version))
	case b.Version < f.floor:
		return refuse(fmt.Errorf("%w: %d, below the version floor %d", ErrRollback, b.Version, f.floor))
	case !b.ForProfile(f.profile):
		return refuse(ErrNotForThis)
	}
	ix, pol, err := f.contents(b)
	if err != nil {
		return refuse(err)
	}
	if err := f.apply(ctx, ix, pol); err != nil {
		return fmt.Errorf("apply bundle %d: %w", b.Version, err)
	}
	f.applied(now, source, b, head, len(data))
	// The bundle first, then the floor: a crash between the two leaves a
	// stored bundle above the floor, which loads (and raises the floor).
	if err := f.store(data); err != nil {
		// It runs; after a restart the vehicle would fall back to the
		// bundle stored before if the floor allows it, or stay without
		// one, and take this one again when it is delivered again.
		f.log.Error("last good bundle not stored", "version", b.Version, "err", err)
	}
	f.raiseFloor(b.Version)
	return nil
}

// headerDigest is the digest of a bundle's length and of what of it is
// read before its signature is verified: all that a refusal before then
// depends on.
func headerDigest(data []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	h.Write(data[:min(len(data), bundle.MaxHeaderLen)])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// raiseFloor keeps v as the floor, in memory and on disk, if it is above
// the floor.
func (f *Fleet) raiseFloor(v uint64) {
	if v <= f.floor {
		if _, err := f.readFloor(); err == nil {
			return
		}
	}
	f.floor = max(f.floor, v)
	f.statsMu.Lock()
	f.stats.Floor = f.floor
	f.statsMu.Unlock()
	if err := f.writeFloor(f.floor); err != nil {
		// In memory the floor holds; after a restart the audit log's
		// policy.applied entries stand in for it.
		f.log.Error("version floor not written", "version", f.floor, "err", err)
	}
}

// OfferFile reads a bundle file and offers it.
func (f *Fleet) OfferFile(ctx context.Context, path string) error {
	data, err := atrest.Read(path, atrest.Bundle.Bounded(f.maxBundle))
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	return f.Offer(ctx, data, SourceFile)
}

// LoadStored applies the last good bundle kept in the directory, if
// there is one and the version floor allows it (see Fleet). Its signature
// is checked again (the pinned keys may have changed), and its expiry: an
// expired stored bundle is not applied at a start. It reports whether one
// was applied.
func (f *Fleet) LoadStored(ctx context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	onDisk, ferr := f.readFloor()
	lost := ferr != nil
	if lost && !errors.Is(ferr, fs.ErrNotExist) {
		f.log.Warn("version floor unreadable: held to the audit log's", "err", ferr)
	}
	f.floor = max(f.floor, onDisk)
	f.statsMu.Lock()
	f.stats.Floor = f.floor
	f.statsMu.Unlock()
	sealed, err := atrest.Read(filepath.Join(f.dir, storeName), atrest.State.Named("stored bundle").Bounded(f.maxBundle+1024))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load stored bundle: %w", err)
	}
	data, oldKey, err := f.unseal(sealed)
	if err != nil {
		return false, f.reject(now, SourceStored, 0, err)
	}
	b, err := bundle.Open(data, f.keys)
	if err != nil {
		return false, f.reject(now, SourceStored, 0, err)
	}
	if !b.ForProfile(f.profile) { // the vehicle's profile changed since
		return false, f.reject(now, SourceStored, b.Version, ErrNotForThis)
	}
	if lost && (f.audited.Keyed || f.audited.Version == 0) {
		// The floor is gone though this vehicle kept one (its audit log
		// is keyed: not the first start after an upgrade), or nothing
		// says which bundle was last in force: the stored one may be an
		// older one put back, and the log cut short before the newer
		// one's entry. Not applied; only a bundle at least as new as
		// anything known is taken from now on.
		f.floor = max(f.floor, b.Version)
		f.statsMu.Lock()
		f.stats.Floor = f.floor
		f.statsMu.Unlock()
		return false, f.reject(now, SourceStored, b.Version, ErrFloorLost)
	}
	if b.Version < f.floor {
		return false, f.reject(now, SourceStored, b.Version, fmt.Errorf("%w: stored %d, below the version floor %d", ErrRollback, b.Version, f.floor))
	}
	if !now.Before(b.Expires) {
		return false, f.reject(now, SourceStored, b.Version, fmt.Errorf("%w at %s", ErrExpired, b.Expires.Format(time.RFC3339)))
	}
	ix, pol, err := f.contents(b)
	if err != nil {
		return false, f.reject(now, SourceStored, b.Version, err)
	}
	if err := f.apply(ctx, ix, pol); err != nil {
		return false, fmt.Errorf("apply stored bundle %d: %w", b.Version, err)
	}
	f.applied(now, SourceStored, b, headerDigest(data), len(data))
	if oldKey {
		if err := f.store(data); err != nil {
			f.log.Error("stored bundle not sealed again under the derived key", "err", err)
		}
	}
	f.raiseFloor(b.Version)
	return true, nil
}

// contents loads a bundle's policy and zones, and checks the sealing key
// it may carry (bundleSealKey).
func (f *Fleet) contents(b *bundle.Bundle) (*geofence.Index, *uplink.Policy, error) {
	for _, file := range b.Files {
		if file.Name != bundleZones && file.Name != bundlePolicy && file.Name != bundleSeal {
			return nil, nil, fmt.Errorf("%w: a file %q this vehicle does not read", ErrContents, file.Name)
		}
	}
	if _, err := bundleSealKey(b); err != nil {
		return nil, nil, err
	}
	pdata, okP := b.File(bundlePolicy)
	zdata, okZ := b.File(bundleZones)
	if !okP || !okZ {
		return nil, nil, fmt.Errorf("%w: a bundle needs both zones and policy", ErrContents)
	}
	pol, warnings, err := config.ParsePolicyFor("bundle:policy", pdata, f.vehicle)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrContents, err)
	}
	for _, w := range warnings { // role names, no contents of the zones
		f.log.Info("policy bundle names a role this vehicle does not have", "warning", w)
	}
	ix, err := geofence.Parse("bundle:zones", zdata, f.build(pol))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrContents, err)
	}
	return ix, pol, nil
}

func (f *Fleet) applied(now time.Time, source string, b *bundle.Bundle, head [sha256.Size]byte, size int) {
	f.current = &inForce{version: b.Version, head: head, size: size}
	if k, _ := bundleSealKey(b); k != nil && f.sealKey != nil { // contents checked it
		f.sealKey(k)
	}
	f.statsMu.Lock()
	f.stats.Version, f.stats.Expires = b.Version, b.Expires
	f.stats.Applied++
	f.statsMu.Unlock()
	f.log.Info("policy bundle applied", "version", b.Version, "source", source, "expires", b.Expires)
	f.event(now, gateway.AuditPolicyApplied, fmt.Sprintf("version %d from %s", b.Version, source))
}

// reject records a refused bundle. The audit reason and the log line
// name the cause only: an error from a bundle's zones may quote a zone,
// so its detail is logged at debug level alone.
func (f *Fleet) reject(now time.Time, source string, version uint64, err error) error {
	cause := rejectCause(err)
	f.statsMu.Lock()
	f.stats.Rejected++
	f.stats.Refused = uplink.Refusal{Version: version, Cause: cause}
	f.statsMu.Unlock()
	f.log.Warn("policy bundle rejected", "source", source, "version", version, "cause", cause)
	f.log.Debug("policy bundle rejected", "err", err)
	f.event(now, gateway.AuditPolicyRejected, fmt.Sprintf("%s from %s (version %d)", cause, source, version))
	return fmt.Errorf("bundle from %s rejected: %w", source, err)
}

// rejectCause names why a bundle was refused in words that hold no
// contents.
func rejectCause(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{bundle.ErrUnsigned, "unsigned"},
		{bundle.ErrUnknownKey, "unknown key"},
		{bundle.ErrTampered, "tampered"},
		{bundle.ErrMalformed, "malformed"},
		{ErrTooLarge, "too large"},
		{ErrExpired, "expired"},
		{ErrFloorLost, "floor lost"},
		{ErrRollback, "rollback"},
		{ErrNotForThis, "other profile"},
		{ErrContents, "bad contents"},
		{atrest.ErrOpen, "stored copy does not unseal"},
		{errStoreFormat, "stored copy malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "unreadable"
}

func (f *Fleet) event(now time.Time, kind gateway.AuditKind, reason string) {
	if f.audit != nil {
		f.audit.Audit(gateway.AuditEvent{Time: now, Kind: kind, Reason: reason})
	}
}

var (
	errStoreFormat = errors.New("not a sealed bundle store")
	errFloorFormat = errors.New("not a version floor, or damaged")
)

// store keeps a bundle as the last good one: magic, the key's check,
// then the bundle sealed (the magic is the associated data).
func (f *Fleet) store(data []byte) error {
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("store bundle: %w", err)
	}
	check := f.sealer.Check()
	out := append([]byte(storeMagic), check[:]...)
	out, err := f.sealer.Seal(out, data, []byte(storeMagic))
	if err != nil {
		return fmt.Errorf("store bundle: %w", err)
	}
	return atrest.WriteFile(filepath.Join(f.dir, storeName), out, 0o600)
}

// unseal opens what store wrote, under the key or an old one (oldKey).
func (f *Fleet) unseal(sealed []byte) (data []byte, oldKey bool, err error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(storeMagic))
	if !ok || len(rest) < 8 {
		return nil, false, errStoreFormat
	}
	for i, s := range append([]*atrest.Sealer{f.sealer}, f.old...) {
		check := s.Check()
		if !bytes.Equal(rest[:8], check[:]) {
			continue
		}
		data, err := s.Open(nil, rest[8:], []byte(storeMagic))
		return data, i > 0, err
	}
	return nil, false, fmt.Errorf("%w: sealed with another key", atrest.ErrOpen)
}

// The version floor's file:
//
//	quietzone-bundle-floor 1
//	version 42
//	mac <64 hex: HMAC-SHA256 of the two lines above, newlines included>

func (f *Fleet) floorMAC(body []byte) []byte {
	m := hmac.New(sha256.New, f.floorKey)
	m.Write(body)
	return m.Sum(nil)
}

// writeFloor replaces the floor file, whole or not at all.
func (f *Fleet) writeFloor(v uint64) error {
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("write version floor: %w", err)
	}
	body := fmt.Appendf(nil, "%sversion %d\n", floorMagic, v)
	out := fmt.Appendf(body, "mac %x\n", f.floorMAC(body))
	return atrest.WriteFile(filepath.Join(f.dir, floorName), out, 0o600)
}

// readFloor reads the floor file: an error wrapping fs.ErrNotExist when
// there is none, errFloorFormat or atrest.ErrOpen when it is damaged or
// not authentic.
func (f *Fleet) readFloor() (uint64, error) {
	data, err := atrest.Read(filepath.Join(f.dir, floorName), atrest.State.Named("version floor").Bounded(256))
	if err != nil {
		return 0, err
	}
	return parseFloor(data, f.floorMAC)
}

// parseFloor reads a floor file's bytes, checking its MAC with mac.
func parseFloor(data []byte, mac func([]byte) []byte) (uint64, error) {
	rest, ok := bytes.CutPrefix(data, []byte(floorMagic+"version "))
	if !ok {
		return 0, errFloorFormat
	}
	num, rest, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return 0, errFloorFormat
	}
	v, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil || strconv.FormatUint(v, 10) != string(num) || v > 1<<63-1 {
		return 0, errFloorFormat
	}
	macHex, ok := bytes.CutPrefix(rest, []byte("mac "))
	if !ok || len(macHex) != 2*sha256.Size+1 || macHex[len(macHex)-1] != '\n' || !lowerHex(macHex[:len(macHex)-1]) {
		return 0, errFloorFormat
	}
	got, _ := hex.DecodeString(string(macHex[:len(macHex)-1]))
	if !hmac.Equal(got, mac(data[:len(data)-len(rest)])) {
		return 0, fmt.Errorf("%w: the version floor", atrest.ErrOpen)
	}
	return v, nil
}

// lowerHex reports whether b is lower-case hexadecimal: the one spelling a
// MAC is written in.
func lowerHex(b []byte) bool {
	_, err := hex.DecodeString(string(b))
	return err == nil && strings.ToLower(string(b)) == string(b)
}
