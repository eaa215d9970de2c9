package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"quietzone/can"
	"quietzone/gateway"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"quietzone/camera"
	"quietzone/can/profiles"
	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
)

// Config is the daemon's configuration file. Relative paths in it are
// relative to the file's directory.
type Config struct {
	Vehicle VehicleConfig  `yaml:"vehicle"`
	Zones   ZonesConfig    `yaml:"zones"`
	Policy  string         `yaml:"policy"`
	Cameras []CameraConfig `yaml:"cameras"`
	// Enforcement wires what checks and shows the cameras' suppression.
	Enforcement EnforcementConfig `yaml:"enforcement"`
	Decision    gateway.Decision  `yaml:"decision"`
	Uplink      UplinkConfig      `yaml:"uplink"`
	Fleet       FleetConfig       `yaml:"fleet"`
	Audit       AuditConfig       `yaml:"audit"`

	path string
	root *yaml.Node
}

// VehicleConfig names the vehicle and its buses.
type VehicleConfig struct {
	// Profile is "builtin:NAME" or the path of a profile file.
	Profile string `yaml:"profile"`
	// VIN or VINFile identify the vehicle; only a pseudonym leaves it.
	// Either may be left out with an identity, which holds the VIN.
	VIN     string `yaml:"vin"`
	VINFile string `yaml:"vin_file"`
	// IdentityFile is the vehicle's identity from enrolment (Identity):
	// its pseudonym on the wire and its root secret, from which its keys
	// at rest are derived. Required with a broker.
	IdentityFile string `yaml:"identity_file"`
	// Interfaces are SocketCAN interfaces to read, such as can0.
	Interfaces []string `yaml:"interfaces"`
	// PowerHoldLine is the GPIO line (active high) that keeps the unit
	// powered while the daemon drives it high: while the ignition is on
	// and for the policy's random end_linger_s after it goes off (the
	// gateway's PowerHold). Without it the unit goes down with its
	// supply, and when it goes offline tells when the trip ended.
	PowerHoldLine string `yaml:"power_hold_line"`
}

// ZonesConfig names the zone file.
type ZonesConfig struct {
	File           string  `yaml:"file"`
	DefaultBufferM float64 `yaml:"default_buffer_m"`
	// CoversFile names the zones' covers (ParseCovers; policy sign makes
	// them for bundles, config.MakeCovers): without it the zones with
	// their buffers decide where location is withheld.
	CoversFile string `yaml:"covers_file"`
}

// CameraConfig wires one camera of the vehicle profile.
type CameraConfig struct {
	Name  string `yaml:"name"`
	Class string `yaml:"class"`
	// PowerLine is the GPIO line name of the camera's supply switch.
	PowerLine string `yaml:"power_line"`
	// PowerActiveLow: the camera is powered when the line is low.
	PowerActiveLow bool `yaml:"power_active_low"`
	// Enabled lets a cabin camera record outside zones, if the policy
	// allows cabin cameras too (cameras: {cabin: true}).
	Enabled bool `yaml:"enabled"`
	// PurgeOnEntry: on every entry into suppression the camera is told
	// to drop its pre-event buffer (needs a command in the profile).
	PurgeOnEntry bool `yaml:"purge_on_entry"`
	// TriggerLine is the GPIO line name of the camera's motion trigger,
	// besides the profile's camera.NAME.trigger signal.
	TriggerLine      string `yaml:"trigger_line"`
	TriggerActiveLow bool   `yaml:"trigger_active_low"`
	// Interfaces are the CAN interfaces (of vehicle.interfaces) the
	// camera is on: its command message goes to each. Default: all.
	Interfaces []string `yaml:"interfaces,omitempty"`
}

