package gateway

import "fmt"

// State is the gateway's safety state.
type State uint8

// Safety states. Every state but Clear suppresses the cameras and keeps
// location data in the vehicle.
const (
	// Unknown: starting, no zones, or no fresh plausible fix.
	Unknown State = iota
	// Clear: a fresh plausible fix outside every buffer and look-ahead.
	Clear
	// Near: within a zone's buffer or look-ahead, or leaving one.
	Near
	// Inside: inside a zone.
	Inside
	// Manual: the driver's privacy switch is on.
	Manual
	numStates
)

var stateNames = [numStates]string{"unknown", "clear", "near", "inside", "manual"}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// Suppressed reports whether cameras are off and location withheld in s.
func (s State) Suppressed() bool { return s != Clear }

// ParseState is String's inverse.
func ParseState(s string) (State, bool) {
	for i, name := range stateNames {
		if name == s {
			return State(i), true
		}
	}
	return 0, false
}
