package daemon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The status socket replaces one a dead daemon left, never a file, and
// never a live daemon's; it is not world-accessible.
func TestListenStatus(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep"), 0o600)
	if _, err := listenStatus(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Error("the file was touched")
	}

	path := filepath.Join(dir, "run", "status.sock")
	ln, err := listenStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if _, err := listenStatus(path); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("over a live socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStatus(ctx, ln, func() Status { return Status{State: "clear", Frames: 7} }) }()
	s, err := ReadStatus(ctx, path)
	if err != nil || s.State != "clear" || s.Frames != 7 {
		t.Errorf("status %+v, %v", s, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}

	// A socket left behind by a daemon that died.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	ln, err = listenStatus(stale)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	ln.Close()
	if _, err := ReadStatus(context.Background(), filepath.Join(dir, "none.sock")); err == nil {
		t.Error("status from no daemon")
	}
}
