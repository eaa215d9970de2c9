package can_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/can/cantest"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// decoded is one value with its role name, for comparisons.
type decoded struct {
	raw  int64
	phys float64
}

// decodeAll decodes f and returns the values by role name.
func decodeAll(tb testing.TB, d *can.Decoder, f *can.Frame) map[string]decoded {
	tb.Helper()
	out := make([]can.Value, d.MaxValuesPerFrame())
	n, err := d.Decode(f, out)
	if err != nil {
		tb.Fatalf("Decode(%v): %v", f, err)
	}
	got := map[string]decoded{}
	for _, v := range out[:n] {
		name := d.Roles()[v.Role]
		if _, dup := got[name]; dup {
			tb.Fatalf("Decode(%v): role %s twice", f, name)
		}
		if !v.Time.Equal(f.Time) {
			tb.Errorf("Decode(%v): %s at %v, want the frame's time %v", f, name, v.Time, f.Time)
		}
		got[name] = decoded{v.Raw, v.Phys}
	}
	return got
}

// sameValues compares decoded values; physical values may differ by tol.
func sameValues(tb testing.TB, got, want map[string]decoded, tol float64) {
	tb.Helper()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			tb.Errorf("role %s not decoded", name)
		case g.raw != w.raw || math.Abs(g.phys-w.phys) > tol:
			tb.Errorf("%s = raw %d phys %v, want raw %d phys %v", name, g.raw, g.phys, w.raw, w.phys)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			tb.Errorf("unexpected role %s = %+v", name, g)
		}
	}
}

func TestNewDecoderErrors(t *testing.T) {
	db := cantest.RefDB(t)
	speed := can.Mapping{Role: "vehicle.speed", Message: "VCU_Speed", Signal: "VCU_VehicleSpeed"}
	tests := []struct {
		name   string
		maps   []can.Mapping
		role   string
		reason string
	}{
		{
			"unknown message",
			[]can.Mapping{speed, {Role: "x.y", Message: "VCU_Nope", Signal: "VCU_VehicleSpeed"}},
			"x.y", "message VCU_Nope is not in quietzone.dbc",
		},
		{
			"unknown signal",
			[]can.Mapping{{Role: "vehicle.speed", Message: "VCU_Speed", Signal: "VCU_Nope"}},
			"vehicle.speed", "signal VCU_Nope is not in message VCU_Speed",
		},
		{
			"signal of another message",
			[]can.Mapping{{Role: "position.fix", Message: "VCU_Speed", Signal: "GNSS_FixType"}},
			"position.fix", "signal GNSS_FixType is not in message VCU_Speed",
		},
		{
			"duplicate role",
			[]can.Mapping{speed, {Role: "position.fix", Message: "GNSS_Status", Signal: "GNSS_FixType"}, speed},
			"vehicle.speed", "mapped twice",
		},
		{
			"duplicate role, other signal",
			[]can.Mapping{speed, {Role: "vehicle.speed", Message: "GNSS_Status", Signal: "GNSS_Speed"}},
			"vehicle.speed", "mapped twice",
		},
		{
			"one signal under two roles",
			[]can.Mapping{{Role: "position.latitude", Message: "GNSS_Position", Signal: "GNSS_Latitude"}, speed, {Role: "gnss.lat", Message: "GNSS_Position", Signal: "GNSS_Latitude"}},
			"gnss.lat", "signal GNSS_Position.GNSS_Latitude is already the signal of role position.latitude: a DBC signal has one role",
		},
		{
			"one signal under two roles, other units",
			[]can.Mapping{speed, {Role: "vehicle.speed_mph", Message: "VCU_Speed", Signal: "VCU_VehicleSpeed", Unit: "mph"}},
			"vehicle.speed_mph", "signal VCU_Speed.VCU_VehicleSpeed is already the signal of role vehicle.speed: a DBC signal has one role",
		},
		{"empty role", []can.Mapping{{Message: "VCU_Speed", Signal: "VCU_VehicleSpeed"}}, "", "invalid role name"},
		{"role with a space", []can.Mapping{{Role: "vehicle speed", Message: "VCU_Speed", Signal: "VCU_VehicleSpeed"}}, "vehicle speed", "invalid role name"},
		{"role with a tab", []can.Mapping{{Role: "vehicle\tspeed", Message: "VCU_Speed", Signal: "VCU_VehicleSpeed"}}, "vehicle\tspeed", "invalid role name"},
		{
			"unknown unit",
			[]can.Mapping{{Role: "vehicle.speed", Message: "VCU_Speed", Signal: "VCU_VehicleSpeed", Unit: "furlong/fortnight"}},
			"vehicle.speed", `unit furlong/fortnight: signal VCU_Speed.VCU_VehicleSpeed: convert "km/h" to "furlong/fortnight": "furlong/fortnight": unknown unit`,
		},
		{
			"incompatible unit",
			[]can.Mapping{{Role: "vehicle.speed", Message: "VCU_Speed", Signal: "VCU_VehicleSpeed", Unit: "deg"}},
			"vehicle.speed", `unit deg: signal VCU_Speed.VCU_VehicleSpeed: convert "km/h" (speed) to "deg" (angle): incompatible units`,
		},
		{
			"signal without a unit",
			[]can.Mapping{{Role: "position.fix", Message: "GNSS_Status", Signal: "GNSS_FixType", Unit: "m"}},
			"position.fix", "unit m: signal GNSS_Status.GNSS_FixType has no unit in quietzone.dbc to convert from",
		},
		{
			"negative max age",
			[]can.Mapping{{Role: "vehicle.speed", Message: "VCU_Speed", Signal: "VCU_VehicleSpeed", MaxAge: -time.Second}},
			"vehicle.speed", "max_age -1s is negative",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := can.NewDecoder(db, tt.maps)
			if err == nil {
				t.Fatalf("NewDecoder succeeded with roles %v", d.Roles())
			}
			var me *can.MapError
			if !errors.As(err, &me) {
				t.Fatalf("error %q (%T) is not a *MapError", err, err)
			}
			if me.Role != tt.role || me.Reason != tt.reason {
				t.Errorf("MapError{Role: %q, Reason: %q}, want {%q, %q}", me.Role, me.Reason, tt.role, tt.reason)
			}
			if want := "role " + tt.role + ": " + tt.reason; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err, want)
			}
		})
	}
	t.Run("no mappings", func(t *testing.T) {
		d, err := can.NewDecoder(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := frame(240, 0, make([]byte, 8)...)
		if _, err := d.Decode(&f, nil); err != can.ErrUnmapped {
			t.Errorf("Decode with an empty map = %v, want ErrUnmapped", err)
		}
	})
}

