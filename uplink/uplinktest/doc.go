// Package uplinktest runs a real Mosquitto broker for tests of the uplink
// and of the packages that use it.
//
// StartMosquitto starts one broker per call on a free port of 127.0.0.1,
// with its configuration and log in the test's temporary directory, and
// stops it when the test ends. Stop and Start simulate an outage: the
// broker comes back on the same port, without the sessions and retained
// messages it held (persistence is off).
//
// When no mosquitto binary is found (on PATH, then /usr/sbin/mosquitto) the
// test is skipped, unless QUIETZONE_REQUIRE_MOSQUITTO=1, as `make test` and
// CI set it, in which case it fails: there, a skipped integration test would
// hide a broken set-up.
//
// The package imports nothing but the standard library, so that any
// package's tests can use it.
package uplinktest
