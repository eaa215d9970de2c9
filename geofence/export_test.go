package geofence

import "unsafe"

// AssessScan answers as Assess does, by scanning every zone: the index's
// brute-force path, as a baseline for the table.
func (ix *Index) AssessScan(f *Fix, k *Kinematics) Assessment { return ix.assess(f, k, true) }

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
