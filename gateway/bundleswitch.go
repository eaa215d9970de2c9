package gateway

import (
	"context"
	"errors"
	"fmt"

	"quietzone/geofence"
	"quietzone/uplink"
)

// policySwitch is an uplink policy handed to the decision loop with the
// zone list it goes with (SetBundle).
type policySwitch struct {
	ix *geofence.Index
	p  *uplink.Policy
}

// SetBundle hands a zone list and the uplink policy that goes with it to
// the decision loop, which switches to both between two decisions: the
// first decision and the first snapshot after the switch are made under
// the new pair, every one before under the old, so there is no moment
// without a policy or with half of one. It returns when the loop has
// taken them, or with ctx's error (the gateway then keeps what it has).
// Fleet bundles and SIGHUP reloads go through here.
func (g *Gateway) SetBundle(ctx context.Context, ix *geofence.Index, p *uplink.Policy) error {
	if ix == nil || p == nil {
		return errors.New("set bundle: a zone list and a policy are required: the gateway keeps what it has")
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set bundle: policy: %w", err)
	}
	g.z.switchMu.Lock()
	g.z.pending = &policySwitch{ix: ix, p: p}
	g.z.switchMu.Unlock()
	if err := g.SetZones(ctx, ix); err != nil {
		g.z.switchMu.Lock()
		if g.z.pending != nil && g.z.pending.ix == ix {
			g.z.pending = nil
		}
		g.z.switchMu.Unlock()
		return fmt.Errorf("set bundle: %w", err)
	}
	return nil
}

// switchPolicy takes the zone-aware parts of a new policy into the
// decision loop and hands the policy to the uplink. The loop calls it
// before it takes the zone list that goes with the policy.
func (g *Gateway) switchPolicy(p *uplink.Policy) {
	g.d.TelemetryPeriod = p.TelemetryPeriod
	g.d.WithholdMarginM = p.PositionMarginM()
	g.opts.Privacy.JitterM = p.NearZones.JitterM
	g.opts.Privacy.TripEndM = p.NearZones.TripEndM
	g.opts.Privacy.TripEndSpreadM = p.NearZones.TripEndSpreadM
	g.opts.Privacy.EndCoverOffsetM = p.NearZones.CoverOffsetM
	g.opts.Privacy.EndLinger = p.NearZones.EndLinger
	if g.opts.Telemetry != nil {
		g.opts.Telemetry.SetPolicy(p)
	}
	// The cabin permission goes to the cameras at once: a policy that
	// takes it away must not wait for the next state change.
	g.opts.Cameras.AllowCabin(p.CabinCameras)
	g.applyCameras(g.clock.Now(), g.state.Suppressed())
	g.stats.PoliciesApplied++
}
