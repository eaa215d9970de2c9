package gateway

import "time"

// AuditKind names what an audit event records.
type AuditKind string

// The events the gateway records. An event carries no position, zone name
// or zone id, and no vehicle identifier: the audit trail is summarised on
// the uplink.
const (
	AuditSuppressionOn  AuditKind = "suppression.on"
	AuditSuppressionOff AuditKind = "suppression.off"
	AuditManualOn       AuditKind = "manual.on"
	AuditManualOff      AuditKind = "manual.off"
	AuditPolicyApplied  AuditKind = "policy.applied"
	AuditPolicyRejected AuditKind = "policy.rejected"
	// AuditCameraDisobey: a camera said it was recording while it was
	// not allowed to, for longer than its grace period (escalated).
	AuditCameraDisobey AuditKind = "camera.disobedient"
	// AuditCameraUnverified: a camera fell silent while it was not
	// allowed to record and its power could not be cut (escalated).
	AuditCameraUnverified AuditKind = "camera.unverified"
	AuditQueueDrop        AuditKind = "queue.drop"
	// AuditClockStep: the clock stepped back (a fix stamped well before
	// the last one, or the time before the last fix): the fix history
	// restarts, suppressed (trust.go).
	AuditClockStep AuditKind = "clock.step"
	// AuditGNSSDistrusted: a fix jumped implausibly; GNSS is not trusted
	// until a fix is consistent with the last trusted one and the wheel
	// speed (trust.go). AuditGNSSTrusted: it is again.
	AuditGNSSDistrusted AuditKind = "gnss.distrusted"
	AuditGNSSTrusted    AuditKind = "gnss.trusted"
)

// AuditEvent is one entry for the fleet's audit trail.
type AuditEvent struct {
	Time time.Time
	Kind AuditKind
	// Reason says why, in words that hold no position or name, e.g. the
	// safety state ("inside", "no fresh plausible fix") or a camera's name.
	Reason string
}

// Auditor keeps audit events. It is called from the decision loop and must
// not block it for long; nil Options.Audit records nothing.
type Auditor interface {
	Audit(e AuditEvent)
}

func (g *Gateway) audit(now time.Time, kind AuditKind, reason string) {
	if g.opts.Audit != nil {
		g.opts.Audit.Audit(AuditEvent{Time: now, Kind: kind, Reason: reason})
	}
}
