package can

// Internal tests: the fast bit extractors are checked against a naive
// reference written straight from the DBC definition of bit numbering.

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"quietzone/can/profiles"
)

// refPositions returns the bits a signal occupies, most significant first,
// each numbered byte*8+bit (bit 0 the least significant bit of its byte).
// start must be >= 0.
//
// Intel (little-endian): start is the least significant bit and the value's
// bits follow upwards: value bit i is at start+i.
//
// Motorola (big-endian): start is the most significant bit, in the same
// "saw-tooth" numbering; the next less significant bit is the next lower
// bit of the same byte, and after bit 0 of byte n comes bit 7 of byte n+1.
func refPositions(start, length int, bigEndian bool) []int {
	pos := make([]int, length)
	if !bigEndian {
		for i := range length {
			pos[length-1-i] = start + i
		}
		return pos
	}
	byteN, bit := start/8, start%8
	for i := range length {
		pos[i] = byteN*8 + bit
		if bit == 0 {
			byteN, bit = byteN+1, 7
		} else {
			bit--
		}
	}
	return pos
}

// refFits reports whether a layout lies inside a message of size bytes.
func refFits(start, length int, bigEndian bool, size int) bool {
	if start < 0 || length < 1 || length > 64 {
		return false
	}
	for _, p := range refPositions(start, length, bigEndian) {
		if p >= 8*size {
			return false
		}
	}
	return true
}

// refExtract reads the bits at pos (most significant first), one by one.
func refExtract(data *[MaxDataLen]byte, pos []int) uint64 {
	var v uint64
	for _, p := range pos {
		v = v<<1 | uint64(data[p/8]>>(p%8)&1)
	}
	return v
}

// refInsert writes the low len(pos) bits of v at pos, one by one.
func refInsert(data *[MaxDataLen]byte, pos []int, v uint64) {
	for i, p := range pos {
		bit := byte(v>>(len(pos)-1-i)) & 1
		data[p/8] = data[p/8]&^(1<<(p%8)) | bit<<(p%8)
	}
}

// refSigned sign-extends the low length bits of u by arithmetic, not shifts.
func refSigned(u uint64, length int) int64 {
	if length == 64 || u < 1<<(length-1) {
		return int64(u)
	}
	return int64(u) - int64(1)<<(length-1) - int64(1)<<(length-1)
}

func randomData(r *rand.Rand) [MaxDataLen]byte {
	var d [MaxDataLen]byte
	for i := range d {
		d[i] = byte(r.Uint32())
	}
	return d
}

// checkBits compares every fast path for one layout with the reference; it
// returns a description of the first difference, or "".
func checkBits(start, length int, bigEndian bool, data [MaxDataLen]byte, v uint64) string {
	pos := refPositions(start, length, bigEndian)
	extract, insert := extractLE, insertLE
	if bigEndian {
		extract, insert = extractBE, insertBE
	}
	if got, want := extract(&data, start, length), refExtract(&data, pos); got != want {
		return "extract = " + hex64(got) + ", reference " + hex64(want)
	}
	mask := ^uint64(0)
	if length < 64 {
		mask = 1<<length - 1
	}
	got, want := data, data
	insert(&got, start, length, v&mask)
	refInsert(&want, pos, v)
	if got != want {
		return "insert " + hex64(v&mask) + " differs from the reference"
	}
	// SetRaw drops the bits above the length itself; Raw sign-extends.
	s := &Signal{Start: start, Length: length, BigEndian: bigEndian, Signed: true}
	got = data
	s.SetRaw(&got, v)
	if got != want {
		return "SetRaw " + hex64(v) + " differs from the reference"
	}
	if r, w := s.Raw(&got), refSigned(v&mask, length); r != w {
		return "signed Raw differs from the reference"
	}
	s.Signed = false
	if r := s.Raw(&got); r != int64(v&mask) {
		return "unsigned Raw differs from the reference"
	}
	return ""
}

func hex64(v uint64) string {
	const digits = "0123456789abcdef"
	b := []byte("0x0000000000000000")
	for i := 17; i >= 2; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

// TestBitsExhaustive8 checks every layout that fits an 8-byte message.
func TestBitsExhaustive8(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	layouts := 0
	for _, big := range []bool{false, true} {
		for length := 1; length <= 64; length++ {
			for start := range 64 {
				if !refFits(start, length, big, 8) {
					continue
				}
				layouts++
				for range 4 {
					if diff := checkBits(start, length, big, randomData(r), r.Uint64()); diff != "" {
						t.Fatalf("start %d length %d big-endian %v: %s", start, length, big, diff)
					}
				}
			}
		}
	}
	// 2080 little-endian layouts (sum of 65-l for l in 1..64), and as many
	// big-endian ones.
	if layouts != 2*2080 {
		t.Fatalf("checked %d layouts, want %d", layouts, 2*2080)
	}
}

// TestBitsRandom64 checks random layouts anywhere in 64-byte (CAN FD)
// messages, and in messages of every size in between.
func TestBitsRandom64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50000; {
		size := MaxDataLen
		if i%2 == 1 {
			size = 1 + r.IntN(MaxDataLen)
		}
		start, length, big := r.IntN(8*size), 1+r.IntN(64), r.IntN(2) == 0
		if !refFits(start, length, big, size) {
			continue
		}
		i++
		if diff := checkBits(start, length, big, randomData(r), r.Uint64()); diff != "" {
			t.Fatalf("size %d start %d length %d big-endian %v: %s", size, start, length, big, diff)
		}
	}
}

