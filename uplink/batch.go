package uplink

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Kind says what a batch holds, and so the topic it is published on.
type Kind uint8

// Kinds of batch. The zero Kind is telemetry.
const (
	// KindTelemetry batches hold the records of snapshots.
	KindTelemetry Kind = iota
	// KindAlarm batches hold alarm records.
	KindAlarm
	maxKind = KindAlarm
)

// String returns the kind's topic suffix.
func (k Kind) String() string {
	switch k {
	case KindTelemetry:
		return "telemetry"
	case KindAlarm:
		return "alarm"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Batch is a group of records, compressed, as it is queued and published.
type Batch struct {
	// ID is assigned by the queue.
	ID   uint64
	Kind Kind
	// FirstSeq and LastSeq are the sequence numbers of its first and last record.
	FirstSeq, LastSeq uint64
	Records           int
	// RawBytes is the size of the JSON before compression.
	RawBytes int
	// Payload is a zstd frame holding the records as JSON (dict.go says
	// which format), padded in formats 2 and 3.
	Payload []byte
}

// Batcher collects records and closes a batch when it is full or old
// (payload format 1), or fills a slot's payload (Fill: format 3).
type Batcher struct {
	rule    BatchRule
	enc1    *zstd.Encoder // format 1's dictionary: Add, and Fill's fallback (format 2)
	enc     *zstd.Encoder // the newest dictionary: Fill (format 3)
	buf     []byte
	offs    []int    // fillLines: where each record's line ends in buf
	comp    []byte   // Fill: the compressed frame
	best    []byte   // Fill: the largest frame found to fit
	names   []string // Fill: the signal names of a format 3 object
	grid    float64  // the policy's position grid in metres, 0 for none (setGrid)
	n       int
	first   uint64
	last    uint64
	started time.Time
}

// NewBatcher returns a Batcher for rule.
func NewBatcher(rule BatchRule) (*Batcher, error) {
	enc1, err := newEncoder(dict1, true)
	if err != nil {
		return nil, fmt.Errorf("new batcher: %w", err)
	}
	enc, err := newEncoder(dictionaries[len(dictionaries)-1], false)
	if err != nil {
		return nil, fmt.Errorf("new batcher: %w", err)
	}
	return &Batcher{rule: rule, enc1: enc1, enc: enc}, nil
}

// setGrid tells the Batcher the grid p snaps positions to: Fill writes
// positions on it as grid indices, exactly (format 3), others in
// millionths of a degree.
func (b *Batcher) setGrid(p *Policy) {
	b.grid = 0
	if p.Position != nil {
		b.grid = p.Position.PrecisionM
	}
}

// Add appends rec; it returns a closed batch when rec filled one.
func (b *Batcher) Add(rec Record, now time.Time) (Batch, bool, error) {
	line, err := json.Marshal(rec)
	if err != nil {
		return Batch{}, false, fmt.Errorf("encode record %d: %w", rec.Seq, err)
	}
	if b.n == 0 {
		b.first = rec.Seq
		b.started = now
	}
	b.buf = append(append(b.buf, line...), '\n')
	b.n++
	b.last = rec.Seq
	if b.n >= b.rule.MaxRecords {
		return b.close(), true, nil
	}
	return Batch{}, false, nil
}

// Due returns the open batch when it has waited MaxAge.
func (b *Batcher) Due(now time.Time) (Batch, bool) {
	if b.n == 0 || now.Sub(b.started) < b.rule.MaxAge {
		return Batch{}, false
	}
	return b.close(), true
}

// Close returns the open batch, if any, whatever its age.
func (b *Batcher) Close() (Batch, bool) {
	if b.n == 0 {
		return Batch{}, false
	}
	return b.close(), true
}

func (b *Batcher) close() Batch {
	out := Batch{
		FirstSeq: b.first,
		LastSeq:  b.last,
		Records:  b.n,
		RawBytes: len(b.buf),
		Payload:  b.enc1.EncodeAll(b.buf, nil),
	}
	b.buf = b.buf[:0]
	b.n = 0
	return out
}

// Decompress returns the JSON of a batch payload: its records' lines, or
// in format 3 its object of columns.
func Decompress(payload []byte) ([]byte, error) {
	dec, err := newDecoder()
	if err != nil {
		return nil, fmt.Errorf("decompress batch: %w", err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(payload, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress batch: %w", err)
	}
	return raw, nil
}

// DecodeBatch decompresses a payload into its records; receivers and tests
// use it.
func DecodeBatch(payload []byte) ([]Record, error) {
	raw, err := Decompress(payload)
	if err != nil {
		return nil, err
	}
	if payloadDict(payload) == DictID2 {
		recs, err := decodeColumns(raw, nil)
		if err != nil {
			return nil, fmt.Errorf("decode batch: %w", err)
		}
		return recs, nil
	}
	var recs []Record
	d := json.NewDecoder(bytes.NewReader(raw))
	for d.More() {
		var r Record
		if err := d.Decode(&r); err != nil {
			return nil, fmt.Errorf("decode batch record %d: %w", len(recs), err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// padMagic opens a padded payload (dict.go): a zstd skippable frame
// (magic 0x184D2A50–5F) whose low nibble is the payload's format, 2 or 3,
// and whose content is zeros, so that every payload has the same size.
// zstd decoders skip it.
const (
	padMagic2 = 0x184D2A52
	padMagic3 = 0x184D2A53
	padHeader = 8 // magic and length, both little-endian uint32
)

// Padded reports whether a payload is padded to a slot's size: of format
// 2 or 3.
func Padded(payload []byte) bool {
	if len(payload) < padHeader {
		return false
	}
	m := binary.LittleEndian.Uint32(payload)
	return (m == padMagic2 || m == padMagic3) &&
		int(binary.LittleEndian.Uint32(payload[4:])) <= len(payload)-padHeader
}

// PaddingPayload is a payload that holds no records, opened as a format 3
// payload is: what an empty slot publishes. size is at least padHeader.
func PaddingPayload(size int) []byte {
	p := make([]byte, max(size, padHeader))
	binary.LittleEndian.PutUint32(p, padMagic3)
	binary.LittleEndian.PutUint32(p[4:], uint32(len(p)-padHeader))
	return p
}

// maxFillTries bounds the compressions Fill tries to find how many
// records fit.
const maxFillTries = 8

// Fill encodes the longest prefix of recs that fits in a payload of
// exactly size bytes (format 3: the padding, then the zstd frame of the
// records' columns), and returns the batch and how many records it holds.
// A first record that does not fit alone goes alone in a payload of the
// smallest multiple of size that holds it: a payload is always a whole
// number of slots' sizes, and a record never waits for ever. A prefix
// ends before a sequence number that does not follow (one payload holds
// consecutive records) and before a position format 3 cannot carry; such
// a record, first, goes in format 2 (fillLines). recs must not be empty.
func (b *Batcher) Fill(recs []Record, size int) (Batch, int) {
	if !columnsEncodable(&recs[0]) {
		return b.fillLines(recs, size)
	}
	n := 1
	for n < min(len(recs), maxColumnsRecords) && recs[n].Seq == recs[n-1].Seq+1 && columnsEncodable(&recs[n]) {
		n++
	}
	rawCap := 32 * size // more would not compress into size
	for {
		b.buf, b.names = appendColumns(b.buf[:0], recs[:n], b.grid, b.names)
		if len(b.buf) <= rawCap || n == 1 {
			break
		}
		n = max(1, min(n-1, n*rawCap/len(b.buf)))
	}
	// Search n between the largest count found to fit (fit, its frame in
	// best) and the smallest found not to (over), guessing from the
	// frame's size, which grows about linearly with the records.
	budget := size - padHeader
	fit, over := 0, n+1
	for try := 0; ; try++ {
		b.buf, b.names = appendColumns(b.buf[:0], recs[:n], b.grid, b.names)
		b.comp = b.enc.EncodeAll(b.buf, b.comp[:0])
		if len(b.comp) <= budget {
			fit, b.best, b.comp = n, b.comp, b.best
		} else {
			over = n
		}
		if over == 1 { // a first record larger than a payload
			fit, b.best, b.comp = 1, b.comp, b.best
			break
		}
		if over-fit <= 1 || (fit > 0 && try+1 >= maxFillTries) {
			break
		}
		guess := int(float64(n) * float64(budget) / float64(len(b.comp)) * 0.98)
		n = max(fit+1, min(over-1, guess))
	}
	b.buf, b.names = appendColumns(b.buf[:0], recs[:fit], b.grid, b.names) // for RawBytes
	return b.pad(b.best, padMagic3, size, recs[0].Seq, recs[fit-1].Seq, fit, len(b.buf)), fit
}

// fillLines is Fill in format 2: the records' JSON lines, compressed
// with format 1's dictionary.
func (b *Batcher) fillLines(recs []Record, size int) (Batch, int) {
	b.buf, b.offs = b.buf[:0], b.offs[:0]
	rawCap := 32 * size // more would not compress into size
	for _, r := range recs {
		b.buf = appendRecord(b.buf, &r)
		b.buf = append(b.buf, '\n')
		b.offs = append(b.offs, len(b.buf))
		if len(b.buf) > rawCap {
			break
		}
	}
	budget := size - padHeader
	n := len(b.offs)
	for {
		b.comp = b.enc1.EncodeAll(b.buf[:b.offs[n-1]], b.comp[:0])
		if len(b.comp) <= budget || n == 1 {
			break
		}
		nn := int(float64(n) * float64(budget) / float64(len(b.comp)) * 0.97)
		n = max(1, min(nn, n-1))
	}
	return b.pad(b.comp, padMagic2, size, recs[0].Seq, recs[n-1].Seq, n, b.offs[n-1]), n
}

// pad returns the batch of a compressed frame, padded to the smallest
// multiple of size that holds it.
func (b *Batcher) pad(frame []byte, magic uint32, size int, first, last uint64, n, raw int) Batch {
	total := size
	for total-padHeader < len(frame) {
		total += size
	}
	p := make([]byte, total)
	binary.LittleEndian.PutUint32(p, magic)
	binary.LittleEndian.PutUint32(p[4:], uint32(total-padHeader-len(frame)))
	copy(p[total-len(frame):], frame)
	return Batch{
		Kind:     KindTelemetry,
		FirstSeq: first,
		LastSeq:  last,
		Records:  n,
		RawBytes: raw,
		Payload:  p,
	}
}

// appendRecord appends rec as JSON, as encoding/json writes a Record
// (signals by name, in order) without allocating. Names are role
// spellings (ValidRole: nothing to escape); a name that is not goes
// through encoding/json.
func appendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, r.Time, 10)
	if r.Pos != nil {
		dst = append(dst, `,"pos":[`...)
		for i, v := range r.Pos {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFloat(dst, v)
		}
		dst = append(dst, ']')
	}
	if len(r.Signals) > 0 {
		dst = append(dst, `,"s":{`...)
		// In name order, by selection: a record has a handful of signals,
		// and a sorted copy of the names would allocate.
		var last string
		for i := range len(r.Signals) {
			var next string
			found := false
			for k := range r.Signals {
				if (i == 0 || k > last) && (!found || k < next) {
					next, found = k, true
				}
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendName(dst, next)
			dst = append(dst, ':')
			dst = appendFloat(dst, r.Signals[next])
			last = next
		}
		dst = append(dst, '}')
	}
	if r.Alarm != "" {
		dst = append(dst, `,"alarm":`...)
		dst = appendName(dst, r.Alarm)
	}
	return append(dst, '}')
}

func appendName(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(name) // not a role's spelling: never from the vehicle's own code
			return append(dst, q...)
		}
	}
	return append(append(append(dst, '"'), name...), '"')
}

// appendFloat writes a finite number as encoding/json does; NaN and
// infinities (which the Redactor and Alarm keep out) as 0.
func appendFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, '0')
	}
	abs := math.Abs(v)
	f := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		f = 'e'
	}
	dst = strconv.AppendFloat(dst, v, f, -1, 64)
	if f == 'e' { // clean up e-09 to e-9, as encoding/json does
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
