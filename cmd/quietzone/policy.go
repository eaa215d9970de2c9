package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"quietzone/cmd/internal/cli"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"strings"
	"time"

	"quietzone/gateway"
	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// policy holds the fleet's tools for signed policy bundles: a key pair,
// signing zones and a policy into a bundle, checking a bundle as a
// vehicle would, and enrolling a vehicle.
func policy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: quietzone policy keygen --out PREFIX | sign [flags] | verify --pub FILE [--profile REF] [--bundle-key FILE] BUNDLE | enrol --secret FILE --vin VIN --out FILE"
	if len(args) == 0 {
		fmt.Fprintln(stderr, use)
		return cli.UsageError("policy: want keygen, sign, verify or enrol")
	}
	switch args[0] {
	case "keygen":
		return policyKeygen(args[1:], stdout, stderr)
	case "enrol":
		return policyEnrol(args[1:], stdout, stderr)
	case "sign":
		return policySign(args[1:], stdout, stderr, time.Now())
	case "verify":
		return policyVerify(args[1:], stdout, stderr, time.Now())
	}
	fmt.Fprintln(stderr, use)
	return cli.UsageError("policy: unknown command " + args[0] + " (want keygen, sign, verify or enrol)")
}

// policyEnrol writes a vehicle's identity (config.Enrol): its pseudonym
// and root secret, derived from the fleet's pseudonym secret, which stays
// with the fleet. The identity goes to the vehicle (mode 0600, beside its
// TLS key), named by vehicle.identity_file. It never overwrites a file.
func policyEnrol(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("policy enrol", stderr)
	secret := fs.String("secret", "", "the fleet's pseudonym secret (at least 16 bytes, mode 0600; an old uplink.fleet_key_file keeps the pseudonyms)")
	vin := fs.String("vin", "", "the vehicle's VIN")
	out := fs.String("out", "", "identity file to write (0600)")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *secret == "" || *vin == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return cli.UsageError("policy enrol: --secret, --vin and --out are required (a new fleet secret: head -c 32 /dev/urandom > FILE; chmod 600 FILE)")
	}
	key, err := atrest.Read(*secret, atrest.Secret.Named("fleet secret"))
	if err != nil {
		return fmt.Errorf("policy enrol: %w", err)
	}
	if err := atrest.RefuseSigningKey(*secret, "fleet secret", key); err != nil {
		return fmt.Errorf("policy enrol: %w", err)
	}
	id, err := config.Enrol(key, *vin)
	if err != nil {
		return fmt.Errorf("policy enrol: %w", err)
	}
	if err := writeNew(*out, id.Marshal(), 0o600); err != nil {
		return fmt.Errorf("policy enrol: %w", err)
	}
	fmt.Fprintf(stdout, "%s: identity of pseudonym %s (0600): provision it on the vehicle only, beside its TLS key, and name it in vehicle.identity_file\n", *out, id.Pseudonym)
	return nil
}

