package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/can/profiles"
	"quietzone/gateway"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// Profile is a vehicle profile: its DBC and the signal map.
type Profile struct {
	Name string
	DB   *can.Database
	// Mappings are the signal map: well-known roles first, then custom
	// ones, each sorted.
	Mappings []can.Mapping
	// Commands maps a camera name to the signal carrying its command.
	Commands map[string]*can.Signal
	// Fixed are the other signals of the command messages, with the
	// value every frame carries (commands.go).
	Fixed []camera.Fixed
	Codes camera.Codes
	// Turning is how the vehicle reports its turning (course.go).
	Turning gateway.Turning

	classes map[string]uplink.Class
}

type profileFile struct {
	Name          string                `yaml:"name"`
	DBC           string                `yaml:"dbc"`
	Signals       map[string]signalSpec `yaml:"signals"`
	Commands      map[string]string     `yaml:"commands"`
	CommandFixed  map[string]int64      `yaml:"command_fixed"`
	CameraStatus  *statusCodes          `yaml:"camera_status"`
	CameraCommand *commandCodes         `yaml:"camera_command"`
	Turning       *turningFile          `yaml:"turning"`
}

// signalSpec is one entry of the signal map, in the compact form
// "role: MESSAGE.SIGNAL" or the long form
// "role: {signal: MESSAGE.SIGNAL, unit: km/h, max_age: 500ms, class: vehicle}"
// (class: for custom roles only, see roles.go).
type signalSpec struct {
	Ref    string
	Unit   string
	MaxAge time.Duration
	Class  string
}

// UnmarshalYAML accepts both forms; unknown keys of the long form are
// errors, as everywhere in our files ("line N: ..." becomes file:line).
func (s *signalSpec) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		s.Ref = n.Value
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var err error
			switch k.Value {
			case "signal":
				err = v.Decode(&s.Ref)
			case "unit":
				err = v.Decode(&s.Unit)
			case "max_age":
				err = v.Decode(&s.MaxAge)
				if err == nil && s.MaxAge <= 0 {
					return fmt.Errorf("line %d: max_age must be positive", v.Line)
				}
			case "class":
				err = v.Decode(&s.Class)
			default:
				return fmt.Errorf("line %d: unknown key %q: want signal, unit, max_age or class", k.Line, k.Value)
			}
			if err != nil {
				return fmt.Errorf("line %d: %s: %v", v.Line, k.Value, strings.TrimPrefix(err.Error(), "yaml: "))
			}
		}
		if s.Ref == "" {
			return fmt.Errorf("line %d: signal: MESSAGE.SIGNAL is required", n.Line)
		}
		return nil
	}
	return fmt.Errorf("line %d: want MESSAGE.SIGNAL or {signal: MESSAGE.SIGNAL, unit: UNIT, max_age: DURATION, class: CLASS}", n.Line)
}

// roleUnits are the units the gateway computes with for its well-known
// roles. A signal in another unit must be converted (unit: in the long
// form): the gateway never guesses what a DBC's "MPH" means for it.
var roleUnits = map[string]string{
	gateway.RoleSpeed:     "km/h",
	gateway.RoleGPSSpeed:  "km/h",
	gateway.RoleLatitude:  "deg",
	gateway.RoleLongitude: "deg",
	gateway.RoleAccuracy:  "m",
	gateway.RoleHeading:   "deg",

	gateway.RoleYawRate:       "deg/s",
	gateway.RoleSteeringAngle: "deg",
}

// checkRoleUnit refuses a well-known role whose values would not arrive in
// the gateway's unit.
func checkRoleUnit(role string, spec signalSpec, sig *can.Signal) error {
	want, ok := roleUnits[role]
	if !ok {
		return nil
	}
	if spec.Unit != "" {
		if c, err := can.Convert(spec.Unit, want); err != nil || c != can.Identity {
			return fmt.Errorf("%s: unit %s: the gateway needs this role in %s", role, spec.Unit, want)
		}
		return nil
	}
	switch {
	case sig.Unit == "":
		return nil // the DBC does not say; the profile's author vouches for it
	case !can.KnownUnit(sig.Unit):
		return fmt.Errorf("%s: signal %s is in %q, which cannot be checked against the %s this role needs", role, sig.Name, sig.Unit, want)
	}
	if c, err := can.Convert(sig.Unit, want); err != nil || c != can.Identity {
		return fmt.Errorf("%s: signal %s is in %s and this role needs %s: write {signal: %s.%s, unit: %s}", role, sig.Name, sig.Unit, want, sig.Message.Name, sig.Name, want)
	}
	return nil
}

type statusCodes struct {
	Idle      int64 `yaml:"idle"`
	Recording int64 `yaml:"recording"`
	Fault     int64 `yaml:"fault"`
	Off       int64 `yaml:"off"`
}

type commandCodes struct {
	Allow int64 `yaml:"allow"`
	Deny  int64 `yaml:"deny"`
	Purge int64 `yaml:"purge"`
}

// BuiltinPrefix marks a profile shipped in the binary.
const BuiltinPrefix = "builtin:"

