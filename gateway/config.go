package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/can/profiles"
	"quietzone/geofence"
	"quietzone/uplink"
)

// Config is the daemon's configuration file. Relative paths in it are
// relative to the file's directory.
type Config struct {
	Vehicle  VehicleConfig  `yaml:"vehicle"`
	Zones    ZonesConfig    `yaml:"zones"`
	Policy   string         `yaml:"policy"`
	Cameras  []CameraConfig `yaml:"cameras"`
	Decision Decision       `yaml:"decision"`
	Uplink   UplinkConfig   `yaml:"uplink"`

	path string
	root *yaml.Node
}

// VehicleConfig names the vehicle and its buses.
type VehicleConfig struct {
	// Profile is "builtin:NAME" or the path of a profile file.
	Profile string `yaml:"profile"`
	// VIN or VINFile identify the vehicle; only a pseudonym leaves it.
	VIN     string `yaml:"vin"`
	VINFile string `yaml:"vin_file"`
	// Interfaces are SocketCAN interfaces to read, such as can0.
	Interfaces []string `yaml:"interfaces"`
}

// ZonesConfig names the zone file.
type ZonesConfig struct {
	File           string  `yaml:"file"`
	DefaultBufferM float64 `yaml:"default_buffer_m"`
}

// CameraConfig wires one camera of the vehicle profile.
type CameraConfig struct {
	Name  string `yaml:"name"`
	Class string `yaml:"class"`
	// PowerLine is the GPIO line name of the camera's supply switch.
	PowerLine string `yaml:"power_line"`
	// PowerActiveLow: the camera is powered when the line is low.
	PowerActiveLow bool `yaml:"power_active_low"`
	// Enabled lets a cabin camera record outside zones.
	Enabled bool `yaml:"enabled"`
}

// UplinkConfig says where telemetry goes.
type UplinkConfig struct {
	Broker       string `yaml:"broker"`
	CAFile       string `yaml:"ca_file"`
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	FleetKeyFile string `yaml:"fleet_key_file"`
	// DrainTimeout bounds the wait for the queue to empty at shutdown.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// ConfigError is a problem at a line of a configuration file.
type ConfigError struct {
	File   string
	Line   int
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// yamlDoc is a parsed YAML file, kept to find the line of a key.
type yamlDoc struct {
	name string
	root *yaml.Node
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// decodeYAML decodes data strictly into v (unknown keys are errors) and
// returns the document for line look-ups.
func decodeYAML(name string, data []byte, v any) (*yamlDoc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, &ConfigError{File: name, Line: 1, Reason: "empty file"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return nil, yamlError(name, err)
	}
	return &yamlDoc{name: name, root: root.Content[0]}, nil
}

// yamlError turns a YAML library error into "file:line: reason".
func yamlError(name string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ConfigError{File: name, Line: line, Reason: m[2]}
	}
	return &ConfigError{File: name, Reason: msg}
}

// line returns the line of the node at path (mapping keys, or list
// indices as ints); it falls back to the deepest node found.
func (d *yamlDoc) line(path ...any) int {
	if d.root == nil {
		return 0
	}
	n := d.root
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			break
		}
		n = next
	}
	return n.Line
}

func child(n *yaml.Node, p any) *yaml.Node {
	switch k := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && k < len(n.Content) {
			return n.Content[k]
		}
	}
	return nil
}

// errorf makes a ConfigError at the line of path.
func (d *yamlDoc) errorf(path []any, format string, args ...any) error {
	return &ConfigError{File: d.name, Line: d.line(path...), Reason: fmt.Sprintf(format, args...)}
}

// LoadConfig reads and checks the main configuration file. It does not
// open the files it names; Load does.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c := &Config{Decision: DefaultDecision(), path: path}
	doc, err := decodeYAML(path, data, c)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c.root = doc.root
	if err := c.check(doc); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return c, nil
}

func (c *Config) check(doc *yamlDoc) error {
	if c.Vehicle.Profile == "" {
		return doc.errorf([]any{"vehicle"}, "vehicle.profile is required (builtin:%s or a file)", profiles.Default)
	}
	if c.Zones.File == "" {
		return doc.errorf([]any{"zones"}, "zones.file is required: without zones the gateway would never let a camera record")
	}
	if c.Zones.DefaultBufferM < 0 {
		return doc.errorf([]any{"zones", "default_buffer_m"}, "default_buffer_m must not be negative")
	}
	if c.Policy == "" {
		return doc.errorf(nil, "policy is required: nothing may leave the vehicle without one")
	}
	if c.Vehicle.VIN != "" && c.Vehicle.VINFile != "" {
		return doc.errorf([]any{"vehicle", "vin"}, "give vin or vin_file, not both")
	}
	if len(c.Cameras) == 0 {
		return doc.errorf(nil, "cameras: at least one camera is required")
	}
	for i, cam := range c.Cameras {
		if cam.Name == "" {
			return doc.errorf([]any{"cameras", i}, "camera without a name")
		}
		if cam.Class != string(camera.Exterior) && cam.Class != string(camera.Cabin) {
			return doc.errorf([]any{"cameras", i, "class"}, "camera %s: class %q, want exterior or cabin", cam.Name, cam.Class)
		}
	}
	if err := c.Decision.validate(); err != nil {
		return doc.errorf([]any{"decision"}, "%v", err)
	}
	if c.Uplink.Broker != "" && c.Uplink.FleetKeyFile == "" {
		return doc.errorf([]any{"uplink"}, "uplink.fleet_key_file is required: the vehicle is named on the wire by a keyed pseudonym")
	}
	if (c.Uplink.CertFile == "") != (c.Uplink.KeyFile == "") {
		return doc.errorf([]any{"uplink"}, "uplink: cert_file and key_file go together")
	}
	return nil
}