// EnforcementConfig configures the closed loop, the privacy switch, the
// indicator and the saved suppression state. Every key is optional.
type EnforcementConfig struct {
	// Grace is how long a camera may go on recording (by its status)
	// after it was told to stop before it is escalated; default 2s.
	Grace time.Duration `yaml:"grace"`
	// StatusTimeout: a camera not heard for this long is unknown;
	// default 2s.
	StatusTimeout time.Duration `yaml:"status_timeout"`
	// Resend is how often the command frames are repeated; default 1s.
	Resend time.Duration `yaml:"resend"`
	// SwitchLine is the GPIO line name of the privacy switch, besides
	// the profile's privacy.switch signal; SwitchMode is level (default)
	// or toggle (a push button).
	SwitchLine      string `yaml:"switch_line"`
	SwitchActiveLow bool   `yaml:"switch_active_low"`
	SwitchMode      string `yaml:"switch_mode"`
	// IndicatorLine is the GPIO line name of a light that is on while
	// any suppression holds.
	IndicatorLine      string `yaml:"indicator_line"`
	IndicatorActiveLow bool   `yaml:"indicator_active_low"`
	// StateFile keeps the suppression state across restarts; default
	// suppression.json in uplink.state_dir.
	StateFile string `yaml:"state_file"`
}

// UplinkConfig says where telemetry goes.
type UplinkConfig struct {
	// Broker is ssl://HOST:PORT (or tls://, mqtts://, tcps://). A plain
	// tcp:// (or mqtt://) broker needs InsecurePlaintext, and is refused
	// anyway unless its host is a literal loopback address.
	Broker string `yaml:"broker"`
	// InsecurePlaintext lets the uplink talk to a tcp:// broker on this
	// machine (127.0.0.1, ::1) without TLS: a local broker that bridges
	// over TLS, or a test bench. Never to another host.
	InsecurePlaintext bool   `yaml:"insecure_plaintext"`
	CAFile            string `yaml:"ca_file"`
	CertFile          string `yaml:"cert_file"`
	KeyFile           string `yaml:"key_file"`
	// FleetKeyFile was a fleet-wide pseudonym key. It is refused: one
	// stolen vehicle would name every vehicle of the fleet. Vehicles are
	// enrolled instead (vehicle.identity_file).
	FleetKeyFile string `yaml:"fleet_key_file"`
	// FleetPublicKey is the fleet's public sealing key (PEM, from
	// `quietzone-fleet keygen`): every payload is sealed to it end to
	// end (uplink/seal.go). A signed bundle carrying seal.pub replaces
	// it. Loaded by loadSealKey (sealkey.go).
	FleetPublicKey string `yaml:"fleet_public_key"`
	// DrainTimeout bounds the wait for the queue to empty at shutdown.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// StateDir holds the durable queue; required with a broker.
	StateDir string      `yaml:"state_dir"`
	Queue    QueueConfig `yaml:"queue"`
}

// ConfigError is a problem at a line of a configuration file.
type ConfigError = can.PositionError

