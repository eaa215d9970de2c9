package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"time"

	"quietzone/uplink"
)

// Status is what `quietzone status` shows of a running daemon: counters
// and states only, never a position, zone or vehicle identifier.
type Status struct {
	State      string `json:"state"`
	Suppressed bool   `json:"suppressed"`
	// LastFixAgeS is the age of the last accepted fix in seconds; nil
	// when there has been none.
	LastFixAgeS *float64 `json:"last_fix_age_s"`
	Frames      uint64   `json:"frames"`
	FramesPerS  float64  `json:"frames_per_s"`
	// Anomalies are frames dropped as malformed, values out of their DBC
	// range, and fixes refused (quality, accuracy, implausible jumps).
	Anomalies  uint64 `json:"anomalies"`
	BadFrames  uint64 `json:"bad_frames"`
	OutOfRange uint64 `json:"out_of_range"`
	BadFixes   uint64 `json:"bad_fixes"`
	// GNSSDistrusted: a jump or a clock step, and no fix consistent with
	// the wheels since; GNSSMarginM: how much every fix is widened since
	// GNSS was trusted again late; ClockSteps: steps of the clock back
	// (gateway/trust.go).
	GNSSDistrusted bool         `json:"gnss_distrusted"`
	GNSSMarginM    float64      `json:"gnss_margin_m"`
	ClockSteps     uint64       `json:"clock_steps"`
	QueueDepth     int          `json:"queue_depth"`
	Drops          uplink.Drops `json:"drops"`
	UplinkErrors   uint64       `json:"uplink_errors"`
	CameraErrors   uint64       `json:"camera_errors"`
	// Escalations: cameras that disobeyed or fell silent while they were
	// not allowed to record.
	Escalations uint64 `json:"escalations"`
	// TriggersAllowed and TriggersDropped count the cameras' triggers
	// (CAN or GPIO) while they could record, and while suppressed.
	TriggersAllowed uint64         `json:"triggers_allowed"`
	TriggersDropped uint64         `json:"triggers_dropped"`
	Cameras         []CameraStatus `json:"cameras"`
	PolicyVersion   uint64         `json:"policy_version"`
	// PolicyExpires is when the bundle in force expires; empty without one.
	PolicyExpires string `json:"policy_expires,omitempty"`
	BundlesOK     uint64 `json:"bundles_applied"`
	BundlesBad    uint64 `json:"bundles_rejected"`
	AuditSeq      uint64 `json:"audit_seq"`
	AuditIntact   bool   `json:"audit_intact"`
}

// CameraStatus is one camera in the status.
type CameraStatus struct {
	Name    string `json:"name"`
	Class   string `json:"class"`
	Allowed bool   `json:"allowed"`
	Powered bool   `json:"powered"`
	Status  string `json:"status"`
}

// Status returns the daemon's status now.
func (d *Daemon) Status() Status {
	now := d.clock().Now()
	gs := d.gw.Stats()
	s := Status{
		State:           gs.State.String(),
		Suppressed:      gs.State.Suppressed(),
		Frames:          gs.Frames,
		FramesPerS:      math.Float64frombits(d.run.framesPerS.Load()),
		BadFrames:       gs.Decode.Bad(),
		OutOfRange:      gs.Decode.OutOfRange,
		BadFixes:        gs.BadFixes,
		GNSSDistrusted:  gs.GNSSDistrusted,
		GNSSMarginM:     gs.GNSSMarginM,
		ClockSteps:      gs.ClockSteps,
		UplinkErrors:    d.UplinkErrors(),
		CameraErrors:    gs.CameraErrors,
		Escalations:     gs.Enforcement.Escalations,
		TriggersAllowed: gs.CameraCounts.TriggersAllowed,
		TriggersDropped: gs.CameraCounts.TriggersDropped,
		Cameras:         []CameraStatus{},
	}
	s.Anomalies = s.BadFrames + s.OutOfRange + s.BadFixes
	if !gs.LastFix.IsZero() {
		age := now.Sub(gs.LastFix).Seconds()
		s.LastFixAgeS = &age
	}
	if d.queue != nil {
		s.QueueDepth = d.queue.Len()
		s.Drops = d.queue.Drops()
	}
	for _, c := range gs.Cameras {
		s.Cameras = append(s.Cameras, CameraStatus{Name: c.Name, Class: string(c.Class), Allowed: c.Allowed, Powered: c.Powered, Status: c.Status.String()})
	}
	if d.fleet != nil {
		fs := d.fleet.Stats()
		s.PolicyVersion, s.BundlesOK, s.BundlesBad = fs.Version, fs.Applied, fs.Rejected
		if !fs.Expires.IsZero() {
			s.PolicyExpires = fs.Expires.Format(time.RFC3339)
		}
	}
	if d.auditLog != nil {
		as := d.auditLog.Summary()
		s.AuditSeq, s.AuditIntact = as.Head.Seq, as.Intact
	}
	return s
}

// listenStatus listens on a unix socket at path, replacing a socket left
// by a daemon that died (never any other kind of file), readable and
// writable by the daemon's user and group only.
func listenStatus(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("status socket %s: exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("status socket %s: another daemon is serving it", path)
		}
		os.Remove(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("status socket: %w", err)
	}
	return ln, nil
}

// serveStatus answers every connection with the status as one JSON
// object and closes it, until ctx is done.
func serveStatus(ctx context.Context, ln net.Listener, status func() Status) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("status socket: %w", err)
		}
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		json.NewEncoder(c).Encode(status())
		c.Close()
	}
}

// ReadStatus asks the daemon serving the socket at path for its status.
func ReadStatus(ctx context.Context, path string) (Status, error) {
	var s Status
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", path)
	if err != nil {
		return s, fmt.Errorf("read status: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	data, err := io.ReadAll(io.LimitReader(c, 1<<20))
	if err != nil {
		return s, fmt.Errorf("read status: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("read status: %w", err)
	}
	return s, nil
}