// TestBitsKnown pins a few layouts to bytes worked out by hand.
func TestBitsKnown(t *testing.T) {
	tests := []struct {
		name          string
		start, length int
		big           bool
		data          []byte
		want          uint64
	}{
		{"intel byte", 8, 8, false, []byte{0, 0xab}, 0xab},
		{"intel across bytes", 4, 8, false, []byte{0xa0, 0x0b}, 0xba},
		{"intel 16 bits", 0, 16, false, []byte{0x34, 0x12}, 0x1234},
		{"motorola 16 bits", 7, 16, true, []byte{0x12, 0x34}, 0x1234},
		{"motorola nibble across bytes", 3, 8, true, []byte{0x0a, 0xb0}, 0xab},
		{"motorola 12 bits from bit 15", 15, 12, true, []byte{0, 0xab, 0xc0}, 0xabc},
		{"intel 64 bits", 0, 64, false, []byte{8, 7, 6, 5, 4, 3, 2, 1}, 0x0102030405060708},
		{"motorola 64 bits", 7, 64, true, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0x0102030405060708},
		{"intel last byte of FD frame", 504, 8, false, append(make([]byte, 63), 0x5a), 0x5a},
		{"motorola last two bytes of FD frame", 503, 16, true, append(make([]byte, 62), 0x12, 0x34), 0x1234},
	}
	for _, tt := range tests {
		var d [MaxDataLen]byte
		copy(d[:], tt.data)
		s := &Signal{Start: tt.start, Length: tt.length, BigEndian: tt.big}
		if got := s.UnsignedRaw(&d); got != tt.want {
			t.Errorf("%s: UnsignedRaw = %#x, want %#x", tt.name, got, tt.want)
		}
		if got := refExtract(&d, refPositions(tt.start, tt.length, tt.big)); got != tt.want {
			t.Errorf("%s: the reference itself reads %#x, want %#x", tt.name, got, tt.want)
		}
		var e [MaxDataLen]byte
		s.SetRaw(&e, tt.want)
		if e != d {
			t.Errorf("%s: SetRaw(%#x) wrote % x, want % x", tt.name, tt.want, e[:len(tt.data)], d[:len(tt.data)])
		}
	}
}

// TestCheckLayout: LoadDBC accepts a layout exactly when every bit lies in
// the message, including starts that wrapped negative from the DBC's uint64.
func TestCheckLayout(t *testing.T) {
	for _, size := range []int{0, 1, 2, 3, 7, 8, 12, 63, 64} {
		m := &Message{Name: "M", Size: size}
		for _, big := range []bool{false, true} {
			for length := -1; length <= 66; length++ {
				for start := -10; start < 8*size+10; start++ {
					s := &Signal{Name: "S", Message: m, Start: start, Length: length, BigEndian: big, Factor: 1}
					err := s.checkLayout()
					if want := refFits(start, length, big, size); (err == nil) != want {
						t.Fatalf("size %d start %d length %d big-endian %v: checkLayout() = %v, reference says fits=%v",
							size, start, length, big, err, want)
					}
				}
			}
		}
	}
	// Starts that overflow Start+Length.
	m := &Message{Name: "M", Size: 8}
	for _, start := range []int{math.MaxInt, math.MaxInt - 7, math.MinInt} {
		for _, big := range []bool{false, true} {
			s := &Signal{Name: "S", Message: m, Start: start, Length: 8, BigEndian: big, Factor: 1}
			if err := s.checkLayout(); err == nil {
				t.Errorf("start %d big-endian %v: accepted", start, big)
			}
		}
	}
}

func TestSignExtend(t *testing.T) {
	tests := []struct {
		length int
		signed bool
		u      uint64
		want   int64
	}{
		{12, true, 0x7ff, 2047},
		{12, true, 0x800, -2048},
		{12, true, 0xfff, -1},
		{12, false, 0xfff, 4095},
		{1, true, 1, -1},
		{1, true, 0, 0},
		{28, true, 1 << 27, -(1 << 27)},
		{63, true, 1 << 62, -(1 << 62)},
		{64, true, 1 << 63, math.MinInt64},
		{64, true, math.MaxUint64, -1},
		{64, false, math.MaxUint64, -1}, // Raw is an int64: the bits, reinterpreted
	}
	for _, tt := range tests {
		s := &Signal{Length: tt.length, Signed: tt.signed, Factor: 1}
		if got := s.signExtend(tt.u); got != tt.want {
			t.Errorf("length %d signed %v: signExtend(%#x) = %d, want %d", tt.length, tt.signed, tt.u, got, tt.want)
		}
	}
}

func loadFixture(tb testing.TB, name string) *Database {
	tb.Helper()
	db, err := LoadDBCFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return db
}

func signal(tb testing.TB, db *Database, msg, sig string) *Signal {
	tb.Helper()
	m := db.Message(msg)
	if m == nil {
		tb.Fatalf("%s: no message %s", db.Name, msg)
	}
	s := m.Signal(sig)
	if s == nil {
		tb.Fatalf("%s: no signal %s.%s", db.Name, msg, sig)
	}
	return s
}

