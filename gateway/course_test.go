package gateway_test

import (
	"math"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/gateway"
)

// at is the point n metres north and e metres east of the middle of the
// test zone's southern edge (51.995, 10.0); the buffer's edge is 200 m
// south of it.
func at(n, e float64) (lat, lon float64) {
	return 51.995 + n/111195, 10 + e/(111195*math.Cos(51.995*math.Pi/180))
}

// car is the truth of a drive in the tests' plane.
type car struct {
	n, e float64 // metres north and east of at's origin
	hdg  float64 // degrees clockwise from north
	kmh  float64 // signed: negative reverses
}

// move drives the car dt seconds at its speed, turning left at turnDps
// (counter-clockwise, as a yaw rate counts).
func (c *car) move(dt, turnDps float64) {
	mid := (c.hdg - turnDps*dt/2) * math.Pi / 180
	v := c.kmh / 3.6
	c.n += v * math.Cos(mid) * dt
	c.e += v * math.Sin(mid) * dt
	c.hdg -= turnDps * dt
}

// courseRig is a rig whose vehicle sends its yaw rate, or, with
// steering, its steering angle and no yaw rate (the profile's steering
// ratio and wheelbase turn it back into one).
func courseRig(t *testing.T, steering bool) *rig {
	t.Helper()
	return courseRigSigned(t, steering, false)
}

// courseRigSigned is courseRig whose vehicle counts its yaw rate or
// steering angle positive turning right, as its profile says.
func courseRigSigned(t *testing.T, steering, right bool) *rig {
	t.Helper()
	mod := func(d *gateway.Decision) { d.ClearFixes = 3 }
	var maps func([]can.Mapping)
	if steering {
		maps = func(maps []can.Mapping) {
			for i := range maps {
				if maps[i].Role == gateway.RoleYawRate {
					maps[i].Role = "test.yaw_rate" // not the gateway's
				}
			}
		}
	}
	r := newRigCams(t, mustZones(t), mod, rigCams{maps: maps}, func(o *gateway.Options) {
		o.Turning.YawRateRight, o.Turning.SteeringRight = right, right
	})
	r.prof.Turning.YawRateRight, r.prof.Turning.SteeringRight = right, right
	return r
}

// stepCar advances 100 ms and sends a fix at (fixN, fixE) (accuracy 2 m,
// as rig.fix) and the vehicle's speed and yaw rate (or steering angle):
// yawDps is what the sensor reads, left-positive; the frame carries it
// in the sign the profile says.
func (r *rig) stepCar(steering bool, fixN, fixE float64, c car, yawDps float64) {
	r.t.Helper()
	if r.prof.Turning.YawRateRight {
		yawDps = -yawDps // both or neither in these tests
	}
	r.clock.Advance(100 * time.Millisecond)
	lat, lon := at(fixN, fixE)
	r.send(map[string]float64{"position.fix": 3, "position.accuracy": 2, "position.heading": 0, "position.speed": math.Abs(c.kmh)})
	r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
	dyn := map[string]float64{"vehicle.speed": math.Abs(c.kmh)}
	if steering {
		// The bicycle model backwards, with the reference profile's
		// ratio and wheelbase: δ = ratio·atan(ω·L/v).
		sw := 0.0
		if v := c.kmh / 3.6; v != 0 {
			sw = r.prof.Turning.SteeringRatio * math.Atan(yawDps*math.Pi/180*r.prof.Turning.WheelbaseM/v) * 180 / math.Pi
		}
		dyn[gateway.RoleSteeringAngle] = sw
	} else {
		dyn[gateway.RoleYawRate] = yawDps
	}
	r.send(dyn)
	r.drainBus() // the camera commands, which nobody reads here
}

