package testbench

import (
	"math"

	"quietzone/gateway"
	"quietzone/geofence"
)

// vehicle moves along a route with bounded acceleration.
type vehicle struct {
	route     []Waypoint
	leg       int     // index of the waypoint the current leg starts at
	along     float64 // metres along the current leg
	speed     float64 // m/s
	lat, lon  float64
	heading   float64 // degrees from north
	odometerM float64
	done      bool
	// yawDps is what a yaw rate sensor reads over the last step: the
	// heading's change, left-positive (ISO 8855), at most maxYawDps with
	// the rest carried into the next steps (yawLeft).
	yawDps, yawLeft float64
}

// maxYawDps bounds the yaw rate the bench reports: the route turns at its
// waypoints within a step, faster than any car, and the reference DBC's
// VCU_YawRate ends at ±8388 °/s.
const maxYawDps = 5000

const (
	accel = 1.5 // m/s²
	decel = 2.0 // m/s²
)

func newVehicle(route []Waypoint) *vehicle {
	v := &vehicle{route: route, lat: route[0].Lat, lon: route[0].Lon}
	if len(route) > 1 {
		v.heading = bearing(route[0].Lat, route[0].Lon, route[1].Lat, route[1].Lon)
	} else {
		v.done = true
	}
	return v
}

// remaining returns the distance to the end of the route.
func (v *vehicle) remaining() float64 {
	d := legLength(v.route, v.leg) - v.along
	for i := v.leg + 1; i < len(v.route)-1; i++ {
		d += legLength(v.route, i)
	}
	return d
}

func legLength(r []Waypoint, i int) float64 {
	return geofence.DistanceM(r[i].Lat, r[i].Lon, r[i+1].Lat, r[i+1].Lon)
}

// step advances the vehicle by dt seconds.
func (v *vehicle) step(dt float64) {
	prev := v.heading
	defer func() { v.yaw(prev, dt) }()
	if v.done {
		v.speed = 0
		return
	}
	target := v.route[v.leg].SpeedKmh / 3.6
	target = math.Min(target, math.Sqrt(2*decel*math.Max(v.remaining()-1, 0)))
	if v.speed < target {
		v.speed = math.Min(target, v.speed+accel*dt)
	} else {
		v.speed = math.Max(target, v.speed-decel*dt)
	}
	if v.speed < 0.05 && v.remaining() < 2 {
		v.speed, v.done = 0, true
	}
	move := v.speed * dt
	v.odometerM += move
	v.along += move
	for v.leg < len(v.route)-1 && v.along >= legLength(v.route, v.leg) {
		v.along -= legLength(v.route, v.leg)
		v.leg++
	}
	if v.leg >= len(v.route)-1 {
		last := v.route[len(v.route)-1]
		v.lat, v.lon, v.done, v.speed = last.Lat, last.Lon, true, 0
		return
	}
	a, b := v.route[v.leg], v.route[v.leg+1]
	f := v.along / legLength(v.route, v.leg)
	v.lat = a.Lat + (b.Lat-a.Lat)*f
	v.lon = a.Lon + (b.Lon-a.Lon)*f
	v.heading = bearing(a.Lat, a.Lon, b.Lat, b.Lon)
}

// yaw sets yawDps from the heading's change since prev over dt seconds.
func (v *vehicle) yaw(prev, dt float64) {
	if dt <= 0 {
		return
	}
	v.yawLeft -= math.Remainder(v.heading-prev, 360) // the heading counts clockwise
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
	if v.speed < 0.1 || ratio == 0 {
		return 0
	}
	return ratio * math.Atan(v.yawDps*math.Pi/180*wheelbaseM/v.speed) * 180 / math.Pi
}

func bearing(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	y := math.Sin((lon2-lon1)*rad) * math.Cos(lat2*rad)
	x := math.Cos(lat1*rad)*math.Sin(lat2*rad) - math.Sin(lat1*rad)*math.Cos(lat2*rad)*math.Cos((lon2-lon1)*rad)
	return math.Mod(math.Atan2(y, x)/rad+360, 360)
}

// offset moves a point by north and east metres.
func offset(lat, lon, northM, eastM float64) (float64, float64) {
	const rad = math.Pi / 180
	return lat + northM/geofence.EarthRadiusM/rad, lon + eastM/(geofence.EarthRadiusM*math.Cos(lat*rad))/rad
}
