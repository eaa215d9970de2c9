package daemon

import (
	"quietzone/gateway"
	"quietzone/gateway/audit"
)

// AuditLog records the gateway's audit events in a hash-chained log
// (package audit). Every kind is recorded under its own name, including
// kinds this file does not list; a kind the log cannot take as a name is
// recorded as "other" with the kind in the reason, never dropped.
type AuditLog struct {
	Log *audit.Log
}

var _ gateway.Auditor = AuditLog{}

// auditKindOther records an event whose kind is not a valid log kind.
const auditKindOther = "other"

// Audit implements Auditor: it queues the event and returns.
func (a AuditLog) Audit(e gateway.AuditEvent) {
	kind, reason := string(e.Kind), e.Reason
	if !audit.ValidKind(kind) {
		kind, reason = auditKindOther, "kind "+sanitizeKind(kind)+": "+reason
	}
	a.Log.Append(e.Time, kind, reason)
}

// sanitizeKind keeps the printable ASCII of a kind, at most 64 bytes.
func sanitizeKind(k string) string {
	b := make([]byte, 0, min(len(k), 64))
	for i := 0; i < len(k) && len(b) < 64; i++ {
		if c := k[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}
