// Package testbench is the simulator: it drives the whole vehicle daemon
// the way a vehicle would and checks what comes out against the
// simulator's ground truth.
//
// Run plays a scenario (package scenario) against a daemon wired exactly
// as on a car, on a virtual CAN bus with fake power lines and a manual
// clock, in lock step and faster than real time. A simulated vehicle
// follows the route and sends the frames its ECUs would (speed, yaw rate
// and steering angle, GNSS, camera status and triggers, the phone link's
// contact sync), encoded with the same DBC the gateway decodes; a scenario
// may drop roles of its profile (a vehicle without a yaw rate). Simulated
// cameras obey or ignore the gateway's command frames and power lines. An
// embedded MQTT broker (github.com/mochi-mqtt/server/v2) on 127.0.0.1
// takes the uplink through a relay the bench can cut, and a collector
// subscribes to every record. The scenario's faults are injected on the
// drive's timeline (fault.go): GPS dropouts, spoofed jumps, a creeping
// spoof, a receiver dragging the track with no jump, stale fixes,
// malformed and unknown frames, bus off, a broker outage, a gateway
// restart on the same state directory, clock steps. RunFleet drives many
// vehicles against one broker; on vcan0 (Options.Iface) the drive runs in
// real time on SocketCAN instead.
//
// The checker then holds each camera-on moment and each published record
// against where the vehicle really was, and the Report keeps the figures,
// the exact track (once per second), each camera's states and timeline,
// the published positions and the redaction gaps between them (Gaps, what
// an observer of the wire sees) and the faults injected. Package report
// presents it (text, JSON, an SVG map); package attack fits a zone's
// outline from many trips' published tracks, the way someone holding a
// fleet's tracks could.
//
// DefaultSetup is the demo's configuration, which replays of candump logs
// use without one; Bench measures frames per second through the whole
// pipeline.
//
// The bench touches only the gateway's public inputs and outputs: frames,
// GPIO lines, the broker, the clock it is given, its log and its counters.
// It must never reach into the gateway's internals: what it checks is
// what a car and the wire would show.
package testbench