// policyKeygen writes a new key pair: PREFIX.key (private, 0600) and
// PREFIX.pub (public, what vehicles pin). It never overwrites a key.
func policyKeygen(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("policy keygen", stderr)
	out := fs.String("out", "", "write PREFIX.key and PREFIX.pub")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return cli.UsageError("policy keygen: --out PREFIX is required")
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
	fs := cli.NewFlags("policy sign", stderr)
	key := fs.String("key", "", "private key file (PEM, from policy keygen)")
	zonesFile := fs.String("zones", "", "zone file (GeoJSON)")
	policyFile := fs.String("policy", "", "uplink policy (YAML)")
	version := fs.Uint64("version", 0, "bundle version, above every version signed before")
	expires := fs.String("expires", "720h", "expiry: a duration from now (720h) or an RFC 3339 time")
	out := fs.String("out", "", "bundle file to write")
	sealPub := fs.String("seal-pub", "", "the fleet's public sealing key (quietzone-fleet keygen): vehicles seal to it from this bundle on")
	bundleKey := fs.String("bundle-key", "", "the fleet's bundle key (32 bytes, mode 0600; the vehicles' fleet.bundle_key_file): seal the zones and their covers under it, out of sight of the broker's readers")
	decoys := fs.Int("decoys", -1, "decoy covers per zone (default: the policy's near_zones.decoys, 3)")
	tracksFile := fs.String("tracks", "", "the fleet's past tracks, one GeoJSON LineString a trip: decoys go where their traffic is the real covers'")
	roadsFile := fs.String("roads", "", "where the fleet drives, for the decoys, without tracks: GeoJSON LineStrings")
	regionFlag := fs.String("region", "", "where the fleet drives, for the decoys, without roads: SOUTH,WEST,NORTH,EAST in degrees")
	var profiles, checkProfiles cli.ListFlag
	fs.Var(&profiles, "profile", "vehicle profile name the bundle is for (repeat; none: any)")
	fs.Var(&checkProfiles, "check-profile", "vehicle profile (builtin:NAME or a file) to check the policy against, as such a vehicle will (repeat; needed for custom roles)")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *key == "" || *zonesFile == "" || *policyFile == "" || *version == 0 || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return cli.UsageError("policy sign: --key, --zones, --policy, --version and --out are required")
	}
	exp, err := parseExpiry(*expires, now)
	if err != nil {
		return cli.UsageError("policy sign: --expires: " + err.Error())
	}
	priv, err := bundle.LoadPrivateKey(*key)
	if err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	files := map[string][]byte{}
	for name, path := range map[string]string{"zones": *zonesFile, "policy": *policyFile} {
		kind := atrest.Zones
		if name == "policy" {
			kind = atrest.Policy
		}
		if files[name], err = atrest.Read(path, kind); err != nil {
			return fmt.Errorf("policy sign: %w", err)
		}
	}
	if *sealPub != "" {
		if files["seal.pub"], err = atrest.Read(*sealPub, atrest.PublicKey.Named("fleet public key")); err != nil {
			return fmt.Errorf("policy sign: %w", err)
		}
	}
	if err := checkContents(*policyFile, files["policy"], *zonesFile, files["zones"], checkProfiles, stderr); err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	var bkey *bundle.BodyKey
	covers := 0
	if *bundleKey != "" {
		if bkey, err = bundle.LoadBodyKey(*bundleKey); err != nil {
			return fmt.Errorf("policy sign: %w", err)
		}
		if covers, err = sealZones(files, *policyFile, *zonesFile, bkey, *decoys, ground{*tracksFile, *roadsFile, *regionFlag}); err != nil {
			return fmt.Errorf("policy sign: %w", err)
		}
	} else {
		if *decoys >= 0 || *tracksFile != "" || *roadsFile != "" || *regionFlag != "" {
			return cli.UsageError("policy sign: --decoys, --tracks, --roads and --region choose covers, which need --bundle-key to travel sealed")
		}
		fmt.Fprintln(stderr, "warning: no --bundle-key: the zones travel in the clear, for whoever reads the broker's /policy topic, and without covers")
	}
	data, err := bundle.Sign(priv, bundle.Manifest{Version: *version, Issued: now, Expires: exp, Profiles: profiles}, files)
	if err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	// The bundle as the vehicles will see it: the checks they apply.
	pub := bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))
	b, err := bundle.Open(data, []bundle.PublicKey{pub})
	if err == nil && len(checkProfiles) == 0 {
		err = daemon.CheckSealedBundle(b, bkey, nil, vehicleZoneOptions)
	}
	for _, ref := range checkProfiles {
		if err != nil {
			break
		}
		var prof *config.Profile
		if prof, err = config.LoadProfile(ref); err == nil {
			err = daemon.CheckSealedBundle(b, bkey, prof, vehicleZoneOptions)
		}
	}
	if err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	if err := writeNew(*out, data, 0o644); err != nil {
		return fmt.Errorf("policy sign: %w", err)
	}
	fmt.Fprintf(stdout, "%s: version %d, expires %s, %d bytes\n", *out, *version, exp.UTC().Format(time.RFC3339), len(data))
	if bkey != nil {
		fmt.Fprintf(stdout, "  zones and %d covers (decoys among them) sealed under the bundle key\n", covers)
	}
	return nil
}

