package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	good := filepath.Join(goodDir, "quietzone.yaml")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"check", "--config", good}, &out, &errOut); err != nil {
		t.Fatalf("check of a good config: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), ": ok (2 zones") {
		t.Errorf("output %q", out.String())
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("vehicle:\n  profile: builtin:quietzone\nzones: {file: z.geojson}\npolicy: p.yaml\ncameras:\n  - {name: front, class: sideways}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"check", "--config", bad}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), bad+":6: camera front: class \"sideways\"") {
		t.Errorf("bad config: %v", err)
	}
	if code := exitCode(err); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"check"}, {"run"}, {"demo", "--log", "loud"}, {"attack", "--trips", "0"}, {"attack", "extra"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if code := exitCode(err); err == nil || code != 2 {
			t.Errorf("%q: err %v, exit code %d, want a usage error (2)", args, err, code)
		}
	}
}

func TestRunRefusesABadConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"run", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("run with a missing config: %v", err)
	}
}
