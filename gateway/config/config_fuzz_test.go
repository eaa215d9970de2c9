package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway"
	"quietzone/uplink"
)

// FuzzParsePolicy: no policy file makes ParsePolicy panic; a refusal is a
// ConfigError naming the file; and what it accepts is a valid policy that
// never lets a non-vehicle class out: read without a profile it names
// well-known vehicle roles alone, read for the reference vehicle it names
// none of that vehicle's location or personal roles, and redaction under
// it lets out vehicle data alone, whatever the samples are called.
func FuzzParsePolicy(f *testing.F) {
	good, err := gatewaytest.ReadGood("policy.yaml")
	if err != nil {
		f.Fatal(err)
	}
	ref, err := config.LoadProfile("builtin:quietzone")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("telemetry_period: 1s\nsignals:\n  phone.contacts: {}\n"))
	f.Add([]byte("telemetry_period: 1s\nsignals:\n  position.latitude: {max_rate_hz: 1}\n"))
	f.Add([]byte("telemetry_period: 0s\nnear_zones: {time_quantum_s: 1.5, jitter_m: -1}\n"))
	f.Add([]byte("position: {precision_m: 0.5}\ncameras: {cabin: true}\n"))
	f.Add([]byte("signals: [1, 2]\n"))
	f.Add([]byte("signals:\n  \"*\": {}\n  Position.Latitude: {}\n  ph\u043ene.contact.chars: {}\n"))
	f.Add([]byte("signals:\n  vehicle.speed: {}\n  vehicle.ignition: {quantum: 1}\n  gnss.lat: {}\n  vehicle.odometer: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz-policy.yaml"
		p, err := config.ParsePolicy(name, data)
		if err != nil {
			if p != nil {
				t.Error("a policy came back with the error")
			}
			if !strings.HasPrefix(err.Error(), "load policy: "+name) {
				t.Fatalf("error %q does not name the file", err)
			}
		} else {
			if err := p.Validate(); err != nil {
				t.Fatalf("accepted an invalid policy: %v", err)
			}
			for role := range p.Signals {
				if c, ok := uplink.RoleClass(role); !ok || c != uplink.ClassVehicle {
					t.Fatalf("accepted without a profile a policy that names %q (%v)", role, c)
				}
			}
			if p.Position != nil && !(p.Position.PrecisionM >= 1) {
				t.Fatalf("accepted a position grid of %v m", p.Position.PrecisionM)
			}
		}
		pf, _, err := config.ParsePolicyFor(name, data, ref)
		if err != nil {
			return
		}
		var samples []uplink.Sample
		for _, m := range ref.Mappings {
			c, _ := ref.Class(m.Role)
			if _, allowed := pf.Signals[m.Role]; allowed && c != uplink.ClassVehicle {
				t.Fatalf("accepted for the reference vehicle a policy that names %s (%v)", m.Role, c)
			}
			samples = append(samples, uplink.Sample{Role: m.Role, Value: 1, Class: c})
		}
		for role := range pf.Signals { // named by the policy, unknown to the vehicle: no class
			samples = append(samples, uplink.Sample{Role: role, Value: 2})
		}
		rec, _, _ := uplink.NewRedactor(pf).Redact(uplink.Snapshot{Time: time.Unix(1e9, 0), Samples: samples})
		for role := range rec.Signals {
			if c, _ := ref.Class(role); c != uplink.ClassVehicle {
				t.Fatalf("%s (%v) left the vehicle", role, c)
			}
		}
	})
}

