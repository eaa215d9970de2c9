package uplink_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"quietzone/uplink"
)

// demoPolicy is testbench/scenario/assets/demo-policy.yaml as a struct.
func demoPolicy() *uplink.Policy {
	return &uplink.Policy{
		TelemetryPeriod: time.Second,
		Signals: map[string]uplink.Rule{
			"vehicle.speed":    {MaxRateHz: 1, Quantum: 5},
			"vehicle.ignition": {},
			"vehicle.gear":     {MaxRateHz: 0.2}, // a custom vehicle role
		},
		Position:  &uplink.PositionRule{MaxRateHz: 0.2, PrecisionM: 200},
		Batch:     uplink.BatchRule{MaxRecords: 30, MaxAge: 30 * time.Second},
		NearZones: uplink.NearZoneRule{TimeQuantum: 30 * time.Second, JitterM: 300, TripEndM: 1000},
	}
}

func TestValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name    string
		edit    func(p *uplink.Policy)
		wantKey string // "" for a valid policy
		reason  string // a word the reason must contain
	}{
		{name: "demo policy", edit: func(*uplink.Policy) {}},
		{name: "no position, no signals", edit: func(p *uplink.Policy) { p.Position, p.Signals = nil, nil }},
		{name: "position at 1 m", edit: func(p *uplink.Policy) { p.Position.PrecisionM = 1 }},
		{name: "zero rates and quanta", edit: func(p *uplink.Policy) {
			p.Signals["vehicle.speed"] = uplink.Rule{}
			p.Position.MaxRateHz = 0
		}},
		{name: "a role merely containing phone", edit: func(p *uplink.Policy) { p.Signals["vehicle.phone_dock"] = uplink.Rule{} }},
		{name: "a custom role", edit: func(p *uplink.Policy) { p.Signals["gnss.sats"] = uplink.Rule{} }},

		// Issue 14: the cadence.
		{name: "a cadence", edit: func(p *uplink.Policy) {
			p.Cadence = uplink.CadenceRule{Every: time.Minute, PayloadBytes: 1024, AlarmQuantum: time.Hour}
		}},
		{name: "a cadence in fractions", edit: func(p *uplink.Policy) { p.Cadence.Every = 1500 * time.Millisecond },
			wantKey: "cadence.every_s", reason: "whole seconds"},
		{name: "a cadence too long", edit: func(p *uplink.Policy) { p.Cadence.Every = time.Hour },
			wantKey: "cadence.every_s", reason: "at most"},
		{name: "a cadence below the period", edit: func(p *uplink.Policy) {
			p.TelemetryPeriod, p.NearZones.TimeQuantum, p.Cadence.Every = 2*time.Second, 60*time.Second, time.Second
		},
			wantKey: "cadence.every_s", reason: "telemetry period"},
		{name: "a payload too small", edit: func(p *uplink.Policy) { p.Cadence.PayloadBytes = 64 },
			wantKey: "cadence.payload_bytes", reason: "128"},
		{name: "a payload too large", edit: func(p *uplink.Policy) { p.Cadence.PayloadBytes = 1 << 20 },
			wantKey: "cadence.payload_bytes", reason: "65536"},
		{name: "an alarm quantum negative", edit: func(p *uplink.Policy) { p.Cadence.AlarmQuantum = -time.Second },
			wantKey: "cadence.alarm_quantum_s", reason: "whole seconds"},

		// Issue 12 item 6: only vehicle data may be allowed, each role in
		// its one spelling.
		{name: "the odometer", edit: func(p *uplink.Policy) { p.Signals["vehicle.odometer"] = uplink.Rule{} },
			wantKey: "vehicle.odometer", reason: "location data"},
		{name: "the heading", edit: func(p *uplink.Policy) { p.Signals["position.heading"] = uplink.Rule{Quantum: 45} },
			wantKey: "position.heading", reason: "location data"},
		{name: "a camera's status", edit: func(p *uplink.Policy) { p.Signals["camera.front.status"] = uplink.Rule{} },
			wantKey: "camera.front.status", reason: "location data"},
		{name: "the privacy switch", edit: func(p *uplink.Policy) { p.Signals["privacy.switch"] = uplink.Rule{} },
			wantKey: "privacy.switch", reason: "personal data"},
		{name: "a pattern", edit: func(p *uplink.Policy) { p.Signals["*"] = uplink.Rule{} },
			wantKey: "*", reason: "not a role name"},
		{name: "a pattern in a family", edit: func(p *uplink.Policy) { p.Signals["vehicle.*"] = uplink.Rule{} },
			wantKey: "vehicle.*", reason: "not a role name"},
		{name: "another case", edit: func(p *uplink.Policy) { p.Signals["Position.Latitude"] = uplink.Rule{} },
			wantKey: "Position.Latitude", reason: "not a role name"},
		{name: "another script", edit: func(p *uplink.Policy) { p.Signals["ph\u043ene.contact.chars"] = uplink.Rule{} },
			wantKey: "ph\u043ene.contact.chars", reason: "not a role name"},
		{name: "the position key as a signal", edit: func(p *uplink.Policy) { p.Signals["position"] = uplink.Rule{} },
			wantKey: "position", reason: "top-level position key"},
		{name: "a position role that is not well known", edit: func(p *uplink.Policy) { p.Signals["position.sats"] = uplink.Rule{} },
			wantKey: "position.sats", reason: "location data"},

		{name: "phone contact", edit: func(p *uplink.Policy) { p.Signals["phone.contact.name"] = uplink.Rule{} },
			wantKey: "phone.contact.name", reason: "personal data"},
		{name: "phone call", edit: func(p *uplink.Policy) { p.Signals["phone.call.number"] = uplink.Rule{MaxRateHz: 1} },
			wantKey: "phone.call.number", reason: "never"},
		{name: "phone message", edit: func(p *uplink.Policy) { p.Signals["phone.sms"] = uplink.Rule{} },
			wantKey: "phone.sms", reason: "never"},
		{name: "phone rule that is otherwise valid", edit: func(p *uplink.Policy) {
			p.Signals = map[string]uplink.Rule{"phone.battery": {MaxRateHz: 0.1, Quantum: 10}}
		}, wantKey: "phone.battery", reason: "never"},

		{name: "latitude as a signal", edit: func(p *uplink.Policy) { p.Signals["position.latitude"] = uplink.Rule{Quantum: 0.01} },
			wantKey: "position.latitude", reason: `"position"`},
		{name: "longitude as a signal", edit: func(p *uplink.Policy) { p.Signals["position.longitude"] = uplink.Rule{} },
			wantKey: "position.longitude", reason: `"position"`},

		{name: "negative rate", edit: func(p *uplink.Policy) { p.Signals["vehicle.speed"] = uplink.Rule{MaxRateHz: -1} },
			wantKey: "vehicle.speed", reason: "non-negative"},
		{name: "NaN rate", edit: func(p *uplink.Policy) { p.Signals["vehicle.speed"] = uplink.Rule{MaxRateHz: nan} },
			wantKey: "vehicle.speed", reason: "non-negative"},
		{name: "infinite rate", edit: func(p *uplink.Policy) { p.Signals["vehicle.speed"] = uplink.Rule{MaxRateHz: inf} },
			wantKey: "vehicle.speed", reason: "non-negative"},
		{name: "negative quantum", edit: func(p *uplink.Policy) { p.Signals["vehicle.speed"] = uplink.Rule{Quantum: -5} },
			wantKey: "vehicle.speed", reason: "non-negative"},
		{name: "NaN quantum", edit: func(p *uplink.Policy) { p.Signals["vehicle.ignition"] = uplink.Rule{Quantum: nan} },
			wantKey: "vehicle.ignition", reason: "non-negative"},
		{name: "-Inf quantum", edit: func(p *uplink.Policy) { p.Signals["vehicle.ignition"] = uplink.Rule{Quantum: math.Inf(-1)} },
			wantKey: "vehicle.ignition", reason: "non-negative"},

		{name: "negative position rate", edit: func(p *uplink.Policy) { p.Position.MaxRateHz = -0.2 },
			wantKey: uplink.PositionKey, reason: "max_rate_hz"},
		{name: "NaN position rate", edit: func(p *uplink.Policy) { p.Position.MaxRateHz = nan },
			wantKey: uplink.PositionKey, reason: "max_rate_hz"},
		{name: "infinite position rate", edit: func(p *uplink.Policy) { p.Position.MaxRateHz = inf },
			wantKey: uplink.PositionKey, reason: "max_rate_hz"},
		{name: "precision 0", edit: func(p *uplink.Policy) { p.Position.PrecisionM = 0 },
			wantKey: uplink.PositionKey, reason: "precision_m"},
		{name: "precision 0.5", edit: func(p *uplink.Policy) { p.Position.PrecisionM = 0.5 },
			wantKey: uplink.PositionKey, reason: "precision_m"},
		{name: "precision 0.999", edit: func(p *uplink.Policy) { p.Position.PrecisionM = 0.999 },
			wantKey: uplink.PositionKey, reason: "precision_m"},
		{name: "negative precision", edit: func(p *uplink.Policy) { p.Position.PrecisionM = -200 },
			wantKey: uplink.PositionKey, reason: "precision_m"},
		{name: "NaN precision", edit: func(p *uplink.Policy) { p.Position.PrecisionM = nan },
			wantKey: uplink.PositionKey, reason: "precision_m"},
		{name: "infinite precision", edit: func(p *uplink.Policy) { p.Position.PrecisionM = inf },
			wantKey: uplink.PositionKey, reason: "precision_m"},

		{name: "no telemetry period", edit: func(p *uplink.Policy) { p.TelemetryPeriod = 0 },
			wantKey: "telemetry_period", reason: "positive"},
		{name: "negative telemetry period", edit: func(p *uplink.Policy) { p.TelemetryPeriod = -time.Second },
			wantKey: "telemetry_period", reason: "positive"},
		{name: "max_records 0", edit: func(p *uplink.Policy) { p.Batch.MaxRecords = 0 },
			wantKey: "batch.max_records", reason: "at least 1"},
		{name: "max_records negative", edit: func(p *uplink.Policy) { p.Batch.MaxRecords = -30 },
			wantKey: "batch.max_records", reason: "at least 1"},
		{name: "max_age 0", edit: func(p *uplink.Policy) { p.Batch.MaxAge = 0 },
			wantKey: "batch.max_age", reason: "positive"},
		{name: "max_age negative", edit: func(p *uplink.Policy) { p.Batch.MaxAge = -time.Second },
			wantKey: "batch.max_age", reason: "positive"},

		{name: "quantum of one telemetry period", edit: func(p *uplink.Policy) { p.NearZones.TimeQuantum = p.TelemetryPeriod }},
		{name: "quantum of an hour", edit: func(p *uplink.Policy) { p.NearZones.TimeQuantum = time.Hour }},
		{name: "no jitter, no trip-end distance", edit: func(p *uplink.Policy) { p.NearZones.JitterM, p.NearZones.TripEndM = 0, 0 }},
		{name: "no quantum", edit: func(p *uplink.Policy) { p.NearZones.TimeQuantum = 0 },
			wantKey: "near_zones.time_quantum_s", reason: "telemetry period"},
		{name: "quantum below the telemetry period", edit: func(p *uplink.Policy) { p.TelemetryPeriod, p.NearZones.TimeQuantum = 5*time.Second, 2*time.Second },
			wantKey: "near_zones.time_quantum_s", reason: "telemetry period"},
		{name: "quantum not in whole seconds", edit: func(p *uplink.Policy) { p.NearZones.TimeQuantum = 1500 * time.Millisecond },
			wantKey: "near_zones.time_quantum_s", reason: "whole seconds"},
		{name: "quantum over an hour", edit: func(p *uplink.Policy) { p.NearZones.TimeQuantum = time.Hour + time.Second },
			wantKey: "near_zones.time_quantum_s", reason: "at most"},
		{name: "negative jitter", edit: func(p *uplink.Policy) { p.NearZones.JitterM = -1 },
			wantKey: "near_zones.jitter_m", reason: "metres"},
		{name: "NaN jitter", edit: func(p *uplink.Policy) { p.NearZones.JitterM = nan },
			wantKey: "near_zones.jitter_m", reason: "metres"},
		{name: "jitter too large", edit: func(p *uplink.Policy) { p.NearZones.JitterM = 10001 },
			wantKey: "near_zones.jitter_m", reason: "metres"},
		{name: "negative trip-end distance", edit: func(p *uplink.Policy) { p.NearZones.TripEndM = -5 },
			wantKey: "near_zones.trip_end_m", reason: "metres"},
		{name: "infinite trip-end distance", edit: func(p *uplink.Policy) { p.NearZones.TripEndM = inf },
			wantKey: "near_zones.trip_end_m", reason: "metres"},
		{name: "a linger of ten minutes", edit: func(p *uplink.Policy) { p.NearZones.EndLinger = 10 * time.Minute }},
		{name: "negative linger", edit: func(p *uplink.Policy) { p.NearZones.EndLinger = -time.Second },
			wantKey: "near_zones.end_linger_s", reason: "whole seconds"},
		{name: "linger of a fraction", edit: func(p *uplink.Policy) { p.NearZones.EndLinger = 1500 * time.Millisecond },
			wantKey: "near_zones.end_linger_s", reason: "whole seconds"},
		{name: "linger over two hours", edit: func(p *uplink.Policy) { p.NearZones.EndLinger = 3 * time.Hour },
			wantKey: "near_zones.end_linger_s", reason: "2h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := demoPolicy()
			tt.edit(p)
			err := p.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error for key %q", tt.wantKey)
			}
			var ke *uplink.KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("Validate() = %T %v, want a *KeyError", err, err)
			}
			if ke.Key != tt.wantKey {
				t.Errorf("KeyError.Key = %q, want %q (error %q)", ke.Key, tt.wantKey, err)
			}
			if !strings.Contains(ke.Reason, tt.reason) {
				t.Errorf("KeyError.Reason = %q, want it to mention %q", ke.Reason, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), tt.wantKey+": ") {
				t.Errorf("Error() = %q, want it to start with the key", err.Error())
			}
		})
	}
}

