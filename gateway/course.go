package gateway

import (
	"errors"
	"fmt"
	"math"
	"time"

	"quietzone/can"
	"quietzone/geofence"
	"quietzone/uplink"
)

// The course of the fixes against the vehicle's own sense of turning.
//
// The trust in GNSS (trust.go) bounds how far a fix can be from the
// trusted ones before it, not in which direction it went. Where the
// profile maps a yaw rate (vehicle.yaw_rate) or a steering angle
// (vehicle.steering_angle, turned into a yaw rate by the bicycle model
// ω = v·tan(δ/ratio)/wheelbase), the gateway dead-reckons beside GNSS:
// it integrates the heading ψ from the yaw rate, and from it and the
// wheel speed the displacement (v·cos ψ, v·sin ψ)·dt, in a frame of its
// own whose rotation against north, θ, nobody tells it. GNSS tells it:
// between two trusted fixes the direction of the chord the fixes make
// minus the direction of the dead-reckoned chord over the same time is
// θ. A car that really drove what GNSS says keeps θ constant up to what
// its sensors get wrong; a receiver that reverses the track, or turns it
// where the car did not turn, changes θ.
//
// # What an honest car may get wrong
//
// Every error is bounded, and every bound is a counter integrated like
// the wheel odometer, so that the bound over any stretch is a difference
// of two readings (reckoning):
//
//   - the heading drifts by at most YawBiasDps per second of driving (a
//     car whose wheels stand still and whose yaw rate reads within the
//     bias is not turning: no drift while parked) plus YawScaleError of
//     every degree turned; from a steering angle, by SteeringBiasDeg at
//     the steering wheel per metre over the wheelbase, plus
//     SteeringScaleError of every degree turned (understeer);
//   - the track leaves the heading by tyre slip, SlipDegPerMps2 per
//     m/s² of lateral acceleration (v·ω); the antenna's lever arm (a
//     few metres) and the receiver's latency (at each end of a chord the
//     distance driven meanwhile, less what the other end's cancels) are
//     in the allowance;
//   - the wheels' distance is off by up to trustSpeedSlack (which
//     changes a chord's length, and its direction only as far as the
//     chord turns), and below ReverseMaxKmh the car may be reversing
//     (most wheel speeds have no sign): every metre driven that slowly
//     counts as a metre in an unknown direction.
//
// Over a chord whose wheel path is P, the dead-reckoned chord, turned by
// θ at its end, then differs from the true one by the wheels' scale
// error S ≤ 0.05·P and by at most E: the slip and reversing integrated
// over P plus the heading's drift since each point of the chord
// (∫ v·(drift(end) − drift(t)) dt), both times trustSpeedSlack. The
// scale error moves the chord across its direction only as far as the
// chord turns (by the angle ψ turned within it): E' = E + S·min(1, ψ).
// The fixes at both ends are within a = their margins (2σ) +
// trustAllowanceM of the truth. So, with L the GNSS chord's length and L'
// the dead-reckoned one's,
//
//	|L − L'| ≤ a + E + S                                     (the length)
//	|θ_obs − θ| ≤ n = asin(a/L) + asin(E'/(L − a − S))       (the direction)
//
// and a chord whose length does not fit is not the car's: a jump. The
// direction is observed only on chords at least 2a long (n ≤ 30° + the
// second term) where E' < L − a − S.
//
// # No forgiveness per step
//
// θ is held in an interval [θc − u, θc + u]. Between observations it
// grows by the heading's drift (the drift counter's difference), never
// otherwise; a fix is consistent only if every observation it makes
// against the kept fixes (bases) intersects the grown interval and the
// others, and the interval then becomes that intersection. The noise of
// an observation thus widens what one fix may show, but never moves the
// interval: a spoofer who rotates the track a little at every fix, each
// step within the noise, moves the interval no faster than an honest
// car's drift — as the references of trust.go forgive the accuracies
// once, not at every step. An honest car's θ is in every observation's
// interval, hence in their intersection: it is never refused (the proof
// is by induction over the fixes; it holds while the thresholds bound
// the sensors' errors).
//
// The bases are trusted fixes with the dead reckoning at their time,
// kept at spaced wheel distances (courseSpan0 << level: 10 m … 640 m
// behind), like trust.go's references: short chords catch a change
// soon, long ones pin θ down. The interval starts from the first fix
// that makes an observation, and starts again (bases and interval
// forgotten) whenever the dead reckoning stops: the wheel speed or the
// yaw rate (steering angle) missing for MaxFixAge, a value that is no
// number or outside its DBC range, a restart (nothing of it is saved);
// and when the interval has grown to the whole circle (u ≥ 180°). A
// distrust does not forget them: a fix is trusted again only when its
// course, too, is consistent with the bases, so that a drag caught stays
// caught until the fixes come back to where the car is. Nor does a step
// of the wall clock: the dead reckoning runs on the monotonic clock
// (each frame's time moved by the wall clock's offset from it as the
// gateway last read both), so that a spoofer who steps the clock through
// the receiver's time as the drag begins gains nothing.
//
// # What is left
//
// The course is learned from GNSS, so a drag in force when it starts (at
// the gateway's start, or when the dead reckoning starts again) is
// learned with it. Afterwards:
//
//   - A reversal, or a turn the car did not make, is refused as soon as
//     the chords' lengths no longer fit: after about (a + E)/2 of wheel
//     path, 1.3 s at 30 km/h with a receiver of σ = 2 m
//     (TestCourseReversalCaught), with the fix about 2·(a + E)/2 ≈ 22 m
//     off. A fix held still while the car drives on is refused the same
//     way (TestCourseFrozenFixCaught).
//   - A rotation of the track (about any point) is believed up to the
//     interval's half-width plus the noise of the best chord, and then
//     grows only as fast as the interval does: YawBiasDps while driving
//     plus YawScaleError of the turns. Measured with σ = 2 m and the
//     default thresholds (TestCourseRotationBound): about 36° at once
//     at 30 km/h (20° at 100 km/h, 50° at 15 km/h), then 0.5° more per
//     second. Rotated by Φ, the fix parts from the truth at 2·sin(Φ/2)
//     times the wheel speed: 0.62·v at 36°, 31 m while the vehicle
//     covers the exit margin of 50 m; after d metres driven it is off by
//     up to 2·d·sin(Φ/2), Φ growing with time. The bias is the knob: it
//     sets both the drift and the best chord's noise.
//   - Below ReverseMaxKmh (10 km/h) the wheels may be turning backwards
//     and a chord driven that slowly gives no direction: there the bound
//     without a yaw rate below applies.
//   - With a steering angle the same holds with the steering's errors,
//     larger at speed (understeer): the course is looser.
//   - A gap in the dead reckoning (the wheel speed or the yaw rate
//     missing for MaxFixAge: a bus off) or a restart forgets the course:
//     a drag in force then, even one caught before, is learned with it.
//     GNSS is trusted again once the fixes are consistent with the
//     trusted ones (trust.go), with a debt that covers the drag's offset
//     at that moment but not its growth. A GNSS spoofer cannot cause the
//     gap; random trips that drag across a bus off or a restart do break
//     an invariant.
//
// Without a yaw rate or a steering angle nothing in the vehicle gives a
// direction, and a drag at wheel speed parts from the truth at up to
// (1 + trustSpeedSlack)·v = 2.05·v: in the time the vehicle covers the
// exit margin (ExitMarginM, 50 m by default) a drag carries the fix up
// to 2.05 × 50 = 102.5 m from the truth, twice the exit margin. The exit
// margin thus covers a drag only for the first ExitMarginM / 2.05 = 24 m
// the vehicle drives: a drag that starts clear of every zone, or lasts
// longer, is not detected, and can hold the fix clear while the vehicle
// drives into a zone. The scenario drag-no-yaw shows the bound (a drag
// of the exit margin's time from inside a buffer, 103 m off, and the
// cameras stay off); TestDragWithoutYawRate shows that 20 s of the same
// drag release them inside the zone, and that the yaw rate catches it
// (drag-yaw).

