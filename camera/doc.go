// Package camera switches the vehicle's cameras on and off and checks that
// they obeyed.
//
// A camera has any of: a power line (a GPIO output, periph.io gpio.PinOut),
// a recording command (a signal of a CAN message from the vehicle's DBC),
// a status signal it reports on the bus, and a trigger (its motion sensor).
// The Controller turns a single decision, suppress or allow, into command
// frames and power-line levels, and compares the cameras' reported status
// with what it commanded.
//
// A command message is written whole in every frame: each of its signals
// is a driven camera's command, the command of a camera the vehicle has
// but the controller does not drive (Options.Unlisted: always deny), or a
// fixed value (Options.Fixed). NewController refuses a message with any
// other signal, or with signals that share bits, so that no camera ever
// reads its command from a zero the frame started with (the reference
// DBC's allow code is 0). A message goes to every bus of every camera in
// it (Spec.Buses; all buses for an unlisted camera).
//
// Enforcement does not trust one path: suppression sends "deny" (or, on
// entry, "purge": deny and drop the pre-event buffer, for cameras with
// PurgeOnEntry) and cuts the power line; every Tick writes every line
// again and the command is repeated every Options.Resend. The closed loop
// watches each camera's status: a camera that says it is recording while
// it may not, or that falls silent while it may not record and its power
// cannot be cut, is in breach; once a breach outlasts Options.Grace the
// controller cuts the line again, resends the command at once and hands
// out an Escalation (Escalations), which the caller turns into an alarm.
// A status not heard for Options.StatusTimeout becomes Unknown and is
// counted (Stats.StatusLost). Triggers while a camera may not record are
// counted and dropped.
//
// The Controller is driven by one goroutine (the gateway's decision loop);
// time is passed in, never read from a clock, so that tests replay exact
// timelines, and nothing on its path allocates. The package does not know
// where zones are or why it is told to suppress. OpenPin opens real lines
// through periph's host drivers (the Linux GPIO character device by line
// name); fakes for tests live in camera/cameratest.
package camera