func TestFloatSignals(t *testing.T) {
	db := loadFixture(t, "vehicle.dbc")
	tests := []struct {
		msg, sig string
		typ      ValueType
		v        float64
		// rawOf gives the raw bits the value must be stored as.
		rawOf func(v float64) uint64
	}{
		{"Floats", "SingleLE", Float32, 3.25, func(v float64) uint64 { return uint64(math.Float32bits(float32(v))) }},
		{"Floats", "SingleLE", Float32, -1.5e-3, func(v float64) uint64 { return uint64(math.Float32bits(float32(v))) }},
		// factor 2, offset 1: stored (v-1)/2
		{"Floats", "SingleBE", Float32, 7.5, func(v float64) uint64 { return uint64(math.Float32bits(float32((v - 1) / 2))) }},
		{"Double", "DoubleLE", Float64, math.Pi, math.Float64bits},
		{"Double", "DoubleLE", Float64, -1e300, math.Float64bits},
		{"DoubleBE", "DoubleBE", Float64, math.E, math.Float64bits},
		{"Double", "DoubleLE", Float64, math.Inf(-1), math.Float64bits},
	}
	for _, tt := range tests {
		s := signal(t, db, tt.msg, tt.sig)
		if s.Type != tt.typ {
			t.Fatalf("%s.Type = %v, want %v", tt.sig, s.Type, tt.typ)
		}
		var d [MaxDataLen]byte
		if err := s.Encode(&d, tt.v); err != nil {
			t.Fatalf("%s: Encode(%v): %v", tt.sig, tt.v, err)
		}
		if got, want := s.UnsignedRaw(&d), tt.rawOf(tt.v); got != want {
			t.Errorf("%s: raw bits %#x, want %#x", tt.sig, got, want)
		}
		want := tt.v
		if tt.typ == Float32 {
			want = float64(float32((tt.v-s.Offset)/s.Factor))*s.Factor + s.Offset
		}
		if got := s.Physical(&d); got != want {
			t.Errorf("%s: Physical = %v, want %v", tt.sig, got, want)
		}
	}
	// The big-endian single sits in bytes 4..7 in network order.
	s := signal(t, db, "Floats", "SingleBE")
	var d [MaxDataLen]byte
	if err := s.Encode(&d, 1+2*1.0); err != nil { // raw float32 1.0 = 0x3f800000
		t.Fatal(err)
	}
	if got := d[:8]; !slices.Equal(got, []byte{0, 0, 0, 0, 0x3f, 0x80, 0, 0}) {
		t.Errorf("SingleBE 3.0 encoded as % x", got)
	}
	// NaN is a float value like any other.
	dbl := signal(t, db, "Double", "DoubleLE")
	if err := dbl.Encode(&d, math.NaN()); err != nil {
		t.Errorf("Encode(NaN) on a float64 signal: %v", err)
	} else if !math.IsNaN(dbl.Physical(&d)) {
		t.Errorf("NaN decoded as %v", dbl.Physical(&d))
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	db := loadFixture(t, "vehicle.dbc")
	tests := []struct {
		msg, sig string
		v        float64
		raw      int64 // the raw value Encode must choose
	}{
		{"Muxed", "TempA", -40, 0},
		{"Muxed", "TempA", 21.5, 615},
		{"Muxed", "TempA", -244.8, -2048}, // most negative 12-bit raw
		{"Muxed", "TempA", 164.7, 2047},   // most positive
		{"Muxed", "TempA", 21.54, 615},    // rounds to the nearest step
		{"Muxed", "TempA", 21.56, 616},
		{"Muxed", "SpeedB", 655.35, 65535},
		{"Muxed", "SpeedB", 0, 0},
		{"Muxed", "SpeedB", 123.456, 12346},
		{"Muxed", "Mode", 15, 15},
		{"J1939_Speed", "WheelSpeed", 88.5, 22656},
		{"Wide", "LastLE", -32768, -32768},
		{"Wide", "Spanning", math.Ldexp(1, 64) - 2048, -2048}, // largest float64 below 2^64
		{"Wide", "Spanning", 1 << 53, 1 << 53},
	}
	for _, tt := range tests {
		s := signal(t, db, tt.msg, tt.sig)
		var d [MaxDataLen]byte
		if err := s.Encode(&d, tt.v); err != nil {
			t.Errorf("%s.Encode(%v): %v", tt.sig, tt.v, err)
			continue
		}
		if got := s.Raw(&d); got != tt.raw {
			t.Errorf("%s.Encode(%v): raw %d, want %d", tt.sig, tt.v, got, tt.raw)
		}
		if got := s.Physical(&d); math.Abs(got-tt.v) > s.Factor/2+1e-9*math.Abs(tt.v) {
			t.Errorf("%s: Encode(%v) then Physical = %v, more than half a step away", tt.sig, tt.v, got)
		}
	}
}

func TestEncodeOutOfRange(t *testing.T) {
	db := loadFixture(t, "vehicle.dbc")
	tests := []struct {
		msg, sig string
		v        float64
	}{
		{"Muxed", "TempA", -244.9},        // raw -2049
		{"Muxed", "TempA", 164.8},         // raw 2048
		{"Muxed", "SpeedB", -0.01},        // unsigned below 0
		{"Muxed", "SpeedB", 655.36},       // raw 65536
		{"Muxed", "SpeedB", math.NaN()},   // no raw value at all
		{"Muxed", "SpeedB", math.Inf(1)},  //
		{"Muxed", "SpeedB", math.Inf(-1)}, //
		{"Muxed", "Mode", 16},             // 4 bits
		{"Muxed", "FlagB", 2},             // 1 bit
		{"Wide", "LastLE", 32768},         // 16-bit signed
		{"Wide", "Spanning", -1},          // 64-bit unsigned
		{"Wide", "Spanning", 1 << 64},     // 2^64 is one past the largest raw value
		{"Wide", "Spanning", 1e30},        //
		{"Floats", "SingleLE", 1e39},      // beyond float32: would become +Inf
		{"Floats", "SingleLE", -1e39},     //
	}
	for _, tt := range tests {
		s := signal(t, db, tt.msg, tt.sig)
		var d [MaxDataLen]byte
		err := s.Encode(&d, tt.v)
		if !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%s.Encode(%v) = %v, want ErrOutOfRange", tt.sig, tt.v, err)
		}
		if d != ([MaxDataLen]byte{}) {
			t.Errorf("%s.Encode(%v) failed but wrote % x", tt.sig, tt.v, d[:8])
		}
	}
	// The largest float64 fits a float64 signal, but not one whose scaling
	// would overflow it to infinity.
	var d [MaxDataLen]byte
	if err := signal(t, db, "Double", "DoubleLE").Encode(&d, math.MaxFloat64); err != nil {
		t.Errorf("DoubleLE.Encode(MaxFloat64) = %v", err)
	}
	scaled := &Signal{Name: "Scaled", Length: 64, Type: Float64, Factor: 0.5}
	if err := scaled.Encode(&d, math.MaxFloat64); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("float64 with factor 0.5: Encode(MaxFloat64) = %v, want ErrOutOfRange", err)
	}
	// Bit patterns whose bounds are not exact in a float64 (above 2^53):
	// 2^n itself must be refused, not masked to 0 or wrapped negative.
	for _, tt := range []struct {
		length int
		signed bool
		v      float64
	}{
		{56, false, 1 << 56},
		{54, false, 1 << 54},
		{64, false, 1 << 64},
		{64, true, 1 << 63},
		{60, true, 1 << 59},
		{60, true, -(1 << 59) - 1024},
	} {
		s := &Signal{Name: "Big", Length: tt.length, Signed: tt.signed, Factor: 1}
		var d [MaxDataLen]byte
		if err := s.Encode(&d, tt.v); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%d-bit signed=%v: Encode(%v) = %v (raw %#x), want ErrOutOfRange",
				tt.length, tt.signed, tt.v, err, s.UnsignedRaw(&d))
		}
	}
	// And the extremes just inside are kept exactly.
	s := &Signal{Name: "Big", Length: 64, Signed: true, Factor: 1}
	var e [MaxDataLen]byte
	if err := s.Encode(&e, -(1 << 63)); err != nil || s.Raw(&e) != math.MinInt64 {
		t.Errorf("Encode(-2^63) = %v, raw %d", err, s.Raw(&e))
	}
}

