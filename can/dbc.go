package can

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"text/scanner"

	"go.einride.tech/can/pkg/dbc"
)

// Database is a DBC file turned into tables for decoding and encoding at run
// time. It is built once and then only read, so it is safe to share.
type Database struct {
	// Name is the file name the DBC was loaded from.
	Name string
	// Warnings are problems that do not stop decoding, each "file:line: reason".
	Warnings []string

	messages []*Message
	byKey    map[uint32]*Message
	byName   map[string]*Message
}

// Message is one frame layout of a DBC (a BO_ line and its SG_ lines).
type Message struct {
	Name     string
	ID       uint32
	Extended bool
	// Size is the payload length in bytes the DBC declares.
	Size    int
	Signals []*Signal
	// Mux is the multiplexer switch signal, if the message has one.
	Mux *Signal
	// Line is where the message is defined.
	Line int
}

// ValueType is how a signal's raw bits are interpreted.
type ValueType uint8

// Signal value types (SIG_VALTYPE_).
const (
	Integer ValueType = iota
	Float32
	Float64
)

// Signal is one field of a Message.
type Signal struct {
	Name      string
	Message   *Message
	Start     int // as written in the DBC: LSB for little-endian, MSB for big-endian
	Length    int
	BigEndian bool
	Signed    bool
	Type      ValueType
	Factor    float64
	Offset    float64
	Min, Max  float64
	Unit      string
	// Multiplexed signals are present only when Mux of their message equals MuxValue.
	Multiplexed bool
	MuxValue    uint64
	// Values are the value descriptions (VAL_) of the signal, if any.
	Values map[int64]string
	Line   int
}

// key combines an identifier and the extended flag into one map key.
func key(id uint32, extended bool) uint32 {
	if extended {
		return id | 1<<31
	}
	return id
}

// LoadDBCFile reads and loads the DBC file at path.
func LoadDBCFile(path string) (*Database, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load dbc: %w", err)
	}
	return LoadDBC(path, data)
}

// PositionError is an error at a line of an input file: "file:line:
// reason", or "file: reason" when the problem has no line (Line 0). It
// is the module's one such error: DBC files, profiles, configuration,
// policy and scenario files all report through it.
type PositionError struct {
	File   string
	Line   int
	Reason string
}