// TestDecodeReference decodes frames of the reference vehicle made from
// bytes worked out by hand.
func TestDecodeReference(t *testing.T) {
	d := refDecoder(t)
	tests := []struct {
		name  string
		frame can.Frame
		want  map[string]decoded
	}{
		{
			// speed 87.65 km/h = 8765 = 0x223d (bits 0..15), gear D = 3
			// (bits 16..18), ignition on (bit 19), privacy off (bit 20),
			// odometer 123456.7 km = 1234567 = 0x12d687 (bits 24..47),
			// counter 5 (bits 56..59).
			"VCU_Speed", frame(240, 0, 0x3d, 0x22, 0x0b, 0x87, 0xd6, 0x12, 0x00, 0x05),
			map[string]decoded{
				"vehicle.speed":    {8765, 87.65},
				"vehicle.ignition": {1, 1},
				"privacy.switch":   {0, 0},
				"vehicle.odometer": {1234567, 123456.7},
			},
		},
		{
			"VCU_Speed privacy on", frame(240, 0, 0, 0, 0x10, 0, 0, 0, 0, 0),
			map[string]decoded{
				"vehicle.speed": {0, 0}, "vehicle.ignition": {0, 0}, "privacy.switch": {1, 1}, "vehicle.odometer": {0, 0},
			},
		},
		{
			// Motorola, signed, 1e-7 degree.
			"GNSS_Position", frame(416, 0, 0x1c, 0xb1, 0x27, 0x60, 0xf9, 0x19, 0xb8, 0x08),
			map[string]decoded{
				"position.latitude":  {481372000, 48.1372},
				"position.longitude": {-115755000, -11.5755},
			},
		},
		{
			// fix 3 (bits 0..2), 12 satellites (bits 3..8, not mapped),
			// accuracy 1.25 m = 125, heading 271.5 = 27150 = 0x6a0e,
			// speed 50 km/h = 5000 = 0x1388.
			"GNSS_Status", frame(417, 0, 0x63, 0x00, 0x7d, 0x00, 0x0e, 0x6a, 0x88, 0x13),
			map[string]decoded{
				"position.fix":      {3, 3},
				"position.accuracy": {125, 1.25},
				"position.heading":  {27150, 271.5},
				"position.speed":    {5000, 50},
			},
		},
		{
			"CAM_FrontStatus", frame(784, 0, 0x03, 0x00),
			map[string]decoded{"camera.front.trigger": {1, 1}, "camera.front.status": {1, 1}},
		},
		{
			"CAM_RearStatus", frame(785, 0, 0x06, 0x00),
			map[string]decoded{"camera.rear.trigger": {0, 0}, "camera.rear.status": {3, 3}},
		},
		{
			"CAM_CabinStatus", frame(786, 0, 0x05, 0xff),
			map[string]decoded{"camera.cabin.trigger": {1, 1}, "camera.cabin.status": {2, 2}},
		},
		{
			// index 7, then "ABCDEFG" as a 56-bit little-endian number.
			"HU_PhoneContact", frame(1440, 0, 7, 'A', 'B', 'C', 'D', 'E', 'F', 'G'),
			map[string]decoded{
				"phone.contact.index": {7, 7},
				"phone.contact.chars": {0x47464544434241, 0x47464544434241},
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.frame
			f.Time = t0.Add(time.Duration(i) * time.Millisecond)
			sameValues(t, decodeAll(t, d, &f), tt.want, 1e-9)
		})
	}
	if got := d.Stats(); got != (can.DecodeStats{Decoded: uint64(len(tests))}) {
		t.Errorf("Stats() = %+v, want %d decoded", got, len(tests))
	}
}