// TestCourseReversalCaught: the vehicle drives north at 30 km/h towards
// the zone from 600 m before its buffer, its yaw rate and wheel speed
// true. From 450 m before the buffer the receiver reverses the track at
// wheel speed: the fix moves south at 30 km/h while the vehicle goes on
// north, without a jump, each fix consistent with the wheels. Before,
// every fix was trusted and the fix went away from the zone while the
// vehicle drove into it: the cameras recorded inside. The course of the
// fixes is held against the dead reckoning: the drag is a jump within
// seconds and the cameras stay off through the zone.
func TestCourseReversalCaught(t *testing.T) {
	for _, steering := range []bool{false, true} {
		name := "yaw rate"
		if steering {
			name = "steering angle"
		}
		t.Run(name, func(t *testing.T) {
			r := courseRig(t, steering)
			c := car{n: -800, kmh: 30}
			for c.n < -650 {
				c.move(0.1, 0)
				r.stepCar(steering, c.n, c.e, c, 0)
			}
			if !r.powered("front") {
				t.Fatalf("not clear 450 m before the buffer: %v", r.state())
			}
			fixN := c.n
			var caught time.Duration
			for i := 1; c.n < 500; i++ {
				c.move(0.1, 0)
				fixN -= c.kmh / 3.6 * 0.1
				r.stepCar(steering, fixN, c.e, c, 0)
				if caught == 0 && !r.powered("front") {
					caught = time.Duration(i) * 100 * time.Millisecond
				}
				if c.n > -200 && r.powered("front") {
					t.Fatalf("front powered %.0f m north of the buffer's edge, the fix dragged %.0f m south of the truth", c.n+200, c.n-fixN)
				}
			}
			t.Logf("refused %v after the drag began", caught)
			if caught == 0 || caught > 3*time.Second {
				t.Errorf("the reversed track was refused %v after it began, want within 3 s", caught)
			}
			if s := r.stats(); !s.GNSSDistrusted || s.State == gateway.Clear || s.CourseFixes == 0 {
				t.Errorf("through the zone under the drag: %+v; want distrusted, suppressed, the course held", s)
			}
			// The drag ends: the fixes are where the vehicle is. The
			// course fits again once the chords from the last trusted
			// fixes are long enough for the drag's offset.
			for c.n < 4000 {
				c.move(0.1, 0)
				r.stepCar(steering, c.n, c.e, c, 0)
			}
			if s := r.stats(); s.GNSSDistrusted {
				t.Errorf("the drag over, 3 km on: %+v; want GNSS trusted again", s)
			}
		})
	}
}

// TestCourseFrozenFixCaught: the receiver holds the fix still while the
// vehicle drives on at 30 km/h: every fix is within the wheels' reach
// (it does not move at all), but the dead-reckoned chord grows and the
// fixes' does not.
func TestCourseFrozenFixCaught(t *testing.T) {
	r := courseRig(t, false)
	c := car{n: -800, kmh: 30}
	for c.n < -650 {
		c.move(0.1, 0)
		r.stepCar(false, c.n, c.e, c, 0)
	}
	fixN := c.n
	for c.n < 0 {
		c.move(0.1, 0)
		r.stepCar(false, fixN, c.e, c, 0)
		if c.n > -200 && r.powered("front") {
			t.Fatalf("front powered %.0f m north of the buffer's edge, the fix held %.0f m behind", c.n+200, c.n-fixN)
		}
	}
}

// leg is a stretch of an honest drive: secs at kmh (negative: reversing),
// turning left at turnDps.
type leg struct{ secs, kmh, turnDps float64 }

// driveLegs drives the legs from c, accelerating at up to 2 m/s², with
// the yaw rate sensor off by biasDps and the receiver off by a few
// metres (slowly, within its 2σ of 4 m); it fails if GNSS is ever
// distrusted or the cameras are off (the drive is far from the zone).
func (r *rig) driveLegs(steering bool, c car, biasDps float64, legs []leg) car {
	r.t.Helper()
	tm := 0.0
	for li, l := range legs {
		for s := 0.0; s < l.secs; s += 0.1 {
			dv := l.kmh - c.kmh
			c.kmh += math.Max(-0.72, math.Min(0.72, dv)) // 2 m/s² for 100 ms
			turn := l.turnDps
			if math.Abs(c.kmh) < 1 {
				turn = 0 // a car turns only while it moves
			}
			c.move(0.1, turn)
			tm += 0.1
			noiseN, noiseE := 3*math.Sin(tm/7), 3*math.Cos(tm/11)
			r.stepCar(steering, c.n+noiseN, c.e+noiseE, c, turn+biasDps)
		}
		if s := r.gw.Stats(); s.GNSSDistrusts != 0 {
			r.t.Fatalf("leg %d %+v: GNSS distrusted on an honest drive", li, l)
		}
	}
	return c
}

