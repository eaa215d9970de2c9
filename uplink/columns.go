package uplink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Payload format 3 (dict.go): the records of a slot as one JSON object of
// columns, not one line per record, so that what every record repeats —
// the keys, the absolute time and sequence number, the ignition that is
// on, a position's seventeen digits — is written once or as a small
// difference:
//
//	{"n":30,"seq":1001,"t":1800000000,"dt":[1,1,…],
//	 "grid":200,"pos":[4,28890,3470,5,1,0,…],
//	 "s":{"vehicle.ignition":[1,1,…],"vehicle.speed":[55,null,60,…]},
//	 "alarm":["",…,"camera.disobeyed"]}
//
//   - n records, with the sequence numbers seq, seq+1, … seq+n-1;
//   - t is the first record's time (Unix seconds), dt the n-1 differences
//     from each record's time to the next one's;
//   - grid, when every position is a point of the grid the policy snaps
//     to (the Redactor's snap, of grid metres): then pos carries grid
//     indices and decodes to the very values snapped (where math.Cos
//     rounds alike: a receiver of another architecture may differ in
//     the last bits);
//   - pos: for each record with a position, in order, three integers: its
//     index less the previous positioned record's (the first: its index),
//     and its latitude and longitude less the previous position's (the
//     first: the values), as grid indices (gridPoint) with a grid, else in
//     millionths of a degree: 0.11 m at most, the grid point to well
//     within a metre, in seven or eight digits instead of seventeen;
//   - s: per signal name, in name order, the n records' values, null
//     where a record does not have it; values written as encoding/json
//     writes them (exact);
//   - alarm, only when a record is one: the n records' alarm types, ""
//     for none.
//
// Absent keys are empty columns. Decoding gives the Records format 2
// would have held, but for positions without a grid, rounded to the
// millionth of a degree.

// microDegree is the unit of a format 3 position.
const microDegree = 1e6

// Bounds of a format 3 object, for the decoder (the encoder stays well
// within them): its size once decompressed, and its records, so that a
// small payload cannot make a receiver allocate much more than it holds
// (a record takes two bytes of "dt").
const (
	maxColumnsRaw     = DefaultMaxBatchRaw
	maxColumnsRecords = 1 << 14
)

// columnsEncodable reports whether format 3 can carry r: a position, if
// any, is [latitude, longitude], finite and in range (what snap makes).
// The encoder sends anything else in format 2.
func columnsEncodable(r *Record) bool {
	if r.Pos == nil {
		return true
	}
	return len(r.Pos) == 2 && r.Pos[0] >= -90 && r.Pos[0] <= 90 && r.Pos[1] >= -180 && r.Pos[1] <= 180
}

func toMicroDegrees(v float64) int64 { return int64(math.Round(v * microDegree)) }

// gridPoint is the point (i, j) of the grid of gridM metres, computed as
// snap computes it: latitude i cells from the equator, longitude j cells
// of its row from the meridian, wrapped into [-180, 180).
func gridPoint(gridM float64, i, j int64) (lat, lon float64) {
	lat = float64(i) * (gridM / metresPerDegreeLat)
	cos := math.Max(math.Cos(lat*math.Pi/180), 1e-6)
	lon = float64(j) * (gridM / (metresPerDegreeLat * cos))
	return lat, math.Mod(lon+540, 360) - 180
}

// gridIndex returns the indices of a point of the grid of gridM metres;
// ok is false when (lat, lon) is not exactly one.
func gridIndex(gridM, lat, lon float64) (i, j int64, ok bool) {
	dLat := gridM / metresPerDegreeLat
	fi := math.Round(lat / dLat)
	cos := math.Max(math.Cos(fi*dLat*math.Pi/180), 1e-6)
	fj := math.Round(lon / (gridM / (metresPerDegreeLat * cos)))
	if !(math.Abs(fi) <= maxGridIndex && math.Abs(fj) <= maxGridIndex) {
		return 0, 0, false
	}
	i, j = int64(fi), int64(fj)
	la, lo := gridPoint(gridM, i, j)
	return i, j, la == lat && lo == lon
}

