package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"strings"
	"testing"
	"time"

	"quietzone/gateway/audit"
)

// TestAuditVerify writes a log through the audit package with the
// vehicle's audit key, then edits an entry (its reason), and removes one:
// audit verify exits non-zero and names the entry each time. The good log
// is ok only with the key and the fleet's head.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	identity := writeIdentity(t, dir)
	key, err := config.AuditKey(identity)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(path, audit.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	for i, k := range []string{"suppression.on", "manual.on", "manual.off", "suppression.off", "policy.applied", "camera.disobedient"} {
		l.Append(t0.Add(time.Duration(i)*time.Second), k, "test")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Close()
	verify := func(p string, extra ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"audit", "verify", p}, extra...), &out, &errOut)
		return out.String(), err
	}
	out, err := verify(path)
	if !errors.Is(err, errAuditUnvouched) || exitCode(err) != 4 || !strings.Contains(out, "intact, 7 entries, head 7:") {
		t.Fatalf("good log without key and head: %v\n%s", err, out)
	}
	head := out[strings.Index(out, "head ")+5:]
	head = head[:strings.IndexByte(head, '\n')]
	if out, err := verify(path, "--key", identity, "--head", head); err != nil || !strings.Contains(out, ": ok: every entry authenticated") {
		t.Fatalf("good log with key and head: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(data, []byte("\n"))

	edited := filepath.Join(dir, "edited.log")
	os.WriteFile(edited, bytes.Replace(data, []byte(`"kind":"manual.on"`), []byte(`"kind":"manual.of"`), 1), 0o600)
	removed := filepath.Join(dir, "removed.log")
	os.WriteFile(removed, bytes.Join(append(lines[:2:2], lines[3:]...), nil), 0o600)
	cut := filepath.Join(dir, "cut.log")
	os.WriteFile(cut, bytes.Join(lines[:5], nil), 0o600)
	for _, tc := range []struct {
		name, path, want string
		extra            []string
	}{
		{"edited", edited, "line 3 (seq 3): edited", nil},
		{"removed", removed, "line 3 (seq 4): removed", nil},
		{"cut from the end", cut, "removed: the fleet received entries up to seq 7", []string{"--head", head}},
	} {
		out, err := verify(tc.path, tc.extra...)
		if !errors.Is(err, errAuditBroken) || exitCode(err) != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v\n%s\nwant %q", tc.name, err, out, tc.want)
		}
	}
}

// writeIdentity enrols the test vehicle and writes its identity in dir.
func writeIdentity(t *testing.T, dir string) string {
	t.Helper()
	id, err := config.Enrol([]byte("test-fleet-key-0123456789abcdef\n"), "QZTEST00000000042")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "vehicle.identity")
	if err := os.WriteFile(p, id.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeAuditLog writes the events (kinds) through the audit package, with
// the audit key when key is set, and returns the log's path.
func writeAuditLog(t *testing.T, dir string, opts audit.Options, kinds ...string) string {
	t.Helper()
	path := filepath.Join(dir, "audit.log")
	l, err := audit.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	for i, k := range kinds {
		l.Append(t0.Add(time.Duration(i)*time.Second), k, "test")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Close()
	return path
}

// rehashWithout removes the entry of kind from a log and renumbers and
// rehashes every entry after it, as an attacker with write access would:
// the chain is whole again.
func rehashWithout(t *testing.T, data []byte, kind string) []byte {
	t.Helper()
	type body struct {
		Seq    uint64 `json:"seq"`
		Time   string `json:"time"`
		Kind   string `json:"kind"`
		Reason string `json:"reason"`
		Prev   string `json:"prev"`
	}
	var out []byte
	prev := strings.Repeat("0", 64)
	seq := uint64(0)
	removed := false
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var b body
		if err := json.Unmarshal(line, &b); err != nil {
			t.Fatal(err)
		}
		if b.Kind == kind && !removed {
			removed = true
			continue
		}
		seq++
		b.Seq, b.Prev = seq, prev
		raw, _ := json.Marshal(b)
		sum := sha256.Sum256(raw)
		prev = hex.EncodeToString(sum[:])
		out = append(out, raw[:len(raw)-1]...)
		out = append(out, `,"hash":"`+prev+`"}`+"\n"...)
	}
	if !removed {
		t.Fatalf("no %s entry", kind)
	}
	return out
}

// A log that cannot be vouched for is not "ok": without the head the
// fleet recorded, a truncated, an emptied or a fresh log looks like a
// good one, and verify says so and exits non-zero (4) instead of ok.
// A suppression.off removed, the rest renumbered and rehashed, passes a
// keyless check just as well, also with the fleet's head from before it.
func TestAuditVerifyDoesNotVouchBlindly(t *testing.T) {
	dir := t.TempDir()
	kinds := []string{"suppression.on", "policy.applied", "suppression.off", "suppression.on", "manual.on"}
	path := writeAuditLog(t, dir, audit.Options{}, kinds...)
	data, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(data, []byte("\n"))
	verify := func(p string, extra ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"audit", "verify", p}, extra...), &out, &errOut)
		return out.String(), err
	}
	// The head after two entries, as the fleet may have received it.
	i := bytes.Index(lines[1], []byte(`"hash":"`)) + 8
	head2 := "2:" + string(lines[1][i:i+64])
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	for _, tc := range []struct {
		name, path string
		extra      []string
	}{
		{"a good log", path, nil},
		{"cut from the end", write("cut.log", bytes.Join(lines[:3], nil)), nil},
		{"emptied", write("empty.log", nil), nil},
		{"suppression.off removed and rehashed", write("rehashed.log", rehashWithout(t, data, "suppression.off")), nil},
		{"suppression.off removed and rehashed, with the head of before", write("rehashed2.log", rehashWithout(t, data, "suppression.off")), []string{"--head", head2}},
	} {
		out, err := verify(tc.path, tc.extra...)
		if err == nil || exitCode(err) == 0 {
			t.Errorf("%s: exit 0 (ok)\n%s", tc.name, out)
			continue
		}
		if !strings.Contains(out, "cannot") {
			t.Errorf("%s: does not say what it cannot detect:\n%s", tc.name, out)
		}
	}

	// Written with the vehicle's key, the rehashed log is found, with the
	// key, also with the fleet's head of before.
	keyDir := t.TempDir()
	identity := writeIdentity(t, keyDir)
	key, err := config.AuditKey(identity)
	if err != nil {
		t.Fatal(err)
	}
	keyed := writeAuditLog(t, keyDir, audit.Options{Key: key}, kinds...)
	data, _ = os.ReadFile(keyed)
	lines = bytes.SplitAfter(data, []byte("\n"))
	i = bytes.Index(lines[1], []byte(`"hash":"`)) + 8
	head2 = "2:" + string(lines[1][i:i+64])
	rehashed := filepath.Join(keyDir, "rehashed.log")
	os.WriteFile(rehashed, rehashWithout(t, data, "suppression.off"), 0o600)
	for _, extra := range [][]string{{"--key", identity}, {"--key", identity, "--head", head2}} {
		out, err := verify(rehashed, extra...)
		if !errors.Is(err, errAuditBroken) || exitCode(err) != 1 || !strings.Contains(out, "unauthenticated") {
			t.Errorf("rehashed, %q: %v\n%s", extra, err, out)
		}
	}
}
