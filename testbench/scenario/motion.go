package scenario

import (
	"math"

	"quietzone/geofence"
)

// Motion is a vehicle moving along a route: towards each leg's speed at
// bounded acceleration, and braking to stop at the route's end. It is what
// a route and its speeds mean; the simulator drives its vehicle with it,
// and Random finds with it where along the route to put zones.
type Motion struct {
	Lat, Lon  float64
	Heading   float64 // degrees from north
	Speed     float64 // m/s
	OdometerM float64
	// Done: stopped at the route's end.
	Done bool

	route []Waypoint
	leg   int     // index of the waypoint the current leg starts at
	along float64 // metres along the current leg
}

const (
	accel = 1.5 // m/s²
	decel = 2.0 // m/s²
)

// NewMotion starts at the route's first waypoint, standing, heading for
// the second.
func NewMotion(route []Waypoint) *Motion {
	v := &Motion{route: route, Lat: route[0].Lat, Lon: route[0].Lon}
	if len(route) > 1 {
		v.Heading = bearing(route[0].Lat, route[0].Lon, route[1].Lat, route[1].Lon)
	} else {
		v.Done = true
	}
	return v
}

// remaining returns the distance to the end of the route.
func (v *Motion) remaining() float64 {
	d := legLength(v.route, v.leg) - v.along
	for i := v.leg + 1; i < len(v.route)-1; i++ {
		d += legLength(v.route, i)
	}
	return d
}

func legLength(r []Waypoint, i int) float64 {
	return geofence.DistanceM(r[i].Lat, r[i].Lon, r[i+1].Lat, r[i+1].Lon)
}

// RouteLength returns a route's length in metres, at least 1.
func RouteLength(r []Waypoint) float64 {
	d := 0.0
	for i := 0; i+1 < len(r); i++ {
		d += legLength(r, i)
	}
	return math.Max(d, 1)
}

// Step advances the vehicle by dt seconds.
func (v *Motion) Step(dt float64) {
	if v.Done {
		v.Speed = 0
		return
	}
	target := v.route[v.leg].SpeedKmh / 3.6
	target = math.Min(target, math.Sqrt(2*decel*math.Max(v.remaining()-1, 0)))
	if v.Speed < target {
		v.Speed = math.Min(target, v.Speed+accel*dt)
	} else {
		v.Speed = math.Max(target, v.Speed-decel*dt)
	}
	if v.Speed < 0.05 && v.remaining() < 2 {
		v.Speed, v.Done = 0, true
	}
	move := v.Speed * dt
	v.OdometerM += move
	v.along += move
	for v.leg < len(v.route)-1 && v.along >= legLength(v.route, v.leg) {
		v.along -= legLength(v.route, v.leg)
		v.leg++
	}
	if v.leg >= len(v.route)-1 {
		last := v.route[len(v.route)-1]
		v.Lat, v.Lon, v.Done, v.Speed = last.Lat, last.Lon, true, 0
		return
	}
	a, b := v.route[v.leg], v.route[v.leg+1]
	f := v.along / legLength(v.route, v.leg)
	v.Lat = a.Lat + (b.Lat-a.Lat)*f
	v.Lon = a.Lon + (b.Lon-a.Lon)*f
	v.Heading = bearing(a.Lat, a.Lon, b.Lat, b.Lon)
}

func bearing(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	y := math.Sin((lon2-lon1)*rad) * math.Cos(lat2*rad)
	x := math.Cos(lat1*rad)*math.Sin(lat2*rad) - math.Sin(lat1*rad)*math.Cos(lat2*rad)*math.Cos((lon2-lon1)*rad)
	return math.Mod(math.Atan2(y, x)/rad+360, 360)
}

// Offset moves a point by north and east metres.
func Offset(lat, lon, northM, eastM float64) (float64, float64) {
	const rad = math.Pi / 180
	return lat + northM/geofence.EarthRadiusM/rad, lon + eastM/(geofence.EarthRadiusM*math.Cos(lat*rad))/rad
}
