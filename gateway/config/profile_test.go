package config_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"strings"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/gateway"
)

// unitsDBC has one signal per unit question.
const unitsDBC = `VERSION ""

BO_ 100 M: 8 X
 SG_ Mph : 0|8@1+ (1,0) [0|0] "MPH" X
 SG_ Kmh : 8|8@1+ (1,0) [0|0] "km/hr" X
 SG_ Rad : 16|8@1+ (0.01,0) [0|0] "rad" X
 SG_ Bare : 24|8@1+ (1,0) [0|0] "" X
 SG_ Odd : 32|8@1+ (1,0) [0|0] "kph/mph" X
 SG_ Lat : 40|8@1+ (1,0) [0|0] "deg" X
 SG_ Lon : 48|8@1+ (1,0) [0|0] "deg" X
`

func writeProfile(t *testing.T, dir, profile string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "u.dbc"), []byte(unitsDBC), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(p, []byte("dbc: u.dbc\nsignals:\n"+profile), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileSignalForms(t *testing.T) {
	dir := t.TempDir()
	p := writeProfile(t, dir, `  vehicle.speed: {signal: M.Mph, unit: km/h, max_age: 500ms}
  position.speed: M.Kmh
  position.heading: {signal: M.Rad, unit: deg}
  position.latitude: M.Lat
  position.longitude:
    signal: M.Lon
    max_age: 2s
  other.bare: {signal: M.Bare, class: location}
  other.odd: {signal: M.Odd, class: personal}
`)
	prof, err := config.LoadProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]can.Mapping{
		"vehicle.speed":      {Role: "vehicle.speed", Message: "M", Signal: "Mph", Unit: "km/h", MaxAge: 500 * time.Millisecond},
		"position.speed":     {Role: "position.speed", Message: "M", Signal: "Kmh"},
		"position.heading":   {Role: "position.heading", Message: "M", Signal: "Rad", Unit: "deg"},
		"position.latitude":  {Role: "position.latitude", Message: "M", Signal: "Lat"},
		"position.longitude": {Role: "position.longitude", Message: "M", Signal: "Lon", MaxAge: 2 * time.Second},
		"other.bare":         {Role: "other.bare", Message: "M", Signal: "Bare", Class: "location"},
		"other.odd":          {Role: "other.odd", Message: "M", Signal: "Odd", Class: "personal"},
	}
	if len(prof.Mappings) != len(want) {
		t.Fatalf("mappings %+v", prof.Mappings)
	}
	for _, m := range prof.Mappings {
		if m != want[m.Role] {
			t.Errorf("mapping %+v, want %+v", m, want[m.Role])
		}
	}
	d, err := prof.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	f := can.Frame{ID: 100, Len: 8, Data: [64]byte{100, 0, 157}}
	out := make([]can.Value, d.MaxValuesPerFrame())
	n, err := d.Decode(&f, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out[:n] {
		switch d.Roles()[v.Role] {
		case "vehicle.speed":
			if math.Abs(v.Phys-160.9344) > 1e-9 {
				t.Errorf("100 MPH = %v km/h", v.Phys)
			}
		case "position.heading":
			if math.Abs(v.Phys-1.57*180/math.Pi) > 1e-9 {
				t.Errorf("1.57 rad = %v deg", v.Phys)
			}
		}
	}
}

func TestProfileSignalErrors(t *testing.T) {
	cases := []struct{ name, signals, want string }{
		{"unknown key", "  vehicle.speed: {signal: M.Kmh, units: km/h}\n", `p.yaml:3: unknown key "units"`},
		{"no signal", "  vehicle.speed: {unit: km/h}\n", "p.yaml:3: signal: MESSAGE.SIGNAL is required"},
		{"list", "  vehicle.speed: [M.Kmh]\n", "p.yaml:3: want MESSAGE.SIGNAL or"},
		{"bad max_age", "  vehicle.speed:\n    signal: M.Kmh\n    max_age: soon\n", "p.yaml:5: max_age:"},
		{"zero max_age", "  vehicle.speed: {signal: M.Kmh, max_age: 0s}\n", "p.yaml:3: max_age must be positive"},
		{"unknown unit", "  x.y: {signal: M.Kmh, unit: furlongs}\n", `p.yaml:3: role x.y: unit furlongs: signal M.Kmh: convert "km/hr" to "furlongs": "furlongs": unknown unit`},
		{"incompatible unit", "  x.y: {signal: M.Mph, unit: deg}\n", `p.yaml:3: role x.y: unit deg: signal M.Mph: convert "MPH" (speed) to "deg" (angle): incompatible units`},
		{"no DBC unit to convert", "  x.y: {signal: M.Bare, unit: km/h}\n", "p.yaml:3: role x.y: unit km/h: signal M.Bare has no unit in"},
		{"role needs km/h", "  vehicle.speed: M.Mph\n", "p.yaml:3: vehicle.speed: signal Mph is in MPH and this role needs km/h: write {signal: M.Mph, unit: km/h}"},
		{"role declared in mph", "  vehicle.speed: {signal: M.Mph, unit: mph}\n", "p.yaml:3: vehicle.speed: unit mph: the gateway needs this role in km/h"},
		{"role unit unknowable", "  vehicle.speed: M.Odd\n", `p.yaml:3: vehicle.speed: signal Odd is in "kph/mph", which cannot be checked against the km/h this role needs`},
		{"heading in radians", "  position.heading: M.Rad\n", "p.yaml:3: position.heading: signal Rad is in rad and this role needs deg"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := config.LoadProfile(writeProfile(t, dir, tc.signals))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := strings.ReplaceAll(err.Error(), dir+"/", ""); !strings.Contains(got, tc.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", got, tc.want)
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Errorf("error %v is not a ConfigError with a line", err)
			}
		})
	}
}