// TestDecodeDrops: frames the decoder drops, each with its reason and
// counter.
func TestDecodeDrops(t *testing.T) {
	d := refDecoder(t)
	good := frame(240, 0, make([]byte, 8)...)
	tests := []struct {
		name  string
		frame can.Frame
		want  error
	}{
		{"mapped", good, nil},
		{"unmapped standard", frame(0x123, 0, make([]byte, 8)...), can.ErrUnmapped},
		{"in the DBC but not mapped", frame(768, 0, make([]byte, 8)...), can.ErrUnmapped},
		{"mapped number, extended", frame(240, can.Extended, make([]byte, 8)...), can.ErrUnmapped},
		{"standard id beyond 11 bits", frame(0x800|240, 0, make([]byte, 8)...), can.ErrUnmapped},
		{"largest uint32 id", frame(math.MaxUint32, 0), can.ErrUnmapped},
		{"largest uint32 id, extended", frame(math.MaxUint32, can.Extended), can.ErrUnmapped},
		{"unmapped remote", frame(0x123, can.Remote), can.ErrUnmapped}, // lookup comes first
		{"too short", frame(240, 0, make([]byte, 7)...), can.ErrWrongLength},
		{"empty", frame(240, 0), can.ErrWrongLength},
		{"FD 64 bytes", frame(240, can.FD, make([]byte, 64)...), can.ErrWrongLength},
		{"2-byte message in 8 bytes", frame(784, 0, make([]byte, 8)...), can.ErrWrongLength},
		{"length beyond the data array", can.Frame{ID: 240, Len: 200}, can.ErrWrongLength},
		{"remote", frame(240, can.Remote), can.ErrRemoteFrame},
		{"remote with length", can.Frame{ID: 240, Flags: can.Remote, Len: 8}, can.ErrRemoteFrame},
		{"mapped again", good, nil},
	}
	var want can.DecodeStats
	out := make([]can.Value, d.MaxValuesPerFrame())
	for _, tt := range tests {
		n, err := d.Decode(&tt.frame, out)
		// The sentinels come back unwrapped: compare with ==.
		if err != tt.want {
			t.Errorf("%s: Decode = %d, %v; want %v", tt.name, n, err, tt.want)
		}
		switch tt.want {
		case nil:
			want.Decoded++
			if n != 4 {
				t.Errorf("%s: %d values, want 4", tt.name, n)
			}
		case can.ErrUnmapped:
			want.Unmapped++
		case can.ErrWrongLength:
			want.WrongLength++
		case can.ErrRemoteFrame:
			want.Remote++
		}
		if tt.want != nil && n != 0 {
			t.Errorf("%s: %d values with an error", tt.name, n)
		}
		if got := d.Stats(); got != want {
			t.Fatalf("after %s: Stats() = %+v, want %+v", tt.name, got, want)
		}
	}
	if got := d.Stats().Bad(); got != 7 { // wrong length 5 + remote 2; unmapped is normal
		t.Errorf("Bad() = %d, want 7", got)
	}
}