const (
	// courseLevels is how many bases the course keeps besides the newest;
	// level i holds a trusted fix about courseSpan0 << (i-1) metres of
	// wheel path back.
	courseLevels = 7
	courseSpan0  = 10.0
	// courseSpeedVar is how far the wheels' distance may be off the
	// truth's, as a share of it.
	courseSpeedVar = trustSpeedSlack - 1
	// courseMaxWheelRad: a road wheel angle beyond it is no steering.
	courseMaxWheelRad = 89 * math.Pi / 180
)

// Turning is how a profile's vehicle reports its turning: the signs of
// vehicle.yaw_rate and vehicle.steering_angle, and for the steering angle
// the bicycle model's steering ratio and wheelbase. The zero value counts
// both left-positive (ISO 8855) and has no bicycle model.
type Turning struct {
	// YawRateRight: the yaw rate is positive turning right (clockwise
	// seen from above).
	YawRateRight bool
	// SteeringRight: the steering angle is positive turning right.
	SteeringRight bool
	// SteeringRatio is steering wheel degrees per road wheel degree;
	// WheelbaseM the distance between the axles.
	SteeringRatio float64
	WheelbaseM    float64
}

// Validate checks the bicycle model of a steering angle; its errors
// begin with the key at fault (steering_ratio, wheelbase_m).
func (t Turning) Validate() error {
	if t.SteeringRatio == 0 && t.WheelbaseM == 0 {
		return nil // no bicycle model
	}
	if err := checkSteeringRatio(t.SteeringRatio); err != nil {
		return err
	}
	return checkWheelbase(t.WheelbaseM)
}

