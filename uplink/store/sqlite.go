package store

import (
	"context"
	"fmt"
)

// writeSQLite stores a Write in one transaction: each record by a
// prepared INSERT that does nothing on a repeat.
func (db *DB) writeSQLite(ctx context.Context, w *Write) (Result, error) {
	var res Result
	now := w.Received.UnixMilli()
	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer stx.Rollback()
	t := sqlTx{stx, db.d}
	ids, err := db.vehicleIDs(ctx, t, w, now)
	if err != nil {
		return res, err
	}
	ins, err := stx.PrepareContext(ctx, `INSERT INTO records (vehicle_id, seq, t, lat, lon, signals, alarm, received)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vehicle_id, seq) DO NOTHING`)
	if err != nil {
		return res, err
	}
	defer ins.Close()
	stats := map[int64]*vehicleStats{}
	for _, b := range w.Batches {
		id := ids[b.Vehicle]
		vs := stats[id]
		if vs == nil {
			vs = &vehicleStats{}
			stats[id] = vs
		}
		for i := range b.Records {
			r := &b.Records[i]
			lat, lon := posOrNil(r)
			out, err := ins.ExecContext(ctx, id, int64(r.Seq), r.Time, lat, lon, signalsJSON(r), alarmOrNil(r), now)
			if err != nil {
				return res, fmt.Errorf("insert record: %w", err)
			}
			if n, _ := out.RowsAffected(); n == 0 {
				vs.repeats++
				res.Repeats++
				continue
			}
			vs.add(r.Seq)
			res.Records++
		}
	}
	for id, vs := range stats {
		if err := upsertCounter(ctx, t, id, w.Ingest, vs, now); err != nil {
			return res, fmt.Errorf("counters: %w", err)
		}
	}
	if err := applyVehicles(ctx, t, w, ids, now, &res); err != nil {
		return res, err
	}
	if err := addRejects(ctx, t, w.Ingest, w.Rejects); err != nil {
		return res, err
	}
	if err := stx.Commit(); err != nil {
		db.forget()
		return res, err
	}
	db.remember(ids)
	return res, nil
}
