package gateway

import (
	"time"

	"quietzone/camera"
)

// cameraStates is a Cameras that reports its cameras' states and
// counters; *camera.Controller implements it.
type cameraStates interface {
	States() []camera.State
	Stats() camera.Stats
}

// statusExtras adds to the counters what `quietzone status` shows beyond
// them: when the last fix was taken, the cameras' states and counters. The loop
// calls it on every tick, so a copy of the states is made there, never
// on the frame path.
func (g *Gateway) statusExtras() {
	g.stats.LastFix = time.Time{}
	if g.fix.valid {
		g.stats.LastFix = g.fix.t
	}
	if cs, ok := g.opts.Cameras.(cameraStates); ok {
		g.stats.Cameras = cs.States()
		g.stats.CameraCounts = cs.Stats()
	}
}