// TestDecodeMultiplexed: multiplexed signals are decoded only when the
// switch has their value; the others always.
func TestDecodeMultiplexed(t *testing.T) {
	db := fixtureDB(t, "vehicle.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "mode", Message: "Muxed", Signal: "Mode"},
		can.Mapping{Role: "counter", Message: "Muxed", Signal: "Counter"},
		can.Mapping{Role: "temp", Message: "Muxed", Signal: "TempA"},
		can.Mapping{Role: "speed", Message: "Muxed", Signal: "SpeedB"},
		can.Mapping{Role: "flag", Message: "Muxed", Signal: "FlagB"},
		can.Mapping{Role: "level", Message: "Muxed", Signal: "LevelC"},
	)
	tests := []struct {
		name  string
		frame can.Frame
		want  map[string]decoded
	}{
		{
			// TempA: 12-bit signed at bits 8..19, (0.1, -40): 0xfce = -50
			// → -45 degC.
			"mode 0", frame(512, 0, 0x00, 0xce, 0x0f, 0, 0, 0, 0, 0x2a),
			map[string]decoded{"mode": {0, 0}, "counter": {42, 42}, "temp": {-50, -45}},
		},
		{
			// SpeedB: Motorola 15|16, bytes 1..2 = 0x2710 = 10000 → 100 km/h;
			// FlagB bit 32.
			"mode 1", frame(512, 0, 0x01, 0x27, 0x10, 0, 0x01, 0, 0, 0x2b),
			map[string]decoded{"mode": {1, 1}, "counter": {43, 43}, "speed": {10000, 100}, "flag": {1, 1}},
		},
		{
			// LevelC: byte 1, 0.5 % per bit.
			"mode 2", frame(512, 0, 0x02, 0xc8, 0, 0, 0, 0, 0, 0x2c),
			map[string]decoded{"mode": {2, 2}, "counter": {44, 44}, "level": {200, 100}},
		},
		{
			"mode with no signals", frame(512, 0, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2d),
			map[string]decoded{"mode": {15, 15}, "counter": {45, 45}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameValues(t, decodeAll(t, d, &tt.frame), tt.want, 1e-9)
		})
	}

	// Only the multiplexed signals mapped: the switch is read all the same.
	only := newDecoder(t, db, can.Mapping{Role: "speed", Message: "Muxed", Signal: "SpeedB"})
	f := frame(512, 0, 0x00, 0x27, 0x10, 0, 0, 0, 0, 0)
	if n, err := only.Decode(&f, make([]can.Value, 1)); n != 0 || err != nil {
		t.Errorf("mode 0, only SpeedB mapped: Decode = %d, %v; want 0, nil", n, err)
	}
	f.Data[0] = 1
	if got := decodeAll(t, only, &f); got["speed"] != (decoded{10000, 100}) {
		t.Errorf("mode 1, only SpeedB mapped: %v", got)
	}
}

