package daemon

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"quietzone/can/cantest"
	"quietzone/gateway"
	"quietzone/gateway/audit"
)

// The audit summary's counts and chain head are those of the last
// scheduled count (countAudit), not of the log when a summary goes up
// between two (a bundle applied or refused, whose timing the fleet
// chooses): an event after the count is not in it until the next one
// (issue 14: before, every summary read the log as it was, and the
// retained summary dated a suppression episode to 5 minutes).
func TestAuditSummaryCountsOnSchedule(t *testing.T) {
	l, err := audit.Open(filepath.Join(t.TempDir(), "audit.log"), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		l.Close()
	}()
	d := &Daemon{auditLog: l}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	a := AuditLog{Log: l}
	a.Audit(gateway.AuditEvent{Time: now, Kind: gateway.AuditPolicyApplied, Reason: "version 1 from file"})
	cantest.WaitFor(t, 30*time.Second, "the first event", func() bool { return l.Summary().Head.Seq == 1 })
	d.countAudit()
	before, err := d.summaryJSON()
	if err != nil {
		t.Fatal(err)
	}
	a.Audit(gateway.AuditEvent{Time: now.Add(time.Minute), Kind: gateway.AuditCameraDisobey, Reason: "front"})
	cantest.WaitFor(t, 30*time.Second, "the second event", func() bool { return l.Summary().Head.Seq == 2 })
	between, err := d.summaryJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, between) {
		t.Errorf("a summary between counts shows the log as it is:\n%s\nwant\n%s", between, before)
	}
	d.countAudit()
	after, err := d.summaryJSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(after, before) || !bytes.Contains(after, []byte(gateway.AuditCameraDisobey)) {
		t.Errorf("the next count does not show the event: %s", after)
	}
}
