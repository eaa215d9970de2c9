package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway"
)

// turningDBC has a yaw rate and a steering angle in the roles' units, and
// a yaw rate in rad/s.
const turningDBC = `VERSION ""

BO_ 100 M: 8 X
 SG_ Lat : 0|16@1- (0.01,0) [0|0] "deg" X
 SG_ Lon : 16|16@1- (0.01,0) [0|0] "deg" X
 SG_ Yaw : 32|16@1- (0.01,0) [0|0] "deg/s" X
 SG_ YawRad : 48|8@1- (0.01,0) [0|0] "rad/s" X
BO_ 101 N: 8 X
 SG_ Steer : 0|16@1- (0.1,0) [0|0] "deg" X
`

// writeTurning writes a profile of turningDBC: signals (each line
// indented by two spaces) and the rest of the file after them.
func writeTurning(t *testing.T, signals, rest string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.dbc"), []byte(turningDBC), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "p.yaml")
	data := "dbc: t.dbc\nsignals:\n  position.latitude: M.Lat\n  position.longitude: M.Lon\n" + signals + rest
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileTurning(t *testing.T) {
	for _, tc := range []struct {
		name, signals, rest string
		want                gateway.Turning
	}{
		{"yaw rate alone", "  vehicle.yaw_rate: M.Yaw\n", "", gateway.Turning{}},
		{"yaw rate counted right", "  vehicle.yaw_rate: M.Yaw\n", "turning: {yaw_rate_positive: right}\n", gateway.Turning{YawRateRight: true}},
		{"yaw rate converted", "  vehicle.yaw_rate: {signal: M.YawRad, unit: deg/s}\n", "", gateway.Turning{}},
		{"steering", "  vehicle.steering_angle: N.Steer\n", "turning:\n  steering_positive: right\n  steering_ratio: 12\n  wheelbase_m: 2.875\n",
			gateway.Turning{SteeringRight: true, SteeringRatio: 12, WheelbaseM: 2.875}},
		{"both", "  vehicle.yaw_rate: M.Yaw\n  vehicle.steering_angle: N.Steer\n", "turning:\n  yaw_rate_positive: left\n  steering_ratio: 15.8\n  wheelbase_m: 3\n",
			gateway.Turning{SteeringRatio: 15.8, WheelbaseM: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := config.LoadProfile(writeTurning(t, tc.signals, tc.rest))
			if err != nil {
				t.Fatal(err)
			}
			if p.Turning != tc.want {
				t.Errorf("Turning %+v, want %+v", p.Turning, tc.want)
			}
		})
	}
}

func TestProfileTurningErrors(t *testing.T) {
	const steer = "  vehicle.steering_angle: N.Steer\n"
	const yaw = "  vehicle.yaw_rate: M.Yaw\n"
	for _, tc := range []struct {
		name, signals, rest, want string
	}{
		{"yaw rate in rad/s", "  vehicle.yaw_rate: M.YawRad\n", "", "p.yaml:5: vehicle.yaw_rate: signal YawRad is in rad/s and this role needs deg/s"},
		{"steering without its model", steer, "", "p.yaml:5: vehicle.steering_angle needs turning.steering_ratio and turning.wheelbase_m"},
		{"no wheelbase", steer, "turning:\n  steering_ratio: 12\n", "p.yaml:7: turning.wheelbase_m is required: vehicle.steering_angle is mapped"},
		{"ratio zero", steer, "turning:\n  steering_ratio: 0\n  wheelbase_m: 3\n", "p.yaml:7: turning.steering_ratio 0: want 1 to 50"},
		{"ratio not a number", steer, "turning:\n  wheelbase_m: 3\n  steering_ratio: .nan\n", "p.yaml:8: turning.steering_ratio NaN: want 1 to 50"},
		{"ratio a word", steer, "turning:\n  steering_ratio: fast\n", "p.yaml:7: cannot unmarshal"},
		{"wheelbase of a ship", steer, "turning:\n  steering_ratio: 12\n  wheelbase_m: 200\n", "p.yaml:8: turning.wheelbase_m 200: want 0.5 to 20 metres"},
		{"ratio without steering", yaw, "turning:\n  steering_ratio: 12\n", "p.yaml:7: turning.steering_ratio: the profile maps no vehicle.steering_angle"},
		{"sign without the role", yaw, "turning:\n  steering_positive: left\n", "p.yaml:7: turning.steering_positive: the profile maps no vehicle.steering_angle"},
		{"yaw sign without the role", steer, "turning:\n  yaw_rate_positive: left\n  steering_ratio: 12\n  wheelbase_m: 3\n", "p.yaml:7: turning.yaw_rate_positive: the profile maps no vehicle.yaw_rate"},
		{"sign clockwise", yaw, "turning:\n  yaw_rate_positive: clockwise\n", `p.yaml:7: turning.yaw_rate_positive: want left or right, got "clockwise"`},
		{"sign capitalised", yaw, "turning:\n  yaw_rate_positive: Left\n", `p.yaml:7: turning.yaw_rate_positive: want left or right, got "Left"`},
		{"unknown key", yaw, "turning:\n  invert: true\n", "p.yaml:7: field invert not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := config.LoadProfile(writeTurning(t, tc.signals, tc.rest))
			if err == nil {
				t.Fatalf("accepted: %+v", p.Turning)
			}
			got := err.Error()
			if i := strings.Index(got, "p.yaml:"); i >= 0 {
				got = got[i:]
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("error\n  %s\nwant it to start\n  %s", got, tc.want)
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Errorf("error %v is not a ConfigError with a line", err)
			}
		})
	}
}