// teslaProfile is the shipped profile of a real car; its DBC is the
// reference data beside the repository.
const teslaProfile = "../../can/profiles/tesla/model-s.yaml"

func loadTesla(t *testing.T) *config.Profile {
	t.Helper()
	if _, err := os.Stat("../../shared/data/dbc/tesla_can.dbc"); errors.Is(err, os.ErrNotExist) {
		t.Skip("reference data ../shared/data/dbc/tesla_can.dbc is absent: the Tesla profile test needs ../shared/data beside the repository")
	}
	p, err := config.LoadProfile(teslaProfile)
	if err != nil {
		t.Fatalf("LoadProfile(%s): %v", teslaProfile, err)
	}
	return p
}

// TestTeslaProfile encodes frames with the real DBC and decodes them through
// the shipped profile back to the physical values, in the roles' units.
func TestTeslaProfile(t *testing.T) {
	p := loadTesla(t)
	if len(p.DB.Warnings) != 1 || !strings.Contains(p.DB.Warnings[0], "VAL_ names signal UI_mapSpeedLimit") {
		t.Errorf("warnings %q, want the known stray VAL_ only", p.DB.Warnings)
	}
	d, err := p.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	frames := []struct {
		msg    string
		values map[string]float64
		want   map[string]float64 // role → value in the role's unit
		tol    float64
	}{
		{"DI_torque2", map[string]float64{"DI_vehicleSpeed": 62.5},
			map[string]float64{"vehicle.speed": 62.5 * 1.609344}, 1e-9},
		{"MCU_locationStatus", map[string]float64{"MCU_latitude": 52.520008, "MCU_longitude": 13.404954, "MCU_gpsAccuracy": 4.2},
			map[string]float64{"position.latitude": 52.520008, "position.longitude": 13.404954, "position.accuracy": 4.2}, 1e-9},
		{"MCU_locationStatus", map[string]float64{"MCU_latitude": -33.856784, "MCU_longitude": -151.215297, "MCU_gpsAccuracy": 25.4},
			map[string]float64{"position.latitude": -33.856784, "position.longitude": -151.215297, "position.accuracy": 25.4}, 1e-9},
		{"UI_gpsVehicleSpeed", map[string]float64{"UI_gpsVehicleHeading": 271.5, "UI_gpsVehicleSpeed": 88.25, "UI_gpsHDOP": 1.3},
			map[string]float64{"position.heading": 271.5, "position.speed": 88.25, "position.hdop": 1.3}, 1e-9},
		{"UI_status", map[string]float64{"UI_cameraActive": 1, "UI_touchActive": 1},
			map[string]float64{"camera.ui.status": 1}, 0},
	}
	out := make([]can.Value, d.MaxValuesPerFrame())
	for _, fr := range frames {
		m := p.DB.Message(fr.msg)
		f := m.NewFrame()
		for name, v := range fr.values {
			if err := m.Signal(name).Encode(&f.Data, v); err != nil {
				t.Fatalf("encode %s.%s = %v: %v", fr.msg, name, v, err)
			}
		}
		n, err := d.Decode(&f, out)
		if err != nil {
			t.Fatalf("decode %s (%v): %v", fr.msg, f, err)
		}
		got := map[string]float64{}
		for _, v := range out[:n] {
			got[d.Roles()[v.Role]] = v.Phys
			if v.Flags != 0 {
				t.Errorf("%s: %s flagged %v", fr.msg, d.Roles()[v.Role], v.Flags)
			}
		}
		if len(got) != len(fr.want) {
			t.Errorf("%s decoded %v, want %v", fr.msg, got, fr.want)
		}
		for role, w := range fr.want {
			if g, ok := got[role]; !ok || math.Abs(g-w) > fr.tol {
				t.Errorf("%s: %s = %v, want %v", fr.msg, role, g, w)
			}
		}
	}
	// The kernel filter list is exactly the four messages mapped.
	var ids []uint32
	for _, f := range d.Filters() {
		ids = append(ids, f.ID)
	}
	if want := []uint32{0x118, 760, 824, 0x3d8}; !equalIDs(ids, want) {
		t.Errorf("Filters() = %v, want %v", ids, want)
	}
	if got := p.Mappings[0]; got.Role != "camera.ui.status" {
		t.Errorf("first mapping %+v", got)
	}
	for _, m := range p.Mappings {
		if m.Role == "vehicle.speed" && (m.Unit != "km/h" || m.MaxAge != 500*time.Millisecond) {
			t.Errorf("vehicle.speed mapping %+v", m)
		}
	}
}

func equalIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// teslaModel3 is the shipped profile of the Model 3's party bus.
const teslaModel3 = "../../can/profiles/tesla/model-3.yaml"

// TestTeslaModel3Profile encodes frames with the real party-bus DBC and
// decodes them through the shipped profile: the wheel speed in km/h
// (negative reversing), the steering angle in degrees, positive right as
// the profile's turning section says, with the bicycle model of the car.
func TestTeslaModel3Profile(t *testing.T) {
	if _, err := os.Stat("../../shared/data/dbc/tesla_model3_party.dbc"); errors.Is(err, os.ErrNotExist) {
		t.Skip("reference data ../shared/data/dbc/tesla_model3_party.dbc is absent: the Tesla profile test needs ../shared/data beside the repository")
	}
	p, err := config.LoadProfile(teslaModel3)
	if err != nil {
		t.Fatalf("LoadProfile(%s): %v", teslaModel3, err)
	}
	if want := (gateway.Turning{SteeringRight: true, SteeringRatio: 12, WheelbaseM: 2.875}); p.Turning != want {
		t.Errorf("Turning %+v, want %+v", p.Turning, want)
	}
	d, err := p.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]can.Value, d.MaxValuesPerFrame())
	for _, fr := range []struct {
		msg, sig string
		v        float64
		role     string
		flagged  bool
	}{
		{"DI_speed", "DI_vehicleSpeed", 88.24, "vehicle.speed", false},
		{"DI_speed", "DI_vehicleSpeed", -4.96, "vehicle.speed", false},
		{"DI_speed", "DI_vehicleSpeed", 287.6, "vehicle.speed", true}, // raw 4095: SNA
		{"SCCM_steeringAngleSensor", "SCCM_steeringAngle", 123.4, "vehicle.steering_angle", false},
		{"SCCM_steeringAngleSensor", "SCCM_steeringAngle", -480.7, "vehicle.steering_angle", false},
	} {
		m := p.DB.Message(fr.msg)
		f := m.NewFrame()
		if err := m.Signal(fr.sig).Encode(&f.Data, fr.v); err != nil {
			t.Fatalf("encode %s.%s = %v: %v", fr.msg, fr.sig, fr.v, err)
		}
		n, err := d.Decode(&f, out)
		if err != nil || n != 1 {
			t.Fatalf("decode %s: %d values, %v", fr.msg, n, err)
		}
		v := out[0]
		if got := d.Roles()[v.Role]; got != fr.role || math.Abs(v.Phys-fr.v) > 1e-6 || (v.Flags != 0) != fr.flagged {
			t.Errorf("%s %v: decoded %s = %v, flags %v", fr.sig, fr.v, got, v.Phys, v.Flags)
		}
	}
	var ids []uint32
	for _, f := range d.Filters() {
		ids = append(ids, f.ID)
	}
	if want := []uint32{297, 599}; !equalIDs(ids, want) {
		t.Errorf("Filters() = %v, want %v", ids, want)
	}
	// No position on this bus: the gateway says so rather than run blind.
	if _, err := gateway.New(gateway.Options{Decoder: d, Cameras: noCameras(t), Turning: p.Turning}); err == nil || !strings.Contains(err.Error(), gateway.RoleLatitude) {
		t.Errorf("a gateway on the party bus alone: %v, want refused for want of a position", err)
	}
}
