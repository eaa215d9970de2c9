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
)

// refProfile copies the reference vehicle's profile and DBC into a
// temporary directory, with edit applied to the profile's text, and
// returns the profile's path and text.
func refProfile(t *testing.T, edit func(string) string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"quietzone.yaml", "quietzone.dbc"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "can", "profiles", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "quietzone.yaml" {
			data = []byte(edit(string(data)))
			name = "p.yaml"
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "p.yaml")
	text, _ := os.ReadFile(p)
	return p, string(text)
}

// addSignals puts lines at the top of the profile's signal map.
func addSignals(lines string) func(string) string {
	return func(s string) string { return strings.Replace(s, "signals:\n", "signals:\n"+lines, 1) }
}

// replaceSignal rewrites one line of the profile's signal map.
func replaceSignal(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("no line " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

// lineOf returns the 1-based line of text that starts with prefix (after
// the indentation).
func lineOf(t *testing.T, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line starting with %q in\n%s", prefix, text)
	return 0
}

// TestProfileRoleRefusals: the signal maps of issue 12 item 6 and their
// relatives. Each is refused at the line of the role that is wrong, with
// the reason: a DBC signal under two roles, a role in another case or
// script, a pattern, an undeclared custom role, a custom role that claims
// to be vehicle data beside location or personal data, a custom role in a
// family of well-known ones.
func TestProfileRoleRefusals(t *testing.T) {
	const cyrillicPhone = "ph\u043ene.contact.chars" // о is U+043E
	cases := []struct {
		name string
		edit func(string) string
		at   string // the line of the error starts with this
		want string // the reason contains this
	}{
		{"gnss.lat maps position.latitude's signal again",
			addSignals("  gnss.lat: GNSS_Position.GNSS_Latitude\n"), "gnss.lat:", "GNSS_Position.GNSS_Latitude is already the signal of role position.latitude"},
		{"gnss.lat maps it again, declared vehicle",
			addSignals("  gnss.lat: {signal: GNSS_Position.GNSS_Latitude, class: vehicle}\n"), "gnss.lat:", "already the signal of role position.latitude"},
		{"hu.contact_chars maps the contact signal again",
			addSignals("  hu.contact_chars: {signal: HU_PhoneContact.HU_ContactChars, class: vehicle}\n"), "hu.contact_chars:", "already the signal of role phone.contact.chars"},
		{"hu.contact_chars, undeclared",
			addSignals("  hu.contact_chars: HU_PhoneContact.HU_ContactChars\n"), "hu.contact_chars:", "already the signal of role phone.contact.chars"},
		{"Phone.contact.chars for phone.contact.chars",
			replaceSignal("  phone.contact.chars:", "  Phone.contact.chars:"), "Phone.contact.chars:", "not a role name"},
		{"Phone.contact.chars beside phone.contact.chars, declared vehicle",
			addSignals("  Phone.contact.chars: {signal: HU_PhoneContact.HU_ContactChars, class: vehicle}\n"), "Phone.contact.chars:", "not a role name"},
		{"Cyrillic о in phone",
			replaceSignal("  phone.contact.chars:", "  "+cyrillicPhone+":"), cyrillicPhone, "not a role name"},
		{"Position.Latitude",
			replaceSignal("  position.latitude:", "  Position.Latitude:"), "Position.Latitude:", "not a role name"},
		{"a pattern",
			addSignals("  \"*\": {signal: VCU_Speed.VCU_Gear, class: vehicle}\n"), "\"*\":", "not a role name"},
		{"a pattern in a family",
			addSignals("  position.*: VCU_Speed.VCU_Gear\n"), "position.*:", "not a role name"},
		{"an undeclared custom role",
			addSignals("  vehicle.gear: VCU_Speed.VCU_Gear\n"), "vehicle.gear:", "not a well-known role: declare its class"},
		{"an unknown class",
			addSignals("  vehicle.gear: {signal: VCU_Speed.VCU_Gear, class: public}\n"), "vehicle.gear:", `class "public": want vehicle, location or personal`},
		{"a custom vehicle role beside location and personal roles",
			addSignals("  vehicle.gear: {signal: VCU_Speed.VCU_Gear, class: vehicle}\n"), "vehicle.gear:", "shares message VCU_Speed with privacy.switch (personal)"},
		{"a custom vehicle role in the GNSS status message",
			addSignals("  gnss.sats: {signal: GNSS_Status.GNSS_NumSats, class: vehicle}\n"), "gnss.sats:", "shares message GNSS_Status with position.accuracy (location)"},
		{"a custom role in the position family",
			addSignals("  position.sats: {signal: GNSS_Status.GNSS_NumSats, class: location}\n"), "position.sats:", "position.* names only the well-known roles"},
		{"a custom role in the phone family",
			addSignals("  phone.battery: {signal: VCU_Speed.VCU_Gear, class: vehicle}\n"), "phone.battery:", "phone.* names only the well-known roles"},
		{"a custom role named like the policy's position key",
			addSignals("  position: {signal: VCU_Speed.VCU_Gear, class: vehicle}\n"), "position:", "position.* names only the well-known roles"},
		{"a camera role that is not a status or a trigger",
			addSignals("  camera.front.zoom: {signal: VCU_Speed.VCU_Gear, class: vehicle}\n"), "camera.front.zoom:", "camera.* names only the well-known roles"},
		{"a well-known role declared vehicle",
			replaceSignal("  position.heading: GNSS_Status.GNSS_Heading", "  position.heading: {signal: GNSS_Status.GNSS_Heading, class: vehicle}"), "position.heading:", "well-known role of class location"},
		{"the odometer declared vehicle",
			replaceSignal("  vehicle.odometer: VCU_Speed.VCU_OdometerKm", "  vehicle.odometer: {signal: VCU_Speed.VCU_OdometerKm, class: vehicle}"), "vehicle.odometer:", "well-known role of class location"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, text := refProfile(t, tc.edit)
			_, err := config.LoadProfile(path)
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a ConfigError", err)
			}
			if want := lineOf(t, text, tc.at); ce.Line != want || ce.File != path {
				t.Errorf("error at %s:%d, want line %d: %v", ce.File, ce.Line, want, err)
			}
			if !strings.Contains(ce.Reason, tc.want) {
				t.Errorf("reason %q, want it to contain %q", ce.Reason, tc.want)
			}
		})
	}
}