// A policy naming several forbidden roles is refused, always naming the
// same one.
func TestValidateRefusesEveryForbiddenRole(t *testing.T) {
	for i := 0; i < 20; i++ {
		p := demoPolicy()
		p.Signals["phone.contact.name"] = uplink.Rule{}
		p.Signals["phone.contact.number"] = uplink.Rule{}
		p.Signals["phone.call.active"] = uplink.Rule{}
		err := p.Validate()
		var ke *uplink.KeyError
		if !errors.As(err, &ke) || ke.Key != "phone.call.active" {
			t.Fatalf("Validate() = %v, want a KeyError naming phone.call.active", err)
		}
	}
}

// TestRoleClass: the vocabulary's classes, and what is not in it.
func TestRoleClass(t *testing.T) {
	tests := []struct {
		role  string
		class uplink.Class
		known bool
	}{
		{"vehicle.speed", uplink.ClassVehicle, true},
		{"vehicle.ignition", uplink.ClassVehicle, true},
		{"vehicle.odometer", uplink.ClassLocation, true},
		{"position.latitude", uplink.ClassLocation, true},
		{"position.heading", uplink.ClassLocation, true},
		{"position.speed", uplink.ClassLocation, true},
		{"phone.contact.chars", uplink.ClassPersonal, true},
		{"privacy.switch", uplink.ClassPersonal, true},
		{"camera.front.status", uplink.ClassLocation, true},
		{"camera.rear_left.trigger", uplink.ClassLocation, true},
		{"camera.front.zoom", uplink.ClassUnknown, false},
		{"camera.status", uplink.ClassUnknown, false},
		{"Camera.front.status", uplink.ClassUnknown, false},
		{"vehicle.odometer.trip", uplink.ClassUnknown, false}, // a custom role: the profile says
		{"gnss.lat", uplink.ClassUnknown, false},
		{"Position.Latitude", uplink.ClassUnknown, false},
		{"ph\u043ene.contact.chars", uplink.ClassUnknown, false},
		{"", uplink.ClassUnknown, false},
	}
	for _, tt := range tests {
		if c, ok := uplink.RoleClass(tt.role); c != tt.class || ok != tt.known {
			t.Errorf("RoleClass(%q) = %v, %v; want %v, %v", tt.role, c, ok, tt.class, tt.known)
		}
	}
	for _, tt := range []struct {
		role, family string
		class        uplink.Class
		ok           bool
	}{
		{"phone.sms.text", "phone", uplink.ClassPersonal, true},
		{"phone", "phone", uplink.ClassPersonal, true},
		{"position.sats", "position", uplink.ClassLocation, true},
		{"position", "position", uplink.ClassLocation, true},
		{"privacy.mode", "privacy", uplink.ClassPersonal, true},
		{"phonebook", "phonebook", uplink.ClassUnknown, false},
		{"vehicle.phone.dock", "vehicle", uplink.ClassUnknown, false},
		{"positions.x", "positions", uplink.ClassUnknown, false},
	} {
		if f, c, ok := uplink.Reserved(tt.role); f != tt.family || c != tt.class || ok != tt.ok {
			t.Errorf("Reserved(%q) = %q, %v, %v; want %q, %v, %v", tt.role, f, c, ok, tt.family, tt.class, tt.ok)
		}
	}
}