// LoadProfile reads a vehicle profile: "builtin:NAME" or a file path.
// The DBC it names is relative to the profile's directory.
func LoadProfile(ref string) (*Profile, error) {
	var fsys fs.FS
	name := ref
	if b, ok := strings.CutPrefix(ref, BuiltinPrefix); ok {
		fsys, name = profiles.FS, b+".yaml"
	} else {
		fsys, name = nil, ref
	}
	data, err := readProfile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	var pf profileFile
	doc, err := DecodeYAML(ref, data, &pf)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if pf.DBC == "" {
		return nil, fmt.Errorf("load profile: %w", doc.Errorf(nil, "dbc is required"))
	}
	var db *can.Database
	if fsys == profiles.FS {
		raw, err := fs.ReadFile(fsys, pf.DBC)
		if err != nil {
			return nil, fmt.Errorf("load profile: %w", doc.Errorf([]any{"dbc"}, "%v", err))
		}
		db, err = can.LoadDBC(BuiltinPrefix+pf.DBC, raw)
		if err != nil {
			return nil, fmt.Errorf("load profile: %w", err)
		}
	} else {
		path := pf.DBC
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(ref), path)
		}
		raw, err := atrest.Read(path, atrest.DBC)
		if err != nil {
			return nil, fmt.Errorf("load profile: %w", doc.Errorf([]any{"dbc"}, "%v", err))
		}
		if db, err = can.LoadDBC(path, raw); err != nil {
			return nil, fmt.Errorf("load profile: %w", err)
		}
	}
	p := &Profile{Name: pf.Name, DB: db, Commands: map[string]*can.Signal{}, Codes: camera.DefaultCodes, classes: map[string]uplink.Class{}}
	for _, r := range slices.Sorted(maps.Keys(pf.Signals)) {
		spec := pf.Signals[r]
		msg, sig, ok := strings.Cut(spec.Ref, ".")
		if !ok {
			return nil, fmt.Errorf("load profile: %w", doc.Errorf([]any{"signals", r}, "%s: want MESSAGE.SIGNAL, got %q", r, spec.Ref))
		}
		if !uplink.ValidRole(r) { // before all else: a role in another spelling is no role
			return nil, fmt.Errorf("load profile: %w", doc.Errorf([]any{"signals", r}, "role %s: not a role name (%s)", r, uplink.RoleSpelling))
		}
		p.Mappings = append(p.Mappings, can.Mapping{Role: r, Message: msg, Signal: sig, Unit: spec.Unit, MaxAge: spec.MaxAge, Class: spec.Class})
	}
	slices.SortFunc(p.Mappings, gateway.WellKnownFirst)
	mapErr := func(err error) error {
		var me *can.MapError
		if errors.As(err, &me) {
			return fmt.Errorf("load profile: %w", doc.Errorf([]any{"signals", me.Role}, "%s", me.Error()))
		}
		return fmt.Errorf("load profile: %w", err)
	}
	if _, err := can.NewDecoder(db, p.Mappings); err != nil {
		return nil, mapErr(err)
	}
	classes, problems := gateway.ClassifyRoles(db, p.Mappings)
	if len(problems) > 0 {
		return nil, mapErr(problems[0])
	}
	for i, m := range p.Mappings {
		p.classes[m.Role] = classes[i]
	}
	for _, m := range p.Mappings {
		if err := checkRoleUnit(m.Role, pf.Signals[m.Role], db.Message(m.Message).Signal(m.Signal)); err != nil {
			return nil, fmt.Errorf("load profile: %w", doc.Errorf([]any{"signals", m.Role}, "%v", err))
		}
	}
	if p.Turning, err = pf.Turning.load(doc, p); err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if c := pf.CameraStatus; c != nil {
		p.Codes.Idle, p.Codes.Recording, p.Codes.Fault, p.Codes.Off = c.Idle, c.Recording, c.Fault, c.Off
	}
	if c := pf.CameraCommand; c != nil {
		p.Codes.Allow, p.Codes.Deny, p.Codes.Purge = c.Allow, c.Deny, c.Purge
	}
	if err := p.loadCommands(doc, &pf); err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	return p, nil
}

// NewDecoder builds a decoder for the profile's signal map.
func (p *Profile) NewDecoder() (*can.Decoder, error) { return can.NewDecoder(p.DB, p.Mappings) }

// Class returns the class of a role the profile maps; ok is false for a
// role it does not map.
func (p *Profile) Class(role string) (c uplink.Class, ok bool) {
	c, ok = p.classes[role]
	return c, ok
}

// label names the profile in messages: " NAME", or "" without a name.
func (p *Profile) label() string {
	if p.Name == "" {
		return ""
	}
	return " " + p.Name
}

// Signal returns the DBC signal mapped to role, or nil.
func (p *Profile) Signal(role string) *can.Signal {
	for _, m := range p.Mappings {
		if m.Role == role {
			return p.DB.Message(m.Message).Signal(m.Signal)
		}
	}
	return nil
}

// BuiltinProfile returns the reference ("builtin:NAME") of the profile
// shipped in the binary whose name: is name.
func BuiltinProfile(name string) (string, bool) {
	files, err := fs.Glob(profiles.FS, "*.yaml")
	if err != nil {
		return "", false
	}
	for _, f := range files {
		data, err := fs.ReadFile(profiles.FS, f)
		if err != nil {
			continue
		}
		var p struct {
			Name string `yaml:"name"`
		}
		if yaml.Unmarshal(data, &p) == nil && p.Name == name {
			return BuiltinPrefix + strings.TrimSuffix(path.Base(f), ".yaml"), true
		}
	}
	return "", false
}
