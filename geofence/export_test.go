package geofence

import "unsafe"

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

// TableBytes is the memory a query reads from: the table, the parts and
// their chunks.
func (ix *Index) TableBytes() int {
	n := len(ix.cells)*int(unsafe.Sizeof(cell{})) + len(ix.top)*8 +
		len(ix.entries)*int(unsafe.Sizeof(entry{})) + len(ix.refs)*4 +
		len(ix.parts)*int(unsafe.Sizeof(part{}))
	for i := range ix.parts {
		n += len(ix.parts[i].chunks) * int(unsafe.Sizeof(chunk{}))
	}
	return n
}