// Path returns the file the config was read from.
func (c *Config) Path() string { return c.path }

// Resolve returns a path named in the config, relative to its directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// Line returns the line of a key of the config, for messages.
func (c *Config) Line(path ...any) int {
	return (&yamlDoc{name: c.path, root: c.root}).line(path...)
}

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

type policyFile struct {
	TelemetryPeriod time.Duration          `yaml:"telemetry_period"`
	Position        *positionRule          `yaml:"position"`
	Signals         map[string]*signalRule `yaml:"signals"`
	Batch           struct {
		MaxRecords int           `yaml:"max_records"`
		MaxAge     time.Duration `yaml:"max_age"`
	} `yaml:"batch"`
}

type positionRule struct {
	MaxRateHz  float64 `yaml:"max_rate_hz"`
	PrecisionM float64 `yaml:"precision_m"`
}

type signalRule struct {
	MaxRateHz float64 `yaml:"max_rate_hz"`
	Quantum   float64 `yaml:"quantum"`
}

// ParsePolicy reads an uplink policy. Anything it does not list stays in
// the vehicle.
func ParsePolicy(name string, data []byte) (*uplink.Policy, error) {
	var pf policyFile
	pf.TelemetryPeriod = time.Second
	pf.Batch.MaxRecords = 60
	pf.Batch.MaxAge = time.Minute
	doc, err := decodeYAML(name, data, &pf)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	p := &uplink.Policy{
		TelemetryPeriod: pf.TelemetryPeriod,
		Signals:         map[string]uplink.Rule{},
		Batch:           uplink.BatchRule{MaxRecords: pf.Batch.MaxRecords, MaxAge: pf.Batch.MaxAge},
	}
	if pf.Position != nil {
		p.Position = &uplink.PositionRule{MaxRateHz: pf.Position.MaxRateHz, PrecisionM: pf.Position.PrecisionM}
	}
	for role, r := range pf.Signals {
		if r == nil {
			r = &signalRule{}
		}
		p.Signals[role] = uplink.Rule{MaxRateHz: r.MaxRateHz, Quantum: r.Quantum}
	}
	if err := p.Validate(); err != nil {
		var ke *uplink.KeyError
		if errors.As(err, &ke) {
			path := []any{ke.Key}
			if _, ok := p.Signals[ke.Key]; ok {
				path = []any{"signals", ke.Key}
			} else if k, sub, ok := strings.Cut(ke.Key, "."); ok {
				path = []any{k, sub}
			}
			return nil, fmt.Errorf("load policy: %w", doc.errorf(path, "%s", ke.Error()))
		}
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return p, nil
}

// LoadPolicy reads an uplink policy file.
func LoadPolicy(path string) (*uplink.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return ParsePolicy(path, data)
}

// Setup is a checked configuration with every file it names loaded.
type Setup struct {
	Config  *Config
	Profile *Profile
	Zones   *geofence.Index
	Policy  *uplink.Policy
	// VIN and FleetKey make the vehicle's pseudonym; the VIN never leaves.
	VIN      string
	FleetKey []byte
	// TLS is the uplink's client TLS configuration, nil for plain TCP.
	TLS *tls.Config
	// Warnings are problems that do not stop the gateway.
	Warnings []string
}

// Load reads the configuration and every file it names, and checks that
// they fit together. `quietzone check` prints its error; `quietzone run`
// refuses to start on one.
func Load(path string) (*Setup, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	doc := &yamlDoc{name: path, root: cfg.root}
	ref := cfg.Vehicle.Profile
	if !strings.HasPrefix(ref, BuiltinPrefix) {
		ref = cfg.Resolve(ref)
	}
	prof, err := LoadProfile(ref)
	if err != nil {
		return nil, err
	}
	zones, err := geofence.LoadFile(cfg.Resolve(cfg.Zones.File), geofence.Options{DefaultBufferM: cfg.Zones.DefaultBufferM})
	if err != nil {
		return nil, err
	}
	pol, err := LoadPolicy(cfg.Resolve(cfg.Policy))
	if err != nil {
		return nil, err
	}
	s := &Setup{Config: cfg, Profile: prof, Zones: zones, Policy: pol, Warnings: prof.DB.Warnings}
	if s.VIN, s.FleetKey, err = loadIdentity(cfg, doc); err != nil {
		return nil, err
	}
	if s.TLS, err = loadTLS(cfg, doc); err != nil {
		return nil, err
	}
	for i, cc := range cfg.Cameras {
		_, hasCmd := prof.Commands[cc.Name]
		if !hasCmd && cc.PowerLine == "" {
			return nil, doc.errorf([]any{"cameras", i}, "camera %s: the profile has no command for it and it has no power_line: it could not be suppressed", cc.Name)
		}
		if prof.Signal(cameraRolePrefix+cc.Name+".status") == nil {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s:%d: camera %s has no status signal: obedience cannot be verified", path, doc.line("cameras", i), cc.Name))
		}
	}
	return s, nil
}