func TestMultiplexedSignals(t *testing.T) {
	db := loadFixture(t, "vehicle.dbc")
	m := db.Message("Muxed")
	if m.Mux == nil || m.Mux.Name != "Mode" {
		t.Fatalf("Muxed.Mux = %v, want Mode", m.Mux)
	}
	want := map[string]struct {
		muxed bool
		value uint64
	}{
		"Mode": {false, 0}, "Counter": {false, 0},
		"TempA": {true, 0}, "SpeedB": {true, 1}, "FlagB": {true, 1}, "LevelC": {true, 2},
	}
	for _, s := range m.Signals {
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected signal %s", s.Name)
			continue
		}
		if s.Multiplexed != w.muxed || s.MuxValue != w.value {
			t.Errorf("%s: Multiplexed %v MuxValue %d, want %v %d", s.Name, s.Multiplexed, s.MuxValue, w.muxed, w.value)
		}
	}
	if got := m.Mux.Values; got[1] != "SPEED" || len(got) != 3 {
		t.Errorf("Mode value descriptions = %v", got)
	}
	// Signals of different mux values may share bits: writing one mode's
	// signal and reading it back works through the shared bytes.
	var d [MaxDataLen]byte
	mustEncode(t, m.Mux, &d, 2)
	mustEncode(t, m.Signal("LevelC"), &d, 63.5)
	if got := m.Signal("LevelC").Physical(&d); got != 63.5 {
		t.Errorf("LevelC = %v, want 63.5", got)
	}
	if got := m.Mux.UnsignedRaw(&d); got != 2 {
		t.Errorf("Mode = %d, want 2", got)
	}
}

func mustEncode(tb testing.TB, s *Signal, d *[MaxDataLen]byte, v float64) {
	tb.Helper()
	if err := s.Encode(d, v); err != nil {
		tb.Fatalf("%s.Encode(%v): %v", s.Name, v, err)
	}
}

