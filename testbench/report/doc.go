// Package report presents what a simulated drive did (a testbench.Report):
// as text for people (WriteText: the drive, the suppressed stretches and
// why, each camera's figures and timeline, the uplink, the redaction and
// every leak invariant), as JSON figures for machines with stable names
// (WriteJSON, Metrics), and as an SVG map (WriteSVG: the zones and their
// buffers, the exact route coloured by what the cameras might do, the
// published positions and the redaction gaps between them, the faults,
// and a timeline strip per camera).
//
// It only presents: it runs nothing and judges nothing (the simulator's
// checker does, Report.OK). It never knows the gateway's internals, only
// the figures the bench gathered from its public inputs and outputs.
package report
