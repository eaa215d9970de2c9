//go:build race

package geofence_test

// raceEnabled: the race detector slows the references' sampling about
// tenfold; the heaviest property tests take smaller samples under it (the
// normal run keeps the full ones).
const raceEnabled = true