func checkSteeringRatio(v float64) error {
	if !(v >= 1 && v <= 50) {
		return fmt.Errorf("steering_ratio %v: want 1 to 50 (steering wheel degrees per road wheel degree)", v)
	}
	return nil
}

func checkWheelbase(v float64) error {
	if !(v >= 0.5 && v <= 20) {
		return fmt.Errorf("wheelbase_m %v: want 0.5 to 20 metres", v)
	}
	return nil
}

type courseSource uint8

const (
	courseNone courseSource = iota
	courseYaw
	courseSteering
)

// reckoning is the dead reckoning since it (re)started, and the counters
// that bound its errors.
type reckoning struct {
	at  time.Duration // on the steady axis (steady)
	psi float64       // heading, rad, counter-clockwise
	x   float64       // metres along psi = 0
	y   float64       // metres to its left
	// path is the wheels' distance (m); turn the angle turned either
	// way (rad); drift how far the heading may have drifted from the
	// truth's (rad); m is ∫ |v|·drift dt; unc is how far slip and
	// reversing may have moved the track off the heading (m).
	path, turn, drift, m, unc float64
}

// courseBase is a trusted fix with the dead reckoning at its time.
type courseBase struct {
	lat, lon, acc float64
	r             reckoning
}

// course is the decision loop's dead reckoning and what it learned of θ.
type course struct {
	src      courseSource
	sign     float64 // of the yaw rate or the steering angle, to left-positive
	invRatio float64 // road wheel per steering wheel
	wheelM   float64
	// Thresholds, in radians and metres.
	biasRad, scale, steerBiasRad, slipPerMps2, reverseMps float64
	maxGap                                                time.Duration

	running bool
	r       reckoning
	// The inputs held since they came (times on the steady axis; vOK and
	// inOK: there is one): speed (m/s) and the yaw rate (rad/s) or the
	// road wheel angle (rad), left-positive.
	v, in     float64
	vAt, inAt time.Duration
	vOK, inOK bool

	bases [courseLevels + 1]courseBase
	n     int
	// The interval of θ: centre ± half (rad), as of the drift counter
	// driftAt. known: there is one.
	known        bool
	centre, half float64
	driftAt      float64
	observed     uint64 // fixes whose course was held against the bases
}

// initCourse chooses what the course is held against: the yaw rate if
// the profile maps one, else the steering angle with the bicycle model.
func (g *Gateway) initCourse(t Turning, yaw, steering bool) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("turning: %w", err)
	}
	d, c := &g.d, &g.cr
	c.maxGap = d.MaxFixAge
	c.biasRad, c.slipPerMps2 = d.YawBiasDps*math.Pi/180, d.SlipDegPerMps2*math.Pi/180
	c.reverseMps = d.ReverseMaxKmh / 3.6
	c.sign = 1
	switch {
	case yaw:
		c.src, c.scale = courseYaw, d.YawScaleError
		if t.YawRateRight {
			c.sign = -1
		}
	case steering:
		if t.SteeringRatio == 0 {
			return errors.New("the signal map has a steering angle, and no steering ratio and wheelbase to turn it into a yaw rate")
		}
		c.src, c.scale = courseSteering, d.SteeringScaleError
		c.invRatio, c.wheelM = 1/t.SteeringRatio, t.WheelbaseM
		c.steerBiasRad = d.SteeringBiasDeg * math.Pi / 180 * c.invRatio
		if t.SteeringRight {
			c.sign = -1
		}
	}
	return nil
}

// courseSpeed takes a wheel speed (km/h) into the dead reckoning.
func (g *Gateway) courseSpeed(v can.Value) {
	c := &g.cr
	if c.src == courseNone {
		return
	}
	t := g.steady(v.Time)
	c.advance(t)
	x := v.Phys / 3.6
	if v.Flags != 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		c.stop()
		c.vOK = false
		return
	}
	c.v, c.vAt, c.vOK = x, t, true
	c.start(t)
}