// maxGridIndex bounds a grid index (a grid of a metre has about 4e7
// cells around the equator): what a decoder accepts.
const maxGridIndex = 1 << 40

// onGrid reports whether every position of recs is a point of the grid
// of gridM metres (0: none).
func onGrid(recs []Record, gridM float64) bool {
	if !(gridM >= 1) || math.IsInf(gridM, 0) {
		return false
	}
	for i := range recs {
		if p := recs[i].Pos; p != nil {
			if _, _, ok := gridIndex(gridM, p[0], p[1]); !ok {
				return false
			}
		}
	}
	return true
}

// appendColumns appends recs as a format 3 object (no newline). recs'
// sequence numbers must rise by one, their positions be encodable; gridM
// is the grid the positions were snapped to, if known (0 if not): it is
// used when every position is on it. names is scratch space for the
// signal names; it is returned for reuse.
func appendColumns(dst []byte, recs []Record, gridM float64, names []string) ([]byte, []string) {
	dst = append(dst, `{"n":`...)
	dst = strconv.AppendInt(dst, int64(len(recs)), 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, recs[0].Seq, 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, recs[0].Time, 10)
	if len(recs) > 1 {
		dst = append(dst, `,"dt":[`...)
		for i := 1; i < len(recs); i++ {
			if i > 1 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, recs[i].Time-recs[i-1].Time, 10)
		}
		dst = append(dst, ']')
	}
	grid := slices.ContainsFunc(recs, func(r Record) bool { return r.Pos != nil }) && onGrid(recs, gridM)
	if grid {
		dst = append(dst, `,"grid":`...)
		dst = appendFloat(dst, gridM)
	}
	prev, lat, lon, have := 0, int64(0), int64(0), false
	for i := range recs {
		if recs[i].Pos == nil {
			continue
		}
		if have {
			dst = append(dst, ',')
		} else {
			dst = append(dst, `,"pos":[`...)
		}
		la, lo := toMicroDegrees(recs[i].Pos[0]), toMicroDegrees(recs[i].Pos[1])
		if grid {
			la, lo, _ = gridIndex(gridM, recs[i].Pos[0], recs[i].Pos[1])
		}
		dst = strconv.AppendInt(dst, int64(i-prev), 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, la-lat, 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, lo-lon, 10)
		prev, lat, lon, have = i, la, lo, true
	}
	if have {
		dst = append(dst, ']')
	}
	names = names[:0]
	for i := range recs {
		for k := range recs[i].Signals {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		dst = append(dst, `,"s":{`...)
		for j, name := range names {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendName(dst, name)
			dst = append(dst, ":["...)
			for i := range recs {
				if i > 0 {
					dst = append(dst, ',')
				}
				if v, ok := recs[i].Signals[name]; ok {
					dst = appendFloat(dst, v)
				} else {
					dst = append(dst, "null"...)
				}
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	if slices.ContainsFunc(recs, func(r Record) bool { return r.Alarm != "" }) {
		dst = append(dst, `,"alarm":[`...)
		for i := range recs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendName(dst, recs[i].Alarm)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), names
}

// columns is a format 3 object as read.
type columns struct {
	N     int                   `json:"n"`
	Seq   uint64                `json:"seq"`
	T     int64                 `json:"t"`
	DT    []int64               `json:"dt"`
	Grid  float64               `json:"grid"`
	Pos   []int64               `json:"pos"`
	S     map[string][]optFloat `json:"s"`
	Alarm []string              `json:"alarm"`
}

// optFloat is a value of a signal's column: a number, or null for none.
type optFloat struct {
	v  float64
	ok bool
}

func (o *optFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = optFloat{}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil { // a string, true, an object, a number out of range
		return fmt.Errorf("value %.20s is not a number", b)
	}
	*o = optFloat{v: v, ok: true}
	return nil
}

// decodeColumns appends the records of a format 3 object to dst. It holds
// the object to its shape (one object, every column of n entries,
// positions in range, sequence numbers from 1 without overflow); what a
// record may hold is checkRecord's.
func decodeColumns(raw []byte, dst []Record) ([]Record, error) {
	if len(raw) > maxColumnsRaw {
		return dst, fmt.Errorf("format 3: %w", ErrBatchTooLarge)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	var c columns
	if err := d.Decode(&c); err != nil {
		return dst, fmt.Errorf("format 3: %w", err)
	}
	if rest := raw[d.InputOffset():]; len(bytes.TrimSpace(rest)) > 0 {
		return dst, errors.New("format 3: data after the object")
	}
	switch {
	case c.N < 1 || c.N > maxColumnsRecords || c.N != len(c.DT)+1:
		return dst, fmt.Errorf("format 3: n %d with %d time differences", c.N, len(c.DT))
	case c.Seq == 0 || c.Seq+uint64(c.N-1) < c.Seq:
		return dst, fmt.Errorf("format 3: sequence numbers from %d", c.Seq)
	case c.Grid != 0 && (!(c.Grid >= 1) || math.IsInf(c.Grid, 0)):
		return dst, fmt.Errorf("format 3: a grid of %v m", c.Grid)
	case len(c.Pos)%3 != 0:
		return dst, errors.New("format 3: positions are not triples")
	case c.Alarm != nil && len(c.Alarm) != c.N:
		return dst, fmt.Errorf("format 3: %d alarm entries for %d records", len(c.Alarm), c.N)
	}
	for name, col := range c.S {
		if len(col) != c.N {
			return dst, fmt.Errorf("format 3: %d values of %q for %d records", len(col), name, c.N)
		}
	}
	n0 := len(dst)
	t := c.T
	for i := range c.N {
		if i > 0 {
			t += c.DT[i-1]
		}
		r := Record{Seq: c.Seq + uint64(i), Time: t}
		if c.Alarm != nil {
			r.Alarm = c.Alarm[i]
		}
		dst = append(dst, r)
	}
	recs := dst[n0:]
	idx, lat, lon := 0, int64(0), int64(0)
	maxLat, maxLon := int64(90*microDegree), int64(180*microDegree)
	if c.Grid != 0 {
		maxLat, maxLon = maxGridIndex, maxGridIndex
	}
	for k := 0; k < len(c.Pos); k += 3 {
		di, dlat, dlon := c.Pos[k], c.Pos[k+1], c.Pos[k+2]
		if di < 0 || (k > 0 && di == 0) || di >= int64(c.N-idx) ||
			dlat < -2*maxLat || dlat > 2*maxLat || dlon < -2*maxLon || dlon > 2*maxLon {
			return dst[:n0], fmt.Errorf("format 3: position %d out of order or range", k/3)
		}
		idx, lat, lon = idx+int(di), lat+dlat, lon+dlon
		if lat < -maxLat || lat > maxLat || lon < -maxLon || lon > maxLon {
			return dst[:n0], fmt.Errorf("format 3: position %d out of range", k/3)
		}
		la, lo := float64(lat)/microDegree, float64(lon)/microDegree
		if c.Grid != 0 {
			la, lo = gridPoint(c.Grid, lat, lon)
		}
		if !(la >= -90 && la <= 90 && lo >= -180 && lo <= 180) {
			return dst[:n0], fmt.Errorf("format 3: position %d out of range", k/3)
		}
		recs[idx].Pos = []float64{la, lo}
	}
	for name, col := range c.S {
		for i, v := range col {
			if !v.ok {
				continue
			}
			if recs[i].Signals == nil {
				recs[i].Signals = map[string]float64{}
			}
			recs[i].Signals[name] = v.v
		}
	}
	return dst, nil
}
