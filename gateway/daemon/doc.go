// Package daemon wires the vehicle: it builds the gateway from a
// config.Setup and connects it to the CAN buses (SocketCAN, through the
// can package's sources), the camera controller and its power lines, the
// durable queue and the MQTT publisher, the fleet's bundles, the audit log,
// the state file and the status socket. Daemon.Run runs all of them on one
// injected clock; the test bench drives the same Run on a virtual bus with
// a manual clock.
//
// A pipe (pipe.go) hands the gateway's snapshots to the uplink's own
// goroutine, so that the queue's fsyncs never delay a camera decision; the
// queue lives in uplink.state_dir and survives restarts and power cuts.
//
// Fleet bundles (fleet.go, package bundle): the vehicle pins one or more
// fleet keys; a bundle, delivered retained on the MQTT topic
// quietzone/v1/<pseudonym>/policy or from a file (at start and on
// SIGHUP), is applied only if it is within the size bound, signed by a
// pinned key (verified before its bodies are hashed), whole, not expired,
// newer than the one in force, not below the version floor and for this
// vehicle's profile; each outcome is an audit event and a refused bundle
// changes nothing. The last good bundle is kept sealed at rest (the zone
// list is sensitive) and applied at the next start, before any delivery.
// With none, under pinned keys, the gateway has no zones and stays
// suppressed.
//
// Audit (auditlog.go, package audit): the gateway's events go to a
// hash-chained log in the state directory, each entry authenticated with
// the vehicle's audit key, with the queue's drops added, and a summary
// (counts per kind and the chain's head, no times or positions) goes up
// retained on quietzone/v1/<pseudonym>/audit. The suppression state is a
// StateFile (statefile.go): written atomically, authenticated under the
// state key, the GNSS anchor sealed. The status socket (statussock.go,
// read by `quietzone status`) has counters and states, never a position.
// Replay (replay.go) runs the pipeline on a candump log with a manual
// clock in lock step.
//
// It never decides: whether a camera may record and what may leave is the
// gateway's and the uplink policy's; the daemon only carries it out.
package daemon