func TestDecisionCourseThresholds(t *testing.T) {
	const cams = "cameras: [{name: front, class: exterior}]\ndecision:\n  clear_fixes: 3\n"
	s, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": gatewaytest.GoodHead + cams +
		"  yaw_bias_dps: 0.2\n  slip_deg_per_mps2: 1\n  reverse_max_kmh: 20\n"}))
	if err != nil {
		t.Fatal(err)
	}
	d, def := s.Config.Decision, gateway.DefaultDecision()
	if d.YawBiasDps != 0.2 || d.SlipDegPerMps2 != 1 || d.ReverseMaxKmh != 20 || d.YawScaleError != def.YawScaleError || d.SteeringBiasDeg != def.SteeringBiasDeg {
		t.Errorf("decision %+v: the keys given are not applied or the others lost their defaults", d)
	}
	for _, tc := range []struct{ line, want string }{
		{"  yaw_bias_dps: -0.1\n", "quietzone.yaml:11: yaw_bias_dps: want 0 to 10 deg/s, got -0.1"},
		{"  yaw_bias_dps: .inf\n", "quietzone.yaml:11: yaw_bias_dps: want 0 to 10 deg/s, got +Inf"},
		{"  yaw_scale_error: 1\n", "quietzone.yaml:11: yaw_scale_error: want 0 up to, not including, 1"},
		{"  steering_bias_deg: 180\n", "quietzone.yaml:11: steering_bias_deg: want 0 to 90 degrees at the steering wheel, got 180"},
		{"  steering_scale_error: .nan\n", "quietzone.yaml:11: steering_scale_error: want 0 up to, not including, 1"},
		{"  slip_deg_per_mps2: -1\n", "quietzone.yaml:11: slip_deg_per_mps2: want 0 to 10 degrees per m/s²"},
		{"  reverse_max_kmh: 100\n", "quietzone.yaml:11: reverse_max_kmh: want 0 to 50 km/h, got 100"},
		{"  yaw_bias: 1\n", "quietzone.yaml:11: field yaw_bias not found"},
	} {
		_, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": gatewaytest.GoodHead + cams + tc.line}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.line, err, tc.want)
		}
	}
}