// TestDecodeTeslaMultiplexed: the same with a real multiplexed message,
// UI_driverAssistRoadSign (UI_roadSign M; m1 stop sign, m2 traffic light).
func TestDecodeTeslaMultiplexed(t *testing.T) {
	db := sharedDB(t, "tesla_can.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "sign", Message: "UI_driverAssistRoadSign", Signal: "UI_roadSign"},
		can.Mapping{Role: "stop.dist", Message: "UI_driverAssistRoadSign", Signal: "UI_stopSignStopLineDist"},
		can.Mapping{Role: "light.dist", Message: "UI_driverAssistRoadSign", Signal: "UI_trafficLightStopLineDist"},
		can.Mapping{Role: "spline", Message: "UI_driverAssistRoadSign", Signal: "UI_splineID"},
	)
	// bits 8..17 = 100 → 100*0.25-8 = 17 m; UI_splineID bits 48..51 = 9.
	f := frame(568, 0, 0x01, 0x64, 0, 0, 0, 0, 0x09, 0)
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{"sign": {1, 1}, "stop.dist": {100, 17}, "spline": {9, 9}}, 1e-9)
	f.Data[0] = 2
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{"sign": {2, 2}, "light.dist": {100, 17}, "spline": {9, 9}}, 1e-9)
	f.Data[0] = 0
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{"sign": {0, 0}, "spline": {9, 9}}, 1e-9)
}

// TestDecodeTesla decodes the Tesla signals the gateway would use, from
// frames encoded with known physical values.
func TestDecodeTesla(t *testing.T) {
	db := sharedDB(t, "tesla_can.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "vehicle.speed", Message: "DI_torque2", Signal: "DI_vehicleSpeed"},
		can.Mapping{Role: "position.latitude", Message: "MCU_locationStatus", Signal: "MCU_latitude"},
		can.Mapping{Role: "position.longitude", Message: "MCU_locationStatus", Signal: "MCU_longitude"},
		can.Mapping{Role: "position.accuracy", Message: "MCU_locationStatus", Signal: "MCU_gpsAccuracy"},
		can.Mapping{Role: "position.speed", Message: "UI_gpsVehicleSpeed", Signal: "UI_gpsVehicleSpeed"},
		can.Mapping{Role: "camera.active", Message: "UI_status", Signal: "UI_cameraActive"},
	)
	// DI_torque2 is 6 bytes: 60 MPH = (60+25)/0.05 = 1700.
	f := frame(0x118, 0, 0, 0, 0xa4, 0x06, 0, 0)
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{"vehicle.speed": {1700, 60}}, 1e-9)
	f = encode(t, db, "MCU_locationStatus", map[string]float64{
		"MCU_latitude": -33.856784, "MCU_longitude": 151.215297, "MCU_gpsAccuracy": 25.4,
	})
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{
		"position.latitude":  {-33856784, -33.856784},
		"position.longitude": {151215297, 151.215297},
		"position.accuracy":  {127, 25.4},
	}, 1e-9)
	f = encode(t, db, "UI_gpsVehicleSpeed", map[string]float64{"UI_gpsVehicleSpeed": 250.99609375, "UI_gpsHDOP": 0.9})
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{"position.speed": {64255, 250.99609375}}, 0)
	f = encode(t, db, "UI_status", map[string]float64{"UI_cameraActive": 1, "UI_cellReceiverPower": -128})
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{"camera.active": {1, 1}}, 0)
}

// TestDecodeUnits: a role's unit converts the DBC's physical value; the raw
// value and the range check stay in the DBC's terms.
func TestDecodeUnits(t *testing.T) {
	db := sharedDB(t, "tesla_can.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "vehicle.speed", Message: "DI_torque2", Signal: "DI_vehicleSpeed", Unit: "km/h"},
		can.Mapping{Role: "position.heading", Message: "UI_gpsVehicleSpeed", Signal: "UI_gpsVehicleHeading", Unit: "rad"},
		can.Mapping{Role: "position.speed", Message: "UI_gpsVehicleSpeed", Signal: "UI_gpsVehicleSpeed", Unit: "m/s"},
	)
	// 60 MPH = (60+25)/0.05 = raw 1700 = 96.56064 km/h.
	f := frame(0x118, 0, 0, 0, 0xa4, 0x06, 0, 0)
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{"vehicle.speed": {1700, 96.56064}}, 1e-9)
	f = encode(t, db, "UI_gpsVehicleSpeed", map[string]float64{"UI_gpsVehicleHeading": 180, "UI_gpsVehicleSpeed": 36})
	sameValues(t, decodeAll(t, d, &f), map[string]decoded{
		"position.heading": {23040, math.Pi},
		"position.speed":   {9216, 10},
	}, 1e-9)
}

