package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two scenarios are one vehicle's trips: the transcript holds both under
// one pseudonym, the truth one line a trip, and the attack suite reads
// them back, as text and as JSON.
func TestSimWireAndAttack(t *testing.T) {
	dir := t.TempDir()
	wire, truth := filepath.Join(dir, "w", "wire.jsonl"), filepath.Join(dir, "truth.jsonl")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"sim", "urban", "highway", "--wire", wire, "--truth", truth}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errOut.String())
	}
	raw, err := os.ReadFile(wire)
	if err != nil {
		t.Fatal(err)
	}
	trips, vehicles := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m struct{ Trip, Vehicle string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		trips[m.Trip], vehicles[m.Vehicle] = true, true
	}
	if len(trips) != 2 || len(vehicles) != 1 {
		t.Errorf("transcript of %d trips by %d vehicles, want 2 by 1", len(trips), len(vehicles))
	}
	out.Reset()
	if err := run(context.Background(), []string{"attack", wire, "--truth", truth, "--repeats", "2"}, &out, &errOut); err != nil {
		t.Fatalf("attack: %v\n%s", err, out.String())
	}
	for _, w := range []string{"2 trips of 1 vehicles", "(a) Zone centre", "(b) Passes", "(c) Dead reckoning", "(d) Homes", "(e) Decoys", "Cost:"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("attack output lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"attack", wire, "--truth", truth, "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Trips int `json:"trips"`
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.Trips != 2 {
		t.Errorf("JSON: %v, %d trips:\n%s", err, s.Trips, out.String())
	}
}

func TestAttackErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"attack", "wire.jsonl"}, 2, "give --truth"},
		{[]string{"attack", "nowhere.jsonl", "--truth", "nowhere.jsonl"}, 1, "nowhere.jsonl"},
		{[]string{"sim", "--population", "town", "--wire", "x"}, 2, "no population"},
		{[]string{"sim", "urban", "--fleet", "2", "--wire", "x"}, 2, "--wire and --truth"},
		{[]string{"sim", "--random", "--wire", "x"}, 2, "--wire and --truth"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v (exit %d), want exit %d and %q", tc.args, err, exitCode(err), tc.code, tc.want)
		}
	}
}
