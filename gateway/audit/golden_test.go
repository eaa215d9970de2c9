package audit_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var golden = flag.Bool("golden", os.Getenv("GOLDEN") == "true", "rewrite testdata/good.log")

// testdata/good.log pins the format: the same events give the same bytes.
func TestGoldenLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	write(t, path, time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC), events...)
	got, _ := os.ReadFile(path)
	want := filepath.Join("testdata", "good.log")
	if *golden {
		if err := os.WriteFile(want, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(got) {
		t.Errorf("log differs from %s (GOLDEN=true rewrites it):\n%s", want, got)
	}
}
