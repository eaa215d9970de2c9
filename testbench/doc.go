// Package testbench drives the gateway the way a vehicle would and checks
// what comes out against the simulator's ground truth.
//
// A simulated vehicle follows a route at a speed profile and sends the
// frames its ECUs would (speed, yaw rate and steering angle, GNSS, camera
// status and triggers, the phone link's contact sync) on the virtual CAN
// bus, encoded with the same
// DBC the gateway decodes. Simulated cameras obey or ignore the gateway's
// command frames and power lines. An embedded MQTT broker
// (github.com/mochi-mqtt/server/v2) on 127.0.0.1 takes the uplink, and a
// subscriber collects every record. The checker then holds each camera-on
// moment and each published record against where the vehicle really was.
//
// A scenario (package scenario: YAML files, shipped ones embedded) is a
// vehicle profile, zones, a route from waypoints, GPX or GeoJSON with a
// speed profile, the GNSS receiver's rate and noise, the motion sensors'
// pattern, and faults on the drive's timeline, injected here (fault.go):
// GPS dropouts, spoofed jumps, a receiver dragging
// the track with no jump, stale fixes, malformed and unknown frames, bus
// off, a broker outage (a relay between the vehicle and the broker is
// cut), a gateway restart on the same state directory, clock steps. A
// scenario may drop roles of its profile (a vehicle without a yaw rate). RunFleet drives many vehicles against one
// broker; scenario.Random makes up trips for a soak. On vcan0 (Options.Iface)
// the drive runs in real time on SocketCAN instead.
//
// The Report keeps the simulator's exact track (once per second), each
// camera's states over time, the published positions and the redaction
// gaps between them, and the faults injected; package report prints it,
// writes its figures as JSON and draws it as a map with a timeline strip
// per camera. Attack runs many trips past one zone and fits the
// zone's outline from where the published tracks stop and start again,
// the way someone holding a fleet's tracks could; its error must stay at
// or above the zone's buffer.
//
// Replay drives the same wiring with the frames of a recorded candump log,
// on a manual clock that follows the log's timestamps, and reports the
// gateway's decisions; Bench measures frames per second through it.
//
// The bench touches only the gateway's public inputs and outputs: frames,
// GPIO lines, the broker, the clock it is given, its log and its counters.
// Drives and replays run faster than real time, in lock step with the
// gateway.
package testbench
