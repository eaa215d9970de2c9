package gateway

import (
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/can/profiles"
)

// Profile is the reference vehicle's profile as the loop's own tests and
// benchmarks need it. The loop does not read profiles (gateway/config
// does, and imports this package): this reads the built-in one's compact
// signal map, commands and fixed command signals, nothing else.
type Profile struct {
	DB       *can.Database
	Mappings []can.Mapping
	Commands map[string]*can.Signal
	Fixed    []camera.Fixed
	Codes    camera.Codes
	Turning  Turning
}

// loadBuiltin reads can/profiles/quietzone.yaml and its DBC.
func loadBuiltin(tb testing.TB) *Profile {
	tb.Helper()
	var pf struct {
		DBC          string            `yaml:"dbc"`
		Signals      map[string]string `yaml:"signals"`
		Commands     map[string]string `yaml:"commands"`
		CommandFixed map[string]int64  `yaml:"command_fixed"`
		Turning      struct {
			SteeringRatio float64 `yaml:"steering_ratio"`
			WheelbaseM    float64 `yaml:"wheelbase_m"`
		} `yaml:"turning"`
	}
	data, err := fs.ReadFile(profiles.FS, profiles.Default+".yaml")
	if err == nil {
		var raw map[string]any
		if err = yaml.Unmarshal(data, &raw); err == nil {
			delete(raw, "camera_status")
			delete(raw, "camera_command")
			var b []byte
			if b, err = yaml.Marshal(raw); err == nil {
				err = yaml.Unmarshal(b, &pf)
			}
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	dbc, err := fs.ReadFile(profiles.FS, pf.DBC)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Profile{Commands: map[string]*can.Signal{}, Codes: camera.DefaultCodes,
		Turning: Turning{SteeringRatio: pf.Turning.SteeringRatio, WheelbaseM: pf.Turning.WheelbaseM}}
	if p.DB, err = can.LoadDBC(pf.DBC, dbc); err != nil {
		tb.Fatal(err)
	}
	signal := func(ref string) *can.Signal {
		msg, sig, _ := strings.Cut(ref, ".")
		return p.DB.Message(msg).Signal(sig)
	}
	for _, role := range slices.Sorted(maps.Keys(pf.Signals)) {
		msg, sig, _ := strings.Cut(pf.Signals[role], ".")
		p.Mappings = append(p.Mappings, can.Mapping{Role: role, Message: msg, Signal: sig})
	}
	for cam, ref := range pf.Commands {
		p.Commands[strings.TrimPrefix(cam, CameraRolePrefix)] = signal(ref)
	}
	for ref, raw := range pf.CommandFixed {
		p.Fixed = append(p.Fixed, camera.Fixed{Signal: signal(ref), Raw: raw})
	}
	return p
}

// NewDecoder builds a decoder for the profile's signal map.
func (p *Profile) NewDecoder() (*can.Decoder, error) { return can.NewDecoder(p.DB, p.Mappings) }

// CameraOptions are the controller's options for cameras specs, every
// camera of the profile among them.
func (p *Profile) CameraOptions(_ []camera.Spec, o camera.Options) camera.Options {
	o.Codes, o.Fixed = p.Codes, p.Fixed
	return o
}
