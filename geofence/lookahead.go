package geofence

import (
	"math"
	"time"
)

// Kinematics bounds what a vehicle can do within the look-ahead horizon.
// The look-ahead is the set of places the vehicle can reach before a
// camera told to stop has stopped: a sector of a disc around its heading,
// or the whole disc when the heading is unknown or the vehicle can turn
// too sharply for a direction to mean anything.
//
// The model, in full: within the horizon T the vehicle covers at most
// D = v·T + ½·a·T² (its speed v capped at MaxSpeedMps, growing at a =
// MaxAccelMps2 up to that cap); its heading turns at most by
// MaxLateralMps2·T/v, as a lateral acceleration aₗ at speed v turns it at
// aₗ/v radians a second; add HeadingSigmaDeg either side for the heading's
// own error. The vehicle stays within that angle of its heading, so its
// displacement does too: the sector holds every place it can reach. When
// the half-angle reaches 90° the sector is no longer convex and the whole
// disc is used. A standing start (v = 0) gives a disc of ½·a·T², which
// also covers reversing and turning on the spot. A driver who brakes hard
// and then turns sharply stays so close to where the brakes went on that
// the sector's near part covers it.
type Kinematics struct {
	// Horizon is how far ahead to look: the gateway's reaction time plus
	// the time a camera takes to stop.
	Horizon time.Duration
	// MaxSpeedMps caps the speed used: faster readings are taken as this.
	MaxSpeedMps float64
	// MaxAccelMps2 is how fast the vehicle may speed up.
	MaxAccelMps2 float64
	// MaxLateralMps2 bounds how sharply it may turn.
	MaxLateralMps2 float64
	// HeadingSigmaDeg is the heading's uncertainty, in degrees.
	HeadingSigmaDeg float64
	// MinHeadingSpeedMps: at lower speeds a GNSS heading is noise and the
	// look-ahead is the same in every direction.
	MinHeadingSpeedMps float64
}

// reach is how far the vehicle can get within horizon seconds from speed
// v: accelerating at MaxAccelMps2 up to MaxSpeedMps.
func (k *Kinematics) reach(v, horizon float64) float64 {
	vmax, a := k.MaxSpeedMps, k.MaxAccelMps2
	if !(v <= vmax) { // NaN or too fast
		v = vmax
	}
	v = math.Max(v, 0)
	if a <= 0 {
		return v * horizon
	}
	t1 := (vmax - v) / a // when the cap is reached
	if t1 >= horizon {
		return v*horizon + a*horizon*horizon/2
	}
	return v*t1 + a*t1*t1/2 + vmax*(horizon-t1)
}

// halfAngle is the look-ahead's half-angle in radians; π/2 or more means
// every direction.
func (k *Kinematics) halfAngle(v, horizon float64, headingKnown bool) float64 {
	if !headingKnown || !(v >= k.MinHeadingSpeedMps) || v <= 0 {
		return math.Pi
	}
	return k.HeadingSigmaDeg*(math.Pi/180) + k.MaxLateralMps2*horizon/v
}

// look is the look-ahead for one horizon.
type look struct {
	radiusM float64
	alpha   float64 // half-angle, radians
	omni    bool
	// left and right are the sector's edges as unit vectors tangent to
	// the sphere at the fix, the bearings heading−α and heading+α, once
	// sided (probe.sides).
	sided       bool
	left, right vec
}

// sector is a look in a shape's plane: the wedge from p between the
// directions r and l (l counter-clockwise of r, less than π apart), cut at
// radius; or the whole disc.
type sector struct {
	p      xy
	l, r   xy
	radius float64
	omni   bool
}

func cross2(a, b xy) float64 { return a.x*b.y - a.y*b.x }

func (s *sector) inWedge(w xy) bool { return cross2(s.r, w) >= 0 && cross2(w, s.l) >= 0 }

func (s *sector) contains(q xy) bool {
	w := xy{q.x - s.p.x, q.y - s.p.y}
	return w.x*w.x+w.y*w.y <= s.radius*s.radius && (s.omni || s.inWedge(w))
}

// beyondSide reports whether a and b both lie more than thr outside the
// line of one of the wedge's sides (l and r are unit vectors): then the
// segment ab is more than thr from the sector.
func (s *sector) beyondSide(a, b xy, thr float64) bool {
	wa, wb := xy{a.x - s.p.x, a.y - s.p.y}, xy{b.x - s.p.x, b.y - s.p.y}
	// Outside the left side is counter-clockwise of l, the right side
	// clockwise of r.
	return (cross2(s.l, wa) > thr && cross2(s.l, wb) > thr) || (cross2(wa, s.r) > thr && cross2(wb, s.r) > thr)
}

// segDist is the planar distance from the sector to the segment ab.
func (s *sector) segDist(a, b xy) float64 {
	if s.omni {
		return math.Max(0, math.Sqrt(segDist2(s.p, a, b))-s.radius)
	}
	if s.contains(a) || s.contains(b) {
		return 0
	}
	el := xy{s.p.x + s.radius*s.l.x, s.p.y + s.radius*s.l.y}
	er := xy{s.p.x + s.radius*s.r.x, s.p.y + s.radius*s.r.y}
	if segmentsIntersect(a, b, s.p, el) || segmentsIntersect(a, b, s.p, er) {
		return 0
	}
	// Entering and leaving through the arc only: then the point of ab
	// nearest the apex is inside.
	f := closest(s.p, a, b)
	if s.contains(f) {
		return 0
	}
	d := math.Min(segSegDist(a, b, s.p, el), segSegDist(a, b, s.p, er))
	for _, q := range [3]xy{f, a, b} { // the arc, where ab faces it
		w := xy{q.x - s.p.x, q.y - s.p.y}
		if s.inWedge(w) {
			d = math.Min(d, math.Hypot(w.x, w.y)-s.radius)
		}
	}
	return d
}

// closest is the point of the segment ab nearest p.
func closest(p, a, b xy) xy {
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return a
	}
	t := math.Max(0, math.Min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l2))
	return xy{a.x + t*dx, a.y + t*dy}
}
