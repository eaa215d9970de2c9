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
	if prof != nil && !b.ForProfile(prof.Name) {
		return fmt.Errorf("%w: it is for %s, the vehicle's profile is %s", ErrNotForThis, strings.Join(b.Profiles, ", "), prof.Name)
	}
	f := &Fleet{build: zo, vehicle: prof, log: slog.New(slog.DiscardHandler)}
	_, _, err := f.contents(b) // the vehicle's own code (fleet.go)
	return err
}
