// Package gateway is the privacy gateway's decision loop, alone: fixes
// and frames in, camera commands and telemetry snapshots out.
//
// It never knows file formats, sockets or MQTT: its configuration arrives
// built (package gateway/config reads the files), its outputs go to small
// interfaces (Cameras, Telemetry, Auditor, Alarmer, StateStore, Clock)
// that package gateway/daemon wires to the camera controller, the uplink,
// the audit log and the state file; the privacy switch and the indicator
// are periph pins handed in, opened by the daemon.
//
// One goroutine owns the vehicle state (the latest fix, speed, heading and
// every mapped signal) and decides, on every fix and every tick, whether
// the vehicle is clear of all zones. Frames arrive from the CAN sources on
// a channel and are decoded in that goroutine; the decisions go out as
// calls on the camera controller and as snapshots to the uplink. One owner
// means no locks on the frame path and an order that tests can replay with
// a manual clock.
//
// Safety states: Unknown at start, without zones, and without a
// fresh plausible fix: everything suppressed. Near and Inside: suppressed,
// location withheld. Manual: the driver's privacy switch.
//
// Entering suppression takes one fix: inside a zone, in a buffer (widened
// by the fix's accuracy), with a buffer within the look-ahead, or with a
// path from the previous fix that crossed a buffer. The look-ahead is
// directional: the places the vehicle can reach before a camera told now
// has stopped, given its speed, heading and how fast it can speed up and
// turn (geofence.Kinematics). Leaving takes ClearFixes consecutive clear
// fixes (more if a zone's policy asks): outside every buffer by
// ExitMarginM beyond the accuracy, nothing ahead, a clear path since the
// fix before; a fix in between holds the state. Every fix is held against
// the trusted fixes of the last minutes and the distance the wheel speed
// (vehicle.speed) allows since each, its reported accuracy forgiven once,
// not at every step: one that does not fit is a jump, counts as no fix,
// and GNSS is distrusted (every fix counts as no fix) until one fits
// again. Where the profile maps a yaw rate or a steering angle, the
// course of the fixes is held against the dead reckoning too (course.go),
// and a drag that reverses or turns the track is a jump. A step of the wall clock,
// forward or back, seen against a monotonic clock or in the frames'
// times, is a discontinuity: Unknown, the fix history restarts, GNSS is
// distrusted likewise; a fix from the future is not fresh. Trusted again
// late, a fix may still be a spoofer's, off by as much as it could hide:
// that distance widens every fix's margin from then on. trust.go has the
// rules and what a spoofer can still do, with figures.
//
// Zones come from the zone index (geofence.Index). Temporary zones follow
// the gateway's clock, widened by ZoneClockSkew, and only a synchronised
// clock is trusted: on any other every zone counts. A window is judged on
// the wall clock and on a steady clock a step does not move, and a zone
// that holds the vehicle stays in force until the hysteresis releases it
// (zones.go). SetZones swaps the zone list between two decisions;
// SetBundle swaps a zone list and the uplink policy that goes with it in
// one step, the policy reaching the uplink down the pipe between the
// snapshots decided before and after (bundleswitch.go). Which bundle may
// be applied (signatures, versions, the floor) is the daemon's to decide.
//
// Telemetry privacy near zones is split: the uplink coarsens time and
// holds records back, the gateway decides what to withhold and hold,
// because it knows where zones are (privacy.go): per-trip random margins
// around each zone, withholding latched over the whole stretch, and a
// trip's first and last stretch near a zone. A trip is an ignition cycle.
//
// Camera enforcement around the camera controller (enforce.go) belongs to
// the loop too: escalated cameras (recording while suppressed beyond the
// grace period, or silent and uncut) become an audit event and an alarm
// for the uplink without a position; the privacy switch (the CAN role or
// a GPIO line read by a goroutine of Run with WaitForEdge and a finite
// timeout, level or toggle) holds the Manual state; an indicator line is
// lit while any suppression holds.
//
// The suppression state (Saved: manual mode, owed hysteresis, whether a
// zone holds the vehicle, the trust in GNSS with its anchor, the steady
// clock's base) goes to a StateStore off the loop after every change and
// is restored before the first fix; a zone holds a parked vehicle
// (ignition off, or wheels still): its drifting fixes do not release it.
//
// What may leave is decided by meaning, not by spelling (roles.go): every
// role of the signal map has a class, fixed for the well-known roles
// (uplink.RoleClass) and declared in the profile for custom ones
// (ClassifyRoles), and the snapshot hands every value to the uplink with
// its class, which lets out vehicle data alone whatever the policy says:
// a role the gateway cannot vouch for gets no class and never leaves.
package gateway