// TestDecodeOutOfRange: a value outside the DBC's [min,max] is passed on
// unclamped, flagged and counted; ranges written [0|0] are not checked.
func TestDecodeOutOfRange(t *testing.T) {
	db := sharedDB(t, "tesla_can.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "hdop", Message: "UI_gpsVehicleSpeed", Signal: "UI_gpsHDOP"},              // [0|25.5], 8 bits: never out
		can.Mapping{Role: "heading", Message: "UI_gpsVehicleSpeed", Signal: "UI_gpsVehicleHeading"}, // [0|511.99]: never out
		can.Mapping{Role: "speed", Message: "UI_gpsVehicleSpeed", Signal: "UI_gpsVehicleSpeed"},     // [0|250.996], 16 bits: can be
		can.Mapping{Role: "offset", Message: "UI_gpsVehicleSpeed", Signal: "UI_userSpeedOffset"},    // [-30|33], 6 bits - 30: can be
		can.Mapping{Role: "lat", Message: "MCU_locationStatus", Signal: "MCU_latitude"},             // [0|0]: unchecked
	)
	out := make([]can.Value, d.MaxValuesPerFrame())
	// UI_gpsVehicleSpeed raw 0xffff = 255.996 km/h > 250.996; offset raw 63 - 30 = 33: in.
	f := frame(760, 0, 0x10, 0, 0, 0xff, 0xff, 0x3f, 0, 0)
	n, err := d.Decode(&f, out)
	if err != nil || n != 4 {
		t.Fatalf("Decode = %d, %v", n, err)
	}
	for _, v := range out[:n] {
		name := d.Roles()[v.Role]
		wantOut := name == "speed"
		if got := v.Flags&can.OutOfRange != 0; got != wantOut {
			t.Errorf("%s = %v: OutOfRange %v, want %v", name, v.Phys, got, wantOut)
		}
		if name == "speed" && v.Phys != 65535*0.00390625 {
			t.Errorf("speed = %v: clamped?", v.Phys)
		}
	}
	if s := d.Stats(); s.OutOfRange != 1 || s.Decoded != 1 || s.Bad() != 0 {
		t.Errorf("Stats = %+v, want one value out of range in one decoded frame", s)
	}
	f = encode(t, db, "MCU_locationStatus", map[string]float64{"MCU_latitude": -89})
	if n, err := d.Decode(&f, out); err != nil || n != 1 || out[0].Flags != 0 {
		t.Errorf("latitude -89 with range [0|0]: %d, %v, %+v", n, err, out[0])
	}
}

// TestDescribe: value descriptions are reachable from decoded values.
func TestDescribe(t *testing.T) {
	db := sharedDB(t, "tesla_can.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "vehicle.speed", Message: "DI_torque2", Signal: "DI_vehicleSpeed", Unit: "km/h"},
		can.Mapping{Role: "vehicle.gear", Message: "DI_torque2", Signal: "DI_gear"},
	)
	out := make([]can.Value, d.MaxValuesPerFrame())
	// Speed raw 4095 ("SNA"), gear 4 ("DI_GEAR_D").
	f := frame(0x118, 0, 0, 0x40, 0xff, 0x0f, 0, 0)
	n, err := d.Decode(&f, out)
	if err != nil || n != 2 {
		t.Fatalf("Decode = %d, %v", n, err)
	}
	want := map[string]string{"vehicle.speed": "SNA", "vehicle.gear": "DI_GEAR_D"}
	for _, v := range out[:n] {
		name := d.Roles()[v.Role]
		if got, ok := d.Describe(v); !ok || got != want[name] {
			t.Errorf("Describe(%s raw %d) = %q, %v; want %q", name, v.Raw, got, ok, want[name])
		}
	}
	if got, ok := d.Describe(can.Value{Role: 0, Raw: 1}); ok {
		t.Errorf("Describe of an undescribed raw value = %q", got)
	}
	if _, ok := d.Describe(can.Value{Role: 99}); ok {
		t.Error("Describe of an unknown role succeeded")
	}
	v := out[0]
	if allocs := testing.AllocsPerRun(1000, func() { d.Describe(v) }); allocs != 0 {
		t.Errorf("Describe allocates %v times per call", allocs)
	}
}

