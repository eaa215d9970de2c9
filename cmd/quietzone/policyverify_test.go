package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/gateway/bundle"
	"quietzone/gateway/daemon"
)

// TestPolicyVerifyChecksTheProfile: verify says what the vehicle would
// say of a bundle: one for another vehicle profile, or with a file the
// vehicle does not read, is refused; it used to say ok to both.
func TestPolicyVerifyChecksTheProfile(t *testing.T) {
	dir := t.TempDir()
	cmd := runQZ
	prefix := filepath.Join(dir, "fleet")
	if out, err := cmd("policy", "keygen", "--out", prefix); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	sign := func(name string, profiles ...string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		args := []string{"policy", "sign", "--key", prefix + ".key", "--zones", filepath.Join(goodDir, "zones.geojson"),
			"--policy", filepath.Join(goodDir, "policy.yaml"), "--version", "3", "--out", out}
		for _, p := range profiles {
			args = append(args, "--profile", p)
		}
		if msg, err := cmd(args...); err != nil {
			t.Fatalf("sign: %v\n%s", err, msg)
		}
		return out
	}
	ref := sign("ref.qzb", "quietzone-reference")
	tesla := sign("tesla.qzb", "tesla-model-s")
	anyProfile := sign("any.qzb")

	// A bundle with a third file, signed by the fleet's key: vehicles
	// refuse it (a file they do not read).
	priv, err := bundle.LoadPrivateKey(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"extra": []byte("x")}
	for name, f := range map[string]string{"zones": "zones.geojson", "policy": "policy.yaml"} {
		if files[name], err = os.ReadFile(filepath.Join(goodDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := bundle.Sign(priv, bundle.Manifest{Version: 4, Issued: time.Now(), Expires: time.Now().Add(time.Hour)}, files)
	if err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(dir, "extra.qzb")
	if err := os.WriteFile(extra, data, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want error  // nil: ok
		out  string // in the output or the error
	}{
		{"for the reference vehicle", []string{ref}, nil, "checked for profile quietzone-reference (builtin:quietzone)"},
		{"for it, named", []string{"--profile", "builtin:quietzone", ref}, nil, "checked for profile quietzone-reference"},
		{"for another vehicle", []string{"--profile", "builtin:quietzone", tesla}, daemon.ErrNotForThis, "it is for tesla-model-s, the vehicle's profile is quietzone-reference"},
		{"for a profile not built in", []string{tesla}, nil, "give the vehicle's profile file with --profile"},
		{"for any vehicle", []string{anyProfile}, nil, "for every profile"},
		{"for any vehicle, named", []string{"--profile", "builtin:quietzone", anyProfile}, nil, "checked for profile quietzone-reference"},
		{"a file vehicles do not read", []string{extra}, daemon.ErrContents, `a file "extra" this vehicle does not read`},
		{"a profile that does not load", []string{"--profile", "builtin:nope", ref}, nil, "load profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cmd(append([]string{"policy", "verify", "--pub", prefix + ".pub"}, tc.args...)...)
			text := out
			if err != nil {
				text += err.Error()
			}
			okWanted := tc.want == nil && !strings.Contains(tc.out, "give") && !strings.Contains(tc.out, "load profile")
			switch {
			case okWanted && err != nil:
				t.Errorf("refused: %v\n%s", err, out)
			case okWanted && !strings.HasSuffix(out, "ok\n"):
				t.Errorf("not ok:\n%s", out)
			case !okWanted && (err == nil || exitCode(err) != 1):
				t.Errorf("accepted (%v):\n%s", err, out)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(text, tc.out) {
				t.Errorf("output and error lack %q:\n%s", tc.out, text)
			}
		})
	}
}
