package store

import (
	"context"
	"fmt"
	"time"
)

// Rollout is a bundle being rolled out, and how far it got.
type Rollout struct {
	ID      int64     `json:"id"`
	Version uint64    `json:"version"`
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	Percent int       `json:"percent"`
	State   string    `json:"state"` // running, done, stopped
	Note    string    `json:"note,omitempty"`
	// Targets were sent the bundle; of them Applied run it (or a newer
	// one), Refused refused it (Causes counts why).
	Targets int            `json:"targets"`
	Applied int            `json:"applied"`
	Refused int            `json:"refused"`
	Causes  map[string]int `json:"causes,omitempty"`
}

// AddRollout records a rollout and returns its id.
func (db *DB) AddRollout(ctx context.Context, version uint64, digest string, bundle []byte, percent int) (int64, error) {
	var id int64
	err := db.sql.QueryRowContext(ctx, db.d.rebind(`INSERT INTO rollouts (version, digest, bundle, created, percent, state)
		VALUES (?, ?, ?, ?, ?, 'running') RETURNING id`), int64(version), digest, bundle, time.Now().UnixMilli(), percent).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add rollout: %w", err)
	}
	return id, nil
}

// AddTargets records that a stage sent the bundle to vehicles.
func (db *DB) AddTargets(ctx context.Context, rollout int64, stage int, vehicles []string) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add targets: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UnixMilli()
	for _, p := range vehicles {
		if _, err := tx.ExecContext(ctx, db.d.rebind(`INSERT INTO rollout_targets (rollout_id, vehicle_id, stage, published)
			SELECT ?, id, ?, ? FROM vehicles WHERE pseudonym = ? ON CONFLICT (rollout_id, vehicle_id) DO NOTHING`), rollout, stage, now, p); err != nil {
			return fmt.Errorf("add targets: %w", err)
		}
	}
	return tx.Commit()
}

// SetRolloutState records a rollout's state and why.
func (db *DB) SetRolloutState(ctx context.Context, id int64, state, note string) error {
	_, err := db.sql.ExecContext(ctx, db.d.rebind(`UPDATE rollouts SET state = ?, note = ? WHERE id = ?`), state, note, id)
	if err != nil {
		return fmt.Errorf("rollout state: %w", err)
	}
	return nil
}

// RolloutBundle returns a rollout's bundle.
func (db *DB) RolloutBundle(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	if err := db.sql.QueryRowContext(ctx, db.d.rebind(`SELECT bundle FROM rollouts WHERE id = ?`), id).Scan(&b); err != nil {
		return nil, fmt.Errorf("rollout bundle: %w", err)
	}
	return b, nil
}

// Rollouts returns every rollout, newest first, with its progress.
func (db *DB) Rollouts(ctx context.Context) ([]Rollout, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT r.id, r.version, r.digest, r.created, r.percent, r.state, r.note,
			count(t.vehicle_id),
			COALESCE(sum(CASE WHEN v.policy >= r.version THEN 1 ELSE 0 END), 0),
			COALESCE(sum(CASE WHEN v.policy < r.version AND v.refused_version = r.version THEN 1 ELSE 0 END), 0)
		FROM rollouts r LEFT JOIN rollout_targets t ON t.rollout_id = r.id LEFT JOIN vehicles v ON v.id = t.vehicle_id
		GROUP BY r.id, r.version, r.digest, r.created, r.percent, r.state, r.note ORDER BY r.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("rollouts: %w", err)
	}
	defer rows.Close()
	var out []Rollout
	for rows.Next() {
		var r Rollout
		var created int64
		if err := rows.Scan(&r.ID, &r.Version, &r.Digest, &created, &r.Percent, &r.State, &r.Note, &r.Targets, &r.Applied, &r.Refused); err != nil {
			return nil, fmt.Errorf("rollouts: %w", err)
		}
		r.Created = time.UnixMilli(created).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Refused == 0 {
			continue
		}
		c, err := db.refusals(ctx, out[i].ID, out[i].Version)
		if err != nil {
			return nil, err
		}
		out[i].Causes = c
	}
	return out, nil
}

func (db *DB) refusals(ctx context.Context, id int64, version uint64) (map[string]int, error) {
	rows, err := db.sql.QueryContext(ctx, db.d.rebind(`SELECT v.refused_cause, count(*) FROM rollout_targets t JOIN vehicles v ON v.id = t.vehicle_id
		WHERE t.rollout_id = ? AND v.policy < ? AND v.refused_version = ? GROUP BY v.refused_cause`), id, int64(version), int64(version))
	if err != nil {
		return nil, fmt.Errorf("refusals: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, rows.Err()
}

// Targets returns the vehicles a rollout sent its bundle to.
func (db *DB) Targets(ctx context.Context, id int64) (map[string]bool, error) {
	rows, err := db.sql.QueryContext(ctx, db.d.rebind(`SELECT v.pseudonym FROM rollout_targets t JOIN vehicles v ON v.id = t.vehicle_id WHERE t.rollout_id = ?`), id)
	if err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out[p] = true
	}
	return out, rows.Err()
}

// NewestVersion returns the highest bundle version rolled out, 0 for
// none.
func (db *DB) NewestVersion(ctx context.Context) (uint64, error) {
	var v *int64
	if err := db.sql.QueryRowContext(ctx, `SELECT max(version) FROM rollouts`).Scan(&v); err != nil {
		return 0, fmt.Errorf("newest version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return uint64(*v), nil
}
