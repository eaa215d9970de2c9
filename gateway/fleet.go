package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
)

// storeMagic starts the sealed file that keeps the last good bundle.
const (
	storeMagic = "quietzone-bundle-store 1\n"
	storeName  = "bundle.sealed"
	storeLabel = "quietzone bundle store"
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
// stops a bundle from being applied (delivered late, or replayed), not
// from being kept.
type Fleet struct {
	keys    []bundle.PublicKey
	profile string
	vehicle *Profile
	dir     string
	sealer  *atrest.Sealer
	clock   Clock
	audit   Auditor
	log     *slog.Logger
	build   func(pol *uplink.Policy) geofence.Options
	apply   func(ctx context.Context, ix *geofence.Index, p *uplink.Policy) error

	mu sync.Mutex // one bundle at a time
	// current is the bundle in force: its version and digest only, not
	// its contents (the zone list may be megabytes; the index has it).
	current *inForce
	// refused is the digest of the last bundle refused: the same bytes
	// again (a retained message on every reconnection) are refused
	// without another audit entry, so that a bad retained bundle does
	// not fill the log.
	refused [sha256.Size]byte
	// statsMu guards stats alone, so that the status never waits for a
	// bundle being handed to the decision loop.
	statsMu sync.Mutex
	stats   FleetStats
}

type inForce struct {
	version uint64
	digest  [32]byte
}

// FleetStats count bundles; they hold no contents.
type FleetStats struct {
	Version  uint64 // of the bundle in force; 0 for none
	Expires  time.Time
	Applied  uint64
	Rejected uint64
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
	Vehicle *Profile
	// Dir keeps the last good bundle, sealed with StoreKey.
	Dir      string
	StoreKey []byte
	Clock    Clock
	Audit    Auditor
	Logger   *slog.Logger
	// ZoneOptions are the options a bundle's zones are built with under
	// its policy (Config.ZoneOptions).
	ZoneOptions func(pol *uplink.Policy) geofence.Options
	// Apply switches the gateway to a bundle's zones and policy
	// (Gateway.SetBundle, or, before the gateway runs, taking them into
	// its options).
	Apply func(ctx context.Context, ix *geofence.Index, p *uplink.Policy) error
}

// NewFleet checks the options.
func NewFleet(o FleetOptions) (*Fleet, error) {
	if len(o.Keys) == 0 || o.Dir == "" || o.ZoneOptions == nil || o.Apply == nil {
		return nil, errors.New("new fleet: keys, a directory, zone options and an apply function are required")
	}
	s, err := atrest.NewSealer(o.StoreKey, storeLabel)
	if err != nil {
		return nil, fmt.Errorf("new fleet: bundle store %w", err)
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Fleet{
		keys: o.Keys, profile: o.Profile, vehicle: o.Vehicle, dir: o.Dir, sealer: s, clock: o.Clock,
		audit: o.Audit, log: o.Logger, build: o.ZoneOptions, apply: o.Apply,
	}, nil
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
// force, applies it. The same bundle delivered again (a retained MQTT
// message after a reconnection) is a no-op. The error says why a bundle
// was refused (wrapping bundle.ErrUnsigned, ErrTampered, ErrUnknownKey,
// ErrMalformed, or ErrExpired, ErrRollback, ErrNotForThis, ErrContents);
// it holds no contents of the bundle.
func (f *Fleet) Offer(ctx context.Context, data []byte, source string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	digest := sha256.Sum256(data)
	if digest == f.refused {
		return fmt.Errorf("bundle from %s: %w", source, ErrRefusedBefore)
	}
	refuse := func(version uint64, err error) error {
		f.refused = digest
		return f.reject(now, source, version, err)
	}
	b, err := bundle.Open(data, f.keys)
	if err != nil {
		return refuse(0, err)
	}
	if f.current != nil && b.Digest == f.current.digest {
		return nil
	}
	switch {
	case !now.Before(b.Expires):
		return refuse(b.Version, fmt.Errorf("%w at %s", ErrExpired, b.Expires.Format(time.RFC3339)))
	case f.current != nil && b.Version <= f.current.version:
		return refuse(b.Version, fmt.Errorf("%w: %d, in force %d", ErrRollback, b.Version, f.current.version))
	case !b.ForProfile(f.profile):
		return refuse(b.Version, ErrNotForThis)
	}
	ix, pol, err := f.contents(b)
	if err != nil {
		return refuse(b.Version, err)
	}
	if err := f.apply(ctx, ix, pol); err != nil {
		return fmt.Errorf("apply bundle %d: %w", b.Version, err)
	}
	f.applied(now, source, b)
	if err := f.store(data); err != nil {
		// It runs; after a restart the vehicle would fall back to the
		// bundle stored before, and take this one again when it is
		// delivered again.
		f.log.Error("last good bundle not stored", "version", b.Version, "err", err)
	}
	return nil
}

// OfferFile reads a bundle file and offers it.
func (f *Fleet) OfferFile(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	return f.Offer(ctx, data, SourceFile)
}

// LoadStored applies the last good bundle kept in the directory, if
// there is one. Its signature is checked again (the pinned keys may
// have changed) but not its expiry (see Fleet). It reports whether one
// was applied.
func (f *Fleet) LoadStored(ctx context.Context) (bool, error) {
	sealed, err := os.ReadFile(filepath.Join(f.dir, storeName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load stored bundle: %w", err)
	}
	data, err := f.unseal(sealed)
	if err != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return false, f.reject(f.clock.Now(), SourceStored, 0, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	b, err := bundle.Open(data, f.keys)
	if err != nil {
		return false, f.reject(now, SourceStored, 0, err)
	}
	if !b.ForProfile(f.profile) { // the vehicle's profile changed since
		return false, f.reject(now, SourceStored, b.Version, ErrNotForThis)
	}
	ix, pol, err := f.contents(b)
	if err != nil {
		return false, f.reject(now, SourceStored, b.Version, err)
	}
	if err := f.apply(ctx, ix, pol); err != nil {
		return false, fmt.Errorf("apply stored bundle %d: %w", b.Version, err)
	}
	if !now.Before(b.Expires) {
		f.log.Warn("the stored bundle has expired; it stays in force until a newer one comes", "version", b.Version)
	}
	f.applied(now, SourceStored, b)
	return true, nil
}

// contents loads a bundle's policy and zones.
func (f *Fleet) contents(b *bundle.Bundle) (*geofence.Index, *uplink.Policy, error) {
	for _, file := range b.Files {
		if file.Name != bundleZones && file.Name != bundlePolicy {
			return nil, nil, fmt.Errorf("%w: a file %q this vehicle does not read", ErrContents, file.Name)
		}
	}
	pdata, okP := b.File(bundlePolicy)
	zdata, okZ := b.File(bundleZones)
	if !okP || !okZ {
		return nil, nil, fmt.Errorf("%w: a bundle needs both zones and policy", ErrContents)
	}
	pol, warnings, err := ParsePolicyFor("bundle:policy", pdata, f.vehicle)
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

func (f *Fleet) applied(now time.Time, source string, b *bundle.Bundle) {
	f.current = &inForce{version: b.Version, digest: b.Digest}
	f.statsMu.Lock()
	f.stats.Version, f.stats.Expires = b.Version, b.Expires
	f.stats.Applied++
	f.statsMu.Unlock()
	f.log.Info("policy bundle applied", "version", b.Version, "source", source, "expires", b.Expires)
	f.event(now, AuditPolicyApplied, fmt.Sprintf("version %d from %s", b.Version, source))
}

// reject records a refused bundle. The audit reason and the log line
// name the cause only: an error from a bundle's zones may quote a zone,
// so its detail is logged at debug level alone.
func (f *Fleet) reject(now time.Time, source string, version uint64, err error) error {
	f.statsMu.Lock()
	f.stats.Rejected++
	f.statsMu.Unlock()
	cause := rejectCause(err)
	f.log.Warn("policy bundle rejected", "source", source, "version", version, "cause", cause)
	f.log.Debug("policy bundle rejected", "err", err)
	f.event(now, AuditPolicyRejected, fmt.Sprintf("%s from %s (version %d)", cause, source, version))
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
		{ErrExpired, "expired"},
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

func (f *Fleet) event(now time.Time, kind AuditKind, reason string) {
	if f.audit != nil {
		f.audit.Audit(AuditEvent{Time: now, Kind: kind, Reason: reason})
	}
}

var errStoreFormat = errors.New("not a sealed bundle store")

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

func (f *Fleet) unseal(sealed []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(storeMagic))
	if !ok || len(rest) < 8 {
		return nil, errStoreFormat
	}
	check := f.sealer.Check()
	if !bytes.Equal(rest[:8], check[:]) {
		return nil, fmt.Errorf("%w: sealed with another key", atrest.ErrOpen)
	}
	data, err := f.sealer.Open(nil, rest[8:], []byte(storeMagic))
	if err != nil {
		return nil, err
	}
	return data, nil
}
