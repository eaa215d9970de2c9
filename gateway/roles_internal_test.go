package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/uplink"
)

// copiesDBC carries the vehicle's latitude and a contact's name several
// times over, in messages of their own: what a signal map that mapped them
// under other names would read.
const copiesDBC = `VERSION ""

BO_ 100 GNSS: 8 X
 SG_ Lat : 0|32@1- (1E-007,0) [-90|90] "deg" X
 SG_ Lon : 32|32@1- (1E-007,0) [-180|180] "deg" X

BO_ 101 GNSS_A: 8 X
 SG_ LatA : 0|32@1- (1E-007,0) [-90|90] "deg" X
 SG_ LatB : 32|32@1- (1E-007,0) [-90|90] "deg" X

BO_ 102 GNSS_B: 8 X
 SG_ LatC : 0|32@1- (1E-007,0) [-90|90] "deg" X

BO_ 103 GNSS_Status: 8 X
 SG_ Fix : 0|3@1+ (1,0) [0|5] "" X
 SG_ Sats : 8|8@1+ (1,0) [0|63] "" X
 SG_ SpeedOverFix : 0|16@1+ (0.01,0) [0|655.35] "km/h" X
 SG_ Page M : 56|2@1+ (1,0) [0|3] "" X
 SG_ PageA m0 : 16|16@1+ (1,0) [0|0] "" X
 SG_ PageB m1 : 16|16@1+ (1,0) [0|0] "" X

BO_ 200 Body: 2 X
 SG_ Speed : 0|16@1+ (0.01,0) [0|655.35] "km/h" X

BO_ 300 HU_A: 8 X
 SG_ ContactA : 0|56@1+ (1,0) [0|0] "" X

BO_ 301 HU_B: 8 X
 SG_ ContactB : 0|56@1+ (1,0) [0|0] "" X

BO_ 302 HU_C: 8 X
 SG_ ContactC : 0|56@1+ (1,0) [0|0] "" X
`

// issueRoles are the roles of issue 12 item 6, each mapped to its own copy
// of a coordinate or of a contact's name.
var issueRoles = []can.Mapping{
	{Role: "gnss.lat", Message: "GNSS_A", Signal: "LatA"},
	{Role: "Position.Latitude", Message: "GNSS_A", Signal: "LatB"},
	{Role: "*", Message: "GNSS_B", Signal: "LatC"},
	{Role: "hu.contact_chars", Message: "HU_A", Signal: "ContactA"},
	{Role: "Phone.contact.chars", Message: "HU_B", Signal: "ContactB"},
	{Role: "ph\u043ene.contact.chars", Message: "HU_C", Signal: "ContactC"},
}

const (
	secretLat     = 52.5123456
	secretContact = 0x6e6f7461746f70 // "potaton", little-endian ASCII
)