// TestCourseHonestTurns: an honest drive far from the zone with a 90°
// curve, a roundabout taken as a U-turn, a stop, reversing out of a
// driveway and a long standstill, the yaw rate sensor 0.4 °/s off (the
// threshold is 0.5): GNSS is never distrusted, and the course was held
// all along.
func TestCourseHonestTurns(t *testing.T) {
	legs := []leg{
		{20, 30, 0},
		{5.65, 30, -15.9}, // 90° right, 30 m radius
		{15, 30, 0},
		{4, 20, -11},     // into the roundabout: 45° right
		{12.7, 20, 21.2}, // 270° left, 15 m radius
		{4, 20, -11},     // and out
		{15, 50, 0},
		{8, 0, 0},  // stop
		{6, -6, 0}, // reverse 8 m
		{3, 0, 0},
		{30, 0, 0},  // parked
		{20, 40, 3}, // a long bend
		{20, 40, 0},
	}
	for _, tc := range []struct {
		name            string
		steering, right bool
	}{
		{"yaw rate", false, false},
		{"yaw rate counted right", false, true},
		{"steering angle", true, false},
		{"steering angle counted right", true, true},
	} {
		steering := tc.steering
		t.Run(tc.name, func(t *testing.T) {
			r := courseRigSigned(t, steering, tc.right)
			bias := 0.4
			if steering {
				bias = 0 // what the steering angle gets wrong is the model's, not a bias of the test's
			}
			r.driveLegs(steering, car{n: -5000, e: -3000, kmh: 30}, bias, legs)
			s := r.stats()
			if s.GNSSDistrusts != 0 || s.State != gateway.Clear || s.CourseFixes < 500 {
				t.Errorf("after the drive: distrusts %d, state %v, course held on %d fixes; want 0, clear, most", s.GNSSDistrusts, s.State, s.CourseFixes)
			}
		})
	}
}

// rotatedDrag drives the car north at 30 km/h, honest for 30 s, then
// reports the track rotated about where it was then by phi(t) (degrees,
// t seconds since), for secs. It returns whether GNSS was distrusted,
// and the largest distance between the fix and the truth while trusted.
func rotatedDrag(t *testing.T, phi func(t float64) float64, secs float64) (distrusted bool, offM float64) {
	t.Helper()
	r := courseRig(t, false)
	c := car{n: -5000, kmh: 30}
	for tm := 0.0; tm < 30; tm += 0.1 {
		c.move(0.1, 0)
		r.stepCar(false, c.n, c.e, c, 0)
	}
	sN, sE := c.n, c.e
	for tm := 0.1; tm < secs; tm += 0.1 {
		c.move(0.1, 0)
		p := phi(tm) * math.Pi / 180
		dn, de := c.n-sN, c.e-sE
		fn, fe := sN+dn*math.Cos(p)-de*math.Sin(p), sE+dn*math.Sin(p)+de*math.Cos(p)
		r.stepCar(false, fn, fe, c, 0)
		if r.gw.Stats().GNSSDistrusts > 0 {
			return true, offM
		}
		offM = math.Max(offM, math.Hypot(fn-c.n, fe-c.e))
	}
	return r.stats().GNSSDistrusts > 0, offM
}

