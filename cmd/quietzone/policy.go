package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"quietzone/gateway"
	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
)

// policy holds the fleet's tools for signed policy bundles: a key pair,
// signing zones and a policy into a bundle, and checking a bundle as a
// vehicle would.
func policy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: quietzone policy keygen --out PREFIX | sign [flags] | verify --pub FILE BUNDLE"
	if len(args) == 0 {
		fmt.Fprintln(stderr, use)
		return usageError{"policy: want keygen, sign or verify"}
	}
	switch args[0] {
	case "keygen":
		return policyKeygen(args[1:], stdout, stderr)
	case "sign":
		return policySign(args[1:], stdout, stderr, time.Now())
	case "verify":
		return policyVerify(args[1:], stdout, stderr, time.Now())
	}
	fmt.Fprintln(stderr, use)
	return usageError{"policy: unknown command " + args[0] + " (want keygen, sign or verify)"}
}

// listFlag is a flag that may be given more than once.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func parseFlags(fs *flag.FlagSet, args []string) error {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	return fs.Parse(pos) // positional arguments stay in fs.Args()
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// policyKeygen writes a new key pair: PREFIX.key (private, 0600) and
// PREFIX.pub (public, what vehicles pin). It never overwrites a key.
func policyKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("policy keygen", stderr)
	out := fs.String("out", "", "write PREFIX.key and PREFIX.pub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError{"policy keygen: --out PREFIX is required"}
	}
	priv, err := bundle.GenerateKey()
	if err != nil {
		return err
	}
	privPEM, err := bundle.MarshalPrivateKey(priv)
	if err != nil {
		return err
	}
	pub := bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))
	pubPEM, err := bundle.MarshalPublicKey(pub.Key)
	if err != nil {
		return err
	}
	if err := writeNew(*out+".key", privPEM, 0o600); err != nil {
		return fmt.Errorf("policy keygen: %w", err)
	}
	if err := writeNew(*out+".pub", pubPEM, 0o644); err != nil {
		os.Remove(*out + ".key")
		return fmt.Errorf("policy keygen: %w", err)
	}
	fmt.Fprintf(stdout, "key %s: private %s.key (keep it off the vehicles), public %s.pub (pin it in fleet.keys)\n", pub.ID, *out, *out)
	return nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// policySign signs zones and a policy into a bundle, after checking that
// both load as a vehicle would load them.
func policySign(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := newFlags("policy sign", stderr)
	key := fs.String("key", "", "private key file (PEM, from policy keygen)")
	zonesFile := fs.String("zones", "", "zone file (GeoJSON)")
	policyFile := fs.String("policy", "", "uplink policy (YAML)")
	version := fs.Uint64("version", 0, "bundle version, above every version signed before")
	expires := fs.String("expires", "720h", "expiry: a duration from now (720h) or an RFC 3339 time")
	out := fs.String("out", "", "bundle file to write")
	var profiles, checkProfiles listFlag
	fs.Var(&profiles, "profile", "vehicle profile name the bundle is for (repeat; none: any)")
	fs.Var(&checkProfiles, "check-profile", "vehicle profile (builtin:NAME or a file) to check the policy against, as such a vehicle will (repeat; needed for custom roles)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *key == "" || *zonesFile == "" || *policyFile == "" || *version == 0 || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError{"policy sign: --key, --zones, --policy, --version and --out are required"}
	}
	exp, err := parseExpiry(*expires, now)
	if err != nil {
		return usageError{"policy sign: --expires: " + err.Error()}
	}
	priv, err := bundle.LoadPrivateKey(*key)
	if err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	files := map[string][]byte{}
	for name, path := range map[string]string{"zones": *zonesFile, "policy": *policyFile} {
		if files[name], err = os.ReadFile(path); err != nil {
			return fmt.Errorf("policy sign: %w", err)
		}
	}
	if err := checkContents(*policyFile, files["policy"], *zonesFile, files["zones"], checkProfiles, stderr); err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	data, err := bundle.Sign(priv, bundle.Manifest{Version: *version, Issued: now, Expires: exp, Profiles: profiles}, files)
	if err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	if err := writeNew(*out, data, 0o644); err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	fmt.Fprintf(stdout, "%s: version %d, expires %s, %d bytes\n", *out, *version, exp.UTC().Format(time.RFC3339), len(data))
	return nil
}

