//go:build !race

package geofence_test

const raceEnabled = false
