// Package gateway is the privacy gateway's decision loop and the wiring of
// the other packages into a running daemon.
//
// One goroutine owns the vehicle state (the latest fix, speed, heading and
// every mapped signal) and decides, on every fix and every tick, whether
// the vehicle is clear of all zones. Frames arrive from the CAN sources on
// a channel and are decoded in that goroutine; the decisions go out as
// calls on the camera controller and as snapshots to the uplink. One owner
// means no locks on the frame path and an order that tests can replay with
// a manual clock.
//
// Safety states (DESIGN.md): Unknown at start, without zones, and without a
// fresh plausible fix: everything suppressed. Clear only after ClearFixes
// consecutive fixes outside every buffer and look-ahead. Near and Inside:
// suppressed, location withheld. Manual: the driver's privacy switch.
//
// The package also reads the daemon's configuration (config.go): the main
// file, the vehicle profile and the uplink policy, reporting problems as
// "file:line: reason". It knows nothing of wire formats.
package gateway
