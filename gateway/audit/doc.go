// Package audit keeps the vehicle's audit log: an append-only file of
// events (suppression on and off, the privacy switch, policies applied
// and rejected, disobedient cameras, telemetry the queue dropped), each
// entry carrying the hash of the one before, so that an edited or removed
// entry shows.
//
// # Format
//
// One JSON object per line, "\n"-terminated:
//
//	{"seq":7,"time":"2026-06-01T08:00:00.5Z","kind":"suppression.on","reason":"inside: inside a zone","prev":"<64 hex>","hash":"<64 hex>","mac":"<64 hex>"}
//
// hash is SHA-256 of the line's bytes without the hash and mac members,
// that is of `{"seq":…,"prev":"…"}` exactly as written; prev is the hash
// of the entry before (64 zeros for the first); seq counts from 1 without
// gaps; time is the gateway's clock, RFC 3339 in UTC. mac is HMAC-SHA256
// of the hash under the vehicle's audit key (derived from its root
// secret, gateway.Keys); a log written without a key has none. Any
// changed byte breaks the entry's hash; an entry edited with its hash
// recomputed breaks the next entry's prev; a removed entry leaves a gap
// in seq and a prev that does not match. Verify says which, at which line.
//
// A hash chain alone proves nothing against someone who can write the
// file: removing an entry and renumbering and rehashing the rest gives a
// chain that verifies. The MAC is what a writer without the key cannot
// recompute: with the key, Verify finds every entry rewritten (forged:
// its MAC does not verify) or written without it (unauthenticated: no
// MAC after entries with one; an audit.keyed entry without one). A fresh
// keyed log starts with an audit.keyed entry, and a log from before the
// vehicle had its key gets one when a keyed writer first opens it: the
// entries before it carry no MAC, and only the chain vouches for them.
//
// What neither can show: the newest entries cut from the end, an older
// copy of the log put back, or the log replaced by an empty one (or by a
// log stripped of every MAC and audit.keyed entry, which looks like one
// from before the key). The gateway therefore sends the chain's head (seq
// and hash) up with its audit summary (counts per kind, no times,
// positions or names); Verify checks a file against a head the fleet
// received. `quietzone audit verify` says plainly what it could not
// check, and exits 4 rather than 0 when it had no key or no head.
//
// # Durability
//
// Entries are written by one goroutine (Run), so that the decision loop
// never waits for a disk: Append queues and returns. With SyncEvery zero
// (the default) every write is fsynced before the next is taken, several
// entries queued together sharing one fsync; with SyncEvery positive,
// at most that late, and a power cut may lose the entries of the last
// SyncEvery. If the queue is full, events are counted and an
// "audit.lost" entry says how many, once there is room again.
//
// A power cut during a write leaves a last line without its newline.
// Open cuts it and appends an "audit.recovered" entry saying how many
// bytes were cut, so that the chain goes on from the last whole entry
// and the cut is itself on record. Open also checks the whole chain; a
// log that does not verify is reported (Summary.Intact false, and a
// logged error) and appended to as it is, never repaired: repairing would
// hide what happened. The chain continues from the last intact entry.
//
// What the package is not for: deciding what is worth auditing (the
// gateway does), or keeping secrets: the log is plaintext, readable by
// the daemon's user only (0600), and holds times and kinds of events, no
// positions, zone names or vehicle identifiers.
package audit
