package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Vehicle is one vehicle's state as the fleet knows it.
type Vehicle struct {
	Pseudonym string    `json:"pseudonym"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"` // newest batch received
	// Status is the vehicle's last word: online or offline ("" for none).
	Status string `json:"status"`
	// Records stored, Repeats not stored again, and Gaps: sequence
	// numbers between the lowest and highest stored that never arrived
	// (the vehicle's own queue drops among them).
	Records uint64 `json:"records"`
	Repeats uint64 `json:"repeats"`
	MaxSeq  uint64 `json:"max_seq"`
	Gaps    uint64 `json:"gaps"`
	// Drops are what the vehicle says its queue dropped.
	DroppedBatches uint64 `json:"dropped_batches"`
	DroppedRecords uint64 `json:"dropped_records"`
	DamagedBytes   uint64 `json:"damaged_bytes"`
	// Policy is the bundle version in force; RefusedVersion and
	// RefusedCause the last bundle refused.
	Policy         uint64 `json:"policy"`
	RefusedVersion uint64 `json:"refused_version,omitempty"`
	RefusedCause   string `json:"refused_cause,omitempty"`
	// Alarms counts alarm records by type.
	Alarms map[string]uint64 `json:"alarms,omitempty"`
	// AuditHead is the audit chain's head last received; Chain the
	// verdict on it; ChainBroken, once set, stays until acknowledged.
	AuditHead   string            `json:"audit_head,omitempty"`
	AuditIntact bool              `json:"audit_intact"`
	AuditLost   uint64            `json:"audit_lost"`
	AuditCounts map[string]uint64 `json:"audit_counts,omitempty"`
	Chain       string            `json:"chain,omitempty"`
	ChainBroken string            `json:"chain_broken,omitempty"`
}