// ground is where policy sign places decoys: the fleet's past tracks, its
// roads, or a region (one of them).
type ground struct{ tracks, roads, region string }

// sealZones chooses the zones' covers and decoys (config.MakeCovers) and
// replaces the zones in files by a sealed body holding them and the
// covers. It returns how many covers there are.
func sealZones(files map[string][]byte, policyName, zonesName string, key *bundle.BodyKey, decoys int, g ground) (int, error) {
	pol, err := config.ParsePolicy(policyName, files["policy"])
	if err != nil {
		return 0, err
	}
	zones, err := geofence.Parse(zonesName, files["zones"], vehicleZoneOptions(pol))
	if err != nil {
		return 0, err
	}
	d := gateway.DefaultDecision()
	plan := config.CoverPlan{
		OffsetM:      pol.NearZones.CoverOffsetM,
		ReachM:       d.ZoneReachM(pol.PositionMarginM()),
		LookAheadMps: d.MaxPlausibleKmh / 3.6,
		Decoys:       pol.NearZones.Decoys,
	}
	if decoys >= 0 {
		plan.Decoys = decoys
	}
	given := 0
	for _, f := range []string{g.tracks, g.roads, g.region} {
		if f != "" {
			given++
		}
	}
	switch {
	case given > 1:
		return 0, cli.UsageError("one of --tracks, --roads or --region")
	case g.tracks != "":
		if plan.Tracks, err = config.LoadTracks(g.tracks); err != nil {
			return 0, err
		}
	case g.roads != "":
		if plan.Roads, err = config.LoadRoads(g.roads); err != nil {
			return 0, err
		}
	case g.region != "":
		if plan.Region, err = config.ParseRegion(g.region); err != nil {
			return 0, cli.UsageError("--region: " + err.Error())
		}
	case plan.Decoys > 0:
		return 0, cli.UsageError(fmt.Sprintf("%d decoys a zone: give --tracks FILE (best: decoys as busy as the zones), --roads FILE or --region S,W,N,E for where the fleet drives (or --decoys 0)", plan.Decoys))
	}
	covers, err := config.MakeCovers(zones, plan)
	if err != nil {
		return 0, err
	}
	body, err := key.Seal(map[string][]byte{"zones": files["zones"], "covers": covers})
	if err != nil {
		return 0, err
	}
	delete(files, "zones")
	files[bundle.SealedName] = body
	return zones.Len() * (1 + plan.Decoys), nil
}

// checkContents loads a policy and zones as a vehicle would: the policy
// for each vehicle profile given (builtin:NAME or a file), or, without
// one, as any vehicle would, naming well-known vehicle roles alone. Roles
// a profile does not map are warnings, written to warn. The files they
// came from are named in its errors.
func checkContents(policyName string, policy []byte, zonesName string, zones []byte, profiles []string, warn io.Writer) error {
	var pol *uplink.Policy
	if len(profiles) == 0 {
		var err error
		if pol, err = config.ParsePolicy(policyName, policy); err != nil {
			return err
		}
	}
	for _, ref := range profiles {
		prof, err := config.LoadProfile(ref)
		if err != nil {
			return err
		}
		var warnings []string
		if pol, warnings, err = config.ParsePolicyFor(policyName, policy, prof); err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(warn, "warning:", w)
		}
	}
	_, err := geofence.Parse(zonesName, zones, vehicleZoneOptions(pol))
	return err
}

