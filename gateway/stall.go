package gateway

// stallHook, when not nil, is called by the decision loop on every tick
// before it does anything else. Only a binary built with the
// quietzone_faults tag sets it (stall_faults.go), for the system test that
// makes systemd's watchdog restart a daemon whose loop has stalled. In the
// vehicle's binary it is nil: nothing can stall the loop on purpose, and
// the check costs one predictable branch per tick, off the frame path.
var stallHook func()