// TestDecodeOutBuffer: values beyond out's length are cut, not written.
func TestDecodeOutBuffer(t *testing.T) {
	d := refDecoder(t)
	f := frame(240, 0, 1, 2, 3, 4, 5, 6, 7, 8)
	out := make([]can.Value, 4, 8)
	n, err := d.Decode(&f, out[:2])
	if n != 2 || err != nil {
		t.Fatalf("Decode into 2 slots = %d, %v", n, err)
	}
	if out[2] != (can.Value{}) || out[3] != (can.Value{}) {
		t.Errorf("Decode wrote past len(out): %+v", out[:4])
	}
	if n, err := d.Decode(&f, nil); n != 0 || err != nil {
		t.Errorf("Decode into nil = %d, %v", n, err)
	}
	if got := d.Stats().Decoded; got != 2 {
		t.Errorf("Decoded = %d, want 2", got)
	}
}

// TestDecodeExtendedAndFD: extended identifiers, CAN FD messages, and a
// DBC size that is not an FD length (10 bytes, sent in 12).
func TestDecodeExtendedAndFD(t *testing.T) {
	db := fixtureDB(t, "vehicle.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "wheel", Message: "J1939_Speed", Signal: "WheelSpeed"},
		can.Mapping{Role: "first", Message: "Wide", Signal: "First"},
		can.Mapping{Role: "last", Message: "Wide", Signal: "LastLE"},
		can.Mapping{Role: "span", Message: "Wide", Signal: "Spanning"},
		can.Mapping{Role: "tail", Message: "Odd", Signal: "Tail"},
	)
	// 88.5 km/h / 2^-8 = 22656 = 0x5880 at bits 8..23.
	ext := frame(0x18fef100, can.Extended, 0, 0x80, 0x58, 0, 0, 0, 0, 0)
	sameValues(t, decodeAll(t, d, &ext), map[string]decoded{"wheel": {22656, 88.5}}, 0)
	std := ext
	std.Flags = 0
	if _, err := d.Decode(&std, nil); err != can.ErrUnmapped {
		t.Errorf("extended ID without the Extended flag: %v, want ErrUnmapped", err)
	}

	wide := seq(64)
	wide[62], wide[63] = 0xfe, 0xff                      // LastLE = 0xfffe = -2
	copy(wide[31:39], []byte{1, 2, 3, 4, 5, 6, 7, 0xff}) // Spanning: Motorola, bytes 31..38
	fd := frame(1536, can.FD|can.BRS, wide...)
	sameValues(t, decodeAll(t, d, &fd), map[string]decoded{
		"first": {0, 0},
		"last":  {-2, -2},
		"span":  {0x01020304050607ff, 0x01020304050607ff},
	}, 0)

	for _, tt := range []struct {
		len  int
		want error
	}{{12, nil}, {10, nil}, {11, can.ErrWrongLength}, {8, can.ErrWrongLength}, {16, can.ErrWrongLength}} {
		f := frame(1537, can.FD, seq(tt.len)...)
		n, err := d.Decode(&f, make([]can.Value, 1))
		if err != tt.want {
			t.Errorf("Odd in %d bytes: %v, want %v", tt.len, err, tt.want)
			continue
		}
		if err == nil && n != 1 {
			t.Errorf("Odd in %d bytes: %d values", tt.len, n)
		}
	}
}

func TestFilters(t *testing.T) {
	want := []can.Filter{{ID: 240}, {ID: 241}, {ID: 416}, {ID: 417}, {ID: 784}, {ID: 785}, {ID: 786}, {ID: 1440}}
	if got := refDecoder(t).Filters(); !slices.Equal(got, want) {
		t.Errorf("reference Filters() = %v, want %v", got, want)
	}
	db := fixtureDB(t, "vehicle.dbc")
	d := newDecoder(t, db,
		can.Mapping{Role: "wheel", Message: "J1939_Speed", Signal: "WheelSpeed"},
		can.Mapping{Role: "tail", Message: "Odd", Signal: "Tail"},
		can.Mapping{Role: "mode", Message: "Muxed", Signal: "Mode"},
		can.Mapping{Role: "counter", Message: "Muxed", Signal: "Counter"},
	)
	want = []can.Filter{{ID: 512}, {ID: 1537}, {ID: 0x18fef100, Extended: true}}
	if got := d.Filters(); !slices.Equal(got, want) {
		t.Errorf("Filters() = %v, want %v", got, want)
	}
	if got := newDecoder(t, db).Filters(); len(got) != 0 {
		t.Errorf("Filters() with no mappings = %v", got)
	}
}

