package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"quietzone/cmd/internal/cli"
	"quietzone/gateway/daemon"
	"strings"
)

// defaultStatusSocket is where `quietzone run` serves its status: in
// systemd's RuntimeDirectory when it sets one, else /run/quietzone.
func defaultStatusSocket() string {
	if d := os.Getenv("RUNTIME_DIRECTORY"); d != "" {
		return filepath.Join(strings.Split(d, ":")[0], "status.sock")
	}
	return "/run/quietzone/status.sock"
}

// status prints the counters of the running daemon. They hold no
// position, zone or vehicle identifier.
func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("status", stderr)
	sock := fs.String("socket", defaultStatusSocket(), "the daemon's status socket")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.UsageError("status: no arguments expected")
	}
	s, err := daemon.ReadStatus(ctx, *sock)
	if err != nil {
		return fmt.Errorf("status: is quietzone running? %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fixAge := "none"
	if s.LastFixAgeS != nil {
		fixAge = fmt.Sprintf("%.1f s ago", *s.LastFixAgeS)
	}
	w := func(k, format string, a ...any) {
		fmt.Fprintf(stdout, "%-14s "+format+"\n", append([]any{k + ":"}, a...)...)
	}
	w("state", "%s (suppressed: %v)", s.State, s.Suppressed)
	w("last fix", "%s", fixAge)
	w("frames", "%d (%.0f/s)", s.Frames, s.FramesPerS)
	w("anomalies", "%d (bad frames %d, out of range %d, bad fixes %d)", s.Anomalies, s.BadFrames, s.OutOfRange, s.BadFixes)
	gnss := "trusted"
	if s.GNSSDistrusted {
		gnss = "distrusted (a jump or a clock step; suppressed until a fix agrees with the wheels)"
	}
	w("gnss", "%s, margin +%.0f m, clock steps back %d", gnss, s.GNSSMarginM, s.ClockSteps)
	w("queue", "%d batches, dropped %d batches (%d records), %d corrupt bytes", s.QueueDepth, s.Drops.Batches, s.Drops.Records, s.Drops.CorruptBytes)
	w("errors", "uplink %d, camera %d, escalations %d", s.UplinkErrors, s.CameraErrors, s.Escalations)
	w("triggers", "%d while allowed, %d dropped while suppressed", s.TriggersAllowed, s.TriggersDropped)
	pol := "none"
	if s.PolicyVersion > 0 {
		pol = fmt.Sprintf("version %d, expires %s", s.PolicyVersion, s.PolicyExpires)
	}
	w("policy", "%s (bundles applied %d, rejected %d)", pol, s.BundlesOK, s.BundlesBad)
	w("audit", "seq %d, intact %v", s.AuditSeq, s.AuditIntact)
	for _, c := range s.Cameras {
		w("camera "+c.Name, "%s, %s, allowed %v, powered %v", c.Class, c.Status, c.Allowed, c.Powered)
	}
	return nil
}
