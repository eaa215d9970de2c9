package geofence

import (
	"math"

	"github.com/golang/geo/s2"
)

// leafCell is s2's cellIDFromPoint, which the library does not export:
// the leaf cell holding the unit vector p. The query has p already, and
// s2.CellIDFromLatLng would compute it a second time. A test holds this
// against the library on random points.
func leafCell(p vec) s2.CellID { return cellOf(p, 8) }

// searchRounds rounds of the Hilbert curve find p's cell at maxCellLevel
// (the first round has two levels: i and j have 30 bits, not 32).
const (
	searchRounds = 6
	maxCellLevel = searchRounds*lookupBits - 2
)

// searchLeaf is the leaf find takes for p: the first leaf of p's cell at
// maxCellLevel, the deepest level the table uses, which is inside a table
// cell exactly when p's own leaf is. It takes two rounds fewer than
// leafCell.
func searchLeaf(p vec) s2.CellID { return cellOf(p, searchRounds) }

// cellOf computes the Hilbert position of p's leaf cell for the given
// number of rounds and returns the first leaf of the cell it reaches.
func cellOf(p vec, rounds int) s2.CellID {
	// The face is the axis of the largest component.
	ax, ay, az := math.Abs(p[0]), math.Abs(p[1]), math.Abs(p[2])
	var f int
	var u, v float64
	switch {
	case ax > ay && ax > az:
		f = 0
		if p[0] < 0 {
			f = 3
		}
	case ay > az:
		f = 1
		if p[1] < 0 {
			f = 4
		}
	default:
		f = 2
		if p[2] < 0 {
			f = 5
		}
	}
	switch f {
	case 0:
		u, v = p[1]/p[0], p[2]/p[0]
	case 1:
		u, v = -p[0]/p[1], p[2]/p[1]
	case 2:
		u, v = -p[0]/p[2], -p[1]/p[2]
	case 3:
		u, v = p[2]/p[0], p[1]/p[0]
	case 4:
		u, v = p[2]/p[1], -p[0]/p[1]
	default:
		u, v = -p[1]/p[2], -p[0]/p[2]
	}
	i, j := stToIJ(uvToST(u)), stToIJ(uvToST(v))
	// Hilbert curve position, four bits of i and j at a time.
	n := uint64(f) << (s2.PosBits - 1)
	bits := f & swapMask
	for k := 7; k >= 8-rounds; k-- {
		const mask = 1<<lookupBits - 1
		bits += (i >> uint(k*lookupBits) & mask) << (lookupBits + 2)
		bits += (j >> uint(k*lookupBits) & mask) << 2
		bits = lookupPos[bits]
		n |= uint64(bits>>2) << (uint(k) * 2 * lookupBits)
		bits &= swapMask | invertMask
	}
	return s2.CellID(n*2 + 1)
}

func uvToST(u float64) float64 {
	if u >= 0 {
		return 0.5 * math.Sqrt(1+3*u)
	}
	return 1 - 0.5*math.Sqrt(1-3*u)
}

func stToIJ(s float64) int {
	const maxSize = 1 << s2.MaxLevel
	return min(max(int(math.Floor(maxSize*s)), 0), maxSize-1)
}

const (
	lookupBits = 4
	swapMask   = 0x01
	invertMask = 0x02
)

var (
	posToIJ          = [4][4]int{{0, 1, 3, 2}, {0, 2, 3, 1}, {3, 2, 0, 1}, {3, 1, 0, 2}}
	posToOrientation = [4]int{swapMask, 0, 0, invertMask | swapMask}
	lookupPos        [1 << (2*lookupBits + 2)]int
)

func init() {
	initLookupCell(0, 0, 0, 0, 0, 0)
	initLookupCell(0, 0, 0, swapMask, 0, swapMask)
	initLookupCell(0, 0, 0, invertMask, 0, invertMask)
	initLookupCell(0, 0, 0, swapMask|invertMask, 0, swapMask|invertMask)
}

func initLookupCell(level, i, j, origOrientation, pos, orientation int) {
	if level == lookupBits {
		ij := (i << lookupBits) + j
		lookupPos[(ij<<2)+origOrientation] = (pos << 2) + orientation
		return
	}
	level++
	i <<= 1
	j <<= 1
	pos <<= 2
	r := posToIJ[orientation]
	initLookupCell(level, i+(r[0]>>1), j+(r[0]&1), origOrientation, pos, orientation^posToOrientation[0])
	initLookupCell(level, i+(r[1]>>1), j+(r[1]&1), origOrientation, pos+1, orientation^posToOrientation[1])
	initLookupCell(level, i+(r[2]>>1), j+(r[2]&1), origOrientation, pos+2, orientation^posToOrientation[2])
	initLookupCell(level, i+(r[3]>>1), j+(r[3]&1), origOrientation, pos+3, orientation^posToOrientation[3])
}
