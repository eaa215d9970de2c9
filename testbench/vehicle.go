package testbench

import "math"

const earthRadiusM = 6371008.8

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
}

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
	return distanceM(r[i].Lat, r[i].Lon, r[i+1].Lat, r[i+1].Lon)
}

// step advances the vehicle by dt seconds.
func (v *vehicle) step(dt float64) {
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

func distanceM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusM * math.Asin(math.Min(1, math.Sqrt(h)))
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
	return lat + northM/earthRadiusM/rad, lon + eastM/(earthRadiusM*math.Cos(lat*rad))/rad
}
