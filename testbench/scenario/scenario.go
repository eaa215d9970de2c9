package scenario

import (
	"embed"
	"time"

	"quietzone/gateway/config"
)

//go:embed assets
var assets embed.FS

// Waypoint is a point of a route and the speed to hold from it to the next.
type Waypoint struct {
	Lat, Lon float64
	SpeedKmh float64
}

// Scenario is one simulated drive.
type Scenario struct {
	Name  string
	Start time.Time
	Route []Waypoint
	// Step is the simulation step; frames go out once per step (10 Hz).
	Step time.Duration
	// GNSSNoiseM is the standard deviation of the simulated GNSS error.
	GNSSNoiseM float64
	// ParkedAfter keeps the vehicle parked at the end, ignition on
	// unless IgnitionOff.
	ParkedAfter time.Duration
	// IgnitionOff: the ignition goes off when the vehicle has parked,
	// which ends the trip.
	IgnitionOff bool
	Seed        uint64
	// Zones and Policy are file contents, with names for messages.
	ZonesName  string
	Zones      []byte
	PolicyName string
	Policy     []byte
	// Cameras wire the profile's cameras; each gets a simulated power line.
	Cameras []config.CameraConfig
	// VIN is the vehicle's identity, which must never reach the wire.
	VIN string
	// Contacts are the phone book the head unit syncs at start.
	Contacts []string

	// Profile is the vehicle profile: "builtin:NAME" or a profile file;
	// empty means the built-in reference vehicle.
	Profile string
	// DropRoles are roles of the profile this vehicle does not have: its
	// signal map goes without them (the reference vehicle without its
	// yaw rate, say), and the bench does not send them.
	DropRoles []string
	// DefaultBufferM is the buffer of zones that name none.
	DefaultBufferM float64
	// GPSRateHz is how often the GNSS messages go out; 0 means every step.
	GPSRateHz float64
	// Triggers is the cameras' motion pattern; the zero value is bursts
	// of 2-6 s every 10-40 s.
	Triggers Triggers
	// Faults are injected on the way (by the simulator, testbench).
	Faults []Fault
}

// Triggers is a motion sensor's pattern: bursts of Burst[0]..Burst[1]
// after gaps of Gap[0]..Gap[1], the first gap counted from the start.
type Triggers struct {
	Burst, Gap [2]time.Duration
	// Continuous: motion all the time; Off: never.
	Continuous, Off bool
}

// BuiltIn returns the demo drive: 11 km through the countryside, through
// one zone (a depot straddling the road) and past a second (a radar site
// beside it), with motion triggers on every camera throughout.
func BuiltIn() Scenario {
	zones, err := assets.ReadFile("assets/demo-zones.geojson")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	policy, err := assets.ReadFile("assets/demo-policy.yaml")
	if err != nil {
		panic(err)
	}
	return Scenario{
		Name:  "built-in: country road through a depot and past a radar site",
		Start: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC),
		Route: []Waypoint{
			{Lat: 52.0000, Lon: 10.0000, SpeedKmh: 50},
			{Lat: 52.0000, Lon: 10.0450, SpeedKmh: 70},
			{Lat: 52.0150, Lon: 10.0700, SpeedKmh: 60},
			{Lat: 52.0150, Lon: 10.1200, SpeedKmh: 80},
			{Lat: 52.0000, Lon: 10.1500, SpeedKmh: 50},
		},
		Step:        100 * time.Millisecond,
		GNSSNoiseM:  2,
		ParkedAfter: 20 * time.Second,
		Seed:        1,
		ZonesName:   "builtin:demo-zones.geojson",
		Zones:       zones,
		PolicyName:  "builtin:demo-policy.yaml",
		Policy:      policy,
		Cameras: []config.CameraConfig{
			{Name: "front", Class: "exterior", PowerLine: "CAM_FRONT_PWR"},
			{Name: "rear", Class: "exterior", PowerLine: "CAM_REAR_PWR"},
			{Name: "cabin", Class: "cabin", PowerLine: "CAM_CABIN_PWR"},
		},
		VIN:      "QZDEMO00000000001",
		Contacts: []string{"ALICE K", "BOB MAR", "CAROL D", "DAVE 01"},
	}
}
