package testbench

import (
	"math"

	"quietzone/gateway"
	"quietzone/testbench/scenario"
)

// vehicle is the simulated vehicle: its motion along the scenario's route
// and what its yaw rate sensor reads.
type vehicle struct {
	*scenario.Motion
	// yawDps is what a yaw rate sensor reads over the last step: the
	// heading's change, left-positive (ISO 8855), at most maxYawDps with
	// the rest carried into the next steps (yawLeft).
	yawDps, yawLeft float64
}

// maxYawDps bounds the yaw rate the bench reports: the route turns at its
// waypoints within a step, faster than any car, and the reference DBC's
// VCU_YawRate ends at ±8388 °/s.
const maxYawDps = 5000

func newVehicle(route []scenario.Waypoint) *vehicle {
	return &vehicle{Motion: scenario.NewMotion(route)}
}

// step advances the vehicle by dt seconds.
func (v *vehicle) step(dt float64) {
	prev := v.Heading
	v.Step(dt)
	v.yaw(prev, dt)
}

// yaw sets yawDps from the heading's change since prev over dt seconds.
func (v *vehicle) yaw(prev, dt float64) {
	if dt <= 0 {
		return
	}
	v.yawLeft -= math.Remainder(v.Heading-prev, 360) // the heading counts clockwise
	turn := math.Max(-maxYawDps*dt, math.Min(maxYawDps*dt, v.yawLeft))
	v.yawLeft -= turn
	v.yawDps = turn / dt
}

// setTurning sets what the vehicle's yaw rate sensor and steering angle
// read, in the signs the profile's turning section says.
func (s *sim) setTurning(set func(role string, x float64)) {
	t := s.prof.Turning
	yaw, steer := s.veh.yawDps, s.veh.steeringDeg(t.SteeringRatio, t.WheelbaseM)
	if t.YawRateRight {
		yaw = -yaw
	}
	if t.SteeringRight {
		steer = -steer
	}
	set(gateway.RoleYawRate, yaw)
	set(gateway.RoleSteeringAngle, steer)
}

// steeringDeg is the steering wheel angle (left-positive) that turns a
// vehicle of the bicycle model t at the yaw rate it reports, at its
// speed; 0 when it stands.
func (v *vehicle) steeringDeg(ratio, wheelbaseM float64) float64 {
	if v.Speed < 0.1 || ratio == 0 {
		return 0
	}
	return ratio * math.Atan(v.yawDps*math.Pi/180*wheelbaseM/v.Speed) * 180 / math.Pi
}
