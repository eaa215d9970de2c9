package can_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/can"
)

func readLog(tb testing.TB, r *can.LogReader) []can.Frame {
	tb.Helper()
	var out []can.Frame
	for {
		var f can.Frame
		err := r.ReadFrame(&f)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("ReadFrame: %v", err)
		}
		out = append(out, f)
	}
}

func openLog(tb testing.TB, name, iface string) *can.LogReader {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "logs", name))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return can.NewLogReader(f, iface)
}

func TestLogReaderGood(t *testing.T) {
	r := openLog(t, "good.log", "")
	got := readLog(t, r)
	at := func(sec, nsec int64) time.Time { return time.Unix(sec, nsec).UTC() }
	fd64 := frame(0x126, can.FD|can.BRS|can.ESI, append(append(append(append([]byte(nil),
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff),
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff),
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff),
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff)...)
	want := []can.Frame{
		frame(0x044, 0, 0x2a, 0x36, 0x6c, 0x2b, 0xba),
		frame(0x1abcdef0, can.Extended, 0x00, 0x11, 0x22),
		frame(0x123, can.Remote),
		{ID: 0x124, Flags: can.Remote, Len: 3},
		frame(0x125, can.FD|can.BRS, 0xaa, 0xbb, 0xcc),
		fd64,
		frame(0x127, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77),
		frame(0x128, 0),
		frame(0x7ff, 0, 0xff),
	}
	times := []time.Time{
		at(1436509052, 249713000), at(1436509052, 249800000), at(1436509052, 250000000),
		at(1436509052, 250001000), at(1436509052, 250002000), at(1436509052, 250003000),
		at(1436509052, 250004000), at(1436509052, 250005123), at(1436509052, 250006000),
	}
	if len(got) != len(want) {
		t.Fatalf("read %d frames, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		want[i].Time = times[i]
		if got[i] != want[i] {
			t.Errorf("frame %d = %v %+v\nwant %v %+v", i, got[i], got[i], want[i], want[i])
		}
		if err := got[i].Validate(); err != nil {
			t.Errorf("frame %d: %v", i, err)
		}
	}
	if s := r.Stats(); s.Frames != 9 || s.Blank != 2 || s.Bad() != 0 || s.ErrorFrames != 0 {
		t.Errorf("stats %+v", s)
	}
	if r.Iface() != "can1" {
		t.Errorf("Iface() = %q after the can1 frame", r.Iface())
	}
	// The FD 3-byte frame is padded to no more; a 5-byte FD frame to 5.
	var f can.Frame
	if err := openLog(t, "good.log", "").ReadFrame(&f); err != nil || f.ID != 0x044 {
		t.Errorf("first frame %v, %v", f, err)
	}
}

func TestLogReaderInterfaceFilter(t *testing.T) {
	r := openLog(t, "good.log", "can1")
	got := readLog(t, r)
	if len(got) != 1 || got[0].ID != 0x7ff {
		t.Errorf("can1 frames %v", got)
	}
	if s := r.Stats(); s.OtherIface != 8 || s.Frames != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestLogReaderBad: every malformed line is dropped and counted under its
// reason; the good lines around them still come through.
func TestLogReaderBad(t *testing.T) {
	r := openLog(t, "bad.log", "")
	got := readLog(t, r)
	if len(got) != 2 || got[0].ID != 0x044 || got[1].ID != 0x045 {
		t.Errorf("frames %v, want 044 and 045 only", got)
	}
	want := can.LogStats{
		Frames:       2,
		BadTimestamp: 4, // no parentheses, bad digit, no fraction, 10 fraction digits
		BadSyntax:    4, // no frame, no '#', extra token, empty FD
		BadID:        4, // 2 digits, 0x800, 0x40000001, 'G'
		BadData:      7, // odd digits, non-hex, _C on 1 byte, _7, R9, FD flags X, FD data GG
		BadLength:    1, // 9 classic bytes
		Unsupported:  1, // CAN XL
		ErrorFrames:  1,
	}
	if s := r.Stats(); s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
}

func TestLogReaderLongLinesAndEnd(t *testing.T) {
	long := "(1.000000) vcan0 123#" + strings.Repeat("00", 400) + "\n"
	in := long + "(2.000000) vcan0 124#01\n" + long + "(3.000000) vcan0 125#02" // no final newline
	r := can.NewLogReader(strings.NewReader(in), "")
	got := readLog(t, r)
	if len(got) != 2 || got[0].ID != 0x124 || got[1].ID != 0x125 || got[1].Time.Unix() != 3 {
		t.Errorf("frames %v", got)
	}
	if s := r.Stats(); s.TooLong != 2 || s.Frames != 2 {
		t.Errorf("stats %+v", s)
	}
	var f can.Frame
	if err := r.ReadFrame(&f); !errors.Is(err, io.EOF) {
		t.Errorf("ReadFrame after the end = %v, want io.EOF", err)
	}
	r.Close()
	if err := r.ReadFrame(&f); !errors.Is(err, can.ErrClosed) {
		t.Errorf("ReadFrame after Close = %v, want ErrClosed", err)
	}
}

// TestLogRoundTrip: what the writer writes, the reader reads back.
func TestLogRoundTrip(t *testing.T) {
	frames := []can.Frame{
		frame(0x044, 0, 0x2a, 0x36),
		frame(0x1abcdef0, can.Extended, 1, 2, 3, 4, 5, 6, 7, 8),
		{ID: 0x124, Flags: can.Remote, Len: 3},
		frame(0x125, can.FD|can.BRS, seq(12)...),
		frame(0x18fef100, can.FD|can.Extended|can.ESI, seq(64)...),
		frame(0x000, 0),
	}
	for _, nano := range []bool{false, true} {
		var buf bytes.Buffer
		w := can.NewLogWriter(&buf, "vcan0", nano)
		for i := range frames {
			frames[i].Time = time.Unix(1700000000+int64(i), 123456789).UTC()
			if err := w.WriteFrame(&frames[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(buf.String(), "\n")
		wantFirst := "(1700000000.123456) vcan0 044#2A36"
		if nano {
			wantFirst = "(1700000000.123456789) vcan0 044#2A36"
		}
		if first != wantFirst {
			t.Errorf("nano %v: first line %q, want %q", nano, first, wantFirst)
		}
		got := readLog(t, can.NewLogReader(&buf, "vcan0"))
		if len(got) != len(frames) {
			t.Fatalf("read back %d frames", len(got))
		}
		for i := range frames {
			want := frames[i]
			if !nano {
				want.Time = want.Time.Truncate(time.Microsecond)
			}
			if got[i] != want {
				t.Errorf("nano %v: frame %d read back as %v at %v, want %v at %v", nano, i, got[i], got[i].Time, want, want.Time)
			}
		}
	}
	bad := frame(0x800, 0)
	if err := can.NewLogWriter(io.Discard, "vcan0", false).WriteFrame(&bad); !errors.Is(err, can.ErrBadID) {
		t.Errorf("writing an invalid frame: %v", err)
	}
}

func TestLogReaderDoesNotAllocate(t *testing.T) {
	line := []byte("(1436509052.249713) vcan0 1ABCDEF0#0011223344556677\n")
	data := bytes.Repeat(line, 2000)
	r := can.NewLogReader(bytes.NewReader(data), "vcan0")
	var f can.Frame
	if allocs := testing.AllocsPerRun(1000, func() {
		if err := r.ReadFrame(&f); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("ReadFrame allocates %v times per frame", allocs)
	}
}

func BenchmarkLogReader(b *testing.B) {
	line := []byte("(1436509052.249713) vcan0 3D8#1C00B127600F9119\n")
	data := bytes.Repeat(line, 4096)
	rd := bytes.NewReader(data)
	r := can.NewLogReader(rd, "")
	var f can.Frame
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadFrame(&f); err != nil {
			rd.Reset(data)
			r = can.NewLogReader(rd, "")
		}
	}
}

// TestRecord: frames from a bus land in the log until the context ends.
func TestRecord(t *testing.T) {
	bus := can.NewBus(fixedClock(t0))
	src, tx := bus.Open(), bus.Open()
	defer tx.Close()
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		n   uint64
		err error
	}
	done := make(chan result)
	go func() {
		n, err := can.Record(ctx, src, can.NewLogWriter(&buf, "vbus0", false))
		done <- result{n, err}
	}()
	for i := range 5 {
		f := frame(0x100+uint32(i), 0, byte(i))
		if err := tx.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
	}
	waitEmpty(t, src)
	cancel()
	r := <-done
	if r.err != nil || r.n != 5 {
		t.Fatalf("Record = %d, %v", r.n, r.err)
	}
	got := readLog(t, can.NewLogReader(&buf, "vbus0"))
	if len(got) != 5 || got[4].ID != 0x104 || !got[0].Time.Equal(t0) {
		t.Errorf("recorded %v", got)
	}
	// A finite source ends the recording by itself.
	n, err := can.Record(context.Background(), can.NewLogReader(strings.NewReader("(1.0) x 123#00\n"), ""), can.NewLogWriter(io.Discard, "x", false))
	if n != 1 || err != nil {
		t.Errorf("Record of a log = %d, %v", n, err)
	}
}

// waitEmpty waits until the port's queue was read (a deadlock guard, not
// a timing assertion).
func waitEmpty(t *testing.T, p *can.Port) {
	t.Helper()
	waitBlocked(t, "quietzone/can.(*Port).ReadFrame")
}
