package testbench

import (
	"bytes"
	"strings"

	"quietzone/geofence"
	"quietzone/uplink"
)

// Findings are the leak invariants; every count must be zero.
type Findings struct {
	// PositionLeaks: published positions inside a zone or its buffer.
	PositionLeaks int
	// ForbiddenSignals: published values of a role the policy does not
	// allow, or that may never leave (phone and contact data).
	ForbiddenSignals int
	// IdentifierLeaks: the VIN, a zone's id or name, or a contact's name
	// found in a topic or a decompressed payload.
	IdentifierLeaks int
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

// check holds what the broker delivered against the zones, the policy and
// the words that must never appear on the wire. accepted is how many
// records the uplink took; their sequence numbers are 1..accepted.
func check(msgs []Message, zones *geofence.Index, pol *uplink.Policy, secrets []string, accepted uint64) Findings {
	var f Findings
	seen := map[uint64]bool{}
	for _, m := range msgs {
		wire := []byte(m.Topic)
		if strings.HasSuffix(m.Topic, "/telemetry") {
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
			if len(r.Pos) == 2 {
				f.PositionsSeen++
				if zones.Query(r.Pos[0], r.Pos[1], 0).InBuffer() {
					f.PositionLeaks++
				}
			} else if r.Pos != nil {
				f.ForbiddenSignals++ // a malformed position is not what the policy allows
			}
			for role := range r.Signals {
				if _, ok := pol.Signals[role]; !ok || uplink.Forbidden(role) {
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

// Clean reports whether every leak invariant holds.
func (f Findings) Clean() bool {
	return f.PositionLeaks == 0 && f.ForbiddenSignals == 0 && f.IdentifierLeaks == 0 && f.LostRecords == 0 && f.BadPayloads == 0
}
