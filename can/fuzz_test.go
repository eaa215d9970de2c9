package can_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/can/profiles"
)

// FuzzDecode feeds arbitrary frames to a decoder of the reference profile.
// It must never panic; a decoded frame yields exactly the roles mapped to
// its message, with the values the DBC signals give; a dropped frame yields
// none and one of the three reasons; exactly one counter moves per frame.
func FuzzDecode(f *testing.F) {
	f.Add(uint32(240), uint8(0), uint8(8), []byte{0x3d, 0x22, 0x0b, 0x87, 0xd6, 0x12, 0x00, 0x05})
	f.Add(uint32(416), uint8(0), uint8(8), []byte{0x1c, 0xb1, 0x27, 0x60, 0xf9, 0x19, 0xb8, 0x08})
	f.Add(uint32(784), uint8(0), uint8(2), []byte{0x03, 0x00})
	f.Add(uint32(240), uint8(can.Remote), uint8(0), []byte{})
	f.Add(uint32(240), uint8(can.Extended), uint8(8), []byte{})
	f.Add(uint32(0xffffffff), uint8(0xff), uint8(0xff), []byte{0xff})
	d := refDecoder(f)
	out := make([]can.Value, d.MaxValuesPerFrame())
	f.Fuzz(func(t *testing.T, id uint32, flags uint8, length uint8, data []byte) {
		fr := can.Frame{ID: id, Flags: can.Flags(flags), Len: length, Time: t0}
		copy(fr.Data[:], data)
		_ = fr.String() // must not panic either, even for invalid frames
		_ = fr.Validate()

		before := d.Stats()
		n, err := d.Decode(&fr, out)
		after := d.Stats()
		moved := func(a, b uint64) uint64 { return b - a }
		counts := [4]uint64{
			moved(before.Decoded, after.Decoded), moved(before.Unmapped, after.Unmapped),
			moved(before.WrongLength, after.WrongLength), moved(before.Remote, after.Remote),
		}
		wantCounts := [4]uint64{}
		switch err {
		case nil:
			wantCounts[0] = 1
		case can.ErrUnmapped:
			wantCounts[1] = 1
		case can.ErrWrongLength:
			wantCounts[2] = 1
		case can.ErrRemoteFrame:
			wantCounts[3] = 1
		default:
			t.Fatalf("Decode(%v) = %v: not one of the three reasons", fr, err)
		}
		if counts != wantCounts {
			t.Fatalf("Decode(%v) = %v moved the counters by %v", fr, err, counts)
		}
		if err != nil {
			if n != 0 {
				t.Fatalf("Decode(%v) = %d values and %v", fr, n, err)
			}
			return
		}

		msg := d.Database().MessageByID(fr.ID, fr.IsExtended())
		if msg == nil {
			t.Fatalf("Decode(%v) decoded a frame of no DBC message", fr)
		}
		if fr.IsRemote() || (fr.Len != msg.FrameLen() && int(fr.Len) != msg.Size) {
			t.Fatalf("Decode(%v) decoded a remote or wrong-length frame of %s", fr, msg.Name)
		}
		// The roles mapped to this message, and no others.
		want := map[can.RoleID]bool{}
		for _, m := range d.Mappings() {
			if m.Message == msg.Name {
				id, _ := d.Role(m.Role)
				want[id] = true
			}
		}
		if n != len(want) {
			t.Fatalf("Decode(%v) = %d values, want the %d roles mapped to %s", fr, n, len(want), msg.Name)
		}
		for _, v := range out[:n] {
			if !want[v.Role] {
				t.Fatalf("Decode(%v): role %d (%s) is not mapped to %s or came twice", fr, v.Role, d.Roles()[v.Role], msg.Name)
			}
			delete(want, v.Role)
			s := d.Signal(v.Role)
			if v.Raw != s.Raw(&fr.Data) || !sameFloat(v.Phys, s.Physical(&fr.Data)) || !v.Time.Equal(fr.Time) {
				t.Fatalf("Decode(%v): %s = %+v, the signal reads raw %d phys %v", fr, d.Roles()[v.Role], v, s.Raw(&fr.Data), s.Physical(&fr.Data))
			}
		}
	})
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// FuzzLoadDBC loads arbitrary bytes as a DBC. It must never panic; an error
// is always a *PositionError naming the file and a line; a database that
// loads keeps every promise decoding relies on.
func FuzzLoadDBC(f *testing.F) {
	for _, name := range []string{"vehicle.dbc", "warnings.dbc", "independent.dbc"} {
		addFile(f, filepath.Join("testdata", name))
	}
	bad, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.dbc"))
	for _, path := range bad {
		addFile(f, path)
	}
	ref, err := profiles.FS.ReadFile("quietzone.dbc")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ref)
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.dbc"
		db, err := can.LoadDBC(name, data)
		if err != nil {
			var pe *can.PositionError
			if !errors.As(err, &pe) {
				t.Fatalf("error %q (%T) is not a *PositionError", err, err)
			}
			if pe.File != name || pe.Line < 1 || pe.Reason == "" {
				t.Fatalf("PositionError %+v: want file %s, a line >= 1 and a reason", pe, name)
			}
			if err.Error() != "load dbc: "+pe.Error() {
				t.Fatalf("error %q does not end in %q", err, pe.Error())
			}
			return
		}
		checkDatabase(t, db, name)
	})
}