// TestValidRole: one spelling per role.
func TestValidRole(t *testing.T) {
	for _, name := range []string{"vehicle.speed", "a", "camera.front_2.status", "x.0", "gnss.lat", strings.Repeat("a", 64)} {
		if !uplink.ValidRole(name) {
			t.Errorf("ValidRole(%q) = false", name)
		}
	}
	for _, name := range []string{"", "*", "vehicle.*", "vehicle.?", "Vehicle.speed", "vehicle.Speed", "VEHICLE.SPEED",
		"ph\u043ene.contact.chars", "vehicle.speed\u200b", "vehicle.speed ", " vehicle.speed", "vehicle..speed",
		"vehicle.speed.", ".vehicle", "1vehicle", "_x", "vehicle-speed", "vehicle/speed", "vehicle.spe\u0435d",
		"ve\u0307hicle", "vehicle.speed\n", strings.Repeat("a", 65), "\uff56ehicle.speed"} {
		if uplink.ValidRole(name) {
			t.Errorf("ValidRole(%q) = true", name)
		}
	}
}

func TestParseClass(t *testing.T) {
	for _, c := range []uplink.Class{uplink.ClassVehicle, uplink.ClassLocation, uplink.ClassPersonal} {
		if got, err := uplink.ParseClass(c.String()); got != c || err != nil {
			t.Errorf("ParseClass(%q) = %v, %v", c.String(), got, err)
		}
	}
	for _, s := range []string{"", "unknown", "Vehicle", "public", "vehicle "} {
		if _, err := uplink.ParseClass(s); err == nil {
			t.Errorf("ParseClass(%q) accepted", s)
		}
	}
}