// vehicleZoneOptions are the options a vehicle with the default decision
// settings builds a bundle's zones with.
func vehicleZoneOptions(pol *uplink.Policy) geofence.Options {
	d := gateway.DefaultDecision()
	return geofence.Options{ReachM: d.ZoneReachM(pol.PositionMarginM())}
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
// key, whole, not expired, for the vehicle's profile, and its contents
// load as the vehicle loads them. The profiles are those given with
// --profile, else those the bundle names, found among the built-in ones.
// It exits non-zero on any failure, saying which.
func policyVerify(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := cli.NewFlags("policy verify", stderr)
	var pubs, profs cli.ListFlag
	fs.Var(&pubs, "pub", "public key file to trust (repeat)")
	fs.Var(&profs, "profile", "vehicle profile to check the bundle for, its policy held against the profile's roles: builtin:NAME or a profile file (repeat; default: the built-in profiles the bundle names)")
	minVersion := fs.Uint64("above", 0, "refuse a version not above this one (the one a vehicle runs)")
	bundleKey := fs.String("bundle-key", "", "the fleet's bundle key, to open a bundle's sealed zones and covers as the vehicles do")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if len(pubs) == 0 || fs.NArg() != 1 {
		fs.Usage()
		return cli.UsageError("policy verify: --pub FILE and one bundle are required")
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
	data, err := atrest.Read(path, atrest.Bundle)
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
	var bkey *bundle.BodyKey
	if *bundleKey != "" {
		if bkey, err = bundle.LoadBodyKey(*bundleKey); err != nil {
			return fmt.Errorf("policy verify: %w", err)
		}
	}
	files, err := b.Opened(bkey)
	if err != nil {
		return fmt.Errorf("policy verify %s: %w", path, err)
	}
	if c, ok := files["covers"]; ok {
		cov, err := config.ParseCovers(path+":covers", c)
		if err != nil {
			return fmt.Errorf("policy verify %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "  zones and %d covers sealed: the covers decide where location is withheld\n", cov.Len())
	} else {
		fmt.Fprintln(stdout, "  no covers: location is withheld by the zones and their buffers alone, and the zones can be read by whoever reads the bundle")
	}
	pol, okP := files["policy"]
	zs, okZ := files["zones"]
	if !okP || !okZ {
		return fmt.Errorf("policy verify %s: %w: a vehicle needs both zones and policy", path, daemon.ErrContents)
	}
	if len(profs) == 0 {
		for _, name := range b.Profiles {
			ref, ok := config.BuiltinProfile(name)
			if !ok {
				return fmt.Errorf("policy verify %s: the bundle is for profile %s, which is not built in: give the vehicle's profile file with --profile", path, name)
			}
			profs = append(profs, ref)
		}
	}
	if err := checkContents(path+":policy", pol, path+":zones", zs, profs, stdout); err != nil {
		return fmt.Errorf("policy verify %s: %w", path, err)
	}
	if len(profs) == 0 {
		if err := daemon.CheckSealedBundle(b, bkey, nil, vehicleZoneOptions); err != nil {
			return fmt.Errorf("policy verify %s: %w", path, err)
		}
		fmt.Fprintln(stdout, "  for every profile (none named; --profile checks it for one)")
	}
	for _, ref := range profs {
		prof, err := config.LoadProfile(ref)
		if err != nil {
			return fmt.Errorf("policy verify %s: %w", path, err)
		}
		if err := daemon.CheckSealedBundle(b, bkey, prof, vehicleZoneOptions); err != nil {
			return fmt.Errorf("policy verify %s: profile %s: %w", path, prof.Name, err)
		}
		fmt.Fprintf(stdout, "  checked for profile %s (%s)\n", prof.Name, ref)
	}
	if !now.Before(b.Expires) {
		return fmt.Errorf("policy verify %s: %w at %s", path, daemon.ErrExpired, b.Expires.Format(time.RFC3339))
	}
	if b.Version <= *minVersion {
		return fmt.Errorf("policy verify %s: %w: %d, not above %d", path, daemon.ErrRollback, b.Version, *minVersion)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