func addFile(f *testing.F, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
}

// checkDatabase verifies what LoadDBC promises about a database it returns.
func checkDatabase(t *testing.T, db *can.Database, name string) {
	t.Helper()
	for _, w := range db.Warnings {
		rest, ok := strings.CutPrefix(w, name+":")
		line, _, ok2 := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(line); !ok || !ok2 || err != nil || n < 1 {
			t.Fatalf("warning %q is not %s:LINE: reason", w, name)
		}
	}
	var maps []can.Mapping
	var prev *can.Message
	for _, m := range db.Messages() {
		if m.Size < 0 || m.Size > can.MaxDataLen {
			t.Fatalf("message %s: size %d", m.Name, m.Size)
		}
		if (m.Extended && m.ID > can.MaxExtendedID) || (!m.Extended && m.ID > can.MaxStandardID) {
			t.Fatalf("message %s: identifier %#x (extended %v) out of range", m.Name, m.ID, m.Extended)
		}
		if db.Message(m.Name) != m || db.MessageByID(m.ID, m.Extended) != m {
			t.Fatalf("message %s: lookups do not find it", m.Name)
		}
		if prev != nil && (prev.Extended && !m.Extended || prev.Extended == m.Extended && prev.ID >= m.ID) {
			t.Fatalf("Messages() not ordered: %s (%#x) before %s (%#x)", prev.Name, prev.ID, m.Name, m.ID)
		}
		prev = m
		fr := m.NewFrame()
		if err := fr.Validate(); err != nil {
			t.Fatalf("message %s: NewFrame() = %v: %v", m.Name, fr, err)
		}
		for _, s := range m.Signals {
			if s.Message != m || m.Signal(s.Name) != s {
				t.Fatalf("signal %s.%s: not linked to its message", m.Name, s.Name)
			}
			if s.Length < 1 || s.Length > 64 || s.Start < 0 {
				t.Fatalf("signal %s.%s: start %d length %d", m.Name, s.Name, s.Start, s.Length)
			}
			for _, p := range can.RefPositions(s.Start, s.Length, s.BigEndian) {
				if p >= 8*m.Size {
					t.Fatalf("signal %s.%s (%d|%d big-endian %v): bit %d outside the %d-byte message",
						m.Name, s.Name, s.Start, s.Length, s.BigEndian, p, m.Size)
				}
			}
			if (s.Type == can.Float32 && s.Length != 32) || (s.Type == can.Float64 && s.Length != 64) {
				t.Fatalf("signal %s.%s: float type %v with %d bits", m.Name, s.Name, s.Type, s.Length)
			}
			if s.Multiplexed && m.Mux == nil {
				t.Fatalf("signal %s.%s: multiplexed in a message without a switch", m.Name, s.Name)
			}
			if s.Factor == 0 || math.IsNaN(s.Factor) || math.IsInf(s.Factor, 0) || math.IsNaN(s.Offset) || math.IsInf(s.Offset, 0) {
				t.Fatalf("signal %s.%s: factor %v offset %v", m.Name, s.Name, s.Factor, s.Offset)
			}
			// Encoding the value of an all-zero frame works and changes
			// nothing it decodes to.
			var d [can.MaxDataLen]byte
			v := s.Physical(&d)
			if err := s.Encode(&d, v); err != nil {
				t.Fatalf("signal %s.%s: Encode(%v) of a zero frame: %v", m.Name, s.Name, v, err)
			}
			if got := s.Physical(&d); !sameFloat(got, v) {
				t.Fatalf("signal %s.%s: Encode(%v) then Physical = %v", m.Name, s.Name, v, got)
			}
			maps = append(maps, can.Mapping{Role: "r" + strconv.Itoa(len(maps)), Message: m.Name, Signal: s.Name})
		}
	}
	// Every signal can be mapped, and every message decodes from its own
	// NewFrame.
	dec, err := can.NewDecoder(db, maps)
	if err != nil {
		t.Fatalf("NewDecoder over every signal: %v", err)
	}
	out := make([]can.Value, dec.MaxValuesPerFrame())
	for _, m := range db.Messages() {
		fr := m.NewFrame()
		if _, err := dec.Decode(&fr, out); err != nil && !(errors.Is(err, can.ErrUnmapped) && len(m.Signals) == 0) {
			t.Fatalf("message %s: Decode(NewFrame()) = %v", m.Name, err)
		}
	}
}

