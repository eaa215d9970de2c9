// Package store keeps what the fleet receives from its vehicles: their
// records (telemetry and alarms, one row per record, unique by vehicle
// and sequence number), status, audit summaries with the verdict on
// their chain's continuity, a timeline of events, and rollouts.
//
// Two backends behind one type, DB: SQLite embedded (modernc.org/sqlite,
// pure Go, so the fleet's binary stays static), the default, and
// PostgreSQL (pgx, bulk COPY) for a fleet that outgrows one machine. The
// schema is versioned (migrate.go): Open applies what is missing, in
// order, in a transaction each.
//
// Writes come in one Write per transaction from an ingest process,
// named by its ingest ID: per-vehicle counters are kept per ingest, so
// that two processes on a shared subscription never wait on each other's
// rows; the read side sums them. A record already stored (a repeat after
// a redelivery) is counted and not stored again.
//
// What the package is not for: MQTT, decoding, deciding what to accept
// (uplink/ingest does), or anything a vehicle runs.
package store
