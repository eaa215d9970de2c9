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
//	 "pos":[4,51943945,10142635,5,-1797,0,…],
//	 "s":{"vehicle.ignition":[1,1,…],"vehicle.speed":[55,null,60,…]},
//	 "alarm":["",…,"camera.disobeyed"]}
//
//   - n records, with the sequence numbers seq, seq+1, … seq+n-1;
//   - t is the first record's time (Unix seconds), dt the n-1 differences
//     from each record's time to the next one's;
//   - pos: for each record with a position, in order, three integers: its
//     index less the previous positioned record's (the first: its index),
//     and its latitude and longitude in millionths of a degree less the
//     previous position's (the first: the values). A millionth of a
//     degree is 0.11 m at most: the grid point a position was snapped to,
//     to well within a metre, in seven or eight digits instead of
//     seventeen;
//   - s: per signal name, in name order, the n records' values, null
//     where a record does not have it; values written as encoding/json
//     writes them (exact);
//   - alarm, only when a record is one: the n records' alarm types, ""
//     for none.
//
// Absent keys are empty columns. Decoding gives the Records format 2
// would have held, but for positions rounded to the millionth of a
// degree.

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

// appendColumns appends recs as a format 3 object (no newline). recs'
// sequence numbers must rise by one, their positions be encodable.
// names is scratch space for the signal names; it is returned for reuse.
func appendColumns(dst []byte, recs []Record, names []string) ([]byte, []string) {
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
	for k := 0; k < len(c.Pos); k += 3 {
		di, dlat, dlon := c.Pos[k], c.Pos[k+1], c.Pos[k+2]
		if di < 0 || (k > 0 && di == 0) || di >= int64(c.N-idx) ||
			dlat < -180*microDegree || dlat > 180*microDegree || dlon < -360*microDegree || dlon > 360*microDegree {
			return dst[:n0], fmt.Errorf("format 3: position %d out of order or range", k/3)
		}
		idx, lat, lon = idx+int(di), lat+dlat, lon+dlon
		if lat < -90*microDegree || lat > 90*microDegree || lon < -180*microDegree || lon > 180*microDegree {
			return dst[:n0], fmt.Errorf("format 3: position %d out of range", k/3)
		}
		recs[idx].Pos = []float64{float64(lat) / microDegree, float64(lon) / microDegree}
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