func TestPositionMarginM(t *testing.T) {
	tests := []struct {
		precision float64
		want      float64
	}{
		{1, 0.714178},
		{100, 71.4178},
		{200, 142.8356},
		{1000, 714.178},
	}
	for _, tt := range tests {
		p := demoPolicy()
		p.Position.PrecisionM = tt.precision
		got := p.PositionMarginM()
		if math.Abs(got-tt.want) > 1e-5*tt.want {
			t.Errorf("precision %v m: PositionMarginM() = %v, want %v", tt.precision, got, tt.want)
		}
		// At least half the cell's diagonal, or snapping could move a
		// position closer to a zone than the gateway allowed for.
		if halfDiag := tt.precision * math.Sqrt2 / 2; got < halfDiag {
			t.Errorf("precision %v m: PositionMarginM() = %v, less than half the diagonal %v", tt.precision, got, halfDiag)
		}
	}
	p := demoPolicy()
	p.Position = nil
	if got := p.PositionMarginM(); got != 0 {
		t.Errorf("without a position rule, PositionMarginM() = %v, want 0", got)
	}
}

func TestKeyErrorMessage(t *testing.T) {
	err := &uplink.KeyError{Key: "phone.contact.name", Reason: "never"}
	if got, want := err.Error(), "phone.contact.name: never"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// Motion roles never go into a merged record; of the rest, only
// well-known vehicle roles do (issue 14: a merged record says what a
// parked car would say).
func TestMotionAndParkedRoles(t *testing.T) {
	for _, tc := range []struct {
		role           string
		motion, parked bool
	}{
		{"vehicle.speed", true, false},
		{"vehicle.gear", true, false},
		{"vehicle.odometer", true, false},
		{"vehicle.yaw_rate", true, false},
		{"vehicle.steering_angle", true, false},
		{"vehicle.rpm", true, false},
		{"vehicle.acceleration.longitudinal", true, false},
		{"vehicle.wheel_speed.front_left", true, false},
		{"position.heading", true, false},
		{"position.speed", true, false},
		{"vehicle.ignition", false, true},
		{"battery.soc", false, false},         // custom: might add up with distance
		{"position.latitude", false, false},   // location
		{"phone.contact.index", false, false}, // personal
		{"vehicle.accelerator", false, false}, // custom, not under vehicle.acceleration.
	} {
		if got := uplink.MotionRole(tc.role); got != tc.motion {
			t.Errorf("MotionRole(%s) = %v", tc.role, got)
		}
		if got := uplink.ParkedRole(tc.role); got != tc.parked {
			t.Errorf("ParkedRole(%s) = %v", tc.role, got)
		}
	}
}