// copiesGateway builds a gateway on copiesDBC straight from a signal map,
// as if the profile loader had been bypassed, and feeds it one frame of
// every message, carrying secretLat and secretContact.
func copiesGateway(t *testing.T, extra []can.Mapping) (*Gateway, time.Time) {
	t.Helper()
	db, err := can.LoadDBC("copies.dbc", []byte(copiesDBC))
	if err != nil {
		t.Fatal(err)
	}
	maps := append([]can.Mapping{
		{Role: RoleSpeed, Message: "Body", Signal: "Speed"},
		{Role: RoleLatitude, Message: "GNSS", Signal: "Lat"},
		{Role: RoleLongitude, Message: "GNSS", Signal: "Lon"},
	}, extra...)
	dec, err := can.NewDecoder(db, maps)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	g, err := New(Options{Decoder: dec, Cameras: nopCameras{}, Clock: &testClock{t: now}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range db.Messages() {
		f := m.NewFrame()
		f.Time = now
		for _, s := range m.Signals {
			var v float64
			switch {
			case strings.HasPrefix(s.Name, "Contact"):
				binary.LittleEndian.PutUint64(f.Data[:8], secretContact)
				continue
			case strings.HasPrefix(s.Name, "Lat"):
				v = secretLat
			case s.Name == "Speed":
				v = 42
			case s.Name == "Lon":
				v = 13.4
			default:
				continue
			}
			if err := s.Encode(&f.Data, v); err != nil {
				t.Fatal(err)
			}
		}
		g.onFrame(&f)
	}
	return g, now
}

// TestBypassedLoaderNothingLeaves: even with the profile loader and the
// policy validation bypassed, a policy that allows every role of issue 12
// item 6 lets none of them out, away from zones or near them: what leaves
// is decided by the class the gateway gives each value, not by its name.
func TestBypassedLoaderNothingLeaves(t *testing.T) {
	g, now := copiesGateway(t, issueRoles)
	allow := map[string]uplink.Rule{RoleSpeed: {}}
	for _, m := range issueRoles {
		allow[m.Role] = uplink.Rule{}
	}
	pol := &uplink.Policy{TelemetryPeriod: time.Second, Signals: allow} // never validated
	for _, withhold := range []bool{false, true} {
		s := g.snapshot(now)
		if len(s.Samples) < len(issueRoles) {
			t.Fatalf("the snapshot has %d samples, want every mapped role", len(s.Samples))
		}
		s.Withhold, s.Hold = withhold, false
		rec, _, ok := uplink.NewRedactor(pol).Redact(s)
		if !ok || len(rec.Signals) != 1 || rec.Signals[RoleSpeed] != 42 {
			t.Errorf("withhold %v: record %v, want the speed alone", withhold, rec.Signals)
		}
		for role, v := range rec.Signals {
			if math.Abs(v-secretLat) < 1e-3 || v == secretContact {
				t.Errorf("withhold %v: %s carries the secret %v", withhold, role, v)
			}
		}
	}

	// The same through the uplink to the bytes it queues for the wire, with
	// a policy that validates (its keys are spelled as roles are).
	q := uplink.NewMemQueue()
	valid := &uplink.Policy{
		TelemetryPeriod: time.Second,
		Signals:         map[string]uplink.Rule{RoleSpeed: {}, "gnss.lat": {}, "hu.contact_chars": {}},
		Batch:           uplink.BatchRule{MaxRecords: 1, MaxAge: time.Second},
		NearZones:       uplink.NearZoneRule{TimeQuantum: time.Second},
	}
	u, err := uplink.New(valid, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := g.snapshot(now)
	s.Withhold, s.Hold = false, false
	if err := u.Offer(s); err != nil {
		t.Fatal(err)
	}
	if err := u.Flush(now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if q.Len() == 0 {
		t.Fatal("nothing queued: the speed should have gone")
	}
	for q.Len() > 0 {
		b, err := q.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		q.Ack(b.ID)
		raw, err := uplink.Decompress(b.Payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"gnss", "contact", "52.51", "Latitude", "\"*\""} {
			if bytes.Contains(bytes.ToLower(raw), bytes.ToLower([]byte(bad))) {
				t.Errorf("on the wire: %q in %s", bad, raw)
			}
		}
		if !bytes.Contains(raw, []byte(RoleSpeed)) {
			t.Errorf("on the wire: %s, want the speed", raw)
		}
	}
}

// TestClassifyRoles: the class the gateway gives each role of a signal map
// built without the profile loader, and why it will not vouch for some.
func TestClassifyRoles(t *testing.T) {
	db, err := can.LoadDBC("copies.dbc", []byte(copiesDBC))
	if err != nil {
		t.Fatal(err)
	}
	base := []can.Mapping{
		{Role: RoleLatitude, Message: "GNSS", Signal: "Lat"},
		{Role: RoleFixType, Message: "GNSS_Status", Signal: "Fix"},
	}
	cases := []struct {
		name    string
		m       can.Mapping
		want    uplink.Class
		problem string
	}{
		{"a custom vehicle role in a message of its own", can.Mapping{Role: "body.speed", Message: "Body", Signal: "Speed", Class: "vehicle"}, uplink.ClassVehicle, ""},
		{"undeclared", can.Mapping{Role: "body.speed", Message: "Body", Signal: "Speed"}, uplink.ClassUnknown, "declare its class"},
		{"declared personal", can.Mapping{Role: "hu.contact_chars", Message: "HU_A", Signal: "ContactA", Class: "personal"}, uplink.ClassPersonal, ""},
		{"declared vehicle beside the fix", can.Mapping{Role: "gnss.sats", Message: "GNSS_Status", Signal: "Sats", Class: "vehicle"}, uplink.ClassUnknown, "shares message GNSS_Status with position.fix (location)"},
		{"declared vehicle, another case", can.Mapping{Role: "Position.Latitude", Message: "GNSS_A", Signal: "LatB", Class: "vehicle"}, uplink.ClassUnknown, "not a role name"},
		{"declared vehicle, a pattern", can.Mapping{Role: "*", Message: "GNSS_A", Signal: "LatB", Class: "vehicle"}, uplink.ClassUnknown, "not a role name"},
		{"declared vehicle, Cyrillic", can.Mapping{Role: "ph\u043ene.contact.chars", Message: "HU_A", Signal: "ContactA", Class: "vehicle"}, uplink.ClassUnknown, "not a role name"},
		{"a well-known role declared vehicle", can.Mapping{Role: RoleHeading, Message: "GNSS_A", Signal: "LatB", Class: "vehicle"}, uplink.ClassLocation, "well-known role of class location"},
		{"in a reserved family", can.Mapping{Role: "phone.battery", Message: "Body", Signal: "Speed", Class: "vehicle"}, uplink.ClassUnknown, "phone.* names only the well-known roles (phone.contact.chars, phone.contact.index)"},
		{"the wheel speed over the fix's bits", can.Mapping{Role: RoleSpeed, Message: "GNSS_Status", Signal: "SpeedOverFix"}, uplink.ClassUnknown, "vehicle.speed shares bits of message GNSS_Status with position.fix (location)"},
		{"a custom vehicle role on another page of the fix's message", can.Mapping{Role: "gnss.page", Message: "GNSS_Status", Signal: "PageB", Class: "vehicle"}, uplink.ClassUnknown, "shares message GNSS_Status"},
		{"an unknown class", can.Mapping{Role: "body.speed", Message: "Body", Signal: "Speed", Class: "Vehicle"}, uplink.ClassUnknown, `class "Vehicle": want vehicle, location or personal`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			maps := append(slices.Clone(base), tc.m)
			classes, problems := ClassifyRoles(db, maps)
			if classes[0] != uplink.ClassLocation || classes[1] != uplink.ClassLocation {
				t.Errorf("the position roles are %v", classes[:2])
			}
			if classes[2] != tc.want {
				t.Errorf("class %v, want %v", classes[2], tc.want)
			}
			switch {
			case tc.problem == "" && len(problems) > 0:
				t.Errorf("problems %v", problems)
			case tc.problem != "" && (len(problems) != 1 || problems[0].Role != tc.m.Role || !strings.Contains(problems[0].Reason, tc.problem)):
				t.Errorf("problems %v, want one about %s saying %q", problems, tc.m.Role, tc.problem)
			}
		})
	}

	// A well-known vehicle role beside location data, on bits of its own,
	// is the vehicle's: the wheel speed often shares a message with the
	// odometer.
	classes, problems := ClassifyRoles(db, []can.Mapping{
		{Role: RoleFixType, Message: "GNSS_Status", Signal: "Fix"},
		{Role: RoleSpeed, Message: "GNSS_Status", Signal: "Sats"},
	})
	if classes[1] != uplink.ClassVehicle || len(problems) != 0 {
		t.Errorf("wheel speed on bits of its own: %v, %v", classes, problems)
	}
}

// TestGatewayClassesSamples: the snapshot gives every sample its role's
// class, and one the gateway cannot vouch for none.
func TestGatewayClassesSamples(t *testing.T) {
	g, now := copiesGateway(t, []can.Mapping{
		{Role: "gnss.lat", Message: "GNSS_A", Signal: "LatA", Class: "location"},
		{Role: "body.copy", Message: "GNSS_A", Signal: "LatB", Class: "vehicle"}, // beside gnss.lat
		{Role: "hu.contact_chars", Message: "HU_A", Signal: "ContactA", Class: "personal"},
		{Role: "hu.other", Message: "HU_B", Signal: "ContactB"},
	})
	want := map[string]uplink.Class{
		RoleSpeed: uplink.ClassVehicle, "gnss.lat": uplink.ClassLocation, "body.copy": uplink.ClassUnknown,
		"hu.contact_chars": uplink.ClassPersonal, "hu.other": uplink.ClassUnknown,
	}
	s := g.snapshot(now)
	for _, smp := range s.Samples {
		if c, ok := want[smp.Role]; ok && smp.Class != c {
			t.Errorf("%s: class %v, want %v", smp.Role, smp.Class, c)
		}
		delete(want, smp.Role)
	}
	if len(want) > 0 {
		t.Errorf("no samples of %v", want)
	}
}

// TestGatewayRolesAreWellKnown: every role the gateway computes with is
// in the closed vocabulary, with its class, so that no profile has to
// declare one (a role added to the gateway must be added there too).
func TestGatewayRolesAreWellKnown(t *testing.T) {
	roles := []string{RoleSpeed, RoleLatitude, RoleLongitude, RoleFixType, RoleAccuracy, RoleHeading, RoleGPSSpeed, RolePrivacySwitch, RoleIgnition,
		RoleYawRate, RoleSteeringAngle}
	for _, r := range roles {
		if _, ok := uplink.RoleClass(r); !ok {
			t.Errorf("%s is not a well-known role", r)
		}
	}
	if c, _ := uplink.RoleClass(CameraRolePrefix + "front.status"); c != uplink.ClassLocation {
		t.Errorf("camera status is %v", c)
	}
}

// The snapshot, classes and all, does not allocate once warm: it runs
// every telemetry period on the decision loop.
func TestSnapshotDoesNotAllocate(t *testing.T) {
	g, now := copiesGateway(t, issueRoles)
	g.snapshot(now)
	if n := testing.AllocsPerRun(100, func() { g.snapshot(now) }); n != 0 {
		t.Errorf("snapshot: %v allocations", n)
	}
}
