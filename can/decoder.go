package can

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Mapping names one DBC signal under a role of the signal map, such as
// "vehicle.speed" → DI_torque2.DI_vehicleSpeed.
type Mapping struct {
	Role    string
	Message string
	Signal  string
	// Unit is the role's unit. When set, decoded physical values are
	// converted to it from the DBC signal's unit (mph → km/h, rad → deg);
	// NewDecoder refuses units it does not know or cannot convert.
	// Empty: values stay in the DBC's unit.
	Unit string
	// MaxAge is how long a value of this role stays fresh for its
	// consumer (the gateway); zero means the consumer's default.
	MaxAge time.Duration
	// Class is the class a custom role's values are declared to have
	// (vehicle, location or personal), as the profile writes it, for the
	// gateway, which decides with it what may leave the vehicle. The
	// package carries it and does not read it. Empty for well-known roles.
	Class string
}

// RoleID is a role's index in its Decoder. It is small so that the gateway
// can keep per-role state in slices instead of maps.
type RoleID uint16

// Value is one decoded signal of one frame.
type Value struct {
	Role RoleID
	// Flags mark anomalies of this value.
	Flags ValueFlags
	// Raw is the signal's raw value, sign-extended for signed signals.
	// Value descriptions (Decoder.Describe) are keyed by it.
	Raw int64
	// Phys is the physical value, raw*factor+offset (or the float itself),
	// converted to the role's unit. It is never clamped to the DBC's range.
	Phys float64
	// Time is when the frame carrying the value was received.
	Time time.Time
}

// ValueFlags mark anomalies of a decoded value.
type ValueFlags uint8

const (
	// OutOfRange: the physical value lies outside the DBC signal's
	// [min,max] (checked only where min < max), or is NaN. The value is
	// passed on unclamped and counted in DecodeStats.OutOfRange.
	OutOfRange ValueFlags = 1 << iota
)

// Reasons a frame is not decoded; returned by Decode and counted in Stats.
var (
	// ErrUnmapped: the frame's identifier carries no mapped signal. This is
	// normal on a real bus and not an anomaly.
	ErrUnmapped = errors.New("identifier not mapped")
	// ErrWrongLength: the frame's length differs from the DBC message's.
	ErrWrongLength = errors.New("frame length differs from the DBC message")
	// ErrRemoteFrame: a remote request carries no data to decode.
	ErrRemoteFrame = errors.New("remote frame")
)

// DecodeStats counts frames by outcome, and anomalous values.
type DecodeStats struct {
	Decoded     uint64
	Unmapped    uint64
	WrongLength uint64
	Remote      uint64
	// OutOfRange counts values (not frames) outside their DBC range.
	OutOfRange uint64
}

// Bad returns the number of frames dropped as anomalies.
func (s DecodeStats) Bad() uint64 { return s.WrongLength + s.Remote }

// Decoder turns frames into the values of mapped signals. Build it once with
// NewDecoder; Decode does not allocate. A Decoder keeps counters and must be
// used from one goroutine.
type Decoder struct {
	db    *Database
	roles []string
	maps  []Mapping
	sigs  []*Signal // by RoleID
	// std is indexed by standard identifier; ext holds extended ones.
	std   [MaxStandardID + 1]*entry
	ext   map[uint32]*entry
	stats DecodeStats
}

type entry struct {
	msg    *Message
	fields []field
}

type field struct {
	role    RoleID
	convert bool
	conv    Conversion
	sig     *Signal
}

// MapError is a problem with one mapping of a signal map.
type MapError struct {
	Role   string
	Reason string
}

func (e *MapError) Error() string { return fmt.Sprintf("role %s: %s", e.Role, e.Reason) }

// NewDecoder builds decode tables for the mapped signals of db. Each role may
// appear once, and each DBC signal under one role: a signal under two
// names would be one meaning with two spellings. Every named message and
// signal must exist; a role's unit must be convertible from its signal's.
func NewDecoder(db *Database, maps []Mapping) (*Decoder, error) {
	d := &Decoder{db: db, ext: map[uint32]*entry{}, maps: maps}
	seen := map[string]bool{}
	mappedTo := map[*Signal]string{} // signal → its role
	for _, m := range maps {
		if m.Role == "" || strings.ContainsAny(m.Role, " \t") {
			return nil, &MapError{Role: m.Role, Reason: "invalid role name"}
		}
		if seen[m.Role] {
			return nil, &MapError{Role: m.Role, Reason: "mapped twice"}
		}
		seen[m.Role] = true
		msg := db.Message(m.Message)
		if msg == nil {
			return nil, &MapError{Role: m.Role, Reason: fmt.Sprintf("message %s is not in %s", m.Message, db.Name)}
		}
		sig := msg.Signal(m.Signal)
		if sig == nil {
			return nil, &MapError{Role: m.Role, Reason: fmt.Sprintf("signal %s is not in message %s", m.Signal, m.Message)}
		}
		if other, dup := mappedTo[sig]; dup {
			return nil, &MapError{Role: m.Role, Reason: fmt.Sprintf("signal %s.%s is already the signal of role %s: a DBC signal has one role", m.Message, m.Signal, other)}
		}
		mappedTo[sig] = m.Role
		if len(d.roles) > int(^RoleID(0)) {
			return nil, &MapError{Role: m.Role, Reason: "too many roles"}
		}
		if m.MaxAge < 0 {
			return nil, &MapError{Role: m.Role, Reason: fmt.Sprintf("max_age %v is negative", m.MaxAge)}
		}
		fl := field{sig: sig, conv: Identity}
		if m.Unit != "" {
			if sig.Unit == "" {
				return nil, &MapError{Role: m.Role, Reason: fmt.Sprintf("unit %s: signal %s.%s has no unit in %s to convert from", m.Unit, m.Message, m.Signal, db.Name)}
			}
			c, err := Convert(sig.Unit, m.Unit)
			if err != nil {
				return nil, &MapError{Role: m.Role, Reason: fmt.Sprintf("unit %s: signal %s.%s: %v", m.Unit, m.Message, m.Signal, err)}
			}
			fl.conv, fl.convert = c, c != Identity
		}
		id := RoleID(len(d.roles))
		fl.role = id
		d.roles = append(d.roles, m.Role)
		d.sigs = append(d.sigs, sig)
		e := d.lookup(msg.ID, msg.Extended)
		if e == nil {
			e = &entry{msg: msg}
			if msg.Extended {
				d.ext[msg.ID] = e
			} else {
				d.std[msg.ID] = e
			}
		}
		e.fields = append(e.fields, fl)
	}
	return d, nil
}

