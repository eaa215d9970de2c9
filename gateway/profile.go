package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"quietzone/camera"
	"quietzone/can"
	"quietzone/can/profiles"
	"sort"
	"strings"
)

// Profile is a vehicle profile: its DBC and the signal map.
type Profile struct {
	Name     string
	DB       *can.Database
	Mappings []can.Mapping
	// Commands maps a camera name to the signal carrying its command.
	Commands map[string]*can.Signal
	Codes    camera.Codes
}

type profileFile struct {
	Name          string            `yaml:"name"`
	DBC           string            `yaml:"dbc"`
	Signals       map[string]string `yaml:"signals"`
	Commands      map[string]string `yaml:"commands"`
	CameraStatus  *statusCodes      `yaml:"camera_status"`
	CameraCommand *commandCodes     `yaml:"camera_command"`
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
		fsys, name = os.DirFS(filepath.Dir(ref)), filepath.Base(ref)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	var pf profileFile
	doc, err := decodeYAML(ref, data, &pf)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if pf.DBC == "" {
		return nil, fmt.Errorf("load profile: %w", doc.errorf(nil, "dbc is required"))
	}
	var db *can.Database
	if fsys == profiles.FS {
		raw, err := fs.ReadFile(fsys, pf.DBC)
		if err != nil {
			return nil, fmt.Errorf("load profile: %w", doc.errorf([]any{"dbc"}, "%v", err))
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
		if db, err = can.LoadDBCFile(path); err != nil {
			return nil, fmt.Errorf("load profile: %w", err)
		}
	}
	p := &Profile{Name: pf.Name, DB: db, Commands: map[string]*can.Signal{}, Codes: camera.DefaultCodes}
	roles := make([]string, 0, len(pf.Signals))
	for r := range pf.Signals {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		msg, sig, ok := strings.Cut(pf.Signals[r], ".")
		if !ok {
			return nil, fmt.Errorf("load profile: %w", doc.errorf([]any{"signals", r}, "%s: want MESSAGE.SIGNAL, got %q", r, pf.Signals[r]))
		}
		p.Mappings = append(p.Mappings, can.Mapping{Role: r, Message: msg, Signal: sig})
	}
	if _, err := can.NewDecoder(db, p.Mappings); err != nil {
		var me *can.MapError
		if errors.As(err, &me) {
			return nil, fmt.Errorf("load profile: %w", doc.errorf([]any{"signals", me.Role}, "%s", me.Error()))
		}
		return nil, fmt.Errorf("load profile: %w", err)
	}
	for camName, ref := range pf.Commands {
		msgName, sigName, _ := strings.Cut(ref, ".")
		var s *can.Signal
		if m := db.Message(msgName); m != nil {
			s = m.Signal(sigName)
		}
		if s == nil {
			return nil, fmt.Errorf("load profile: %w", doc.errorf([]any{"commands", camName}, "command %s: no signal %q in %s", camName, ref, db.Name))
		}
		p.Commands[strings.TrimPrefix(camName, cameraRolePrefix)] = s
	}
	if c := pf.CameraStatus; c != nil {
		p.Codes.Idle, p.Codes.Recording, p.Codes.Fault, p.Codes.Off = c.Idle, c.Recording, c.Fault, c.Off
	}
	if c := pf.CameraCommand; c != nil {
		p.Codes.Allow, p.Codes.Deny, p.Codes.Purge = c.Allow, c.Deny, c.Purge
	}
	return p, nil
}

// NewDecoder builds a decoder for the profile's signal map.
func (p *Profile) NewDecoder() (*can.Decoder, error) { return can.NewDecoder(p.DB, p.Mappings) }

// Signal returns the DBC signal mapped to role, or nil.
func (p *Profile) Signal(role string) *can.Signal {
	for _, m := range p.Mappings {
		if m.Role == role {
			return p.DB.Message(m.Message).Signal(m.Signal)
		}
	}
	return nil
}