// TestPolicyRoleKeys: a policy may name only vehicle-class roles, each in
// its one spelling. The keys of issue 12 item 6 (a pattern, another case,
// a Cyrillic letter) and every well-known location or personal role are
// refused at their line, whatever the vehicle.
func TestPolicyRoleKeys(t *testing.T) {
	cases := []struct{ key, want string }{
		{`"*"`, "not a role name"},
		{`"position.*"`, "not a role name"},
		{"Position.Latitude", "not a role name"},
		{"Vehicle.Speed", "not a role name"},
		{"ph\u043ene.contact.chars", "not a role name"},
		{"vehicle.speed\u200b", "not a role name"},
		{`"vehicle.speed "`, "not a role name"},
		{"position.latitude", `allow the position with the "position" key`},
		{"position.heading", "position.heading: location data"},
		{"position.speed", "position.speed: location data"},
		{"vehicle.odometer", "vehicle.odometer: location data"},
		{"camera.front.status", "camera.front.status: location data"},
		{"phone.contact.chars", "phone.contact.chars: personal data"},
		{"privacy.switch", "privacy.switch: personal data"},
		{"phone.sms.text", "phone.sms.text: personal data"},
		{"position.altitude_msl", "position.altitude_msl: location data"},
		{"position", "the position is allowed with the top-level position key"},
		{"gnss.lat", "gnss.lat: not a well-known role, and the policy is read without a vehicle profile"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			data := "signals:\n  vehicle.speed: {}\n  " + tc.key + ": {max_rate_hz: 1}\n"
			_, err := config.ParsePolicy("p.yaml", []byte(data))
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.File != "p.yaml" || ce.Line != 3 {
				t.Errorf("error %v, want it at p.yaml:3", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
	if _, err := config.ParsePolicy("p.yaml", []byte("signals:\n  vehicle.speed: {}\n  vehicle.ignition: {}\n")); err != nil {
		t.Errorf("a policy of well-known vehicle roles: %v", err)
	}
}

// TestCheckRefusesIssueSpellings: `quietzone check` (config.Load) of a
// configuration whose profile and policy are those of issue 12 item 6
// fails, naming the file and line.
func TestCheckRefusesIssueSpellings(t *testing.T) {
	cases := []struct {
		name, signals, policyKeys, want string
	}{
		{"gnss.lat", "  gnss.lat: GNSS_Position.GNSS_Latitude\n", "  gnss.lat: {}\n", "p.yaml:"},
		{"hu.contact_chars", "  hu.contact_chars: HU_PhoneContact.HU_ContactChars\n", "  hu.contact_chars: {}\n", "p.yaml:"},
		{"Phone.contact.chars", "  Phone.contact.chars: HU_PhoneContact.HU_ContactChars\n", "  Phone.contact.chars: {}\n", "p.yaml:"},
		{"policy: *", "", "  \"*\": {}\n", "policy.yaml:3: "},
		{"policy: Position.Latitude", "", "  Position.Latitude: {}\n", "policy.yaml:3: "},
		{"policy: Cyrillic phone", "", "  ph\u043ene.contact.chars: {}\n", "policy.yaml:3: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prof, text := refProfile(t, addSignals(tc.signals))
			if tc.want == "p.yaml:" { // at the line of the added role
				tc.want += fmt.Sprintf("%d: ", lineOf(t, text, strings.TrimSpace(tc.signals)))
			}
			cfg := strings.Replace(gatewaytest.GoodHead, "builtin:quietzone", prof, 1) + "cameras: [{name: front, class: exterior}]\n"
			path := gatewaytest.WriteSet(t, map[string]string{
				"quietzone.yaml": cfg,
				"policy.yaml":    "signals:\n  vehicle.speed: {}\n" + tc.policyKeys,
			})
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("check says ok")
			}
			msg := strings.ReplaceAll(strings.ReplaceAll(err.Error(), filepath.Dir(prof)+"/", ""), filepath.Dir(path)+"/", "")
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %s, want it at %s", msg, tc.want)
			}
		})
	}
}

// TestProfileCustomRoles: a custom role with a declared class loads, and
// the profile reports each role's class.
func TestProfileCustomRoles(t *testing.T) {
	path, _ := refProfile(t, addSignals(
		"  gnss.sats: {signal: GNSS_Status.GNSS_NumSats, class: location}\n"+
			"  hu.counter: {signal: CAM_Command.CAM_CmdCounter, class: vehicle}\n"))
	p, err := config.LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]string{
		"gnss.sats": "location", "hu.counter": "vehicle", "vehicle.speed": "vehicle", "vehicle.ignition": "vehicle",
		"vehicle.odometer": "location", "position.latitude": "location", "position.heading": "location",
		"phone.contact.chars": "personal", "privacy.switch": "personal", "camera.front.status": "location",
	} {
		if c, ok := p.Class(role); !ok || c.String() != want {
			t.Errorf("class of %s: %v %v, want %s", role, c, ok, want)
		}
	}
	if _, ok := p.Class("gnss.lat"); ok {
		t.Error("a class for a role the profile does not map")
	}
}

