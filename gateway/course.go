package gateway

// courseConsistent reports whether the course of the fixes up to f agrees
// with the vehicle's own sense of turning (yaw rate or steering angle).
func (g *Gateway) courseConsistent(f fix) bool { return true }