// Vehicles returns every vehicle, by pseudonym.
func (db *DB) Vehicles(ctx context.Context) ([]Vehicle, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT v.id, v.pseudonym, v.first_seen, v.status,
			v.dropped_batches, v.dropped_records, v.damaged_bytes, v.policy, v.refused_version, v.refused_cause,
			v.audit_head, v.audit_intact, v.audit_lost, v.audit_counts, v.chain, v.chain_broken,
			COALESCE(c.received, 0), COALESCE(c.repeats, 0), COALESCE(c.lo, 0), COALESCE(c.hi, 0), COALESCE(c.seen, 0)
		FROM vehicles v LEFT JOIN (
			SELECT vehicle_id, sum(received) AS received, sum(repeats) AS repeats,
				min(CASE WHEN received > 0 THEN min_seq END) AS lo, max(max_seq) AS hi, max(last_seen) AS seen
			FROM counters GROUP BY vehicle_id) c ON c.vehicle_id = v.id
		ORDER BY v.pseudonym`)
	if err != nil {
		return nil, fmt.Errorf("vehicles: %w", err)
	}
	defer rows.Close()
	var out []Vehicle
	byID := map[int64]int{}
	for rows.Next() {
		var v Vehicle
		var id, first, seen, lo, hi, recv, reps int64
		var intact int
		var counts string
		if err := rows.Scan(&id, &v.Pseudonym, &first, &v.Status, &v.DroppedBatches, &v.DroppedRecords, &v.DamagedBytes,
			&v.Policy, &v.RefusedVersion, &v.RefusedCause, &v.AuditHead, &intact, &v.AuditLost, &counts, &v.Chain, &v.ChainBroken,
			&recv, &reps, &lo, &hi, &seen); err != nil {
			return nil, fmt.Errorf("vehicles: %w", err)
		}
		v.FirstSeen = time.UnixMilli(first).UTC()
		if seen > 0 {
			v.LastSeen = time.UnixMilli(seen).UTC()
		}
		v.Records, v.Repeats, v.MaxSeq = uint64(recv), uint64(reps), uint64(hi)
		if recv > 0 && hi-lo+1 > recv {
			v.Gaps = uint64(hi - lo + 1 - recv)
		}
		v.AuditIntact = intact != 0
		_ = json.Unmarshal([]byte(counts), &v.AuditCounts)
		byID[id] = len(out)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vehicles: %w", err)
	}
	arows, err := db.sql.QueryContext(ctx, `SELECT vehicle_id, alarm, count(*) FROM records WHERE alarm IS NOT NULL GROUP BY vehicle_id, alarm`)
	if err != nil {
		return nil, fmt.Errorf("vehicles' alarms: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var id int64
		var kind string
		var n uint64
		if err := arows.Scan(&id, &kind, &n); err != nil {
			return nil, fmt.Errorf("vehicles' alarms: %w", err)
		}
		if i, ok := byID[id]; ok {
			if out[i].Alarms == nil {
				out[i].Alarms = map[string]uint64{}
			}
			out[i].Alarms[kind] = n
		}
	}
	return out, arows.Err()
}

// StoredRecord is a record as stored.
type StoredRecord struct {
	Vehicle  string             `json:"vehicle"`
	Seq      uint64             `json:"seq"`
	Time     time.Time          `json:"time"`
	Pos      []float64          `json:"pos,omitempty"`
	Signals  map[string]float64 `json:"signals,omitempty"`
	Alarm    string             `json:"alarm,omitempty"`
	Received time.Time          `json:"received"`
}

// RecordQuery selects records.
type RecordQuery struct {
	Vehicle string // pseudonym; "" for every vehicle
	Alarms  bool   // alarms only
	Limit   int    // newest first; 0: 100
}

// Records returns stored records, newest (by sequence number per
// vehicle, or arrival across vehicles) first.
func (db *DB) Records(ctx context.Context, q RecordQuery) ([]StoredRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	query := `SELECT v.pseudonym, r.seq, r.t, r.lat, r.lon, r.signals, r.alarm, r.received
		FROM records r JOIN vehicles v ON v.id = r.vehicle_id WHERE 1 = 1`
	var args []any
	if q.Vehicle != "" {
		query += ` AND v.pseudonym = ?`
		args = append(args, q.Vehicle)
	}
	if q.Alarms {
		query += ` AND r.alarm IS NOT NULL`
	}
	if q.Vehicle != "" {
		query += ` ORDER BY r.seq DESC`
	} else {
		query += ` ORDER BY r.received DESC, v.pseudonym, r.seq DESC`
	}
	query += fmt.Sprintf(` LIMIT %d`, q.Limit)
	rows, err := db.sql.QueryContext(ctx, db.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	defer rows.Close()
	var out []StoredRecord
	for rows.Next() {
		var r StoredRecord
		var seq, t, recv int64
		var lat, lon sql.NullFloat64
		var sig, alarm sql.NullString
		if err := rows.Scan(&r.Vehicle, &seq, &t, &lat, &lon, &sig, &alarm, &recv); err != nil {
			return nil, fmt.Errorf("records: %w", err)
		}
		r.Seq, r.Time, r.Received = uint64(seq), time.Unix(t, 0).UTC(), time.UnixMilli(recv).UTC()
		if lat.Valid && lon.Valid {
			r.Pos = []float64{lat.Float64, lon.Float64}
		}
		if sig.Valid {
			_ = json.Unmarshal([]byte(sig.String), &r.Signals)
		}
		r.Alarm = alarm.String
		out = append(out, r)
	}
	return out, rows.Err()
}

// Event is an entry of a vehicle's timeline.
type Event struct {
	Vehicle string    `json:"vehicle"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Detail  string    `json:"detail,omitempty"`
}

// Events returns a vehicle's events ("" for every vehicle's), newest
// first.
func (db *DB) Events(ctx context.Context, vehicle string, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT v.pseudonym, e.at, e.kind, e.detail FROM events e JOIN vehicles v ON v.id = e.vehicle_id`
	var args []any
	if vehicle != "" {
		query += ` WHERE v.pseudonym = ?`
		args = append(args, vehicle)
	}
	query += fmt.Sprintf(` ORDER BY e.at DESC, e.id DESC LIMIT %d`, limit)
	rows, err := db.sql.QueryContext(ctx, db.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.Vehicle, &at, &e.Kind, &e.Detail); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Rejects returns the messages refused, by reason, summed over ingests.
func (db *DB) Rejects(ctx context.Context) (map[string]uint64, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT reason, sum(n) FROM rejects GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("rejects: %w", err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var r string
		var n int64
		if err := rows.Scan(&r, &n); err != nil {
			return nil, fmt.Errorf("rejects: %w", err)
		}
		out[r] = uint64(n)
	}
	return out, rows.Err()
}

// AcknowledgeChain clears a vehicle's sticky chain break, once someone
// looked into it; the head last seen stays the reference.
func (db *DB) AcknowledgeChain(ctx context.Context, vehicle string) error {
	r, err := db.sql.ExecContext(ctx, db.d.rebind(`UPDATE vehicles SET chain_broken = '' WHERE pseudonym = ?`), vehicle)
	if err != nil {
		return fmt.Errorf("acknowledge chain: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("acknowledge chain: no vehicle %s", vehicle)
	}
	return nil
}