func TestDecoderAccessors(t *testing.T) {
	db := cantest.RefDB(t)
	maps := cantest.RefMappings(t)
	d := refDecoder(t)
	if d.Database() != db {
		t.Error("Database() is not the DBC the decoder was built from")
	}
	if !slices.Equal(d.Mappings(), maps) {
		t.Error("Mappings() differ from the signal map")
	}
	if len(d.Roles()) != len(maps) {
		t.Fatalf("%d roles for %d mappings", len(d.Roles()), len(maps))
	}
	for i, m := range maps {
		if d.Roles()[i] != m.Role {
			t.Errorf("Roles()[%d] = %s, want %s (the map's order)", i, d.Roles()[i], m.Role)
		}
		id, ok := d.Role(m.Role)
		if !ok || int(id) != i {
			t.Errorf("Role(%s) = %d, %v; want %d", m.Role, id, ok, i)
		}
		s := d.Signal(id)
		if s == nil || s.Name != m.Signal || s.Message.Name != m.Message {
			t.Errorf("Signal(%s) = %v, want %s.%s", m.Role, s, m.Message, m.Signal)
		}
	}
	if _, ok := d.Role("no.such.role"); ok {
		t.Error("Role(no.such.role) found")
	}
	if s := d.Signal(can.RoleID(len(maps))); s != nil {
		t.Errorf("Signal(out of range) = %v", s)
	}
	// VCU_Speed and GNSS_Status carry four mapped signals each.
	if got := d.MaxValuesPerFrame(); got != 4 {
		t.Errorf("MaxValuesPerFrame() = %d, want 4", got)
	}
}

// TestDecodeDoesNotAllocate: the per-frame path allocates nothing, whatever
// the outcome.
func TestDecodeDoesNotAllocate(t *testing.T) {
	d := refDecoder(t)
	mux := newDecoder(t, fixtureDB(t, "vehicle.dbc"),
		can.Mapping{Role: "mode", Message: "Muxed", Signal: "Mode"},
		can.Mapping{Role: "speed", Message: "Muxed", Signal: "SpeedB"},
		can.Mapping{Role: "wheel", Message: "J1939_Speed", Signal: "WheelSpeed"},
		can.Mapping{Role: "span", Message: "Wide", Signal: "Spanning"},
	)
	out := make([]can.Value, 8)
	tests := []struct {
		name  string
		d     *can.Decoder
		frame can.Frame
	}{
		{"mapped", d, frame(240, 0, 1, 2, 3, 4, 5, 6, 7, 8)},
		{"mapped motorola signed", d, frame(416, 0, 1, 2, 3, 4, 5, 6, 7, 8)},
		{"unmapped standard", d, frame(0x123, 0, 1, 2, 3)},
		{"unmapped extended", d, frame(0x123, can.Extended, 1, 2, 3)},
		{"wrong length", d, frame(240, 0, 1)},
		{"remote", d, frame(240, can.Remote)},
		{"multiplexed", mux, frame(512, 0, 1, 2, 3, 4, 5, 6, 7, 8)},
		{"mapped extended", mux, frame(0x18fef100, can.Extended, 1, 2, 3, 4, 5, 6, 7, 8)},
		{"mapped FD", mux, frame(1536, can.FD, seq(64)...)},
	}
	for _, tt := range tests {
		f := tt.frame
		f.Time = t0
		if allocs := testing.AllocsPerRun(1000, func() { tt.d.Decode(&f, out) }); allocs != 0 {
			t.Errorf("%s: Decode allocates %v times per call", tt.name, allocs)
		}
	}
}
