package gateway_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/gateway"
	"quietzone/uplink"
)

// FuzzParsePolicy: no policy file makes ParsePolicy panic; a refusal is a
// ConfigError naming the file; and what it accepts is a valid policy that
// never lets phone data or a raw position out.
func FuzzParsePolicy(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "good", "policy.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("telemetry_period: 1s\nsignals:\n  phone.contacts: {}\n"))
	f.Add([]byte("telemetry_period: 1s\nsignals:\n  position.latitude: {max_rate_hz: 1}\n"))
	f.Add([]byte("telemetry_period: 0s\nnear_zones: {time_quantum_s: 1.5, jitter_m: -1}\n"))
	f.Add([]byte("position: {precision_m: 0.5}\ncameras: {cabin: true}\n"))
	f.Add([]byte("signals: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz-policy.yaml"
		p, err := gateway.ParsePolicy(name, data)
		if err != nil {
			if p != nil {
				t.Error("a policy came back with the error")
			}
			if !strings.HasPrefix(err.Error(), "load policy: "+name) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid policy: %v", err)
		}
		for role := range p.Signals {
			if uplink.Forbidden(role) || role == "position.latitude" || role == "position.longitude" {
				t.Fatalf("accepted a policy that lets %q out", role)
			}
		}
		if p.Position != nil && !(p.Position.PrecisionM >= 1) {
			t.Fatalf("accepted a position grid of %v m", p.Position.PrecisionM)
		}
	})
}

// FuzzLoadConfig: no main configuration file makes LoadConfig panic, and
// a refusal names the file (with its line when it is about a key).
// LoadConfig opens none of the files the configuration names.
func FuzzLoadConfig(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "good", "quietzone.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("vehicle: {profile: builtin:quietzone}\nzones: {file: z.geojson, default_buffer_m: -1}\n"))
	f.Add([]byte("vehicle: {profile: builtin:quietzone}\nzones: {file: z}\npolicy: p\ncameras: [{name: a, class: cabin, enabled: true}]\ndecision: {clear_fixes: 0}\n"))
	f.Add([]byte("vehicle:\n  profile: x\n  interfaces: [can0, can0]\nenforcement: {grace: -1s, switch_mode: sometimes}\n"))
	f.Add([]byte("uplink: {broker: 'ssl://[::1', queue: {quota_mb: 1e30, fsync: 5ms}}\n"))
	f.Add([]byte("vehicle: {profile: builtin:quietzone}\ndecision: {yaw_bias_dps: .nan, yaw_scale_error: 1, slip_deg_per_mps2: -0, reverse_max_kmh: 1e9}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := gateway.LoadConfig(path)
		if err != nil {
			if c != nil {
				t.Error("a config came back with the error")
			}
			var ce *gateway.ConfigError
			if !errors.As(err, &ce) || ce.File != path || ce.Reason == "" {
				t.Fatalf("error %q (%T) is not a ConfigError about %s", err, err, path)
			}
			return
		}
		if c.Vehicle.Profile == "" {
			t.Fatal("accepted a config without a vehicle profile")
		}
		if d := c.Decision; !(d.YawBiasDps >= 0 && d.YawScaleError >= 0 && d.YawScaleError < 1 && d.SteeringScaleError < 1 && d.SlipDegPerMps2 >= 0 && d.ReverseMaxKmh >= 0) {
			t.Fatalf("accepted the course thresholds %+v", d)
		}
	})
}

// FuzzLoadProfile: no vehicle profile makes LoadProfile panic. The
// profile names the reference DBC beside it; inputs that name another
// file are skipped, so that the fuzzer reads nothing but the two.
func FuzzLoadProfile(f *testing.F) {
	dbc, err := os.ReadFile(filepath.Join("..", "can", "profiles", "quietzone.dbc"))
	if err != nil {
		f.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join("..", "can", "profiles", "quietzone.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vehicle.dbc"), dbc, 0o600); err != nil {
		f.Fatal(err)
	}
	var seed map[string]any
	if err := yaml.Unmarshal(ref, &seed); err != nil {
		f.Fatal(err)
	}
	seed["dbc"] = "vehicle.dbc"
	good, err := yaml.Marshal(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("dbc: vehicle.dbc\nsignals:\n  vehicle.speed: {signal: NoSuch, unit: mph, max_age: -1s}\n"))
	f.Add([]byte("dbc: vehicle.dbc\ncommands:\n  front: {message: NoSuch, signal: x, allow: 1, deny: 1}\n"))
	f.Add([]byte("dbc: vehicle.dbc\ncommands:\n  camera.front: CAM_Command.CAM_FrontCmd\n  camera.: CAM_Command.CAM_RearCmd\ncommand_fixed:\n  CAM_Command.CAM_CabinCmd: -1\n  CAM_Command.CAM_CmdCounter: 15\n"))
	f.Add([]byte("dbc: vehicle.dbc\ncommands:\n  front: CAM_Command.CAM_FrontCmd\n  camera.front: CAM_Command.CAM_RearCmd\ncommand_fixed: {GNSS_Status.GNSS_FixType: 1}\n"))
	f.Add([]byte("dbc: vehicle.dbc\nsignals:\n  vehicle.steering_angle: VCU_Dynamics.VCU_SteeringAngle\nturning: {steering_positive: right, steering_ratio: 12, wheelbase_m: 2.875}\n"))
	f.Add([]byte("dbc: vehicle.dbc\nsignals:\n  vehicle.steering_angle: VCU_Dynamics.VCU_SteeringAngle\nturning: {steering_ratio: .nan, wheelbase_m: -1e308}\n"))
	f.Add([]byte("dbc: vehicle.dbc\nsignals:\n  vehicle.yaw_rate: {signal: VCU_Dynamics.VCU_YawRate, unit: rad/s}\nturning: {yaw_rate_positive: up, steering_ratio: 12}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var named struct {
			DBC any `yaml:"dbc"`
		}
		if yaml.Unmarshal(data, &named) == nil && named.DBC != nil && named.DBC != "vehicle.dbc" {
			t.Skip("names another DBC")
		}
		path := filepath.Join(dir, "profile.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := gateway.LoadProfile(path)
		if err != nil {
			if p != nil {
				t.Error("a profile came back with the error")
			}
			if !strings.HasPrefix(err.Error(), "load profile: ") {
				t.Fatalf("error %q does not say what failed", err)
			}
			return
		}
		if p.DB == nil {
			t.Fatal("accepted a profile without its DBC")
		}
		// A steering angle comes with a bicycle model the gateway takes.
		if tr := p.Turning; p.Signal(gateway.RoleSteeringAngle) != nil && !(tr.SteeringRatio >= 1 && tr.SteeringRatio <= 50 && tr.WheelbaseM >= 0.5 && tr.WheelbaseM <= 20) {
			t.Fatalf("accepted a steering angle with the model %+v", tr)
		}
		// What the profile check accepts, the controller can send whole
		// (every camera unlisted: every command signal told deny).
		if _, err := camera.NewController(nil, []camera.FrameWriter{&cameratest.Frames{}}, p.CameraOptions(nil, camera.Options{})); err != nil {
			t.Fatalf("accepted a command layout the controller refuses: %v", err)
		}
	})
}