// TestCheckWarnsOfUnmappedKeys: a policy key the vehicle does not have is a
// warning of `quietzone check`, at its line; a custom role the profile
// declares vehicle data may be allowed, one it declares location data not.
func TestCheckWarnsOfUnmappedKeys(t *testing.T) {
	prof, _ := refProfile(t, func(s string) string {
		s = replaceSignal("  vehicle.ignition: VCU_Speed.VCU_Ignition\n", "")(s)
		return addSignals("  gnss.sats: {signal: GNSS_Status.GNSS_NumSats, class: location}\n  cam.counter: {signal: CAM_Command.CAM_CmdCounter, class: vehicle}\n")(s)
	})
	cfg := strings.Replace(gatewaytest.GoodHead, "builtin:quietzone", prof, 1) + "cameras: [{name: front, class: exterior}]\n"
	path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": cfg, "policy.yaml": "signals:\n  vehicle.speed: {}\n  vehicle.ignition: {}\n  cam.counter: {}\n"})
	s, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(filepath.Dir(path), "policy.yaml") + ":3: vehicle.ignition: the vehicle profile quietzone-reference does not map it"
	found := false
	for _, w := range s.Warnings {
		found = found || strings.HasPrefix(w, want)
	}
	if !found {
		t.Errorf("warnings %q, want one starting %q", s.Warnings, want)
	}
	if _, ok := s.Policy.Signals["cam.counter"]; !ok {
		t.Error("the custom vehicle role is not allowed")
	}
	path = gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": cfg, "policy.yaml": "signals:\n  vehicle.speed: {}\n  gnss.sats: {}\n"})
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "policy.yaml:3: gnss.sats: location data in the vehicle profile quietzone-reference") {
		t.Errorf("a custom location role allowed: %v", err)
	}
}