func TestLoadDBCFixture(t *testing.T) {
	db := loadFixture(t, "vehicle.dbc")
	if len(db.Warnings) != 0 {
		t.Errorf("warnings: %q", db.Warnings)
	}
	var names []string
	for _, m := range db.Messages() {
		names = append(names, m.Name)
	}
	// Ordered by identifier, extended ones (J1939_Speed) after standard.
	want := []string{"Muxed", "Floats", "Double", "DoubleBE", "Wide", "Odd", "J1939_Speed"}
	if !slices.Equal(names, want) {
		t.Errorf("Messages() = %v, want %v", names, want)
	}
	ext := db.Message("J1939_Speed")
	if !ext.Extended || ext.ID != 0x18fef100 || ext.Line != 20 {
		t.Errorf("J1939_Speed: extended %v ID %#x line %d", ext.Extended, ext.ID, ext.Line)
	}
	if db.MessageByID(0x18fef100, true) != ext || db.MessageByID(0x18fef100, false) != nil {
		t.Error("MessageByID does not tell extended from standard")
	}
	if db.MessageByID(0x200, true) != nil || db.MessageByID(0x200, false) != db.Message("Muxed") {
		t.Error("MessageByID(0x200) wrong")
	}
	if db.Message("Nope") != nil || db.Message("Muxed").Signal("Nope") != nil {
		t.Error("lookups of missing names are not nil")
	}
	f := ext.NewFrame()
	if f.ID != 0x18fef100 || f.Flags != Extended || f.Len != 8 {
		t.Errorf("J1939_Speed.NewFrame() = %+v", f)
	}
	wide := db.Message("Wide")
	if f := wide.NewFrame(); !wide.FD() || f.Flags != FD || f.Len != 64 || f.Validate() != nil {
		t.Errorf("Wide: FD %v frame %v", wide.FD(), f)
	}
	odd := db.Message("Odd")
	if f := odd.NewFrame(); !odd.FD() || odd.FrameLen() != 12 || f.Len != 12 || f.Validate() != nil {
		t.Errorf("Odd (10 bytes): FD %v FrameLen %d", odd.FD(), odd.FrameLen())
	}
	sp := db.Message("Muxed").Signal("SpeedB")
	if sp.Start != 15 || sp.Length != 16 || !sp.BigEndian || sp.Signed || sp.Factor != 0.01 || sp.Unit != "km/h" ||
		sp.Max != 655.35 || sp.Line != 16 || sp.Message != db.Message("Muxed") {
		t.Errorf("SpeedB = %+v", sp)
	}
}