// courseInput takes a yaw rate (deg/s) or a steering angle (deg at the
// steering wheel) into the dead reckoning.
func (g *Gateway) courseInput(v can.Value) {
	c := &g.cr
	t := g.steady(v.Time)
	c.advance(t)
	x := c.sign * v.Phys * math.Pi / 180
	if c.src == courseSteering {
		x *= c.invRatio
	}
	if v.Flags != 0 || math.IsNaN(x) || math.IsInf(x, 0) || (c.src == courseSteering && math.Abs(x) >= courseMaxWheelRad) {
		c.stop()
		c.inOK = false
		return
	}
	c.in, c.inAt, c.inOK = x, t, true
	c.start(t)
}

// steady maps a time of the wall clock, a frame's, onto the monotonic
// clock as the gateway last read both: the dead reckoning runs on it, so
// that a step of the wall clock (trust.go) does not step it, and a frame
// stamped in the past is put where it belongs.
func (g *Gateway) steady(t time.Time) time.Duration { return g.tr.mono + t.Sub(g.tr.wall) }

// start starts the dead reckoning at t once both inputs are fresh.
func (c *course) start(t time.Duration) {
	if c.running || !c.fresh(t) {
		return
	}
	c.running, c.r = true, reckoning{at: t}
}

// fresh reports whether both inputs are fresh at t.
func (c *course) fresh(t time.Duration) bool {
	return c.vOK && c.inOK && absDur(t-c.vAt) <= c.maxGap && absDur(t-c.inAt) <= c.maxGap
}

// stop forgets the dead reckoning, the bases and the interval.
func (c *course) stop() {
	c.running, c.n, c.known = false, 0, false
}

// advance integrates the dead reckoning to t with the inputs held; an
// input older than maxGap stops it. A time before the last one
// integrates nothing (frames of different senders out of order).
func (c *course) advance(t time.Duration) {
	if !c.running {
		return
	}
	if !c.fresh(t) {
		c.stop()
		return
	}
	if dt := t - c.r.at; dt > 0 {
		c.step(&c.r, dt.Seconds())
		c.r.at = t
	}
}

// at returns the dead reckoning extrapolated to t, if it runs and its
// inputs are fresh there.
func (c *course) at(t time.Duration) (reckoning, bool) {
	if !c.running || !c.fresh(t) || absDur(t-c.r.at) > c.maxGap {
		return reckoning{}, false
	}
	r := c.r
	c.step(&r, (t - c.r.at).Seconds())
	r.at = t
	return r, true
}

// step integrates r over dt seconds (back, if negative) with the inputs
// held.
func (c *course) step(r *reckoning, dt float64) {
	v := c.v
	av := math.Abs(v)
	var w, growth float64
	switch c.src {
	case courseYaw:
		w = c.in
		if av == 0 && math.Abs(w) <= c.biasRad {
			w = 0 // standing still and reading within the bias: not turning
		} else {
			growth = c.biasRad + c.scale*math.Abs(w)
		}
	case courseSteering:
		t := math.Tan(c.in)
		w = v * t / c.wheelM
		cos := math.Cos(c.in)
		growth = c.scale*math.Abs(w) + av*c.steerBiasRad/(c.wheelM*cos*cos)
	}
	growth *= dt
	mid := r.psi + w*dt/2
	r.x += v * math.Cos(mid) * dt
	r.y += v * math.Sin(mid) * dt
	r.psi += w * dt
	r.path += av * dt
	r.turn += math.Abs(w * dt)
	r.m += av * (r.drift + growth/2) * dt
	r.drift += growth
	off := math.Min(c.slipPerMps2*av*math.Abs(w), math.Pi/2)
	if av < c.reverseMps {
		off = 2 // maybe backwards: |u(ψ+π) − u(ψ)|
	}
	r.unc += off * av * dt
}

// observation is what one chord says of θ: θ ± n.
type observation struct{ theta, n float64 }

