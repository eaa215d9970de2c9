// Package uplink decides what telemetry may leave the vehicle and delivers
// it to the fleet's MQTT broker.
//
// The path is: a Snapshot of the latest signal values (from the gateway)
// → Redactor (the Policy: default deny, rate limits, quantisation,
// position snapped to a grid and withheld near zones, phone and contact
// data never) → Batcher (JSON lines, zstd-compressed) → Queue → Publisher
// (paho, MQTT 3.1.1, QoS 1). A batch leaves the queue only after the broker
// acknowledged it (PUBACK); delivery is at least once, and every record
// carries a per-vehicle sequence number so that the receiver can drop
// repeats.
//
// The package knows nothing of CAN frames, GPIO or where zones are: the
// gateway tells it, per snapshot, whether location data must be withheld.
package uplink
