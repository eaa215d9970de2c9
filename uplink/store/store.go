package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // the embedded backend

	"quietzone/uplink"
)

// dialect is what differs between the backends.
type dialect struct {
	name                                      string
	idType, blobType, floatType, withoutRowid string
	dollar                                    bool // $1 placeholders
}

var (
	sqliteDialect = dialect{name: "sqlite", idType: "INTEGER PRIMARY KEY", blobType: "BLOB", floatType: "REAL", withoutRowid: " WITHOUT ROWID"}
	pgDialect     = dialect{name: "postgres", idType: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", blobType: "BYTEA", floatType: "DOUBLE PRECISION", dollar: true}
)

// rebind turns ? placeholders into $1, $2, … for PostgreSQL.
func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// DB is the fleet's database.
type DB struct {
	sql *sql.DB
	d   dialect
	url string

	mu  sync.Mutex
	ids map[string]int64 // pseudonym → vehicle id, as far as known
	pg  *pgx.Conn        // the writer's own connection (PostgreSQL)
}

// Open opens the database at dsn and brings its schema up to date:
// "postgres://…" or "postgresql://…" is PostgreSQL; anything else is a
// SQLite file (a path, or "sqlite:PATH").
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := OpenNoMigrate(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenNoMigrate opens the database without touching its schema
// (`quietzone-fleet migrate --status`).
func OpenNoMigrate(ctx context.Context, dsn string) (*DB, error) {
	db := &DB{url: dsn, ids: map[string]int64{}}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db.d = pgDialect
		db.sql, err = sql.Open("pgx", dsn)
		if err == nil {
			db.sql.SetMaxOpenConns(4)
		}
	default:
		db.d = sqliteDialect
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("open database: no path")
		}
		q := url.Values{}
		// WAL: readers (status, console) never wait for the ingest; a
		// commit is durable at the WAL's fsync (synchronous=FULL), and
		// transactions take the write lock at BEGIN, so that two
		// processes never deadlock upgrading a read lock.
		for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		db.sql, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.sql.PingContext(ctx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// Backend names the backend: "sqlite" or "postgres".
func (db *DB) Backend() string { return db.d.name }

// Close closes the database.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.pg != nil {
		db.pg.Close(context.Background())
		db.pg = nil
	}
	db.mu.Unlock()
	return db.sql.Close()
}

// SQL returns the database handle, for tests and ad-hoc reads.
func (db *DB) SQL() *sql.DB { return db.sql }

// Batch is a telemetry or alarm batch as the ingest decoded it.
type Batch struct {
	Vehicle string // pseudonym
	Alarm   bool   // on the alarm topic
	Records []uplink.Record
}

// Status is a status message: the word online or offline, or a record
// of the queue's drops.
type Status struct {
	Vehicle string
	Word    string               // "online", "offline", or ""
	Drops   *uplink.StatusRecord // nil for a word
}

// Audit is an audit summary.
type Audit struct {
	Vehicle string
	Summary uplink.AuditSummary
}

// Write is what one ingest flush stores, in one transaction.
type Write struct {
	Ingest   string    // the ingest process's ID
	Received time.Time // when the flush began
	Batches  []Batch
	Statuses []Status
	Audits   []Audit
	// Rejects counts messages refused, by reason, since the last Write.
	Rejects map[string]uint64
}

// Result says what a Write stored.
type Result struct {
	Records int // stored
	Repeats int // already stored: not stored again
	// Breaks names the vehicles whose audit chain did not go on from the
	// head seen before.
	Breaks []string
}

// WriteBatch stores a Write in one transaction.
func (db *DB) WriteBatch(ctx context.Context, w *Write) (Result, error) {
	if w.Ingest == "" {
		return Result{}, errors.New("store: write without an ingest ID")
	}
	var res Result
	var err error
	if db.d.name == "postgres" {
		res, err = db.writePG(ctx, w)
	} else {
		res, err = db.writeSQLite(ctx, w)
	}
	if err != nil {
		return Result{}, fmt.Errorf("store %d batches: %w", len(w.Batches), err)
	}
	return res, nil
}

// vehicleStats are what a Write's batches did for one vehicle.
type vehicleStats struct {
	received, repeats int64
	min, max          uint64
}

func (v *vehicleStats) add(seq uint64) {
	if v.received == 0 || seq < v.min {
		v.min = seq
	}
	if seq > v.max {
		v.max = seq
	}
	v.received++
}