// YAMLDoc is a parsed YAML file, kept to find the line of a key.
type YAMLDoc struct {
	name string
	root *yaml.Node
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// DecodeYAML decodes data strictly into v (unknown keys are errors) and
// returns the document for line look-ups.
func DecodeYAML(name string, data []byte, v any) (*YAMLDoc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, &ConfigError{File: name, Line: 1, Reason: "empty file"}
	}
	if line, ok := fractionForInteger(root.Content[0], reflect.TypeOf(v)); !ok {
		return nil, &ConfigError{File: name, Line: line, Reason: "a whole number is wanted here"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return nil, yamlError(name, err)
	}
	return &YAMLDoc{name: name, root: root.Content[0]}, nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// fractionForInteger walks the document along the type it decodes into
// and reports the line of a number with a fraction bound for an integer
// field: the YAML library would silently cut 30.7 to 30. ok is true when
// there is none. Types with their own UnmarshalYAML check themselves.
func fractionForInteger(n *yaml.Node, t reflect.Type) (line int, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return 0, true
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
			if f, err := strconv.ParseFloat(n.Value, 64); err != nil || f != math.Trunc(f) {
				return n.Line, false
			}
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return 0, true
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if f, found := yamlField(t, n.Content[i].Value); found {
				if line, ok := fractionForInteger(n.Content[i+1], f.Type); !ok {
					return line, false
				}
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				if line, ok := fractionForInteger(n.Content[i], t.Elem()); !ok {
					return line, false
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				if line, ok := fractionForInteger(c, t.Elem()); !ok {
					return line, false
				}
			}
		}
	}
	return 0, true
}

// yamlField finds the struct field a YAML key decodes into (by its yaml
// tag, or the lowercased field name as the library does), through inlined
// structs.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if strings.Contains(opts, "inline") {
			if g, ok := yamlField(f.Type, key); ok {
				return g, true
			}
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		if tag == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
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

// Line returns the line of the node at path (mapping keys, or list
// indices as ints); it falls back to the deepest node found.
func (d *YAMLDoc) Line(path ...any) int {
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

// Errorf makes a ConfigError at the line of path.
func (d *YAMLDoc) Errorf(path []any, format string, args ...any) error {
	return &ConfigError{File: d.name, Line: d.Line(path...), Reason: fmt.Sprintf(format, args...)}
}

// LoadConfig reads and checks the main configuration file. It does not
// open the files it names; Load does.
func LoadConfig(path string) (*Config, error) {
	data, err := atrest.Read(path, atrest.Config)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c := &Config{Decision: gateway.DefaultDecision(), path: path}
	doc, err := DecodeYAML(path, data, c)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c.root = doc.root
	if err := c.check(doc); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return c, nil
}

func (c *Config) check(doc *YAMLDoc) error {
	if c.Vehicle.Profile == "" {
		return doc.Errorf([]any{"vehicle"}, "vehicle.profile is required (builtin:%s or a file)", profiles.Default)
	}
	if c.Zones.File == "" && !c.Fleet.Pinned() {
		return doc.Errorf([]any{"zones"}, "zones.file is required: without zones the gateway would never let a camera record")
	}
	if c.Zones.DefaultBufferM < 0 {
		return doc.Errorf([]any{"zones", "default_buffer_m"}, "default_buffer_m must not be negative")
	}
	if c.Policy == "" && !c.Fleet.Pinned() {
		return doc.Errorf(nil, "policy is required: nothing may leave the vehicle without one")
	}
	if c.Vehicle.VIN != "" && c.Vehicle.VINFile != "" {
		return doc.Errorf([]any{"vehicle", "vin"}, "give vin or vin_file, not both")
	}
	if len(c.Cameras) == 0 {
		return doc.Errorf(nil, "cameras: at least one camera is required")
	}
	if err := c.checkCameras(doc); err != nil {
		return err
	}
	if err := c.Decision.Validate(); err != nil {
		path := []any{"decision"}
		var ke *uplink.KeyError
		if errors.As(err, &ke) {
			path = append(path, ke.Key)
		}
		return doc.Errorf(path, "%v", err)
	}
	if c.Uplink.FleetKeyFile != "" {
		return doc.Errorf([]any{"uplink", "fleet_key_file"}, "%s", fleetKeyFileRefusal(c.Resolve(c.Uplink.FleetKeyFile)))
	}
	if (c.Uplink.CertFile == "") != (c.Uplink.KeyFile == "") {
		return doc.Errorf([]any{"uplink"}, "uplink: cert_file and key_file go together")
	}
	if err := c.checkBroker(doc); err != nil {
		return err
	}
	if err := c.checkFleet(doc); err != nil {
		return err
	}
	if err := c.checkQueue(doc); err != nil {
		return err
	}
	if c.Uplink.Broker != "" && c.Vehicle.IdentityFile == "" {
		return doc.Errorf([]any{"vehicle"}, "vehicle.identity_file is required with a broker: the vehicle is named on the wire by the pseudonym its identity holds (quietzone policy enrol)")
	}
	return nil
}

// checkBroker refuses a broker the uplink would reach without TLS unless
// the configuration says so in as many words, and then only on this
// machine; and TLS files that a plain broker would silently not use.
func (c *Config) checkBroker(doc *YAMLDoc) error {
	u := c.Uplink
	at := []any{"uplink", "broker"}
	if u.Broker == "" {
		if u.InsecurePlaintext {
			return doc.Errorf([]any{"uplink", "insecure_plaintext"}, "uplink.insecure_plaintext without a broker")
		}
		return nil
	}
	plain, host, err := uplink.BrokerPlain(u.Broker)
	switch {
	case err != nil:
		return doc.Errorf(at, "uplink.%v", err)
	case !plain && u.InsecurePlaintext:
		return doc.Errorf([]any{"uplink", "insecure_plaintext"}, "uplink.insecure_plaintext is for a tcp:// broker; %s uses TLS", u.Broker)
	case !plain:
		return nil
	case u.CAFile != "" || u.CertFile != "" || u.KeyFile != "":
		return doc.Errorf(at, "uplink.broker %s is plain TCP: ca_file, cert_file and key_file would not be used; for TLS write ssl://HOST:PORT", u.Broker)
	case !u.InsecurePlaintext:
		return doc.Errorf(at, "uplink.broker %s sends everything in the clear: write ssl://HOST:PORT, or, for a broker on this machine only, insecure_plaintext: true", u.Broker)
	case !uplink.LoopbackLiteral(host):
		return doc.Errorf(at, "uplink.broker %s: insecure_plaintext is only for a broker on this machine, at a literal loopback address (127.0.0.1, ::1), not %s", u.Broker, host)
	}
	return nil
}

// LoadZonesPolicy reads the zone file and the policy the config names,
// the policy for the vehicle's profile (ParsePolicyFor: warnings are
// roles it names that the profile does not map). Under pinned fleet keys
// either may be left out: the policy is then DenyAll and the zone list
// nil (the gateway stays suppressed).
func (c *Config) LoadZonesPolicy(prof *Profile) (*uplink.Policy, *geofence.Index, []string, error) {
	pol := DenyAll()
	var warnings []string
	if c.Policy != "" {
		var err error
		if pol, warnings, err = LoadPolicy(c.Resolve(c.Policy), prof); err != nil {
			return nil, nil, nil, err
		}
	}
	if c.Zones.File == "" {
		if c.Zones.CoversFile != "" {
			return nil, nil, nil, &ConfigError{File: c.path, Line: c.Line("zones", "covers_file"), Reason: "zones.covers_file without zones.file: covers go with the zones they cover"}
		}
		return pol, nil, warnings, nil
	}
	zones, err := LoadZoneFile(c.Resolve(c.Zones.File), c.ZoneOptions(pol))
	if err != nil {
		return nil, nil, nil, err
	}
	if f := c.Zones.CoversFile; f != "" {
		path := c.Resolve(f)
		data, err := atrest.Read(path, atrest.Zones.Named("covers"))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("load covers: %w", err)
		}
		cov, err := ParseCovers(path, data)
		if err != nil {
			return nil, nil, nil, err
		}
		zones = zones.WithCovers(cov)
	}
	return pol, zones, warnings, nil
}

// ZoneOptions are the options a zone list is built with under a policy:
// the index answers every decision from its table when its reach covers
// the farthest the decisions look (with the policy's snapping).
func (c *Config) ZoneOptions(pol *uplink.Policy) geofence.Options {
	return geofence.Options{
		DefaultBufferM: c.Zones.DefaultBufferM,
		ReachM:         c.Decision.ZoneReachM(pol.PositionMarginM()),
	}
}

// checkCameras checks the cameras and the enforcement section: names,
// classes, durations, and that no GPIO line has two uses.
func (c *Config) checkCameras(doc *YAMLDoc) error {
	lines := map[string]string{} // line name -> its use
	useLine := func(path []any, line, use string) error {
		if line == "" {
			return nil
		}
		if other, dup := lines[line]; dup {
			return doc.Errorf(path, "gpio line %s is already the %s", line, other)
		}
		lines[line] = use
		return nil
	}
	if err := useLine([]any{"vehicle", "power_hold_line"}, c.Vehicle.PowerHoldLine, "power hold line"); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, cam := range c.Cameras {
		if cam.Name == "" {
			return doc.Errorf([]any{"cameras", i}, "camera without a name")
		}
		if names[cam.Name] {
			return doc.Errorf([]any{"cameras", i, "name"}, "camera %s: a second camera of that name", cam.Name)
		}
		names[cam.Name] = true
		if cam.Class != string(camera.Exterior) && cam.Class != string(camera.Cabin) {
			return doc.Errorf([]any{"cameras", i, "class"}, "camera %s: class %q, want exterior or cabin", cam.Name, cam.Class)
		}
		if cam.Enabled && cam.Class != string(camera.Cabin) {
			return doc.Errorf([]any{"cameras", i, "enabled"}, "camera %s: enabled is for cabin cameras (exterior ones record outside zones anyway)", cam.Name)
		}
		if err := useLine([]any{"cameras", i, "power_line"}, cam.PowerLine, "power line of camera "+cam.Name); err != nil {
			return err
		}
		if err := useLine([]any{"cameras", i, "trigger_line"}, cam.TriggerLine, "trigger of camera "+cam.Name); err != nil {
			return err
		}
		for j, iface := range cam.Interfaces {
			path := []any{"cameras", i, "interfaces", j}
			if !slices.Contains(c.Vehicle.Interfaces, iface) {
				return doc.Errorf(path, "camera %s: interface %s is not among vehicle.interfaces", cam.Name, iface)
			}
			if slices.Contains(cam.Interfaces[:j], iface) {
				return doc.Errorf(path, "camera %s: interface %s named twice", cam.Name, iface)
			}
		}
	}
	e := &c.Enforcement
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"grace", e.Grace}, {"status_timeout", e.StatusTimeout}, {"resend", e.Resend}} {
		if d.v < 0 || (d.v > 0 && d.v < time.Millisecond) || d.v > time.Hour {
			return doc.Errorf([]any{"enforcement", d.key}, "enforcement.%s: %v, want 1ms to 1h (or unset for the default)", d.key, d.v)
		}
	}
	if _, err := gateway.ParseSwitchMode(e.SwitchMode); err != nil {
		return doc.Errorf([]any{"enforcement", "switch_mode"}, "enforcement.%v", err)
	}
	if err := useLine([]any{"enforcement", "switch_line"}, e.SwitchLine, "privacy switch"); err != nil {
		return err
	}
	return useLine([]any{"enforcement", "indicator_line"}, e.IndicatorLine, "indicator")
}

