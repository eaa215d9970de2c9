// Package scenario says what a simulated drive is: the Scenario (a
// vehicle profile, zones, a policy, a route with a speed profile, the
// GNSS receiver, the cameras and their motion sensors, and faults on the
// drive's timeline), read from strict YAML files whose every error is
// "file:line: reason" (Load), with routes from waypoints, GPX or
// GeoJSON, and written back (Write). Shipped scenarios (scenarios/*.yaml)
// and the demo's zones and policy (assets, "builtin:NAME") are embedded;
// BuiltIn is the demo's drive and Random makes up trips for a soak, the
// same trip for the same seed. Motion is how a vehicle follows a route.
//
// It describes drives and never runs one: the simulator (package
// testbench) plays them. It knows the gateway only by its public inputs,
// the configuration formats of gateway/config, and never its internals.
package scenario
