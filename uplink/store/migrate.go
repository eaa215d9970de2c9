package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// migration is one version of the schema: statements per dialect, where
// they differ, written with {{id}} for an auto-increment key, {{blob}}
// for bytes and {{float}} for a double.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations are every schema version, oldest first; a new one is
// appended, never edited once released.
var migrations = []migration{
	{1, "records, vehicles, counters, events, rollouts", []string{
		`CREATE TABLE vehicles (
			id {{id}},
			pseudonym TEXT NOT NULL UNIQUE,
			first_seen BIGINT NOT NULL,
			status TEXT NOT NULL DEFAULT '',
			status_at BIGINT NOT NULL DEFAULT 0,
			dropped_batches BIGINT NOT NULL DEFAULT 0,
			dropped_records BIGINT NOT NULL DEFAULT 0,
			dropped_through BIGINT NOT NULL DEFAULT 0,
			damaged_bytes BIGINT NOT NULL DEFAULT 0,
			policy BIGINT NOT NULL DEFAULT 0,
			refused_version BIGINT NOT NULL DEFAULT 0,
			refused_cause TEXT NOT NULL DEFAULT '',
			audit_head TEXT NOT NULL DEFAULT '',
			audit_intact INTEGER NOT NULL DEFAULT 1,
			audit_lost BIGINT NOT NULL DEFAULT 0,
			audit_counts TEXT NOT NULL DEFAULT '{}',
			audit_at BIGINT NOT NULL DEFAULT 0,
			chain TEXT NOT NULL DEFAULT '',
			chain_broken TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE TABLE records (
			vehicle_id BIGINT NOT NULL,
			seq BIGINT NOT NULL,
			t BIGINT NOT NULL,
			lat {{float}},
			lon {{float}},
			signals TEXT,
			alarm TEXT,
			received BIGINT NOT NULL,
			PRIMARY KEY (vehicle_id, seq)
		){{without_rowid}}`,
		`CREATE INDEX records_alarms ON records (alarm, received) WHERE alarm IS NOT NULL`,
		`CREATE TABLE counters (
			vehicle_id BIGINT NOT NULL,
			ingest TEXT NOT NULL,
			received BIGINT NOT NULL,
			repeats BIGINT NOT NULL,
			min_seq BIGINT NOT NULL,
			max_seq BIGINT NOT NULL,
			last_seen BIGINT NOT NULL,
			PRIMARY KEY (vehicle_id, ingest)
		)`,
		`CREATE TABLE events (
			id {{id}},
			vehicle_id BIGINT NOT NULL,
			at BIGINT NOT NULL,
			kind TEXT NOT NULL,
			detail TEXT NOT NULL
		)`,
		`CREATE INDEX events_vehicle ON events (vehicle_id, at)`,
		`CREATE TABLE rejects (
			ingest TEXT NOT NULL,
			reason TEXT NOT NULL,
			n BIGINT NOT NULL,
			PRIMARY KEY (ingest, reason)
		)`,
		`CREATE TABLE rollouts (
			id {{id}},
			version BIGINT NOT NULL,
			digest TEXT NOT NULL,
			bundle {{blob}} NOT NULL,
			created BIGINT NOT NULL,
			percent INTEGER NOT NULL,
			state TEXT NOT NULL,
			note TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE TABLE rollout_targets (
			rollout_id BIGINT NOT NULL,
			vehicle_id BIGINT NOT NULL,
			stage INTEGER NOT NULL,
			published BIGINT NOT NULL,
			PRIMARY KEY (rollout_id, vehicle_id)
		)`,
	}},
}

// Latest is the schema version this build writes.
func Latest() int { return migrations[len(migrations)-1].version }

func (d dialect) expand(stmt string) string {
	r := strings.NewReplacer(
		"{{id}}", d.idType,
		"{{blob}}", d.blobType,
		"{{float}}", d.floatType,
		"{{without_rowid}}", d.withoutRowid,
	)
	return r.Replace(stmt)
}

// Migrate brings the schema to the latest version, one transaction per
// version, and returns the versions applied. A database of a newer
// version than this build knows is refused.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	if _, err := db.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if cur > Latest() {
		return nil, fmt.Errorf("migrate: the database is at schema version %d, newer than this build's %d", cur, Latest())
	}
	var applied []int
	for _, m := range migrations {
		if m.version <= cur {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			return applied, fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

func (db *DB) apply(ctx context.Context, m migration) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Two processes migrating at once: the second waits here (PostgreSQL)
	// or on the write lock (SQLite), then finds the version applied.
	if db.d.name == "postgres" {
		if _, err := tx.ExecContext(ctx, `LOCK TABLE schema_migrations IN EXCLUSIVE MODE`); err != nil {
			return err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, db.d.rebind(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, s := range m.stmts {
		if _, err := tx.ExecContext(ctx, db.d.expand(s)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, db.d.rebind(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the highest schema version applied, 0 for none.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := db.sql.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}