// FuzzLogReader reads arbitrary bytes as a candump log. It must never panic
// or fail; every line lands in exactly one counter; every frame returned is
// valid, and writing it and reading it back gives the same frame.
func FuzzLogReader(f *testing.F) {
	for _, name := range []string{"good.log", "bad.log"} {
		addFile(f, filepath.Join("testdata", "logs", name))
	}
	f.Add([]byte("(0.0) a 000#\n"))
	f.Add([]byte("(1.1) vcan0 123##F" + strings.Repeat("AB", 64)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := can.NewLogReader(bytes.NewReader(data), "")
		var frames []can.Frame
		for {
			var fr can.Frame
			err := r.ReadFrame(&fr)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			if err := fr.Validate(); err != nil {
				t.Fatalf("ReadFrame returned an invalid frame %v: %v", fr, err)
			}
			frames = append(frames, fr)
		}
		s := r.Stats()
		lines := s.Frames + s.Blank + s.Bad() + s.ErrorFrames + s.OtherIface
		if want := countLines(data); lines != want {
			t.Fatalf("stats %+v account for %d lines, the input has %d", s, lines, want)
		}
		if s.Frames != uint64(len(frames)) {
			t.Fatalf("stats count %d frames, %d returned", s.Frames, len(frames))
		}
		var buf bytes.Buffer
		w := can.NewLogWriter(&buf, "vcan0", true)
		for i := range frames {
			if err := w.WriteFrame(&frames[i]); err != nil {
				t.Fatalf("WriteFrame(%v): %v", frames[i], err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		back := can.NewLogReader(&buf, "vcan0")
		for i, want := range frames {
			var got can.Frame
			if err := back.ReadFrame(&got); err != nil {
				t.Fatalf("reading back frame %d (%v): %v", i, want, err)
			}
			if want.Time.Before(time.Unix(0, 0)) {
				want.Time = time.Unix(0, 0).UTC()
			}
			if got != want {
				t.Fatalf("frame %d: wrote %v at %v, read back %v at %v", i, want, want.Time, got, got.Time)
			}
		}
	})
}

// countLines counts lines as the log reader sees them: newline-terminated,
// plus a last one without a newline.
func countLines(data []byte) uint64 {
	n := uint64(bytes.Count(data, []byte{'\n'}))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}
