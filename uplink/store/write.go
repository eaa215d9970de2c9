package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"quietzone/uplink"
)

// tx is what the shared write code needs of a transaction; sqlTx and
// pgTx adapt database/sql's and pgx's.
type tx interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	queryRow(ctx context.Context, q string, args ...any) interface{ Scan(...any) error }
}

type sqlTx struct {
	t *sql.Tx
	d dialect
}

func (t sqlTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := t.t.ExecContext(ctx, t.d.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t sqlTx) queryRow(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
	return t.t.QueryRowContext(ctx, t.d.rebind(q), args...)
}

type pgTx struct{ t pgx.Tx }

func (t pgTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.t.Exec(ctx, pgDialect.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t pgTx) queryRow(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
	return t.t.QueryRow(ctx, pgDialect.rebind(q), args...)
}

// vehicleIDs returns the ids of the vehicles a Write names, adding new
// ones.
func (db *DB) vehicleIDs(ctx context.Context, t tx, w *Write, now int64) (map[string]int64, error) {
	ids := make(map[string]int64)
	var missing []string
	db.mu.Lock()
	note := func(p string) {
		if _, ok := ids[p]; ok {
			return
		}
		if id, ok := db.ids[p]; ok {
			ids[p] = id
			return
		}
		ids[p] = 0
		missing = append(missing, p)
	}
	for _, b := range w.Batches {
		note(b.Vehicle)
	}
	for _, s := range w.Statuses {
		note(s.Vehicle)
	}
	for _, a := range w.Audits {
		note(a.Vehicle)
	}
	db.mu.Unlock()
	slices.Sort(missing) // the same order in every process: no deadlock
	if pt, ok := t.(pgTx); ok && len(missing) > 0 {
		// Two round trips for any number of new vehicles: a fleet's first
		// hour meets every vehicle once.
		if _, err := pt.t.Exec(ctx, `INSERT INTO vehicles (pseudonym, first_seen) SELECT unnest($1::text[]), $2 ON CONFLICT (pseudonym) DO NOTHING`, missing, now); err != nil {
			return nil, fmt.Errorf("add vehicles: %w", err)
		}
		rows, err := pt.t.Query(ctx, `SELECT pseudonym, id FROM vehicles WHERE pseudonym = ANY($1::text[])`, missing)
		if err != nil {
			return nil, fmt.Errorf("vehicle ids: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			var id int64
			if err := rows.Scan(&p, &id); err != nil {
				return nil, fmt.Errorf("vehicle ids: %w", err)
			}
			ids[p] = id
		}
		return ids, rows.Err()
	}
	for _, p := range missing {
		if _, err := t.exec(ctx, `INSERT INTO vehicles (pseudonym, first_seen) VALUES (?, ?) ON CONFLICT (pseudonym) DO NOTHING`, p, now); err != nil {
			return nil, fmt.Errorf("add vehicle: %w", err)
		}
		var id int64
		if err := t.queryRow(ctx, `SELECT id FROM vehicles WHERE pseudonym = ?`, p).Scan(&id); err != nil {
			return nil, fmt.Errorf("vehicle id: %w", err)
		}
		ids[p] = id
	}
	return ids, nil
}

// remember caches vehicle ids once their transaction committed.
func (db *DB) remember(ids map[string]int64) {
	db.mu.Lock()
	for p, id := range ids {
		db.ids[p] = id
	}
	db.mu.Unlock()
}

// forget drops the cache: a transaction that added vehicles rolled back.
func (db *DB) forget() {
	db.mu.Lock()
	clear(db.ids)
	db.mu.Unlock()
}

// upsertCounter adds a Write's counts for one vehicle to its ingest's row.
func upsertCounter(ctx context.Context, t tx, id int64, ingest string, v *vehicleStats, now int64) error {
	if v.received == 0 {
		_, err := t.exec(ctx, `INSERT INTO counters (vehicle_id, ingest, received, repeats, min_seq, max_seq, last_seen)
			VALUES (?, ?, 0, ?, 0, 0, ?)
			ON CONFLICT (vehicle_id, ingest) DO UPDATE SET repeats = counters.repeats + excluded.repeats, last_seen = excluded.last_seen`,
			id, ingest, v.repeats, now)
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO counters (vehicle_id, ingest, received, repeats, min_seq, max_seq, last_seen)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (vehicle_id, ingest) DO UPDATE SET
			received = counters.received + excluded.received,
			repeats = counters.repeats + excluded.repeats,
			min_seq = CASE WHEN counters.received = 0 OR excluded.min_seq < counters.min_seq THEN excluded.min_seq ELSE counters.min_seq END,
			max_seq = CASE WHEN excluded.max_seq > counters.max_seq THEN excluded.max_seq ELSE counters.max_seq END,
			last_seen = excluded.last_seen`,
		id, ingest, v.received, v.repeats, int64(v.min), int64(v.max), now)
	return err
}

// applyVehicles applies statuses and audit summaries to the vehicles'
// rows, in the order of their ids (no deadlock between two ingest
// processes), and records events for the timeline.
func applyVehicles(ctx context.Context, t tx, w *Write, ids map[string]int64, now int64, res *Result) error {
	type item struct {
		id int64
		s  *Status
		a  *Audit
	}
	var items []item
	for i := range w.Statuses {
		items = append(items, item{id: ids[w.Statuses[i].Vehicle], s: &w.Statuses[i]})
	}
	for i := range w.Audits {
		items = append(items, item{id: ids[w.Audits[i].Vehicle], a: &w.Audits[i]})
	}
	slices.SortStableFunc(items, func(a, b item) int { return int(a.id - b.id) })
	for _, it := range items {
		var err error
		if it.s != nil {
			err = applyStatus(ctx, t, it.id, it.s, now)
		} else {
			var broke bool
			broke, err = applyAudit(ctx, t, it.id, it.a, now)
			if broke {
				res.Breaks = append(res.Breaks, it.a.Vehicle)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func event(ctx context.Context, t tx, id, now int64, kind, detail string) error {
	_, err := t.exec(ctx, `INSERT INTO events (vehicle_id, at, kind, detail) VALUES (?, ?, ?, ?)`, id, now, kind, detail)
	return err
}

func applyStatus(ctx context.Context, t tx, id int64, s *Status, now int64) error {
	if s.Word != "" {
		var prev string
		if err := t.queryRow(ctx, `SELECT status FROM vehicles WHERE id = ?`, id).Scan(&prev); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE vehicles SET status = ?, status_at = ? WHERE id = ?`, s.Word, now, id); err != nil {
			return err
		}
		if prev != s.Word {
			return event(ctx, t, id, now, s.Word, "")
		}
		return nil
	}
	d := s.Drops
	var batches int64
	if err := t.queryRow(ctx, `SELECT dropped_batches FROM vehicles WHERE id = ?`, id).Scan(&batches); err != nil {
		return err
	}
	// Counters are cumulative: the largest seen is the newest.
	if _, err := t.exec(ctx, `UPDATE vehicles SET
			dropped_batches = CASE WHEN dropped_batches > ? THEN dropped_batches ELSE ? END,
			dropped_records = CASE WHEN dropped_records > ? THEN dropped_records ELSE ? END,
			dropped_through = CASE WHEN dropped_through > ? THEN dropped_through ELSE ? END,
			damaged_bytes = CASE WHEN damaged_bytes > ? THEN damaged_bytes ELSE ? END
		WHERE id = ?`,
		int64(d.Batches), int64(d.Batches), int64(d.Records), int64(d.Records),
		int64(d.ThroughSeq), int64(d.ThroughSeq), int64(d.CorruptBytes+d.TornBytes), int64(d.CorruptBytes+d.TornBytes), id); err != nil {
		return err
	}
	if int64(d.Batches) > batches {
		return event(ctx, t, id, now, "queue.drop", fmt.Sprintf("%d batches (%d records) dropped by the vehicle's queue, through seq %d", d.Batches, d.Records, d.ThroughSeq))
	}
	return nil
}

// applyAudit stores an audit summary and its chain verdict; broke is
// true when the chain breaks here.
func applyAudit(ctx context.Context, t tx, id int64, a *Audit, now int64) (broke bool, err error) {
	var head, brokenBefore string
	var policy, refusedV int64
	var refusedC string
	if err := t.queryRow(ctx, `SELECT audit_head, chain_broken, policy, refused_version, refused_cause FROM vehicles WHERE id = ?`, id).
		Scan(&head, &brokenBefore, &policy, &refusedV, &refusedC); err != nil {
		return false, err
	}
	s := a.Summary
	verdict, bad := ChainVerdict(head, s)
	broken := brokenBefore
	if bad && broken == "" {
		broken = verdict
		broke = true
	}
	counts, _ := json.Marshal(s.Counts)
	var rv uint64
	var rc string
	if s.Refused != nil {
		rv, rc = s.Refused.Version, s.Refused.Cause
	}
	newHead := s.Head
	if newHead == "" {
		newHead = head
	}
	intact := 0
	if s.Intact {
		intact = 1
	}
	if _, err := t.exec(ctx, `UPDATE vehicles SET audit_head = ?, audit_intact = ?, audit_lost = ?, audit_counts = ?, audit_at = ?,
			chain = ?, chain_broken = ?, policy = ?, refused_version = ?, refused_cause = ? WHERE id = ?`,
		newHead, intact, int64(s.Lost), string(counts), now, verdict, broken, int64(s.Policy), int64(rv), rc, id); err != nil {
		return false, err
	}
	if s.Head != head {
		if err := event(ctx, t, id, now, "audit.head", s.Head+" "+verdict); err != nil {
			return false, err
		}
	}
	if int64(s.Policy) != policy {
		if err := event(ctx, t, id, now, "policy.applied", fmt.Sprintf("version %d", s.Policy)); err != nil {
			return false, err
		}
	}
	if rc != "" && (int64(rv) != refusedV || rc != refusedC) {
		if err := event(ctx, t, id, now, "policy.refused", fmt.Sprintf("version %d: %s", rv, rc)); err != nil {
			return false, err
		}
	}
	return broke, nil
}

// ChainVerdict judges an audit summary against the head seen before
// ("SEQ:HASH", "" for none): "ok" when its chain goes on from there,
// "unverified: …" when too many entries came since for its tail to
// show, or a reason it broke (bad): the log does not verify on the
// vehicle, its head went back, or the entry at the old head's seq is
// another.
func ChainVerdict(prev string, s uplink.AuditSummary) (verdict string, bad bool) {
	if !s.Intact {
		return "broken: the vehicle's log does not verify", true
	}
	if prev == "" {
		return "ok", false
	}
	if s.Head == "" {
		return "broken: the log is empty, after head " + prev, true
	}
	pSeq, pHash, err := uplink.ParseChainRef(prev, 64)
	if err != nil {
		return "unverified: the head seen before does not read", false
	}
	nSeq, nHash, err := uplink.ParseChainRef(s.Head, 64)
	if err != nil {
		return "unverified: the head does not read", false
	}
	switch {
	case nSeq < pSeq:
		return fmt.Sprintf("broken: the head went back from seq %d to %d (log cut or replaced)", pSeq, nSeq), true
	case nSeq == pSeq && nHash != pHash:
		return fmt.Sprintf("broken: entry %d was rewritten", pSeq), true
	case nSeq == pSeq:
		return "ok", false
	}
	for _, ref := range s.Tail {
		seq, h, err := uplink.ParseChainRef(ref, uplink.TailHashLen)
		if err != nil || seq != pSeq {
			continue
		}
		if !strings.HasPrefix(pHash, h) {
			return fmt.Sprintf("broken: entry %d is not the one seen before (log cut or replaced)", pSeq), true
		}
		return "ok", false
	}
	return fmt.Sprintf("unverified: %d entries since the head seen before, more than the summary names", nSeq-pSeq), false
}

// addRejects adds an ingest's counts of refused messages.
func addRejects(ctx context.Context, t tx, ingest string, r map[string]uint64) error {
	for reason, n := range r {
		if n == 0 {
			continue
		}
		if _, err := t.exec(ctx, `INSERT INTO rejects (ingest, reason, n) VALUES (?, ?, ?)
			ON CONFLICT (ingest, reason) DO UPDATE SET n = rejects.n + excluded.n`, ingest, reason, int64(n)); err != nil {
			return err
		}
	}
	return nil
}

// signalsJSON is a record's signals as stored: a JSON object, or NULL.
func signalsJSON(r *uplink.Record) any {
	if len(r.Signals) == 0 {
		return nil
	}
	b, err := json.Marshal(r.Signals)
	if err != nil { // finite numbers (the decoder checked): cannot fail
		return nil
	}
	return string(b)
}

func alarmOrNil(r *uplink.Record) any {
	if r.Alarm == "" {
		return nil
	}
	return r.Alarm
}

func posOrNil(r *uplink.Record) (lat, lon any) {
	if len(r.Pos) != 2 {
		return nil, nil
	}
	return r.Pos[0], r.Pos[1]
}
