package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"strings"
	"testing"

	"quietzone/gateway/bundle"
	"quietzone/uplink"
)

// runQZ runs a quietzone command line and returns what it wrote, standard
// output then standard error.
func runQZ(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestPolicyKeygenSignVerify makes a key pair, signs the test zones and
// policy, and checks the bundle as a vehicle would: good; refused when
// altered, signed by another key, or not above the version in force.
func TestPolicyKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	cmd := runQZ
	prefix := filepath.Join(dir, "fleet")
	if out, err := cmd("policy", "keygen", "--out", prefix); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key: %v, %v", fi.Mode(), err)
	}
	if _, err := cmd("policy", "keygen", "--out", prefix); err == nil {
		t.Error("keygen overwrote a key")
	}
	if _, err := cmd("policy", "keygen", "--out", filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.qzb")
	out, err := cmd("policy", "sign", "--key", prefix+".key", "--zones", filepath.Join(goodDir, "zones.geojson"),
		"--policy", filepath.Join(goodDir, "policy.yaml"), "--version", "7", "--expires", "48h",
		"--profile", "quietzone-reference", "--out", b)
	if err != nil {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	if out, err := cmd("policy", "verify", "--pub", prefix+".pub", b); err != nil || !strings.Contains(out, "version 7") || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(b)
	data[len(data)-3] ^= 1
	tampered := filepath.Join(dir, "t.qzb")
	os.WriteFile(tampered, data, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"tampered", []string{"--pub", prefix + ".pub", tampered}, bundle.ErrTampered},
		{"another key", []string{"--pub", filepath.Join(dir, "other.pub"), b}, bundle.ErrUnknownKey},
		{"rollback", []string{"--pub", prefix + ".pub", "--above", "7", b}, daemon.ErrRollback},
	} {
		if _, err := cmd(append([]string{"policy", "verify"}, tc.args...)...); !errors.Is(err, tc.want) || exitCode(err) != 1 {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A policy asking for phone data is not signed.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("signals: {phone.contact.name: {}}\n"), 0o600)
	if _, err := cmd("policy", "sign", "--key", prefix+".key", "--zones", filepath.Join(goodDir, "zones.geojson"),
		"--policy", bad, "--version", "8", "--out", filepath.Join(dir, "bad.qzb")); err == nil || !strings.Contains(err.Error(), "bad.yaml:1") {
		t.Errorf("signing a bad policy: %v", err)
	}
	for _, args := range [][]string{{"policy"}, {"policy", "sign", "--key", "k"}, {"policy", "verify", b}, {"audit"}, {"audit", "verify"}} {
		if _, err := cmd(args...); exitCode(err) != 2 {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestPolicyEnrol writes a vehicle's identity from the fleet's secret:
// the same pseudonym the old fleet-wide key gave, a root of its own per
// vehicle, a file only its owner may read; it refuses a signing key or a
// readable file as the secret, and never overwrites an identity.
func TestPolicyEnrol(t *testing.T) {
	dir := t.TempDir()
	cmd := runQZ
	secret := filepath.Join(dir, "fleet.secret")
	os.WriteFile(secret, []byte("an old fleet key, kept by the fleet\n"), 0o600)
	id1, id2 := filepath.Join(dir, "v1.identity"), filepath.Join(dir, "v2.identity")
	if out, err := cmd("policy", "enrol", "--secret", secret, "--vin", "qztest00000000001", "--out", id1); err != nil || !strings.Contains(out, "0600") {
		t.Fatalf("enrol: %v\n%s", err, out)
	}
	if _, err := cmd("policy", "enrol", "--secret", secret, "--vin", "QZTEST00000000002", "--out", id2); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(id1); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity mode %v, %v", fi.Mode(), err)
	}
	a, err := config.LoadIdentity(id1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := config.LoadIdentity(id2)
	if err != nil {
		t.Fatal(err)
	}
	if want := uplink.Pseudonym("QZTEST00000000001", []byte("an old fleet key, kept by the fleet\n")); a.VIN != "QZTEST00000000001" || a.Pseudonym != want {
		t.Errorf("identity %s / %s, want the old key's pseudonym %s", a.VIN, a.Pseudonym, want)
	}
	if bytes.Equal(a.Root, b.Root) || a.Pseudonym == b.Pseudonym {
		t.Error("two vehicles share a root or a pseudonym")
	}
	data, _ := os.ReadFile(id1)
	if bytes.Contains(data, []byte("old fleet key")) {
		t.Error("the identity holds the fleet secret")
	}
	if _, err := cmd("policy", "enrol", "--secret", secret, "--vin", "QZTEST00000000001", "--out", id1); err == nil {
		t.Error("enrol overwrote an identity")
	}
	prefix := filepath.Join(dir, "fleet")
	if _, err := cmd("policy", "keygen", "--out", prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd("policy", "enrol", "--secret", prefix+".key", "--vin", "QZTEST00000000003", "--out", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Errorf("the bundle signing key as the fleet secret: %v", err)
	}
	os.Chmod(secret, 0o644)
	if _, err := cmd("policy", "enrol", "--secret", secret, "--vin", "QZTEST00000000003", "--out", filepath.Join(dir, "y")); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a readable fleet secret: %v", err)
	}
	if _, err := cmd("policy", "enrol", "--secret", secret); exitCode(err) != 2 {
		t.Errorf("enrol without --vin: %v", err)
	}
}

// TestPolicySignRefusesRoleKeys: `policy sign` refuses a policy that a
// vehicle would refuse: keys that are not a role's one spelling, and roles
// that are location or personal data (issue 12 item 6).
func TestPolicySignRefusesRoleKeys(t *testing.T) {
	dir := t.TempDir()
	cmd := runQZ
	prefix := filepath.Join(dir, "fleet")
	if out, err := cmd("policy", "keygen", "--out", prefix); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	for i, key := range []string{`"*"`, "Position.Latitude", "ph\u043ene.contact.chars", "position.heading", "vehicle.odometer", "gnss.lat"} {
		pol := filepath.Join(dir, "p.yaml")
		os.WriteFile(pol, []byte("signals:\n  vehicle.speed: {}\n  "+key+": {}\n"), 0o600)
		out := filepath.Join(dir, "b.qzb")
		os.Remove(out)
		_, err := cmd("policy", "sign", "--key", prefix+".key", "--zones", filepath.Join(goodDir, "zones.geojson"),
			"--policy", pol, "--version", "1", "--out", out)
		if err == nil || !strings.Contains(err.Error(), "p.yaml:3: ") {
			t.Errorf("%d: signing a policy allowing %s: %v, want an error at p.yaml:3", i, key, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%d: a bundle allowing %s was written", i, key)
		}
	}
}

// TestPolicySignCheckProfile: a custom role is signed only against the
// profiles of the vehicles the bundle is for, which say what it is.
func TestPolicySignCheckProfile(t *testing.T) {
	dir := t.TempDir()
	cmd := runQZ
	prefix := filepath.Join(dir, "fleet")
	if out, err := cmd("policy", "keygen", "--out", prefix); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	dbc, err := os.ReadFile(filepath.Join("..", "..", "can", "profiles", "quietzone.dbc"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "v.dbc"), dbc, 0o600)
	prof := filepath.Join(dir, "v.yaml")
	os.WriteFile(prof, []byte("name: v\ndbc: v.dbc\nsignals:\n  vehicle.speed: VCU_Speed.VCU_VehicleSpeed\n"+
		"  gnss.sats: {signal: GNSS_Status.GNSS_NumSats, class: location}\n  cam.counter: {signal: CAM_Command.CAM_CmdCounter, class: vehicle}\n"), 0o600)
	pol := filepath.Join(dir, "p.yaml")
	sign := func(keys string, version string, extra ...string) (string, error) {
		os.WriteFile(pol, []byte("signals:\n  vehicle.speed: {}\n"+keys), 0o600)
		args := append([]string{"policy", "sign", "--key", prefix + ".key", "--zones", filepath.Join(goodDir, "zones.geojson"),
			"--policy", pol, "--version", version, "--out", filepath.Join(dir, "b"+version+".qzb")}, extra...)
		return cmd(args...)
	}
	if _, err := sign("  cam.counter: {}\n", "1"); err == nil || !strings.Contains(err.Error(), "p.yaml:3: cam.counter: not a well-known role") {
		t.Errorf("a custom role without --check-profile: %v", err)
	}
	if _, err := sign("  gnss.sats: {}\n", "2", "--check-profile", prof); err == nil || !strings.Contains(err.Error(), "p.yaml:3: gnss.sats: location data in the vehicle profile v") {
		t.Errorf("a custom location role: %v", err)
	}
	out, err := sign("  cam.counter: {}\n  vehicle.ignition: {}\n", "3", "--check-profile", prof, "--check-profile", "builtin:quietzone")
	if err != nil {
		t.Fatalf("custom vehicle role checked against its profile: %v\n%s", err, out)
	}
	for _, w := range []string{"p.yaml:4: vehicle.ignition: the vehicle profile v does not map it", "p.yaml:3: cam.counter: the vehicle profile quietzone-reference does not map it"} {
		if !strings.Contains(out, "warning: "+filepath.Join(dir, w)) {
			t.Errorf("output\n%s\nwant the warning %q", out, w)
		}
	}
	if out, err := cmd("policy", "verify", "--pub", prefix+".pub", "--profile", prof, filepath.Join(dir, "b3.qzb")); err != nil || !strings.HasSuffix(out, "ok\n") {
		t.Errorf("verify against the profile: %v\n%s", err, out)
	}
	if _, err := cmd("policy", "verify", "--pub", prefix+".pub", filepath.Join(dir, "b3.qzb")); err == nil {
		t.Error("verify of a custom role without a profile: ok")
	}
}
