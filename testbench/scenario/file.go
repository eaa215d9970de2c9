package scenario

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"quietzone/can/profiles"
	"quietzone/gateway/config"
	"quietzone/geofence"
	"quietzone/uplink/atrest"
)

// Shipped scenarios, run by name (`quietzone-bench sim urban`).
//
//go:embed scenarios/*.yaml
var shipped embed.FS

// scenarioFile is the YAML form of a Scenario; see scenarios/*.yaml.
type scenarioFile struct {
	Name    string    `yaml:"name"`
	Seed    yaml.Node `yaml:"seed"`
	Start   time.Time `yaml:"start"`
	Vehicle string    `yaml:"vehicle"`
	// DropRoles are roles of the vehicle's profile it does not have.
	DropRoles []string `yaml:"drop_roles"`
	VIN       string   `yaml:"vin"`
	Zones     string   `yaml:"zones"`
	// DefaultBufferM is the buffer of zones that name none.
	DefaultBufferM float64               `yaml:"default_buffer_m"`
	Policy         string                `yaml:"policy"`
	Route          routeFile             `yaml:"route"`
	Speed          []speedFile           `yaml:"speed"`
	GPS            gpsFile               `yaml:"gps"`
	Step           time.Duration         `yaml:"step"`
	Park           time.Duration         `yaml:"park"`
	IgnitionOff    bool                  `yaml:"ignition_off"`
	Cameras        []config.CameraConfig `yaml:"cameras"`
	Triggers       *triggerFile          `yaml:"triggers"`
	Contacts       []string              `yaml:"contacts"`
	Faults         []faultFile           `yaml:"faults"`
}

type routeFile struct {
	GPX     string `yaml:"gpx,omitempty"`
	GeoJSON string `yaml:"geojson,omitempty"`
	// Waypoints are [lat, lon] or [lat, lon, km/h].
	Waypoints [][]float64 `yaml:"waypoints"`
}

// speedFile holds kmh from from_km on (to the next entry or the end).
type speedFile struct {
	FromKm float64 `yaml:"from_km"`
	Kmh    float64 `yaml:"kmh"`
}

type gpsFile struct {
	RateHz float64  `yaml:"rate_hz"`
	NoiseM *float64 `yaml:"noise_m"`
}

type triggerFile struct {
	Burst      []time.Duration `yaml:"burst,omitempty"`
	Gap        []time.Duration `yaml:"gap,omitempty"`
	Continuous bool            `yaml:"continuous,omitempty"`
	Off        bool            `yaml:"off,omitempty"`
}

type faultFile struct {
	Kind   string        `yaml:"kind"`
	At     time.Duration `yaml:"at"`
	AtKm   float64       `yaml:"at_km"`
	For    time.Duration `yaml:"for"`
	NorthM float64       `yaml:"north_m"`
	EastM  float64       `yaml:"east_m"`
	Age    time.Duration `yaml:"age"`
	By     time.Duration `yaml:"by"`
	StepM  float64       `yaml:"step_m"`
	SigmaM float64       `yaml:"sigma_m"`
	// A gps_drag's track.
	SpeedRatio float64 `yaml:"speed_ratio"`
	TurnDeg    float64 `yaml:"turn_deg"`
	TurnDps    float64 `yaml:"turn_dps"`
}

// Scenario defaults where the file says nothing.
const (
	defaultSpeedKmh = 50
	defaultNoiseM   = 2
	defaultStep     = 100 * time.Millisecond
	defaultPark     = 20 * time.Second
	// assetPrefix names a file embedded in the bench (assets).
	assetPrefix = "builtin:"
)

// DefaultVIN is the vehicle's identity when a scenario names none.
const DefaultVIN = "QZSIM000000000001"

