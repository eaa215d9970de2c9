package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/gateway/audit"
)

// TestAuditVerify writes a log through the audit package, then edits an
// entry (its reason), and removes one: audit verify exits non-zero and
// names the entry each time.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := audit.Open(path, audit.Options{})
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
	if err != nil || !strings.Contains(out, "ok, 6 entries, head 6:") {
		t.Fatalf("good log: %v\n%s", err, out)
	}
	head := strings.TrimSpace(out[strings.Index(out, "head ")+5:])
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
		{"edited", edited, "line 2 (seq 2): edited", nil},
		{"removed", removed, "line 3 (seq 4): removed", nil},
		{"cut from the end", cut, "removed: the fleet received entries up to seq 6", []string{"--head", head}},
	} {
		out, err := verify(tc.path, tc.extra...)
		if !errors.Is(err, errAuditBroken) || exitCode(err) != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v\n%s\nwant %q", tc.name, err, out, tc.want)
		}
	}
}
