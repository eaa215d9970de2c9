package geofence

// AssessScan answers as Assess does, by scanning every zone: the index's
// brute-force path, as a baseline for the table.
func (ix *Index) AssessScan(f *Fix, k *Kinematics) Assessment {
	a := Assessment{
		Result:        Result{Zone: -1, DistanceM: inf, MarginM: inf},
		AheadZone:     -1,
		Clear:         true,
		PositionClear: true,
	}
	var q probe
	if !ix.newProbe(&q, f, k, &a) {
		return a
	}
	ix.scan(&q, &a)
	return a
}