// StateFileName is the suppression state's file in uplink.state_dir,
// beside the durable queue (queue/).
const StateFileName = "suppression.json"

// StateFilePath is where the suppression state is kept: enforcement
// .state_file, or suppression.json in uplink.state_dir; "" for nowhere.
func (c *Config) StateFilePath() string {
	switch {
	case c.Enforcement.StateFile != "":
		return c.Resolve(c.Enforcement.StateFile)
	case c.Uplink.StateDir != "":
		return filepath.Join(c.Resolve(c.Uplink.StateDir), StateFileName)
	}
	return ""
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
	return (&YAMLDoc{name: c.path, root: c.root}).Line(path...)
}

// Setup is a checked configuration with every file it names loaded.
type Setup struct {
	Config  *Config
	Profile *Profile
	Zones   *geofence.Index
	Policy  *uplink.Policy
	// VIN never leaves the vehicle; Pseudonym names it on the wire ("" for
	// a vehicle without an identity, which has no broker).
	VIN       string
	Pseudonym string
	// Keys are the vehicle's keys at rest, derived from its root secret;
	// zero without one.
	Keys Keys
	// TLS is the uplink's client TLS configuration, nil for plain TCP.
	TLS *tls.Config
	// FleetKeys are the pinned keys of signed bundles; nil without
	// fleet.keys.
	FleetKeys []bundle.PublicKey
	// BundleKey opens the sealed bodies of bundles (fleet.bundle_key_file);
	// nil without one.
	BundleKey *bundle.BodyKey
	// SealKey is the fleet's public sealing key; nil: payloads go
	// unsealed (sealkey.go).
	SealKey *uplink.SealKey
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
	doc := &YAMLDoc{name: path, root: cfg.root}
	ref := cfg.Vehicle.Profile
	if !strings.HasPrefix(ref, BuiltinPrefix) {
		ref = cfg.Resolve(ref)
	}
	prof, err := LoadProfile(ref)
	if err != nil {
		return nil, err
	}
	pol, zones, polWarnings, err := cfg.LoadZonesPolicy(prof)
	if err != nil {
		return nil, err
	}
	s := &Setup{Config: cfg, Profile: prof, Zones: zones, Policy: pol, Warnings: append(slices.Clip(prof.DB.Warnings), polWarnings...)}
	id, err := loadIdentity(cfg, doc, s)
	if err != nil {
		return nil, err
	}
	if err := loadKeys(cfg, doc, s, id); err != nil {
		return nil, err
	}
	if err := loadFleet(cfg, doc, s); err != nil {
		return nil, err
	}
	if s.TLS, err = loadTLS(cfg, doc, s.FleetKeys); err != nil {
		return nil, err
	}
	if s.SealKey, err = loadSealKey(cfg, doc); err != nil {
		return nil, err
	}
	for i, cc := range cfg.Cameras {
		cmd, hasCmd := prof.Commands[cc.Name]
		if !hasCmd && cc.PowerLine == "" {
			return nil, doc.Errorf([]any{"cameras", i}, "camera %s: the profile has no command for it and it has no power_line: it could not be suppressed", cc.Name)
		}
		if !hasCmd && len(cc.Interfaces) > 0 {
			return nil, doc.Errorf([]any{"cameras", i, "interfaces"}, "camera %s: interfaces are where its command goes, and the profile has no command for it", cc.Name)
		}
		if hasCmd && cc.PurgeOnEntry {
			if err := camera.CheckCommand(cmd, prof.Codes, true); err != nil {
				return nil, doc.Errorf([]any{"cameras", i, "purge_on_entry"}, "camera %s: %v", cc.Name, err)
			}
		}
		if cc.Enabled && !pol.CabinCameras {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s:%d: camera %s is enabled, but the policy does not allow cabin cameras (cameras: {cabin: true}): it stays off", path, doc.Line("cameras", i, "enabled"), cc.Name))
		}
		if cc.PurgeOnEntry && !hasCmd {
			return nil, doc.Errorf([]any{"cameras", i, "purge_on_entry"}, "camera %s: purge_on_entry needs a command for it in the profile", cc.Name)
		}
		if prof.Signal(gateway.CameraRolePrefix+cc.Name+".status") == nil {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s:%d: camera %s has no status signal: obedience cannot be verified", path, doc.Line("cameras", i), cc.Name))
		}
	}
	for _, name := range prof.Unlisted(cfg.Cameras) {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: camera %s has a command in the profile but is not among cameras: every command frame tells it deny", path, name))
	}
	if prof.Signal(gateway.RoleYawRate) == nil && prof.Signal(gateway.RoleSteeringAngle) == nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: the profile maps no %s or %s: a drag of the fix at wheel speed cannot be told from the truth (gateway/course.go)", path, gateway.RoleYawRate, gateway.RoleSteeringAngle))
	}
	if cfg.StateFilePath() == "" {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: no enforcement.state_file and no uplink.state_dir: suppression and the privacy switch are not kept across restarts", path))
	}
	if pol.NearZones.EndLinger > 0 && cfg.Vehicle.PowerHoldLine == "" && cfg.Uplink.Broker != "" {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: the policy lingers up to %v after the ignition goes off (near_zones.end_linger_s), but there is no vehicle.power_hold_line: the unit goes down with its supply, and when it goes offline dates each trip's end", path, pol.NearZones.EndLinger))
	}
	if prof.Signal(gateway.RoleIgnition) == nil && cfg.Vehicle.PowerHoldLine != "" {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s:%d: the profile maps no %s: the power hold line is held as long as the daemon runs", path, doc.Line("vehicle", "power_hold_line"), gateway.RoleIgnition))
	}
	return s, nil
}
