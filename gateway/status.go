package gateway

import (
	"time"
)

// statusExtras adds to the counters what `quietzone status` shows beyond
// them: when the last fix was taken, the cameras' states and counters. The loop
// calls it on every tick, so a copy of the states is made there, never
// on the frame path.
func (g *Gateway) statusExtras() {
	g.stats.LastFix = time.Time{}
	if g.fix.valid {
		g.stats.LastFix = g.fix.t
	}
	g.stats.Cameras = g.opts.Cameras.States()
	g.stats.CameraCounts = g.opts.Cameras.Stats()
}