var defaultStart = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// Shipped returns the names of the shipped scenarios, sorted.
func Shipped() []string {
	ents, _ := fs.ReadDir(shipped, "scenarios")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Load reads a scenario: the name of a shipped one, or a YAML file. Paths
// in a file are relative to it; paths in a shipped scenario are relative
// to testbench/scenario/scenarios in the repository, looked for from the
// working directory up (only the Tesla scenario has any).
func Load(ref string) (Scenario, error) {
	if !strings.ContainsAny(ref, "/\\") && !strings.HasSuffix(ref, ".yaml") && !strings.HasSuffix(ref, ".yml") {
		data, err := fs.ReadFile(shipped, "scenarios/"+ref+".yaml")
		if err != nil {
			return Scenario{}, fmt.Errorf("load scenario: no shipped scenario %q (there are: %s)", ref, strings.Join(Shipped(), ", "))
		}
		dir := findScenarioDir()
		sc, err := parse("builtin:"+ref+".yaml", data, dir, readScenarioFile)
		if err != nil && dir == "" {
			err = fmt.Errorf("%w (testbench/scenario/scenarios not found from here: a shipped scenario that names files runs from within the repository)", err)
		}
		return sc, err
	}
	data, err := atrest.Read(ref, atrest.Scenario)
	if err != nil {
		return Scenario{}, fmt.Errorf("load scenario: %w", err)
	}
	return parse(ref, data, filepath.Dir(ref), readScenarioFile)
}

// findScenarioDir finds testbench/scenario/scenarios from the working
// directory up; "" if there is none.
func findScenarioDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		for _, c := range []string{filepath.Join(dir, "testbench", "scenario", "scenarios"), filepath.Join(dir, "scenarios")} {
			if _, err := os.Stat(filepath.Join(c, "urban.yaml")); err == nil {
				return c
			}
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// readScenarioFile reads a file a scenario names (zones, a route, a
// profile's DBC): bounded, and never a FIFO or a device.
func readScenarioFile(path string) ([]byte, error) {
	data, err := atrest.Read(path, atrest.Zones.Named("file"))
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, pe // "open PATH: no such file or directory" says it all
	}
	return data, err
}

// parse decodes a scenario file strictly (unknown keys are errors) and
// loads the files it names, relative to dir, with read (readScenarioFile
// but in the fuzz test). Errors read "file:line: reason".
func parse(name string, data []byte, dir string, read func(string) ([]byte, error)) (Scenario, error) {
	var f scenarioFile
	doc, err := config.DecodeYAML(name, data, &f)
	if err != nil {
		return Scenario{}, fmt.Errorf("load scenario: %w", err)
	}
	errAt := func(path []any, format string, a ...any) (Scenario, error) {
		return Scenario{}, fmt.Errorf("load scenario: %w", doc.Errorf(path, format, a...))
	}
	sc := Scenario{
		Name: f.Name, Start: f.Start, Step: f.Step, ParkedAfter: f.Park, IgnitionOff: f.IgnitionOff,
		VIN: f.VIN, Contacts: f.Contacts, Cameras: f.Cameras, Profile: f.Vehicle,
		DefaultBufferM: f.DefaultBufferM, GPSRateHz: f.GPS.RateHz, GNSSNoiseM: defaultNoiseM,
	}
	if sc.Name == "" {
		return errAt(nil, "name is required")
	}
	if f.Seed.Kind != 0 {
		s, err := strconv.ParseUint(f.Seed.Value, 10, 64)
		if f.Seed.Kind != yaml.ScalarNode || err != nil {
			return errAt([]any{"seed"}, "seed: want a whole number from 0, got %q", f.Seed.Value)
		}
		sc.Seed = s
	}
	if sc.Start.IsZero() {
		sc.Start = defaultStart
	}
	if sc.Step == 0 {
		sc.Step = defaultStep
	}
	if sc.Step < time.Millisecond || sc.Step > time.Second {
		return errAt([]any{"step"}, "step %v: want 1ms to 1s", sc.Step)
	}
	if sc.ParkedAfter == 0 {
		sc.ParkedAfter = defaultPark
	}
	if sc.ParkedAfter < 0 {
		return errAt([]any{"park"}, "park must not be negative")
	}
	if sc.VIN == "" {
		sc.VIN = DefaultVIN
	}
	if _, err := config.Enrol([]byte("a fleet secret, to check the VIN"), sc.VIN); err != nil {
		return errAt([]any{"vin"}, "vin: want 1 to 32 letters and digits")
	}
	if sc.Profile == "" {
		sc.Profile = config.BuiltinPrefix + profiles.Default
	} else if !strings.HasPrefix(sc.Profile, config.BuiltinPrefix) {
		sc.Profile = resolve(dir, sc.Profile)
	}
	// The roles dropped are held against a built-in profile here; a
	// profile file is read only when the drive runs (dropRoles).
	var prof *config.Profile
	if len(f.DropRoles) > 0 && strings.HasPrefix(sc.Profile, config.BuiltinPrefix) {
		if prof, err = config.LoadProfile(sc.Profile); err != nil {
			return errAt([]any{"vehicle"}, "%v", err)
		}
	}
	for i, r := range f.DropRoles {
		if r == "" || slices.Contains(f.DropRoles[:i], r) || (prof != nil && prof.Signal(r) == nil) {
			return errAt([]any{"drop_roles", i}, "drop_roles: %q is not a role the vehicle's profile maps, or is named twice", r)
		}
	}
	sc.DropRoles = f.DropRoles
	if !(sc.DefaultBufferM >= 0) || math.IsInf(sc.DefaultBufferM, 0) {
		return errAt([]any{"default_buffer_m"}, "default_buffer_m must be a non-negative number")
	}
	if !(f.GPS.RateHz >= 0) || f.GPS.RateHz > 100 {
		return errAt([]any{"gps", "rate_hz"}, "gps.rate_hz %v: want 0 (every step) to 100", f.GPS.RateHz)
	}
	if n := f.GPS.NoiseM; n != nil {
		if !(*n >= 0) || *n > 1000 {
			return errAt([]any{"gps", "noise_m"}, "gps.noise_m %v: want 0 to 1000", *n)
		}
		sc.GNSSNoiseM = *n
	}
	if f.Zones == "" {
		return errAt(nil, "zones is required (a GeoJSON file, or builtin:demo-zones.geojson)")
	}
	if sc.ZonesName, sc.Zones, err = readRef(read, dir, f.Zones); err != nil {
		return errAt([]any{"zones"}, "zones: %v", err)
	}
	pol := f.Policy
	if pol == "" {
		pol = assetPrefix + "demo-policy.yaml"
	}
	if sc.PolicyName, sc.Policy, err = readRef(read, dir, pol); err != nil {
		return errAt([]any{"policy"}, "policy: %v", err)
	}

	// The route, and the speed to hold along it.
	r := f.Route
	given := 0
	for _, s := range []bool{r.GPX != "", r.GeoJSON != "", len(r.Waypoints) > 0} {
		if s {
			given++
		}
	}
	if given != 1 {
		return errAt([]any{"route"}, "route: give exactly one of gpx, geojson or waypoints")
	}
	switch {
	case r.GPX != "":
		n, data, err := readRef(read, dir, r.GPX)
		if err == nil {
			sc.Route, err = parseGPX(n, data)
		}
		if err != nil {
			return errAt([]any{"route", "gpx"}, "route: %v", err)
		}
	case r.GeoJSON != "":
		n, data, err := readRef(read, dir, r.GeoJSON)
		if err == nil {
			sc.Route, err = parseGeoJSONRoute(n, data)
		}
		if err != nil {
			return errAt([]any{"route", "geojson"}, "route: %v", err)
		}
	default:
		if len(r.Waypoints) < 2 {
			return errAt([]any{"route", "waypoints"}, "route: two waypoints or more are required")
		}
		for i, w := range r.Waypoints {
			if len(w) != 2 && len(w) != 3 {
				return errAt([]any{"route", "waypoints", i}, "waypoint %d: want [lat, lon] or [lat, lon, km/h]", i)
			}
			p, err := checkPoint(w[0], w[1])
			if err != nil {
				return errAt([]any{"route", "waypoints", i}, "waypoint %d: %v", i, err)
			}
			p.SpeedKmh = defaultSpeedKmh
			if len(w) == 3 {
				if !(w[2] > 0) || w[2] > 400 {
					return errAt([]any{"route", "waypoints", i}, "waypoint %d: speed %v km/h: want more than 0, at most 400", i, w[2])
				}
				p.SpeedKmh = w[2]
			}
			sc.Route = append(sc.Route, p)
		}
	}
	if len(f.Speed) > 0 {
		prev := -1.0
		for i, s := range f.Speed {
			if !(s.FromKm > prev) || !(s.Kmh > 0) || s.Kmh > 400 {
				return errAt([]any{"speed", i}, "speed %d: from_km must increase and kmh be more than 0, at most 400", i)
			}
			prev = s.FromKm
		}
		sc.Route = applySpeeds(sc.Route, f.Speed)
	} else if len(r.Waypoints) == 0 {
		for i := range sc.Route {
			sc.Route[i].SpeedKmh = defaultSpeedKmh
		}
	}

	if t := f.Triggers; t != nil {
		if t.Continuous && t.Off {
			return errAt([]any{"triggers"}, "triggers: continuous and off exclude each other")
		}
		sc.Triggers.Continuous, sc.Triggers.Off = t.Continuous, t.Off
		for _, rg := range []struct {
			key string
			in  []time.Duration
			out *[2]time.Duration
		}{{"burst", t.Burst, &sc.Triggers.Burst}, {"gap", t.Gap, &sc.Triggers.Gap}} {
			if rg.in == nil {
				continue
			}
			if len(rg.in) != 2 || rg.in[0] <= 0 || rg.in[1] < rg.in[0] {
				return errAt([]any{"triggers", rg.key}, "triggers.%s: want [min, max], 0 < min <= max", rg.key)
			}
			*rg.out = [2]time.Duration{rg.in[0], rg.in[1]}
		}
	}

	for i, ff := range f.Faults {
		ft := Fault{Kind: FaultKind(ff.Kind), At: ff.At, AtKm: ff.AtKm, For: ff.For, NorthM: ff.NorthM, EastM: ff.EastM, Age: ff.Age, By: ff.By,
			StepM: ff.StepM, SigmaM: ff.SigmaM,
			SpeedRatio: ff.SpeedRatio, TurnDeg: ff.TurnDeg, TurnDps: ff.TurnDps}
		if err := ft.Validate(); err != nil {
			return errAt([]any{"faults", i}, "fault %d: %v", i, err)
		}
		sc.Faults = append(sc.Faults, ft)
	}
	return sc, nil
}

// applySpeeds sets each leg's speed from the profile, splitting legs where
// the speed changes.
func applySpeeds(route []Waypoint, speeds []speedFile) []Waypoint {
	at := func(km float64) float64 {
		v := speeds[0].Kmh
		for _, s := range speeds {
			if km >= s.FromKm {
				v = s.Kmh
			}
		}
		return v
	}
	out := []Waypoint{route[0]}
	out[0].SpeedKmh = at(0)
	km := 0.0
	for i := 0; i+1 < len(route); i++ {
		a, b := route[i], route[i+1]
		leg := geofence.DistanceM(a.Lat, a.Lon, b.Lat, b.Lon) / 1000
		for _, s := range speeds {
			if s.FromKm > km && s.FromKm < km+leg {
				f := (s.FromKm - km) / leg
				out = append(out, Waypoint{Lat: a.Lat + (b.Lat-a.Lat)*f, Lon: a.Lon + (b.Lon-a.Lon)*f, SpeedKmh: s.Kmh})
			}
		}
		km += leg
		b.SpeedKmh = at(km)
		out = append(out, b)
	}
	return out
}

// resolve makes p relative to dir unless it is absolute.
func resolve(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// readRef reads "builtin:NAME" from the bench's assets, or a file.
func readRef(read func(string) ([]byte, error), dir, ref string) (string, []byte, error) {
	if n, ok := strings.CutPrefix(ref, assetPrefix); ok {
		data, err := assets.ReadFile("assets/" + n)
		if err != nil {
			return "", nil, fmt.Errorf("no built-in file %q", n)
		}
		return ref, data, nil
	}
	p := resolve(dir, ref)
	data, err := read(p)
	if err != nil {
		return "", nil, err
	}
	return p, data, nil
}

// Write writes sc as a scenario file to dir/name.yaml, with its
// zones (and its policy, unless a built-in one) beside it, so that
// Load reads the same drive back: a random trip that broke an
// invariant becomes a regression test that no change to Random
// can alter. It returns the scenario file's path.
func Write(dir, name string, sc Scenario) (string, error) {
	f := scenarioFile{
		Name: sc.Name, Start: sc.Start, Vehicle: sc.Profile, VIN: sc.VIN,
		DefaultBufferM: sc.DefaultBufferM, Step: sc.Step, Park: sc.ParkedAfter, IgnitionOff: sc.IgnitionOff,
		Cameras: sc.Cameras, Contacts: sc.Contacts, DropRoles: sc.DropRoles,
		GPS: gpsFile{RateHz: sc.GPSRateHz, NoiseM: &sc.GNSSNoiseM},
	}
	f.Seed = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(sc.Seed, 10)}
	if f.Contacts == nil {
		f.Contacts = []string{} // none, not the default phone book
	}
	write := func(file string, data []byte) error {
		return os.WriteFile(filepath.Join(dir, file), data, 0o644)
	}
	f.Zones = name + ".geojson"
	if err := write(f.Zones, sc.Zones); err != nil {
		return "", fmt.Errorf("write scenario: %w", err)
	}
	f.Policy = sc.PolicyName
	if !strings.HasPrefix(f.Policy, assetPrefix) {
		f.Policy = name + ".policy.yaml"
		if err := write(f.Policy, sc.Policy); err != nil {
			return "", fmt.Errorf("write scenario: %w", err)
		}
	}
	for _, w := range sc.Route {
		f.Route.Waypoints = append(f.Route.Waypoints, []float64{w.Lat, w.Lon, w.SpeedKmh})
	}
	t := sc.Triggers
	if t != (Triggers{}) {
		f.Triggers = &triggerFile{Continuous: t.Continuous, Off: t.Off}
		if t.Burst != ([2]time.Duration{}) {
			f.Triggers.Burst = t.Burst[:]
		}
		if t.Gap != ([2]time.Duration{}) {
			f.Triggers.Gap = t.Gap[:]
		}
	}
	for _, ft := range sc.Faults {
		f.Faults = append(f.Faults, faultFile{Kind: string(ft.Kind), At: ft.At, AtKm: ft.AtKm, For: ft.For,
			NorthM: ft.NorthM, EastM: ft.EastM, Age: ft.Age, By: ft.By, StepM: ft.StepM, SigmaM: ft.SigmaM,
			SpeedRatio: ft.SpeedRatio, TurnDeg: ft.TurnDeg, TurnDps: ft.TurnDps})
	}
	var doc yaml.Node
	if err := doc.Encode(&f); err != nil {
		return "", fmt.Errorf("write scenario: %w", err)
	}
	flowStyle(&doc, "")
	data, err := yaml.Marshal(&doc)
	if err != nil {
		return "", fmt.Errorf("write scenario: %w", err)
	}
	path := filepath.Join(dir, name+".yaml")
	head := "# Written by quietzone-bench sim --save: " + sc.Name + ".\n"
	if err := os.WriteFile(path, append([]byte(head), data...), 0o644); err != nil {
		return "", fmt.Errorf("write scenario: %w", err)
	}
	return path, nil
}

// flowStyle writes a waypoint, a camera and a fault on one line each, and
// leaves out the keys that say nothing.
func flowStyle(n *yaml.Node, key string) {
	switch key {
	case "waypoints", "cameras", "faults":
		for _, c := range n.Content {
			c.Style = yaml.FlowStyle
		}
	}
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			flowStyle(c, key)
		}
		return
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if empty(v) && k.Value != "contacts" && k.Value != "seed" && k.Value != "noise_m" {
			continue
		}
		flowStyle(v, k.Value)
		kept = append(kept, k, v)
	}
	n.Content = kept
}

// empty reports whether a node is a zero value: "", false, 0, 0s, null or
// an empty sequence.
func empty(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "", "false", "0", "0s", "null":
			return true
		}
	case yaml.SequenceNode:
		return len(n.Content) == 0
	}
	return false
}