// TestCourseRotationBound measures what is left with a yaw rate
// (course.go, "What is left"): a receiver of σ = 2 m, 30 km/h, the
// default thresholds. The track turned at once by 25° is believed, by
// 45° refused (the limit is about 36°); turned slowly at 0.45 °/s (under
// the yaw rate's bias of 0.5 °/s) it is believed for a minute, as far as
// the documented bound allows and no farther; at 1.5 °/s it is refused.
func TestCourseRotationBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		phi     func(float64) float64
		secs    float64
		refused bool
	}{
		{"25° at once", func(float64) float64 { return 25 }, 30, false},
		{"45° at once", func(float64) float64 { return 45 }, 30, true},
		{"180° at once", func(float64) float64 { return 180 }, 30, true},
		{"0.45 °/s", func(t float64) float64 { return 0.45 * t }, 60, false},
		{"1.5 °/s", func(t float64) float64 { return 1.5 * t }, 60, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused, off := rotatedDrag(t, tc.phi, tc.secs)
			if refused != tc.refused {
				t.Fatalf("refused %v, want %v (the fix got %.0f m off)", refused, tc.refused, off)
			}
			// The documented bound: rotated by at most about 36° at once
			// and 0.5 °/s more, the fix is at most 2·d·sin(Φ/2) off after
			// d metres.
			d := 30 / 3.6 * tc.secs
			bound := 2 * d * math.Sin((36+0.5*tc.secs)*math.Pi/180/2)
			if off > bound {
				t.Errorf("the fix got %.0f m off, beyond the documented %.0f m", off, bound)
			}
			t.Logf("refused %v; the fix %.0f m off the truth (bound %.0f m)", refused, off, bound)
		})
	}
}

// TestCourseAcrossClockStep: the wall clock steps (back a minute, or
// forward ten) just as the receiver starts to reverse the track: a
// spoofer who controls the receiver's time could do both at once. The
// dead reckoning runs on the monotonic clock and keeps what it learned:
// the drag is caught as without the step.
func TestCourseAcrossClockStep(t *testing.T) {
	for _, step := range []time.Duration{-time.Minute, 10 * time.Minute} {
		t.Run(step.String(), func(t *testing.T) {
			r := courseRig(t, false)
			c := car{n: -800, kmh: 30}
			for c.n < -650 {
				c.move(0.1, 0)
				r.stepCar(false, c.n, c.e, c, 0)
			}
			r.clock.Step(step)
			fixN := c.n
			for c.n < 300 {
				c.move(0.1, 0)
				fixN -= c.kmh / 3.6 * 0.1
				r.stepCar(false, fixN, c.e, c, 0)
				if c.n > -200 && r.powered("front") {
					t.Fatalf("front powered %.0f m north of the buffer's edge after a clock step of %v", c.n+200, step)
				}
			}
			if s := r.stats(); s.ClockSteps != 1 || !s.GNSSDistrusted {
				t.Errorf("stats %+v; want one clock step, GNSS distrusted", s)
			}
		})
	}
}

// TestCourseWithoutYawRate: when the yaw rate stops coming the dead
// reckoning stops (the course is held against nothing, as on a vehicle
// without one), and starts again, from scratch, when it comes back.
func TestCourseWithoutYawRate(t *testing.T) {
	r := courseRig(t, false)
	c := car{n: -5000, kmh: 30}
	for range 200 {
		c.move(0.1, 0)
		r.stepCar(false, c.n, c.e, c, 0)
	}
	held := r.stats().CourseFixes
	if held == 0 {
		t.Fatal("the course was never held")
	}
	for range 100 { // 10 s of fixes and wheel speed, no yaw rate
		c.move(0.1, 0)
		lat, lon := at(c.n, c.e)
		r.step(100*time.Millisecond, lat, lon, c.kmh)
		r.drainBus()
	}
	if s := r.stats(); s.CourseFixes > held+30 {
		t.Errorf("course held on %d fixes without a yaw rate (%d before)", s.CourseFixes-held, held)
	}
	held = r.stats().CourseFixes
	for range 200 {
		c.move(0.1, 0)
		r.stepCar(false, c.n, c.e, c, 0)
	}
	if s := r.stats(); s.CourseFixes < held+100 || s.GNSSDistrusts != 0 {
		t.Errorf("the yaw rate back: course held on %d more fixes, %d distrusts; want most, none", s.CourseFixes-held, s.GNSSDistrusts)
	}
}
