package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// writePG stores a Write in one transaction on the writer's own
// connection: the records go by COPY into a temporary table, then into
// records in one INSERT that skips repeats and returns, per vehicle,
// what it stored.
func (db *DB) writePG(ctx context.Context, w *Write) (Result, error) {
	res, err := db.writePGOnce(ctx, w)
	if err != nil && retryable(err) { // a deadlock or serialization failure with another ingest
		db.forget()
		res, err = db.writePGOnce(ctx, w)
	}
	return res, err
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func (db *DB) writerConn(ctx context.Context) (*pgx.Conn, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.pg != nil && !db.pg.IsClosed() {
		return db.pg, nil
	}
	c, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return nil, err
	}
	if _, err := c.Exec(ctx, `CREATE TEMPORARY TABLE stage_records (
		vehicle_id BIGINT, seq BIGINT, t BIGINT, lat DOUBLE PRECISION, lon DOUBLE PRECISION,
		signals TEXT, alarm TEXT, received BIGINT) ON COMMIT DELETE ROWS`); err != nil {
		c.Close(ctx)
		return nil, err
	}
	// A commit waits for its WAL flush: acknowledged means stored.
	if _, err := c.Exec(ctx, `SET synchronous_commit = on`); err != nil {
		c.Close(ctx)
		return nil, err
	}
	db.pg = c
	return c, nil
}

func (db *DB) writePGOnce(ctx context.Context, w *Write) (Result, error) {
	var res Result
	now := w.Received.UnixMilli()
	c, err := db.writerConn(ctx)
	if err != nil {
		return res, err
	}
	ptx, err := c.Begin(ctx)
	if err != nil {
		db.dropConn(c)
		return res, err
	}
	defer ptx.Rollback(ctx)
	t := pgTx{ptx}
	ids, err := db.vehicleIDs(ctx, t, w, now)
	if err != nil {
		return res, err
	}
	var rows [][]any
	for _, b := range w.Batches {
		id := ids[b.Vehicle]
		for i := range b.Records {
			r := &b.Records[i]
			lat, lon := posOrNil(r)
			rows = append(rows, []any{id, int64(r.Seq), r.Time, lat, lon, signalsJSON(r), alarmOrNil(r), now})
		}
	}
	stats := map[int64]*vehicleStats{}
	if len(rows) > 0 {
		if _, err := ptx.CopyFrom(ctx, pgx.Identifier{"stage_records"},
			[]string{"vehicle_id", "seq", "t", "lat", "lon", "signals", "alarm", "received"}, pgx.CopyFromRows(rows)); err != nil {
			return res, fmt.Errorf("copy records: %w", err)
		}
		q, err := ptx.Query(ctx, `WITH ins AS (
				INSERT INTO records (vehicle_id, seq, t, lat, lon, signals, alarm, received)
				SELECT vehicle_id, seq, t, lat, lon, signals, alarm, received FROM stage_records
				ORDER BY vehicle_id, seq
				ON CONFLICT (vehicle_id, seq) DO NOTHING
				RETURNING vehicle_id, seq)
			SELECT vehicle_id, count(*), min(seq), max(seq) FROM ins GROUP BY vehicle_id`)
		if err != nil {
			return res, fmt.Errorf("insert records: %w", err)
		}
		for q.Next() {
			var id, n, lo, hi int64
			if err := q.Scan(&id, &n, &lo, &hi); err != nil {
				q.Close()
				return res, err
			}
			stats[id] = &vehicleStats{received: n, min: uint64(lo), max: uint64(hi)}
			res.Records += int(n)
		}
		q.Close()
		if err := q.Err(); err != nil {
			return res, fmt.Errorf("insert records: %w", err)
		}
	}
	// Repeats per vehicle: what it sent less what was stored.
	sent := map[int64]int64{}
	for _, b := range w.Batches {
		sent[ids[b.Vehicle]] += int64(len(b.Records))
	}
	for id, n := range sent {
		vs := stats[id]
		if vs == nil {
			vs = &vehicleStats{}
			stats[id] = vs
		}
		vs.repeats = n - vs.received
		res.Repeats += int(vs.repeats)
	}
	if err := upsertCountersPG(ctx, ptx, stats, w.Ingest, now); err != nil {
		return res, fmt.Errorf("counters: %w", err)
	}
	if err := applyVehicles(ctx, t, w, ids, now, &res); err != nil {
		return res, err
	}
	if err := addRejects(ctx, t, w.Ingest, w.Rejects); err != nil {
		return res, err
	}
	if err := ptx.Commit(ctx); err != nil {
		db.forget()
		return res, err
	}
	db.remember(ids)
	return res, nil
}

func (db *DB) dropConn(c *pgx.Conn) {
	db.mu.Lock()
	if db.pg == c {
		db.pg = nil
	}
	db.mu.Unlock()
	c.Close(context.Background())
}

// upsertCountersPG adds every vehicle's counts in one statement, in the
// order of the vehicles' ids.
func upsertCountersPG(ctx context.Context, t pgx.Tx, stats map[int64]*vehicleStats, ingest string, now int64) error {
	if len(stats) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(stats))
	for id := range stats {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	recv := make([]int64, len(ids))
	reps := make([]int64, len(ids))
	lo := make([]int64, len(ids))
	hi := make([]int64, len(ids))
	for i, id := range ids {
		s := stats[id]
		recv[i], reps[i], lo[i], hi[i] = s.received, s.repeats, int64(s.min), int64(s.max)
	}
	_, err := t.Exec(ctx, `INSERT INTO counters (vehicle_id, ingest, received, repeats, min_seq, max_seq, last_seen)
		SELECT u.id, $1, u.recv, u.reps, u.lo, u.hi, $2 FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) AS u(id, recv, reps, lo, hi)
		ON CONFLICT (vehicle_id, ingest) DO UPDATE SET
			received = counters.received + excluded.received,
			repeats = counters.repeats + excluded.repeats,
			min_seq = CASE WHEN excluded.received = 0 THEN counters.min_seq
				WHEN counters.received = 0 OR excluded.min_seq < counters.min_seq THEN excluded.min_seq ELSE counters.min_seq END,
			max_seq = GREATEST(counters.max_seq, excluded.max_seq),
			last_seen = excluded.last_seen`,
		ingest, now, ids, recv, reps, lo, hi)
	return err
}
