package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quietzone/gateway"
	"quietzone/gateway/bundle"
)

var goodDir = filepath.Join("..", "..", "gateway", "testdata", "good")

// TestPolicyKeygenSignVerify makes a key pair, signs the test zones and
// policy, and checks the bundle as a vehicle would: good; refused when
// altered, signed by another key, or not above the version in force.
func TestPolicyKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		return out.String() + errOut.String(), err
	}
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
		{"rollback", []string{"--pub", prefix + ".pub", "--above", "7", b}, gateway.ErrRollback},
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