func (d *Decoder) lookup(id uint32, extended bool) *entry {
	if !extended {
		if id > MaxStandardID {
			return nil
		}
		return d.std[id]
	}
	return d.ext[id]
}

// Database returns the DBC the decoder was built from.
func (d *Decoder) Database() *Database { return d.db }

// Roles returns the role names; RoleID i names Roles()[i].
func (d *Decoder) Roles() []string { return d.roles }

// Mappings returns the signal map the decoder was built from.
func (d *Decoder) Mappings() []Mapping { return d.maps }

// Role returns the RoleID of a role name.
func (d *Decoder) Role(name string) (RoleID, bool) {
	for i, r := range d.roles {
		if r == name {
			return RoleID(i), true
		}
	}
	return 0, false
}

// Signal returns the DBC signal a role is mapped to, or nil.
func (d *Decoder) Signal(r RoleID) *Signal {
	if int(r) >= len(d.sigs) {
		return nil
	}
	return d.sigs[r]
}

// Describe returns the DBC's value description of v's raw value, such as
// "SNA" or "DI_GEAR_D". It does not allocate.
func (d *Decoder) Describe(v Value) (string, bool) {
	if int(v.Role) >= len(d.sigs) {
		return "", false
	}
	return d.sigs[v.Role].Describe(v.Raw)
}

func (d *Decoder) entries() []*entry {
	var es []*entry
	for _, e := range d.std {
		if e != nil {
			es = append(es, e)
		}
	}
	for _, e := range d.ext {
		es = append(es, e)
	}
	return es
}

// Filter is an identifier the decoder needs, for kernel receive filters.
type Filter struct {
	ID       uint32
	Extended bool
}

// Filters lists the identifiers that carry mapped signals, sorted.
func (d *Decoder) Filters() []Filter {
	var fs []Filter
	for _, e := range d.entries() {
		fs = append(fs, Filter{ID: e.msg.ID, Extended: e.msg.Extended})
	}
	sort.Slice(fs, func(i, j int) bool { return key(fs[i].ID, fs[i].Extended) < key(fs[j].ID, fs[j].Extended) })
	return fs
}

// MaxValuesPerFrame is the most values one Decode call can return.
func (d *Decoder) MaxValuesPerFrame() int {
	n := 0
	for _, e := range d.entries() {
		n = max(n, len(e.fields))
	}
	return n
}

// Decode writes the mapped values carried by f into out and returns how
// many it wrote. It returns ErrUnmapped, ErrWrongLength or ErrRemoteFrame
// (unwrapped, so that the hot path does not allocate) for frames it drops.
// out should have room for MaxValuesPerFrame values; extra ones are cut.
func (d *Decoder) Decode(f *Frame, out []Value) (int, error) {
	e := d.lookup(f.ID, f.IsExtended())
	if e == nil {
		d.stats.Unmapped++
		return 0, ErrUnmapped
	}
	if f.IsRemote() {
		d.stats.Remote++
		return 0, ErrRemoteFrame
	}
	if f.Len != e.msg.FrameLen() && int(f.Len) != e.msg.Size {
		d.stats.WrongLength++
		return 0, ErrWrongLength
	}
	var mux uint64
	if e.msg.Mux != nil {
		mux = e.msg.Mux.UnsignedRaw(&f.Data)
	}
	n := 0
	for i := range e.fields {
		if n == len(out) {
			break
		}
		fl := &e.fields[i]
		s := fl.sig
		if s.Multiplexed && s.MuxValue != mux {
			continue
		}
		u := s.UnsignedRaw(&f.Data)
		v := Value{Role: fl.role, Raw: s.signExtend(u), Phys: s.physical(u), Time: f.Time}
		if !s.InRange(v.Phys) {
			v.Flags |= OutOfRange
			d.stats.OutOfRange++
		}
		if fl.convert {
			v.Phys = fl.conv.Apply(v.Phys)
		}
		out[n] = v
		n++
	}
	d.stats.Decoded++
	return n, nil
}

// Stats returns the decoder's counters.
func (d *Decoder) Stats() DecodeStats { return d.stats }