// TestNewTurning: a gateway whose signal map has a steering angle and no
// yaw rate needs the bicycle model; a model out of range is refused.
func TestNewTurning(t *testing.T) {
	prof, err := config.LoadProfile("builtin:quietzone")
	if err != nil {
		t.Fatal(err)
	}
	var maps []can.Mapping
	for _, m := range prof.Mappings {
		if m.Role != gateway.RoleYawRate {
			maps = append(maps, m)
		}
	}
	dec, err := can.NewDecoder(prof.DB, maps)
	if err != nil {
		t.Fatal(err)
	}
	cams := noCameras(t)
	for _, tc := range []struct {
		turning gateway.Turning
		want    string
	}{
		{gateway.Turning{}, "no steering ratio and wheelbase"},
		{gateway.Turning{SteeringRatio: 0.5, WheelbaseM: 3}, "steering_ratio 0.5"},
		{gateway.Turning{SteeringRatio: 15, WheelbaseM: -3}, "wheelbase_m -3"},
		{prof.Turning, ""},
	} {
		_, err := gateway.New(gateway.Options{Decoder: dec, Cameras: cams, Turning: tc.turning})
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Turning %+v: error %v, want %q", tc.turning, err, tc.want)
		}
	}
}

// noCameras is a controller of one camera on a power line, for gateways
// that are built and never run.
func noCameras(t *testing.T) *camera.Controller {
	t.Helper()
	cams, err := camera.NewController([]camera.Spec{{Name: "f", Class: camera.Exterior, Power: cameratest.NewPin("p")}}, nil, camera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cams
}

// TestLoadWarnsWithoutTurning: a profile with neither a yaw rate nor a
// steering angle is accepted, with a warning that a drag cannot be
// caught on it; the reference vehicle's is not warned about.
func TestLoadWarnsWithoutTurning(t *testing.T) {
	warnsOnlyWithout(t, gatewaytest.GoodHead, "the profile maps no vehicle.yaw_rate or vehicle.steering_angle", func(l string) bool {
		return strings.Contains(l, "VCU_Dynamics") || strings.HasPrefix(l, "turning:") || strings.HasPrefix(l, "  steering_ratio") || strings.HasPrefix(l, "  wheelbase_m")
	})
}

// TestLoadWarnsAboutThePowerHold: a power hold line on a vehicle whose
// profile maps no ignition is held as long as the daemon runs, and says
// so; the reference vehicle's is not warned about.
func TestLoadWarnsAboutThePowerHold(t *testing.T) {
	head := strings.Replace(gatewaytest.GoodHead, "  interfaces: [vcan0]\n", "  interfaces: [vcan0]\n  power_hold_line: HOLD\n", 1)
	warnsOnlyWithout(t, head, "the profile maps no vehicle.ignition: the power hold line is held as long as the daemon runs", func(l string) bool {
		return strings.Contains(l, "vehicle.ignition")
	})
}

// warnsOnlyWithout loads the configuration head (with one camera) on the
// reference vehicle, which must not give the warning, and on its profile
// without the lines drop picks, which must.
func warnsOnlyWithout(t *testing.T, head, warning string, drop func(line string) bool) {
	t.Helper()
	const cams = "cameras: [{name: front, class: exterior}]\n"
	s, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": head + cams}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(s.Warnings, "\n"), warning) {
		t.Errorf("the reference vehicle warned about: %q", s.Warnings)
	}
	dbc, err := os.ReadFile("../../can/profiles/quietzone.dbc")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile("../../can/profiles/quietzone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(ref), "\n") {
		if !drop(l) {
			kept = append(kept, l)
		}
	}
	prof := strings.Replace(strings.Join(kept, "\n"), "dbc: quietzone.dbc", "dbc: vehicle.dbc", 1)
	s, err = config.Load(gatewaytest.WriteSet(t, map[string]string{
		"quietzone.yaml": strings.Replace(head, "builtin:quietzone", "vehicle.yaml", 1) + cams,
		"vehicle.yaml":   prof,
		"vehicle.dbc":    string(dbc),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(s.Warnings, "\n"), warning) {
		t.Errorf("no warning %q without those lines: %q", warning, s.Warnings)
	}
}
