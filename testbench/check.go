package testbench

import (
	"bytes"
	"strings"
	"time"

	"quietzone/gateway/config"
	"quietzone/geofence"
	"quietzone/uplink"
)

// Findings are the leak invariants; every count must be zero.
type Findings struct {
	// PositionLeaks: published positions inside a zone or its buffer.
	PositionLeaks int
	// ForbiddenSignals: published values of a role the policy does not
	// allow, or that may never leave: any role the vehicle's profile does
	// not say is vehicle data (location, personal, or not its role).
	ForbiddenSignals int
	// IdentifierLeaks: the VIN, a zone's id or name, or a contact's name
	// found in a topic or a decompressed payload.
	IdentifierLeaks int
	// TimingLeaks: records stamped with a time inside a time quantum
	// (not its start) from a second the vehicle spent within a buffer:
	// a precise time from near a zone.
	TimingLeaks int
	// LostRecords: records the uplink accepted that never arrived.
	LostRecords int
	// BadPayloads: telemetry that did not decode.
	BadPayloads int
	// Duplicates: records that arrived more than once (allowed: at least
	// once delivery; the receiver drops them by sequence number).
	Duplicates int
	// Received counts the distinct records that arrived, PositionsSeen
	// those carrying a position.
	Received      int
	PositionsSeen int
}

// check holds what the broker delivered against the zones, the policy, the
// classes of the vehicle's roles (prof) and the words that must never
// appear on the wire. accepted is how many records (telemetry and alarms)
// the uplink took; their sequence numbers are 1..accepted. nearSec reports
// whether the vehicle was within a buffer during a second (Unix time); nil
// skips the timing check.
func check(msgs []message, zones *geofence.Index, pol *uplink.Policy, prof *config.Profile, secrets []string, accepted uint64, nearSec func(int64) bool) Findings {
	var f Findings
	seen := map[uint64]bool{}
	quantum := int64(pol.NearZones.TimeQuantum / time.Second)
	for _, m := range msgs {
		wire := []byte(m.Topic)
		if isRecords(m.Topic) {
			raw, err := uplink.Decompress(m.Payload)
			if err != nil || m.Err != nil {
				f.BadPayloads++
				continue
			}
			wire = append(wire, raw...)
		} else {
			wire = append(wire, m.Payload...)
		}
		for _, w := range secrets {
			if w != "" && bytes.Contains(bytes.ToLower(wire), bytes.ToLower([]byte(w))) {
				f.IdentifierLeaks++
			}
		}
		for _, r := range m.Records {
			if seen[r.Seq] {
				f.Duplicates++
				continue
			}
			seen[r.Seq] = true
			f.Received++
			if nearSec != nil && quantum > 0 && r.Time%quantum != 0 && nearSec(r.Time) {
				f.TimingLeaks++
			}
			if len(r.Pos) == 2 {
				f.PositionsSeen++
				if zones.Query(r.Pos[0], r.Pos[1], 0).InBuffer() {
					f.PositionLeaks++
				}
			} else if r.Pos != nil {
				f.ForbiddenSignals++ // a malformed position is not what the policy allows
			}
			for role := range r.Signals {
				class, mapped := prof.Class(role)
				_, allowed := pol.Signals[role]
				allowed = allowed && class == uplink.ClassVehicle
				if r.Alarm != "" { // an alarm's values are not signals, but no location or phone data either
					wk, known := uplink.RoleClass(role)
					allowed = (!mapped || class == uplink.ClassVehicle) && (!known || wk == uplink.ClassVehicle)
				}
				if !allowed {
					f.ForbiddenSignals++
				}
			}
		}
	}
	for seq := uint64(1); seq <= accepted; seq++ {
		if !seen[seq] {
			f.LostRecords++
		}
	}
	return f
}

// isRecords reports whether a topic carries batches of records.
func isRecords(topic string) bool {
	return strings.HasSuffix(topic, "/telemetry") || strings.HasSuffix(topic, "/alarm")
}

// Clean reports whether every leak invariant holds.
func (f Findings) Clean() bool {
	return f.PositionLeaks == 0 && f.ForbiddenSignals == 0 && f.IdentifierLeaks == 0 && f.TimingLeaks == 0 &&
		f.LostRecords == 0 && f.BadPayloads == 0
}