// courseConsistent reports whether the course of the fixes up to f
// agrees with the vehicle's own sense of turning: every chord from a
// base to f fits the dead-reckoned one in length, and in direction the
// interval of θ and each other. If so, f, trusted, becomes a base and
// the interval the intersection.
func (g *Gateway) courseConsistent(f fix) bool {
	c := &g.cr
	cur, ok := c.at(g.steady(f.t))
	if !ok {
		return true // nothing to hold it against
	}
	var obs [courseLevels + 1]observation
	k := 0
	const rad = math.Pi / 180
	perDegLat := geofence.EarthRadiusM * rad
	perDegLon := perDegLat * math.Cos(f.lat*rad)
	for i := range c.n {
		b := &c.bases[i]
		dN := (f.lat - b.lat) * perDegLat
		dE := math.Remainder(f.lon-b.lon, 360) * perDegLon
		l := math.Hypot(dE, dN)
		a := b.acc + f.acc + trustAllowanceM
		dx, dy := cur.x-b.r.x, cur.y-b.r.y
		// What the heading's drift, slip and reversing may have moved
		// the dead-reckoned chord off the true one, and what the wheels'
		// scale error may have: along the chord, and across it only as
		// far as the chord turns.
		p := cur.path - b.r.path
		off := trustSpeedSlack * ((cur.unc - b.r.unc) + cur.drift*p - (cur.m - b.r.m))
		scale := trustSpeedSlack * courseSpeedVar * p
		if math.Abs(l-math.Hypot(dx, dy)) > a+off+scale {
			return false
		}
		across := off + scale*math.Min(1, cur.turn-b.r.turn)
		if l < 2*a || across >= l-a-scale {
			continue
		}
		obs[k] = observation{theta: math.Atan2(dN, dE) - math.Atan2(dy, dx), n: math.Asin(a/l) + math.Asin(across/(l-a-scale))}
		k++
	}
	if k > 0 {
		centre, half, ok := c.intersect(obs[:k], cur.drift)
		if !ok {
			return false
		}
		c.known, c.centre, c.half, c.driftAt = true, centre, half, cur.drift
		c.observed++
	}
	c.push(courseBase{lat: f.lat, lon: f.lon, acc: f.acc, r: cur})
	return true
}

// intersect holds the observations against the interval of θ grown to
// the drift counter drift, and each other; ok is false if nothing is in
// all of them. A fresh interval starts from the narrowest observation.
// An observation that could meet the interval on both sides of the
// circle (half-widths of π together) says nothing and is left out.
func (c *course) intersect(obs []observation, drift float64) (centre, half float64, ok bool) {
	half = c.half + (drift - c.driftAt)
	centre = c.centre
	if !c.known || half >= math.Pi {
		j := 0
		for i := range obs {
			if obs[i].n < obs[j].n {
				j = i
			}
		}
		obs[0], obs[j] = obs[j], obs[0]
		centre, half, obs = obs[0].theta, obs[0].n, obs[1:]
	}
	lo, hi := -half, half // relative to centre
	for _, o := range obs {
		mid, w := (lo+hi)/2, (hi-lo)/2
		if w+o.n >= math.Pi {
			continue
		}
		d := math.Remainder(o.theta-centre-mid, 2*math.Pi) + mid
		lo, hi = math.Max(lo, d-o.n), math.Min(hi, d+o.n)
		if lo > hi {
			return 0, 0, false
		}
	}
	return math.Remainder(centre+(lo+hi)/2, 2*math.Pi), (hi - lo) / 2, true
}

// push makes b the newest base and moves older ones up the levels: a
// level is replaced by the one below it once farther back than its span.
func (c *course) push(b courseBase) {
	for i := courseLevels; i >= 1; i-- {
		if i > c.n {
			continue
		}
		if i == c.n || b.r.path-c.bases[i].r.path > courseSpan0*float64(int(1)<<(i-1)) {
			c.bases[i] = c.bases[i-1]
		}
	}
	c.bases[0] = b
	c.n = min(c.n+1, len(c.bases))
}

// validateCourse checks the thresholds of the course check.
func (d *Decision) validateCourse() error {
	for _, k := range []struct {
		key    string
		v, max float64
		unit   string
		open   bool // max itself is not allowed
	}{
		{"yaw_bias_dps", d.YawBiasDps, 10, "deg/s", false},
		{"yaw_scale_error", d.YawScaleError, 1, "(a share of every degree turned)", true},
		{"steering_bias_deg", d.SteeringBiasDeg, 90, "degrees at the steering wheel", false},
		{"steering_scale_error", d.SteeringScaleError, 1, "(a share of every degree turned)", true},
		{"slip_deg_per_mps2", d.SlipDegPerMps2, 10, "degrees per m/s²", false},
		{"reverse_max_kmh", d.ReverseMaxKmh, 50, "km/h", false},
	} {
		if !(k.v >= 0 && k.v <= k.max) || (k.open && k.v == k.max) {
			upTo := "to"
			if k.open {
				upTo = "up to, not including,"
			}
			return &uplink.KeyError{Key: k.key, Reason: fmt.Sprintf("want 0 %s %v %s, got %v", upTo, k.max, k.unit, k.v)}
		}
	}
	return nil
}
