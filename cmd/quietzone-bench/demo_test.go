package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo drive takes a few seconds")
	}
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	svg, js := filepath.Join(dir, "report", "demo.svg"), filepath.Join(dir, "demo.json")
	if err := run(context.Background(), []string{"demo", "--svg", svg, "--json", js}, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, f := range []string{svg, js} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("demo did not write %s: %v", f, err)
		}
	}
	for _, want := range []string{"camera on inside a zone            0:00:00  ok", "All invariants hold.", "Map (SVG)    " + svg, "Figures      " + js} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("the attack drives several trips")
	}
	var out, errOut bytes.Buffer
	svg := filepath.Join(t.TempDir(), "attack.svg")
	if err := run(context.Background(), []string{"attack", "--trips", "6", "--svg", svg}, &out, &errOut); err != nil {
		t.Fatalf("attack: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"6 trips", "attacker's error", "ok: at or above the buffer", "Map (SVG)    " + svg} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("attack output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReplayCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the demo")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "demo.log")
	good := gatewaytest.GoodDir(t)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"demo", "--record", logPath}, &out, &errOut); err != nil {
		t.Fatalf("demo --record: %v\n%s", err, errOut.String())
	}
	for _, args := range [][]string{
		{"replay", logPath},
		{"replay", logPath, "--iface", "vcan0"},
		{"replay", "--config", filepath.Join(good, "quietzone.yaml"), logPath},
	} {
		out.Reset()
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, errOut.String())
		}
		for _, want := range []string{"quietzone replay — " + logPath, "Decisions", "Decoded      48983 frames", "camera command frames sent"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%q: output lacks %q:\n%s", args, want, out.String())
			}
		}
	}
	// The configuration names a state directory (the durable queue): a
	// replay must leave it alone.
	if _, err := os.Stat(filepath.Join(good, "state")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("replay --config touched the configuration's state directory: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"replay", logPath, "--iface", "can9"}, &out, &errOut); err == nil {
		t.Errorf("replay of an interface the log does not have: %s", out.String())
	}
}

func TestBenchCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--frames", "1000"}, &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	if strings.Count(out.String(), "frames/s") != 4 {
		t.Errorf("bench output:\n%s", out.String())
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"bench", "--frames", "0"}, {"demo", "extra"}, {"frobnicate"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); exitCode(err) != 2 {
			t.Errorf("%q: %v, want a usage error (2)", args, err)
		}
	}
}
