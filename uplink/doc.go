// Package uplink decides what telemetry may leave the vehicle and delivers
// it, none of it lost, to the fleet's MQTT broker.
//
// The path (uplink.go):
//
//	Snapshot (from the gateway: values, position, and its decisions
//	  Withhold, ReleaseBefore, TripEnd)
//	→ Redactor: the Policy, default deny: rate limits, quantisation, the
//	  position snapped to a grid and withheld when the gateway says, and of
//	  the other values only vehicle data, by the Class the gateway gives
//	  each sample (roles.go): location and personal data never, whatever
//	  the policy lists
//	→ time quanta: every record waits until its quantum is over; the
//	  quanta of a withheld stretch become ONE merged record, stamped with
//	  its last quantum's start, carrying only what a parked car would say
//	  (ParkedRole: no position, no motion role — speed, gear, odometer,
//	  accelerations... — and no count)
//	→ release: records wait in the vehicle until the gateway's
//	  ReleaseBefore passes them (it trails the vehicle, so that where a
//	  trip ends is not sent); a trip end (TripEnd, Flush) merges
//	  everything still waiting into one such record: nothing is dropped
//	→ sequence numbers (per vehicle, continued across restarts)
//	→ slots (the cadence, CadenceRule): at every slot — a fixed phase per
//	  vehicle (SlotPhase) plus a multiple of the slot, 30 s by default —
//	  the records released so far go into one payload of exactly the
//	  cadence's size, 160 bytes by default (payload format 3, dict.go:
//	  the records as columns, zstd with a dictionary, padded), as many as
//	  fit, the rest in later slots; alarms ride in the same slots
//	→ Queue: DiskQueue (diskqueue.go, segment.go): CRC-framed segments,
//	  fsync per batch, a byte quota that drops the oldest and counts it,
//	  AES-GCM at rest if configured
//	→ Publisher (mqtt.go): paho, MQTT 3.1.1, QoS 1, TLS with a client
//	  certificate, reconnection with exponential backoff and jitter; with
//	  a cadence it publishes exactly one telemetry payload per slot, half
//	  a slot after the slot begins: the oldest queued batch, or padding of
//	  the same size, sealed (seal.go) to the same size again.
//
// A batch leaves the queue only after the broker acknowledged it
// (PUBACK); delivery is at least once, and receivers drop repeats by
// sequence number. Alarms (Uplink.Alarm) take the same path without a
// position, their time coarsened to the cadence's alarm quantum.
//
// Topics are quietzone/v1/<pseudonym>/telemetry, /alarm (batches queued
// before the cadence) and /status; the
// pseudonym (Pseudonym) is an HMAC of the VIN under the fleet's enrolment
// secret, computed at enrolment: the vehicle holds the pseudonym, never
// the secret. The status topic
// holds "online" or "offline", retained (the last will, and a clean
// stop), and, not retained, a StatusRecord of the queue's drops, sent at
// a slot's tick. The Publisher also subscribes (Subscribe: the fleet's
// signed bundles on /policy) and publishes retained summaries
// (PublishRetained: the audit summary on /audit, which the daemon sends
// on a fixed schedule of running time, 6 h by default), on the same
// connection.
//
// Uplink.SetPolicy switches policy between two snapshots (a fleet bundle):
// records not yet queued (waiting for their quantum, a release or a slot)
// are restricted to the new policy, so a stricter one takes effect for
// everything not yet queued.
//
// What the package knows nothing of: CAN frames, GPIO, and where zones
// are. The gateway decides, per snapshot, whether location is withheld
// and how far records may be released, and tells it what each value is
// (Sample.Class). What the package knows of roles
// (roles.go): their one spelling (ValidRole) and the closed vocabulary of
// well-known roles with their classes, so that Validate refuses, whatever
// the vehicle, a policy that asks for location or personal data or names
// a role in another spelling; custom roles are classified by the vehicle
// profile, which the gateway holds the policy against. Which roles are
// motion (MotionRole) it knows by name; a custom role is never in a
// merged record, since the uplink cannot know that it does not add up
// with distance (a battery's charge, fuel).
//
// What the observer learns. The threat is whoever holds what the broker
// received — topics, payloads decoded (sealing off, or the fleet key
// compelled), publish times, sizes, retained messages, connects and
// disconnects — over many trips and vehicles, knowing the policy's
// public parameters.
//
// What the cadence hides (issue 14; before it, a release of held records
// went out in a burst off the 30 s grid when the vehicle was 1.35–1.65 km
// from a zone, which located the zone to 40–69 m from trips that never
// came within 939 m, and publish times and sizes alone flagged 98–100 %
// of passes within 1.35 km):
//   - Publish times and sizes: one telemetry payload per slot at a phase
//     fixed per vehicle, every payload of one size, while the daemon
//     runs, whether the vehicle is withholding, releasing, parked or
//     moving. Nothing the gateway decides moves a publish or changes its
//     size. Records released together (a trip end, a long release) leave
//     over the following slots, as many as fit in a payload.
//   - Inside a withheld stretch: one record, stamped with the stretch's
//     last quantum, with no position, no speed, gear, odometer or other
//     motion role, and no count of anything in it: dead reckoning inside
//     the stretch has nothing to integrate. Beside it no motion either:
//     to the observer a gap runs from position to position, and the
//     records between the last position and the stretch, and those of
//     two quanta (60 s) on either side of the gap, leave without motion
//     (Stats.EdgeMotion; a quantum's records after its last position wait
//     until the next quantum ends with a position). The speeds published
//     just beside a gap placed the vehicle inside it by one change of
//     speed (the speed-trend attack: 108 m against the ends-and-duration
//     baseline's 168 m, 300 fleet trips); from a minute away they no
//     longer do better than the baseline.
//   - A run's end: Publisher.Drain publishes the run's last four ticks
//     (a slot's quarter ticks), a batch or padding each, whatever is
//     queued, and leaves the rest queued for the next run; until then the
//     number of catch-up publishes at the end said how much a trip's end
//     had queued (a release just before it: a cover left).
//   - Alarms are in the slots, stamped to their alarm quantum (30 min by
//     default), and wait until the telemetry of their time may leave.
//   - The audit summary's counts are taken every 6 h of running; a bundle
//     applied or refused goes up at once with the counts of the last
//     schedule, so that whoever sends bundles cannot read the log at
//     times of their choosing.
//
// What still leaks, by design or because the wire cannot hide it:
//   - That the unit is powered: "online" and "offline" (retained, the last
//     will) and the cadence itself follow the connection, which follows
//     the unit's power, usually the ignition: when each run started and
//     ended, to the connection's setup time. This is the largest leak
//     left: where a trip starts and ends is hidden by the gateway
//     (ReleaseBefore trails the vehicle, a trip's end leaves merged, end
//     covers where trips repeatedly end), but when is not, and the time
//     from the last published position to the end, at the trip's speed,
//     is how far the vehicle went unseen: rings around those positions,
//     over many trips that end at one place inside a cover (the people
//     who work at a site), meet at the place (the hidden-trip-ends
//     multilateration of quietzone-bench attack: 443 m from a zone's
//     centre after 300 trips). With vehicle.power_hold_line the unit
//     stays powered, publishing, a random time below the policy's
//     end_linger_s after the ignition goes off (the gateway's PowerHold),
//     and a trip's end merged record waits for the parked stretch after
//     it: the rings are then off by up to the linger at the trip's speed
//     (2.2–7.3 km from the centre, 1,000 fleet and 300 car trips).
//     Without a hold line the unit goes down with its supply, and the
//     end is dated exactly. A trip's start is dated by "online" (the
//     unit powers up with the ignition). The status topic carries
//     nothing else.
//   - A time offline while running: the batches queued meanwhile go, on
//     reconnection, at four a slot until one is left; their number says
//     how many slots had records (driving or parked with fresh signals),
//     not where.
//   - The records themselves, once decoded: a withheld stretch shows as
//     positioned records that stop and resume, with one merged record
//     between; the stretch's ends, to a quantum and to the grid, and so
//     its duration, which with the distance between the ends gives a mean
//     speed across it (and positioned records without speed for a minute
//     on either side). Where
//     withholding starts and ends is where the gateway decides: secret
//     covers, offset 1–2 km from their zones, with decoys among them
//     (before issue 14, the zone's buffer plus the withhold margin and
//     jitter, which many trips trace: the gap ends found a zone's centre
//     to 45–54 m; now they find the covers' centres: 6–17 km from the
//     zones' after 300 and 1,000 fleet trips, the decoys among them).
//   - A payload holds at most what fits in its size (some 200 records of
//     the demo policy at 160 bytes): a policy that sends more than that
//     per slot makes a backlog that grows while driving, visible as full
//     payloads (sealing hides how full). A single record larger than a
//     payload goes alone in a payload of a whole multiple of the size.
//   - An alarm says, within its quantum, that cameras were disobeying
//     while suppressed: mostly near a real zone. With decoys, an alarm in
//     a trip that passed one cover tells which one was real. Alarms are
//     faults, rare, and the fleet must hear of them.
//   - The audit summary's counts (suppression episodes among them) say
//     how many happened in each 6 h of running, and the chain's head how
//     many events: for a car that drives once in that time, per trip.
//   - The status record's drop counts say how long the vehicle was
//     offline, roughly; never where.
//
// Costs. A constant cadence costs its peak whatever is sent: 120 payloads
// of the size an hour, so what a slot's records take sets the price.
// Payload format 3 (dict.go: the records as columns, positions as grid
// indices, dictionary 2) writes a full slot of the demo policy (30
// records: speed, ignition, six positions) in 84 bytes, padding header
// included (median over the 300-trip fleet population; 101 at most), where
// format 2's JSON lines took about 250; the default size, 160 bytes, is
// 1.9× that and holds some 200 of those records (seven slots) while a
// backlog drains. For an hour of driving under the benchmark's policy
// (speed, ignition, gear, a position every 5 s; BenchmarkVehicleHour) that
// is 19,200 payload bytes against 28,423 in 113 publishes before the
// cadence: 0.68× (53,760 and 1.89× with format 2's 448 bytes). On the
// wire, every topic as the broker received it (quietzone-bench attack's
// cost, 300 fleet trips): 20,960 bytes per vehicle-hour, against 58,514
// with format 2's 448 bytes and 24,800 before the cadence (1,000 trips):
// 0.85× (the bench does not seal; sealing adds 60 bytes a payload, 7,200
// an hour, whatever the format). A drive that withholds much of the time
// sent little before and pays the same now: the built-in demo (11.5 min,
// 45 % of it in buffers, speed and ignition) sent 2,284 bytes in 11
// payloads and now sends 25 of 160 bytes, 1.75× (4.9× at 448). Size the
// payload to about 1.5–2× a full slot of the policy (more headroom drains
// a backlog sooner, less costs less). The mean delay from a record's time
// to its publish is 45 s (its quantum, 15 s; its slot, 15 s on average
// over phases; half a slot), against 16 s (the demo, to its collector:
// 1 min 54 s against 1 min 23 s); a trailing ReleaseBefore adds the time
// to drive its distance.
package uplink