// checkContents loads a policy and zones as a vehicle would: the policy
// for each vehicle profile given (builtin:NAME or a file), or, without
// one, as any vehicle would, naming well-known vehicle roles alone. Roles
// a profile does not map are warnings, written to warn.
func checkContents(policyName string, policy []byte, zonesName string, zones []byte, profiles []string, warn io.Writer) error {
	var pol *uplink.Policy
	if len(profiles) == 0 {
		var err error
		if pol, err = gateway.ParsePolicy(policyName, policy); err != nil {
			return err
		}
	}
	for _, ref := range profiles {
		prof, err := gateway.LoadProfile(ref)
		if err != nil {
			return err
		}
		var warnings []string
		if pol, warnings, err = gateway.ParsePolicyFor(policyName, policy, prof); err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(warn, "warning:", w)
		}
	}
	d := gateway.DefaultDecision()
	_, err := geofence.Parse(zonesName, zones, geofence.Options{ReachM: d.ZoneReachM(pol.PositionMarginM())})
	return err
}

func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, errors.New("must be in the future")
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("want a duration such as 720h or an RFC 3339 time")
	}
	if !t.After(now) {
		return time.Time{}, errors.New("must be in the future")
	}
	return t, nil
}

// policyVerify checks a bundle as a vehicle would: signed by a pinned
// key, whole, not expired, and its contents load. It exits non-zero on
// any failure, saying which.
func policyVerify(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := newFlags("policy verify", stderr)
	var pubs, checkProfiles listFlag
	fs.Var(&pubs, "pub", "public key file to trust (repeat)")
	fs.Var(&checkProfiles, "check-profile", "vehicle profile (builtin:NAME or a file) to check the policy against (repeat; needed for custom roles)")
	minVersion := fs.Uint64("above", 0, "refuse a version not above this one (the one a vehicle runs)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(pubs) == 0 || fs.NArg() != 1 {
		fs.Usage()
		return usageError{"policy verify: --pub FILE and one bundle are required"}
	}
	var keys []bundle.PublicKey
	for _, p := range pubs {
		k, err := bundle.LoadPublicKey(p)
		if err != nil {
			return fmt.Errorf("policy verify: %w", err)
		}
		keys = append(keys, k)
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("policy verify: %w", err)
	}
	b, err := bundle.Open(data, keys)
	if err != nil {
		return fmt.Errorf("policy verify %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "%s: signed by key %s\n  version %d\n  issued  %s\n  expires %s\n", path, b.KeyID, b.Version,
		b.Issued.Format(time.RFC3339), b.Expires.Format(time.RFC3339))
	if len(b.Profiles) > 0 {
		fmt.Fprintf(stdout, "  for profiles %s\n", strings.Join(b.Profiles, ", "))
	}
	for _, f := range b.Files {
		fmt.Fprintf(stdout, "  file %s, %d bytes, sha256 %x\n", f.Name, f.Size, f.SHA256)
	}
	pol, okP := b.File("policy")
	zs, okZ := b.File("zones")
	if !okP || !okZ {
		return fmt.Errorf("policy verify %s: %w: a vehicle needs both zones and policy", path, gateway.ErrContents)
	}
	if err := checkContents(path+":policy", pol, path+":zones", zs, checkProfiles, stdout); err != nil {
		return fmt.Errorf("policy verify %s: %w", path, err)
	}
	if !now.Before(b.Expires) {
		return fmt.Errorf("policy verify %s: %w at %s", path, gateway.ErrExpired, b.Expires.Format(time.RFC3339))
	}
	if b.Version <= *minVersion {
		return fmt.Errorf("policy verify %s: %w: %d, not above %d", path, gateway.ErrRollback, b.Version, *minVersion)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