// TestLoadDBCErrors: every rejected file names the line at fault.
func TestLoadDBCErrors(t *testing.T) {
	tests := []struct {
		file string
		line int
		want string // the reason
	}{
		{"bits_outside_le.dbc", 14, "signal Short.TooFar: bits outside the message"},
		{"bits_outside_be.dbc", 14, "signal Short.TooFar: bits outside the message"},
		{"start_wraps.dbc", 13, "signal Short.Wrapped: bits outside the message"},
		{"start_overflows.dbc", 13, "signal Short.Overflows: bits outside the message"},
		{"too_big.dbc", 15, "message Huge: size 65 exceeds 64 bytes"},
		{"size_wraps.dbc", 12, "message Wraps: size 18446744073709551615 exceeds 64 bytes"},
		{"dup_id.dbc", 15, "message Second: identifier 0x100 defined twice"},
		{"dup_name.dbc", 15, "message name Same defined twice"},
		{"dup_signal.dbc", 14, "signal Twice.A defined twice"},
		{"orphan_signal.dbc", 17, "signal Orphan is outside any message (the line before it was probably not understood)"},
		{"float32_length.dbc", 17, "signal Bad: float signal of 16 bits"},
		{"float64_length.dbc", 15, "signal Half: float signal of 32 bits"},
		{"two_mux.dbc", 14, "message TwoSwitches has two multiplexer switches"},
		{"mux_without_switch.dbc", 12, "signal NoSwitch.Muxed is multiplexed but the message has no multiplexer switch"},
		{"zero_length.dbc", 13, "signal Empty.Nothing: length 0 bits: must be 1..64"},
		{"long_signal.dbc", 13, "signal Long.TooLong: length 65 bits: must be 1..64"},
		{"zero_factor.dbc", 13, "signal Flat.NoScale: factor 0, offset 0: not a usable scaling"},
		// Parser errors, in go.einride.tech/can's words.
		{"syntax.dbc", 13, `expected token: "|", found: Int (8)`},
		{"standard_id.dbc", 12, "invalid standard ID: 2048"},
		// Lines the parser swallowed after an unknown line with an odd
		// number of tokens ("SGTYPE_ a b").
		{"swallowed_message.dbc", 13, "BO_ line produced no definition: the parser probably swallowed it with the line before (an unknown line with an odd number of tokens)"},
		{"swallowed_signal.dbc", 15, "SG_ line produced no definition: the parser probably swallowed it with the line before (an unknown line with an odd number of tokens)"},
		{"swallowed_val.dbc", 16, "VAL_ line produced no definition: the parser probably swallowed it with the line before (an unknown line with an odd number of tokens)"},
		{"swallowed_valtype.dbc", 16, "SIG_VALTYPE_ line produced no definition: the parser probably swallowed it with the line before (an unknown line with an odd number of tokens)"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			db, err := LoadDBCFile(path)
			if err == nil {
				t.Fatalf("loaded with %d messages, want an error", len(db.Messages()))
			}
			want := path + ":" + strconv.Itoa(tt.line) + ": " + tt.want
			var pe *PositionError
			if !errors.As(err, &pe) {
				t.Fatalf("error %q (%T) is not a *PositionError", err, err)
			}
			if pe.Error() != want || pe.File != path || pe.Line != tt.line || pe.Reason != tt.want {
				t.Errorf("PositionError %+v\n got %q\nwant %q", pe, pe.Error(), want)
			}
			if err.Error() != "load dbc: "+want {
				t.Errorf("error %q, want %q", err, "load dbc: "+want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadDBCFile(filepath.Join("testdata", "no-such.dbc"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadDBCFile of a missing file = %v, want os.ErrNotExist", err)
		}
	})
}

func TestLoadDBCWarnings(t *testing.T) {
	path := filepath.Join("testdata", "warnings.dbc")
	db := loadFixture(t, "warnings.dbc")
	want := []string{
		path + ":19: VAL_ names signal B, which message 256 does not have",
		path + ":20: VAL_ names signal A, which message 999 does not have",
		path + ":21: SIG_VALTYPE_ names unknown signal Missing of message 256",
	}
	if !slices.Equal(db.Warnings, want) {
		t.Errorf("Warnings:\n got %q\nwant %q", db.Warnings, want)
	}
	// The VAL_ that did match still applies; the stray one was not moved.
	if got := signal(t, db, "Mine", "A").Values; got[1] != "ON" {
		t.Errorf("Mine.A values = %v", got)
	}
	if got := signal(t, db, "Theirs", "B").Values; got != nil {
		t.Errorf("Theirs.B picked up another message's VAL_: %v", got)
	}
}

// TestIndependentSignalsMessage: CANdb++ writes unassigned signals into a
// pseudo-message VECTOR__INDEPENDENT_SIG_MSG (size 0, identifier
// 0xc0000000, duplicate names allowed). No frame carries it; it is skipped.
func TestIndependentSignalsMessage(t *testing.T) {
	db := loadFixture(t, "independent.dbc")
	if len(db.Messages()) != 1 || db.Message("Real") == nil {
		t.Fatalf("messages %v, want only Real", db.Messages())
	}
	if db.Message("VECTOR__INDEPENDENT_SIG_MSG") != nil {
		t.Error("the pseudo-message was loaded")
	}
}

// sharedDBC is the reference data directory, beside the repository.
const sharedDBC = "../../shared/data/dbc"

func loadShared(tb testing.TB, name string) *Database {
	tb.Helper()
	path := filepath.Join(sharedDBC, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		tb.Skipf("reference data %s is absent: the real-DBC tests need ../shared/data beside the repository", path)
	}
	db, err := LoadDBCFile(path)
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return db
}

func TestTeslaDBCs(t *testing.T) {
	t.Run("tesla_can", func(t *testing.T) {
		db := loadShared(t, "tesla_can.dbc")
		// VAL_ 568 UI_mapSpeedLimit names a signal of UI_driverAssistMapData:
		// a warning, not an error.
		want := []string{filepath.Join(sharedDBC, "tesla_can.dbc") + ":783: VAL_ names signal UI_mapSpeedLimit, which message 568 does not have"}
		if !slices.Equal(db.Warnings, want) {
			t.Errorf("Warnings = %q, want %q", db.Warnings, want)
		}
		if n := len(db.Messages()); n != 44 {
			t.Errorf("%d messages, want 44", n)
		}
		if v := signal(t, db, "UI_gpsVehicleSpeed", "UI_mapSpeedLimitUnits").Values; v[1] != "KPH" {
			t.Errorf("UI_mapSpeedLimitUnits values = %v", v)
		}
	})
	t.Run("tesla_model3_party", func(t *testing.T) {
		db := loadShared(t, "tesla_model3_party.dbc")
		if len(db.Warnings) != 0 {
			t.Errorf("Warnings = %q", db.Warnings)
		}
		s := signal(t, db, "DI_speed", "DI_vehicleSpeed")
		if s.Message.ID != 599 || s.Start != 12 || s.Length != 12 || s.Factor != 0.08 || s.Offset != -40 {
			t.Errorf("DI_speed.DI_vehicleSpeed = %+v", s)
		}
		f := s.Message.NewFrame()
		mustEncode(t, s, &f.Data, 100) // (100+40)/0.08 = 1750 = 0x6d6 at bits 12..23
		if got := f.Data[:3]; !slices.Equal(got, []byte{0x00, 0x60, 0x6d}) {
			t.Errorf("DI_vehicleSpeed 100 kph encoded as % x, want 00 60 6d", got)
		}
	})
}

// TestTeslaEncodeDecode writes known physical values into frames of the
// real Tesla DBC, compares the bytes with ones worked out independently of
// the codec, and reads the values back.
func TestTeslaEncodeDecode(t *testing.T) {
	db := loadShared(t, "tesla_can.dbc")
	type value struct {
		sig string
		v   float64
		tol float64 // how far the decoded value may be (half a raw step)
	}
	// MCU_locationStatus packs latitude (28-bit signed, bits 0..27),
	// longitude (29-bit signed, bits 28..56) and accuracy (7 bits, 57..63)
	// into one little-endian 64-bit word.
	const lat, lon, acc = 37.421999, -122.084058, 2.4
	latRaw, lonRaw, accRaw := int64(37421999), int64(-122084058), uint64(12)
	word := uint64(latRaw)&(1<<28-1) | (uint64(lonRaw)&(1<<29-1))<<28 | accRaw<<57
	var location []byte
	for i := range 8 {
		location = append(location, byte(word>>(8*i)))
	}
	tests := []struct {
		msg    string
		id     uint32
		values []value
		want   []byte // the payload, worked out by hand
	}{
		// (60 MPH + 25) / 0.05 = 1700 = 0x6a4 at bits 16..27.
		{"DI_torque2", 0x118, []value{{"DI_vehicleSpeed", 60, 0.025}}, []byte{0, 0, 0xa4, 0x06, 0, 0}},
		{"MCU_locationStatus", 0x3d8, []value{
			{"MCU_latitude", lat, 5e-7}, {"MCU_longitude", lon, 5e-7}, {"MCU_gpsAccuracy", acc, 0.1},
		}, location},
		// 88.5 km/h / 0.00390625 = 22656 = 0x5880 at bits 24..39.
		{"UI_gpsVehicleSpeed", 760, []value{{"UI_gpsVehicleSpeed", 88.5, 0}}, []byte{0, 0, 0, 0x80, 0x58, 0, 0, 0}},
		// bit 14: byte 1, 0x40.
		{"UI_status", 824, []value{{"UI_cameraActive", 1, 0}}, []byte{0, 0x40, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			m := db.Message(tt.msg)
			if m == nil || m.ID != tt.id || m.Extended {
				t.Fatalf("message %s = %+v, want standard ID %#x", tt.msg, m, tt.id)
			}
			f := m.NewFrame()
			if int(f.Len) != len(tt.want) {
				t.Fatalf("frame length %d, want %d", f.Len, len(tt.want))
			}
			for _, v := range tt.values {
				mustEncode(t, signal(t, db, tt.msg, v.sig), &f.Data, v.v)
			}
			if got := f.Payload(); !slices.Equal(got, tt.want) {
				t.Errorf("payload % x, want % x", got, tt.want)
			}
			for _, v := range tt.values {
				if got := signal(t, db, tt.msg, v.sig).Physical(&f.Data); math.Abs(got-v.v) > v.tol {
					t.Errorf("%s = %v, want %v ± %v", v.sig, got, v.v, v.tol)
				}
			}
		})
	}
	// The raw values themselves, sign-extended.
	var d [MaxDataLen]byte
	copy(d[:], location)
	if got := signal(t, db, "MCU_locationStatus", "MCU_longitude").Raw(&d); got != lonRaw {
		t.Errorf("MCU_longitude raw %d, want %d", got, lonRaw)
	}
	if got := signal(t, db, "MCU_locationStatus", "MCU_latitude").Raw(&d); got != latRaw {
		t.Errorf("MCU_latitude raw %d, want %d", got, latRaw)
	}
	// Out of range for a real signal: 7 bits of 0.2 m hold at most 25.4 m.
	if err := signal(t, db, "MCU_locationStatus", "MCU_gpsAccuracy").Encode(&d, 25.6); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("MCU_gpsAccuracy 25.6 m: %v, want ErrOutOfRange", err)
	}
}

// TestTeslaMultiplexed checks the parse of a real multiplexed message.
func TestTeslaMultiplexed(t *testing.T) {
	db := loadShared(t, "tesla_can.dbc")
	m := db.Message("UI_driverAssistRoadSign")
	if m.Mux == nil || m.Mux.Name != "UI_roadSign" {
		t.Fatalf("mux = %v", m.Mux)
	}
	for name, want := range map[string]uint64{
		"UI_dummyData": 0, "UI_stopSignStopLineDist": 1, "UI_trafficLightStopLineConf": 2,
	} {
		if s := m.Signal(name); !s.Multiplexed || s.MuxValue != want {
			t.Errorf("%s: Multiplexed %v MuxValue %d, want m%d", name, s.Multiplexed, s.MuxValue, want)
		}
	}
	if s := m.Signal("UI_splineID"); s.Multiplexed {
		t.Errorf("UI_splineID is not multiplexed")
	}
}

// TestReferenceProfileGNSS decodes a GNSS_Position frame of the embedded
// reference DBC (Motorola, signed, 1e-7 degree) from bytes made by hand:
// latitude 48.1372 = 481372000 = 0x1cb12760 in bytes 0..3, longitude
// -11.5755 = -115755000 = 0xf919b808 in bytes 4..7, both big-endian.
func TestReferenceProfileGNSS(t *testing.T) {
	data, err := profiles.FS.ReadFile("quietzone.dbc")
	if err != nil {
		t.Fatal(err)
	}
	db, err := LoadDBC("quietzone.dbc", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Warnings) != 0 {
		t.Errorf("warnings: %q", db.Warnings)
	}
	m := db.Message("GNSS_Position")
	if m == nil || m.ID != 416 {
		t.Fatalf("GNSS_Position = %+v", m)
	}
	want := []byte{0x1c, 0xb1, 0x27, 0x60, 0xf9, 0x19, 0xb8, 0x08}
	var d [MaxDataLen]byte
	copy(d[:], want)
	latS, lonS := m.Signal("GNSS_Latitude"), m.Signal("GNSS_Longitude")
	if got := latS.Raw(&d); got != 481372000 {
		t.Errorf("latitude raw %d", got)
	}
	if got := lonS.Raw(&d); got != -115755000 {
		t.Errorf("longitude raw %d", got)
	}
	if got := latS.Physical(&d); math.Abs(got-48.1372) > 1e-9 {
		t.Errorf("latitude %v, want 48.1372", got)
	}
	if got := lonS.Physical(&d); math.Abs(got+11.5755) > 1e-9 {
		t.Errorf("longitude %v, want -11.5755", got)
	}
	// And back: encoding the same values gives the same bytes.
	f := m.NewFrame()
	mustEncode(t, latS, &f.Data, 48.1372)
	mustEncode(t, lonS, &f.Data, -11.5755)
	if got := f.Payload(); !slices.Equal(got, want) {
		t.Errorf("encoded % x, want % x", got, want)
	}
	if s := f.String(); s != "1A0#1CB12760F919B808" {
		t.Errorf("frame %s", s)
	}
	// The profile's other messages parse as documented.
	if s := db.Message("HU_PhoneContact").Signal("HU_ContactChars"); s.Length != 56 || s.Start != 8 {
		t.Errorf("HU_ContactChars = %+v", s)
	}
	if !strings.HasPrefix(db.Name, "quietzone") {
		t.Errorf("Name = %q", db.Name)
	}
}

// FuzzBits: for any layout and data, the fast extractors and inserters
// agree with the reference, and LoadDBC's layout check accepts the layout
// exactly when the reference says it fits.
func FuzzBits(f *testing.F) {
	f.Add(uint16(0), uint8(8), false, uint8(8), []byte{0xab}, uint64(0x5a))
	f.Add(uint16(7), uint8(16), true, uint8(8), []byte{0x12, 0x34}, uint64(0xbeef))
	f.Add(uint16(503), uint8(16), true, uint8(64), []byte{}, uint64(0xffff))
	f.Add(uint16(0), uint8(64), false, uint8(8), []byte{1, 2, 3, 4, 5, 6, 7, 8}, uint64(1<<63))
	f.Add(uint16(0xffff), uint8(4), true, uint8(8), []byte{0xff}, uint64(3)) // start -1
	f.Fuzz(func(t *testing.T, start uint16, length uint8, big bool, size uint8, data []byte, v uint64) {
		// Mostly layouts near or inside the message: the size is 1..64, the
		// start may be negative (int16) or a little past the end, the
		// length 0..66.
		sz := int(size)
		if sz < 1 || sz > MaxDataLen {
			sz = sz%MaxDataLen + 1
		}
		st := int(int16(start))
		if st >= 8*sz+8 {
			st %= 8*sz + 8
		}
		ln := int(length)
		if ln > 66 {
			ln %= 67
		}
		m := &Message{Name: "M", Size: sz}
		s := &Signal{Name: "S", Message: m, Start: st, Length: ln, BigEndian: big, Factor: 1}
		fits := refFits(st, ln, big, sz)
		if err := s.checkLayout(); (err == nil) != fits {
			t.Fatalf("size %d start %d length %d big-endian %v: checkLayout() = %v, reference fits=%v", sz, st, ln, big, err, fits)
		}
		if !fits {
			return
		}
		var d [MaxDataLen]byte
		copy(d[:], data)
		if diff := checkBits(st, ln, big, d, v); diff != "" {
			t.Fatalf("size %d start %d length %d big-endian %v: %s", sz, st, ln, big, diff)
		}
	})
}

// TestSwallowedLineChecksSkipStrings: keywords inside a multi-line comment
// or alone in the NS_ list are not definitions that went missing.
func TestSwallowedLineChecksSkipStrings(t *testing.T) {
	data := []byte(`VERSION ""

NS_ :
	VAL_
	SIG_VALTYPE_

BS_:

BU_: ECU

BO_ 256 Mine: 8 ECU
 SG_ A : 0|8@1+ (1,0) [0|255] "" ECU

CM_ SG_ 256 A "a comment over lines,
VAL_ 256 A 0 \"looks like a definition\" ;
BO_ 300 Fake: 8 ECU";
VAL_ 256 A 0 "OFF" 1 "ON" ;
`)
	db, err := LoadDBC("comment.dbc", data)
	if err != nil {
		t.Fatalf("LoadDBC: %v", err)
	}
	if d, ok := signal(t, db, "Mine", "A").Describe(1); !ok || d != "ON" {
		t.Errorf("Describe(1) = %q, %v; want ON", d, ok)
	}
}

func TestSignalRange(t *testing.T) {
	tests := []struct {
		name    string
		s       Signal
		phys    float64
		in, has bool
	}{
		{"inside", Signal{Min: 0, Max: 10, Factor: 1}, 5, true, true},
		{"at max", Signal{Min: 0, Max: 10, Factor: 1}, 10, true, true},
		{"rounding above max", Signal{Min: -25, Max: 179.75, Factor: 0.05}, 179.75000000000003, true, true},
		{"a step above max", Signal{Min: -25, Max: 179.75, Factor: 0.05}, 179.8, false, true},
		{"below min", Signal{Min: 0, Max: 10, Factor: 1}, -1, false, true},
		{"no range [0|0]", Signal{Factor: 1}, 1e9, true, false},
		{"reversed range", Signal{Min: 5, Max: 1, Factor: 1}, 100, true, false},
		{"NaN without a range", Signal{Factor: 1, Type: Float32}, math.NaN(), false, false},
		{"float: no half-step tolerance", Signal{Min: 0, Max: 1, Factor: 1, Type: Float32}, 1.25, false, true},
	}
	for _, tt := range tests {
		if got := tt.s.InRange(tt.phys); got != tt.in {
			t.Errorf("%s: InRange(%v) = %v, want %v", tt.name, tt.phys, got, tt.in)
		}
		if got := tt.s.HasRange(); got != tt.has {
			t.Errorf("%s: HasRange() = %v, want %v", tt.name, got, tt.has)
		}
	}
}
