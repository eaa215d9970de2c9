package daemon

import (
	"fmt"
	"log/slog"
	"quietzone/gateway/config"
	"strings"

	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
)

// CheckBundle checks an opened (signed, whole) bundle as a vehicle with
// profile prof takes it, short of its expiry and version, which depend on
// the day and on the vehicle: the bundle is for the profile, and its
// contents load exactly as the vehicle loads them (only zones and a
// policy, the policy allowing only what prof says is vehicle data; the
// zones built under the policy with zo). A nil prof checks the contents
// as any vehicle would: a policy naming well-known vehicle roles alone. `policy sign` and `policy verify` run it, so that a
// bundle they pass is one the vehicle applies.
func CheckBundle(b *bundle.Bundle, prof *config.Profile, zo func(*uplink.Policy) geofence.Options) error {
	return CheckSealedBundle(b, nil, prof, zo)
}

// CheckSealedBundle is CheckBundle for a bundle whose sealed body key
// opens (nil: a bundle with a sealed body is refused, as a vehicle
// without the key refuses it).
func CheckSealedBundle(b *bundle.Bundle, key *bundle.BodyKey, prof *config.Profile, zo func(*uplink.Policy) geofence.Options) error {
	if prof != nil && !b.ForProfile(prof.Name) {
		return fmt.Errorf("%w: it is for %s, the vehicle's profile is %s", ErrNotForThis, strings.Join(b.Profiles, ", "), prof.Name)
	}
	_, _, err := OpenBundle(b, key, prof, zo)
	return err
}

// OpenBundle loads an opened (signed, whole) bundle's zones, with the
// covers its sealed body holds, and its policy exactly as a vehicle with
// profile prof and bundle key key does (the vehicle's own code), short of
// the profile, expiry and version checks: what the bench's vehicles run
// on.
func OpenBundle(b *bundle.Bundle, key *bundle.BodyKey, prof *config.Profile, zo func(*uplink.Policy) geofence.Options) (*geofence.Index, *uplink.Policy, error) {
	f := &Fleet{build: zo, vehicle: prof, bodyKey: key, log: slog.New(slog.DiscardHandler)}
	return f.contents(b) // fleet.go
}
