// Package uplink decides what telemetry may leave the vehicle and delivers
// it, none of it lost, to the fleet's MQTT broker.
//
// The path (uplink.go):
//
//	Snapshot (from the gateway: values, position, and its decisions
//	  Withhold, Hold, Drop)
//	→ Redactor: the Policy, default deny: rate limits, quantisation, the
//	  position snapped to a grid and withheld when the gateway says, and of
//	  the other values only vehicle data, by the Class the gateway gives
//	  each sample (roles.go): location and personal data never, whatever
//	  the policy lists
//	→ time quanta: every record waits until its quantum is over; a quantum
//	  in which location was withheld leaves as one record, stamped with the
//	  quantum's start, without location
//	→ hold-back: records the gateway holds wait in memory; a trip end near
//	  a zone drops them (counted, never reported)
//	→ sequence numbers (per vehicle, continued across restarts)
//	→ Batcher: JSON lines, zstd with a dictionary (dict.go: the payload
//	  format and its versions)
//	→ Queue: DiskQueue (diskqueue.go, segment.go): CRC-framed segments,
//	  fsync per batch, a byte quota that drops the oldest and counts it,
//	  AES-GCM at rest if configured
//	→ Publisher (mqtt.go): paho, MQTT 3.1.1, QoS 1, TLS with a client
//	  certificate, reconnection with exponential backoff and jitter.
//
// A batch leaves the queue only after the broker acknowledged it
// (PUBACK); delivery is at least once, and receivers drop repeats by
// sequence number. Alarms (Uplink.Alarm) take the same path without a
// position, on their own topic.
//
// Topics are quietzone/v1/<pseudonym>/telemetry, /alarm and /status; the
// pseudonym (Pseudonym) is an HMAC of the VIN under the fleet's enrolment
// secret, computed at enrolment: the vehicle holds the pseudonym, never
// the secret. The status topic
// holds "online" or "offline", retained (the last will, and a clean
// stop), and, not retained, a StatusRecord of the queue's drops. The
// Publisher also subscribes (Subscribe: the fleet's signed bundles on
// /policy) and publishes retained summaries (PublishRetained: the audit
// summary on /audit), on the same connection.
//
// Uplink.SetPolicy switches policy between two snapshots (a fleet bundle):
// records still waiting in the vehicle are restricted to the new policy,
// so a stricter one takes effect for everything not yet queued.
//
// What the package knows nothing of: CAN frames, GPIO, and where zones
// are. The gateway decides, per snapshot, whether location is withheld,
// whether records are held back, and when they are dropped, and tells it
// what each value is (Sample.Class). What the package knows of roles
// (roles.go): their one spelling (ValidRole) and the closed vocabulary of
// well-known roles with their classes, so that Validate refuses, whatever
// the vehicle, a policy that asks for location or personal data or names
// a role in another spelling; custom roles are classified by the vehicle
// profile, which the gateway holds the policy against.
//
// What still leaks, by design or because the wire cannot hide it:
//   - When a withheld stretch began and ended, to within a time quantum:
//     merged quanta are aligned to Unix time, so the first and last say
//     which quanta the stretch touched, and their number its length to
//     within two quanta. The cadence of records (one per quantum instead
//     of one per period) shows the same, no more.
//   - Publish times: records reach the batcher only when a quantum ends,
//     and batches close when full or MaxAge after their first record, so
//     a publish happens at a quantum boundary or at a fixed delay after
//     one, and says nothing finer than the records. The broker still sees
//     when the vehicle is online; a burst of batches when a hold is
//     released says when the vehicle moved beyond the trip-end distance,
//     which its records then show anyway.
//   - A trip whose end was dropped shows as records that stop where the
//     vehicle came within the trip-end distance (plus jitter) of some
//     zone, or went offline; a trip that started near a zone shows merged
//     records first. Alarms say that the gateway was suppressing (near a
//     zone, without a fix, or the privacy switch) within a quantum.
//   - Over many trips, the innermost points where withholding began trace
//     the zone's buffer plus the withhold margin: per-trip jitter blurs
//     each trip's boundary, not the envelope of all of them. The buffer,
//     not the zone, is what can be learnt.
//   - The status record's drop counts say how long the vehicle was
//     offline, roughly; never where.
package uplink
