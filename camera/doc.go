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
// The Controller is driven by one goroutine (the gateway's decision loop);
// time is passed in, never read from a clock, so that tests replay exact
// timelines. The package does not know where zones are or why it is told
// to suppress. Fakes for tests live in camera/cameratest.
package camera