func (e *PositionError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// LoadDBC parses a DBC file and builds its decode tables. name is used in
// error messages, which have the form "file:line: reason".
func LoadDBC(name string, data []byte) (*Database, error) {
	p := dbc.NewParser(name, data)
	if err := p.Parse(); err != nil {
		return nil, fmt.Errorf("load dbc: %w", &PositionError{File: name, Line: err.Position().Line, Reason: err.Reason()})
	}
	db := &Database{Name: name, byKey: map[uint32]*Message{}, byName: map[string]*Message{}}
	fail := func(pos scanner.Position, format string, args ...any) error {
		return fmt.Errorf("load dbc: %w", &PositionError{File: name, Line: pos.Line, Reason: fmt.Sprintf(format, args...)})
	}
	warn := func(pos scanner.Position, format string, args ...any) {
		db.Warnings = append(db.Warnings, fmt.Sprintf("%s:%d: %s", name, pos.Line, fmt.Sprintf(format, args...)))
	}
	defs := p.Defs()
	for _, def := range defs {
		switch d := def.(type) {
		case *dbc.MessageDef:
			if dbc.IsIndependentSignalsMessage(d) {
				// VECTOR__INDEPENDENT_SIG_MSG: a pseudo-message of size 0
				// that CANdb++ writes to hold unassigned signals; no frame
				// carries it.
				continue
			}
			m, err := newMessage(d)
			if err != nil {
				return nil, fail(err.pos, "%s", err.reason)
			}
			if _, dup := db.byKey[key(m.ID, m.Extended)]; dup {
				return nil, fail(d.Pos, "message %s: identifier %#x defined twice", m.Name, m.ID)
			}
			if _, dup := db.byName[m.Name]; dup {
				return nil, fail(d.Pos, "message name %s defined twice", m.Name)
			}
			db.messages = append(db.messages, m)
			db.byKey[key(m.ID, m.Extended)] = m
			db.byName[m.Name] = m
		case *dbc.SignalDef:
			// The parser leaves an SG_ at top level when the line before it
			// was not understood and swallowed the BO_ it belonged to.
			return nil, fail(d.Pos, "signal %s is outside any message (the line before it was probably not understood)", d.Name)
		}
	}
	for _, def := range defs {
		switch d := def.(type) {
		case *dbc.SignalValueTypeDef:
			s := db.lookupSignal(d.MessageID, string(d.SignalName))
			if s == nil {
				warn(d.Pos, "SIG_VALTYPE_ names unknown signal %s of message %d", d.SignalName, d.MessageID.ToCAN())
				continue
			}
			switch d.SignalValueType {
			case dbc.SignalValueTypeFloat32:
				s.Type = Float32
			case dbc.SignalValueTypeFloat64:
				s.Type = Float64
			}
			if (s.Type == Float32 && s.Length != 32) || (s.Type == Float64 && s.Length != 64) {
				return nil, fail(d.Pos, "signal %s: float signal of %d bits", s.Name, s.Length)
			}
		case *dbc.ValueDescriptionsDef:
			if d.ObjectType != dbc.ObjectTypeSignal {
				continue
			}
			s := db.lookupSignal(d.MessageID, string(d.SignalName))
			if s == nil {
				warn(d.Pos, "VAL_ names signal %s, which message %d does not have", d.SignalName, d.MessageID.ToCAN())
				continue
			}
			s.Values = make(map[int64]string, len(d.ValueDescriptions))
			for _, v := range d.ValueDescriptions {
				s.Values[int64(v.Value)] = v.Description
			}
		}
	}
	if err := checkSwallowed(name, data, defs); err != nil {
		return nil, err
	}
	sort.Slice(db.messages, func(i, j int) bool {
		return key(db.messages[i].ID, db.messages[i].Extended) < key(db.messages[j].ID, db.messages[j].Extended)
	})
	return db, nil
}

// definingKeywords start the lines whose loss changes what is decoded: a
// message, a signal, a signal's value type or its value descriptions.
var definingKeywords = map[string]bool{
	string(dbc.KeywordMessage):           true,
	string(dbc.KeywordSignal):            true,
	string(dbc.KeywordSignalValueType):   true,
	string(dbc.KeywordValueDescriptions): true,
}

// checkSwallowed finds lines that start with a defining keyword but produced
// no definition. go.einride.tech/can's parser skips an unknown line two
// tokens at a time and misses the newline when the line has an odd number
// of tokens: it then swallows the next line too. A swallowed BO_ leaves its
// SG_ lines at top level (reported by LoadDBC); a swallowed SG_,
// SIG_VALTYPE_ or VAL_ would silently lose a signal, its float type or its
// value descriptions. Lines inside quoted strings (multi-line comments) are
// not definitions and are skipped.
func checkSwallowed(name string, data []byte, defs []dbc.Def) error {
	seen := map[int]bool{}
	for _, def := range defs {
		switch d := def.(type) {
		case *dbc.MessageDef:
			seen[d.Pos.Line] = true
			for i := range d.Signals {
				seen[d.Signals[i].Pos.Line] = true
			}
		case *dbc.SignalDef, *dbc.SignalValueTypeDef, *dbc.ValueDescriptionsDef:
			seen[def.Position().Line] = true
		}
	}
	inString := false
	for i, line := range strings.Split(string(data), "\n") {
		startsInString := inString
		for j := 0; j < len(line); j++ {
			switch line[j] {
			case '\\': // the parser's only escape is \"
				if inString && j+1 < len(line) && line[j+1] == '"' {
					j++
				}
			case '"':
				inString = !inString
			}
		}
		if startsInString {
			continue
		}
		// A keyword alone on its line is an entry of the NS_ list.
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		if kw := fields[0]; definingKeywords[kw] && !seen[i+1] {
			return fmt.Errorf("load dbc: %w", &PositionError{File: name, Line: i + 1,
				Reason: fmt.Sprintf("%s line produced no definition: the parser probably swallowed it with the line before (an unknown line with an odd number of tokens)", kw)})
		}
	}
	return nil
}

func (db *Database) lookupSignal(id dbc.MessageID, name string) *Signal {
	m := db.byKey[key(id.ToCAN(), id.IsExtended())]
	if m == nil {
		return nil
	}
	return m.Signal(name)
}

// Messages returns the messages ordered by identifier.
func (db *Database) Messages() []*Message { return db.messages }

// Message returns the message called name, or nil.
func (db *Database) Message(name string) *Message { return db.byName[name] }

// MessageByID returns the message with the given identifier, or nil.
func (db *Database) MessageByID(id uint32, extended bool) *Message {
	return db.byKey[key(id, extended)]
}

// Signal returns the signal called name, or nil.
func (m *Message) Signal(name string) *Signal {
	for _, s := range m.Signals {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// FD reports whether the message needs a CAN FD frame.
func (m *Message) FD() bool { return m.Size > MaxClassicLen }

// FrameLen is the payload length a frame of this message has on the wire:
// Size, rounded up to a valid CAN FD length for FD messages.
func (m *Message) FrameLen() uint8 {
	l, _ := FDLen(m.Size)
	return l
}

// NewFrame returns an all-zero frame of this message.
func (m *Message) NewFrame() Frame {
	f := Frame{ID: m.ID, Len: m.FrameLen()}
	if m.Extended {
		f.Flags |= Extended
	}
	if m.FD() {
		f.Flags |= FD
	}
	return f
}

type defError struct {
	pos    scanner.Position
	reason string
}

func newMessage(d *dbc.MessageDef) (*Message, *defError) {
	if d.Size > MaxDataLen { // before int(d.Size), which can wrap negative
		return nil, &defError{d.Pos, fmt.Sprintf("message %s: size %d exceeds %d bytes", d.Name, d.Size, MaxDataLen)}
	}
	m := &Message{
		Name:     string(d.Name),
		ID:       d.MessageID.ToCAN(),
		Extended: d.MessageID.IsExtended(),
		Size:     int(d.Size),
		Line:     d.Pos.Line,
	}
	if _, ok := FDLen(m.Size); !ok {
		return nil, &defError{d.Pos, fmt.Sprintf("message %s: size %d exceeds %d bytes", m.Name, m.Size, MaxDataLen)}
	}
	if (m.Extended && m.ID > MaxExtendedID) || (!m.Extended && m.ID > MaxStandardID) {
		return nil, &defError{d.Pos, fmt.Sprintf("message %s: identifier %#x out of range", m.Name, m.ID)}
	}
	for i := range d.Signals {
		sd := &d.Signals[i]
		s := &Signal{
			Name:        string(sd.Name),
			Message:     m,
			Start:       int(sd.StartBit),
			Length:      int(sd.Size),
			BigEndian:   sd.IsBigEndian,
			Signed:      sd.IsSigned,
			Factor:      sd.Factor,
			Offset:      sd.Offset,
			Min:         sd.Minimum,
			Max:         sd.Maximum,
			Unit:        sd.Unit,
			Multiplexed: sd.IsMultiplexed,
			MuxValue:    sd.MultiplexerSwitch,
			Line:        sd.Pos.Line,
		}
		if err := s.checkLayout(); err != nil {
			return nil, &defError{sd.Pos, fmt.Sprintf("signal %s.%s: %v", m.Name, s.Name, err)}
		}
		if m.Signal(s.Name) != nil {
			return nil, &defError{sd.Pos, fmt.Sprintf("signal %s.%s defined twice", m.Name, s.Name)}
		}
		if sd.IsMultiplexerSwitch {
			if m.Mux != nil {
				return nil, &defError{sd.Pos, fmt.Sprintf("message %s has two multiplexer switches", m.Name)}
			}
			m.Mux = s
		}
		m.Signals = append(m.Signals, s)
	}
	for _, s := range m.Signals {
		if s.Multiplexed && m.Mux == nil {
			return nil, &defError{d.Pos, fmt.Sprintf("signal %s.%s is multiplexed but the message has no multiplexer switch", m.Name, s.Name)}
		}
	}
	return m, nil
}

var errLayout = errors.New("bits outside the message")

// checkLayout verifies that every bit of s lies inside its message.
func (s *Signal) checkLayout() error {
	if s.Length < 1 || s.Length > 64 {
		return fmt.Errorf("length %d bits: must be 1..64", s.Length)
	}
	if s.Factor == 0 || math.IsNaN(s.Factor) || math.IsInf(s.Factor, 0) || math.IsNaN(s.Offset) || math.IsInf(s.Offset, 0) {
		return fmt.Errorf("factor %v, offset %v: not a usable scaling", s.Factor, s.Offset)
	}
	bits := 8 * s.Message.Size
	// Start comes from a uint64 and may have wrapped negative; checking it
	// first also keeps Start+Length from overflowing below.
	if s.Start < 0 || s.Start >= bits {
		return errLayout
	}
	if !s.BigEndian {
		if s.Start+s.Length > bits {
			return errLayout
		}
		return nil
	}
	// Motorola: walk from the most significant bit to the least, in the
	// DBC's saw-tooth numbering, and check where the walk ends.
	pos := s.Start
	for i := 1; i < s.Length; i++ {
		if pos%8 == 0 {
			pos += 15
		} else {
			pos--
		}
	}
	if pos >= bits {
		return errLayout
	}
	return nil
}

// UnsignedRaw extracts the signal's raw bits from data, unsigned.
func (s *Signal) UnsignedRaw(data *[MaxDataLen]byte) uint64 {
	if s.BigEndian {
		return extractBE(data, s.Start, s.Length)
	}
	return extractLE(data, s.Start, s.Length)
}

// Raw extracts the signal's raw value, sign-extended for signed signals.
func (s *Signal) Raw(data *[MaxDataLen]byte) int64 {
	return s.signExtend(s.UnsignedRaw(data))
}

// signExtend turns raw bits into the raw value, negative for signed signals
// whose top bit is set.
func (s *Signal) signExtend(u uint64) int64 {
	if s.Signed && s.Length < 64 && u&(1<<(s.Length-1)) != 0 {
		return int64(u | ^uint64(0)<<s.Length)
	}
	return int64(u)
}

// Physical decodes the signal's physical value, raw*factor+offset. It does
// not clamp to the DBC's min and max.
func (s *Signal) Physical(data *[MaxDataLen]byte) float64 {
	return s.physical(s.UnsignedRaw(data))
}

func (s *Signal) physical(u uint64) float64 {
	var v float64
	switch s.Type {
	case Float32:
		v = float64(math.Float32frombits(uint32(u)))
	case Float64:
		v = math.Float64frombits(u)
	default:
		if s.Signed {
			v = float64(s.signExtend(u))
		} else {
			v = float64(u)
		}
	}
	return v*s.Factor + s.Offset
}

// Describe returns the value description (VAL_) of a raw value, such as
// "SNA" for a signal's "not available" code. It does not allocate.
func (s *Signal) Describe(raw int64) (string, bool) {
	d, ok := s.Values[raw]
	return d, ok
}

// HasRange reports whether the DBC gives the signal a usable range: many
// files write [0|0] for "no range".
func (s *Signal) HasRange() bool { return s.Min < s.Max }

// InRange reports whether a physical value lies within the DBC's [min,max],
// allowing half a raw step for the rounding of raw*factor+offset. A signal
// without a range accepts every value but NaN.
func (s *Signal) InRange(phys float64) bool {
	if math.IsNaN(phys) {
		return false
	}
	if !s.HasRange() {
		return true
	}
	tol := 0.0
	if s.Type == Integer {
		tol = math.Abs(s.Factor) / 2
	}
	return phys >= s.Min-tol && phys <= s.Max+tol
}

// SetRaw writes raw bits into data; bits above the signal's length are dropped.
func (s *Signal) SetRaw(data *[MaxDataLen]byte, raw uint64) {
	if s.Length < 64 {
		raw &= 1<<s.Length - 1
	}
	if s.BigEndian {
		insertBE(data, s.Start, s.Length, raw)
	} else {
		insertLE(data, s.Start, s.Length, raw)
	}
}

// Mask returns the bits of a frame's payload the signal occupies, in
// either byte order: what a frame with every bit of the signal set and
// nothing else would carry.
func (s *Signal) Mask() [MaxDataLen]byte {
	var m [MaxDataLen]byte
	s.SetRaw(&m, ^uint64(0))
	return m
}

// Overlaps reports whether s and o share a bit of the payload. Signals of
// one multiplexed message that are never present together may overlap;
// Overlaps does not look at multiplexing.
func (s *Signal) Overlaps(o *Signal) bool {
	a, b := s.Mask(), o.Mask()
	for i := range a {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}

// ErrOutOfRange is returned by Encode when a value does not fit the signal.
var ErrOutOfRange = errors.New("value does not fit the signal")

// Encode writes the physical value v into data, rounding to the nearest raw
// step.
func (s *Signal) Encode(data *[MaxDataLen]byte, v float64) error {
	x := (v - s.Offset) / s.Factor
	var raw uint64
	switch s.Type {
	case Float32:
		f := float32(x)
		if math.IsInf(float64(f), 0) && !math.IsInf(v, 0) {
			return fmt.Errorf("encode %s=%v: %w", s.Name, v, ErrOutOfRange)
		}
		raw = uint64(math.Float32bits(f))
	case Float64:
		if math.IsInf(x, 0) && !math.IsInf(v, 0) {
			return fmt.Errorf("encode %s=%v: %w", s.Name, v, ErrOutOfRange)
		}
		raw = math.Float64bits(x)
	default:
		r := math.Round(x)
		if math.IsNaN(r) {
			return fmt.Errorf("encode %s: NaN: %w", s.Name, ErrOutOfRange)
		}
		// The bounds are powers of two, exact in a float64; 2^n-1 is not
		// for n > 53 and would let 2^n through.
		if s.Signed {
			lim := math.Ldexp(1, s.Length-1)
			if r < -lim || r >= lim {
				return fmt.Errorf("encode %s=%v: %w", s.Name, v, ErrOutOfRange)
			}
			raw = uint64(int64(r))
		} else {
			if r < 0 || r >= math.Ldexp(1, s.Length) {
				return fmt.Errorf("encode %s=%v: %w", s.Name, v, ErrOutOfRange)
			}
			raw = uint64(r)
		}
	}
	s.SetRaw(data, raw)
	return nil
}

// extractLE reads a little-endian (Intel) field whose least significant bit
// is at bit start, with bits numbered from bit 0 of byte 0 upwards.
func extractLE(data *[MaxDataLen]byte, start, length int) uint64 {
	var v uint64
	shift := 0
	for length > 0 {
		off := start & 7
		take := min(8-off, length)
		b := uint64(data[(start>>3)&(MaxDataLen-1)]>>off) & (1<<take - 1)
		v |= b << shift
		shift += take
		start += take
		length -= take
	}
	return v
}

// extractBE reads a big-endian (Motorola) field whose most significant bit
// is at bit start in the DBC's saw-tooth numbering.
func extractBE(data *[MaxDataLen]byte, start, length int) uint64 {
	var v uint64
	for length > 0 {
		hi := start & 7
		take := min(hi+1, length)
		b := uint64(data[(start>>3)&(MaxDataLen-1)]>>(hi-take+1)) & (1<<take - 1)
		v = v<<take | b
		length -= take
		start = (start>>3+1)<<3 + 7
	}
	return v
}

func insertLE(data *[MaxDataLen]byte, start, length int, v uint64) {
	for length > 0 {
		off := start & 7
		take := min(8-off, length)
		mask := byte((1<<take - 1) << off)
		i := (start >> 3) & (MaxDataLen - 1)
		data[i] = data[i]&^mask | byte(v<<off)&mask
		v >>= take
		start += take
		length -= take
	}
}

func insertBE(data *[MaxDataLen]byte, start, length int, v uint64) {
	for length > 0 {
		hi := start & 7
		take := min(hi+1, length)
		lo := hi - take + 1
		mask := byte((1<<take - 1) << lo)
		i := (start >> 3) & (MaxDataLen - 1)
		length -= take
		data[i] = data[i]&^mask | byte(v>>length<<lo)&mask
		start = (start>>3+1)<<3 + 7
	}
}