// FuzzLoadConfig: no main configuration file makes LoadConfig panic, and
// a refusal names the file (with its line when it is about a key).
// LoadConfig opens none of the files the configuration names.
func FuzzLoadConfig(f *testing.F) {
	good, err := gatewaytest.ReadGood("quietzone.yaml")
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
		c, err := config.LoadConfig(path)
		if err != nil {
			if c != nil {
				t.Error("a config came back with the error")
			}
			var ce *config.ConfigError
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
// file are skipped, so that the fuzzer reads nothing but the two. What it
// accepts gives every role its one spelling and a class, every DBC signal
// one role, custom vehicle data no message with location or personal
// data; a policy that allows every role is refused unless all are vehicle
// data; and redaction under any policy lets out vehicle data alone.
func FuzzLoadProfile(f *testing.F) {
	dbc, err := os.ReadFile(filepath.Join("..", "..", "can", "profiles", "quietzone.dbc"))
	if err != nil {
		f.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join("..", "..", "can", "profiles", "quietzone.yaml"))
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
	f.Add([]byte("dbc: vehicle.dbc\nsignals:\n  position.latitude: GNSS_Position.GNSS_Latitude\n  gnss.lat: {signal: GNSS_Position.GNSS_Latitude, class: vehicle}\n"))
	f.Add([]byte("dbc: vehicle.dbc\nsignals:\n  hu.contact_chars: {signal: HU_PhoneContact.HU_ContactChars, class: vehicle}\n  x.gear: {signal: VCU_Speed.VCU_Gear, class: vehicle}\n  cam.counter: {signal: CAM_Command.CAM_CmdCounter, class: vehicle}\n"))
	f.Add([]byte("dbc: vehicle.dbc\nsignals:\n  Phone.contact.chars: HU_PhoneContact.HU_ContactChars\n  gnss.sats: {signal: GNSS_Status.GNSS_NumSats, class: location}\n"))
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
		p, err := config.LoadProfile(path)
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
		signals := map[*can.Signal]string{}
		var samples []uplink.Sample
		allow := map[string]uplink.Rule{}
		var policy strings.Builder
		policy.WriteString("signals:\n")
		allVehicle := true
		for _, m := range p.Mappings {
			c, ok := p.Class(m.Role)
			if !ok || c == uplink.ClassUnknown || !uplink.ValidRole(m.Role) {
				t.Fatalf("accepted role %q without a class (%v)", m.Role, c)
			}
			if wk, known := uplink.RoleClass(m.Role); known && wk != c {
				t.Fatalf("well-known role %s has class %v, not %v", m.Role, c, wk)
			}
			sig := p.Signal(m.Role)
			if other, dup := signals[sig]; dup {
				t.Fatalf("signal %s.%s under %s and %s", m.Message, m.Signal, other, m.Role)
			}
			signals[sig] = m.Role
			samples = append(samples, uplink.Sample{Role: m.Role, Value: 1, Class: c})
			allow[m.Role] = uplink.Rule{}
			fmt.Fprintf(&policy, "  %q: {}\n", m.Role)
			allVehicle = allVehicle && c == uplink.ClassVehicle
		}
		for _, m := range p.Mappings {
			c, _ := p.Class(m.Role)
			if _, known := uplink.RoleClass(m.Role); known || c != uplink.ClassVehicle {
				continue
			}
			for _, o := range p.Mappings {
				if oc, _ := p.Class(o.Role); oc != uplink.ClassVehicle && o.Message == m.Message {
					t.Fatalf("custom vehicle role %s shares message %s with %s (%v)", m.Role, m.Message, o.Role, oc)
				}
			}
		}
		_, _, err = config.ParsePolicyFor("all.yaml", []byte(policy.String()), p)
		switch {
		case err == nil && !allVehicle:
			t.Fatalf("a policy allowing every role of a profile with non-vehicle roles was accepted:\n%s", policy.String())
		case err != nil && allVehicle:
			t.Fatalf("a policy allowing the profile's vehicle roles alone was refused: %v", err)
		}
		rec, _, _ := uplink.NewRedactor(&uplink.Policy{TelemetryPeriod: time.Second, Signals: allow}).Redact(uplink.Snapshot{Time: time.Unix(1e9, 0), Samples: samples})
		for role := range rec.Signals {
			if c, _ := p.Class(role); c != uplink.ClassVehicle {
				t.Fatalf("%s (%v) left the vehicle", role, c)
			}
		}
	})
}
