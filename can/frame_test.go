package can_test

import (
	"errors"
	"strconv"
	"testing"

	"quietzone/can"
)

// frame builds a frame with the given payload.
func frame(id uint32, flags can.Flags, data ...byte) can.Frame {
	f := can.Frame{ID: id, Flags: flags, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

// seq returns n bytes 0, 1, 2, ...
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestFrameString(t *testing.T) {
	tests := []struct {
		name  string
		frame can.Frame
		want  string
	}{
		{"standard", frame(0x123, 0, 0xde, 0xad, 0xbe, 0xef), "123#DEADBEEF"},
		{"standard id padded to 3 digits", frame(0x5, 0, 0x01), "005#01"},
		{"largest standard id", frame(can.MaxStandardID, 0, 0xff), "7FF#FF"},
		{"no data", frame(0x123, 0), "123#"},
		{"eight bytes", frame(0x100, 0, seq(8)...), "100#0001020304050607"},
		{"extended 8 digits", frame(0x1abcdef0, can.Extended, 0x00), "1ABCDEF0#00"},
		{"extended small id padded", frame(0x123, can.Extended, 0x11, 0x22), "00000123#1122"},
		{"largest extended id", frame(can.MaxExtendedID, can.Extended), "1FFFFFFF#"},
		{"remote", frame(0x123, can.Remote), "123#R"},
		// can-utils print a remote frame's requested length (lib.c
		// sprint_canframe: "123#R2"), and read it back; data is ignored.
		{"remote with length ignores data", can.Frame{ID: 0x123, Flags: can.Remote, Len: 2, Data: [64]byte{1, 2}}, "123#R2"},
		{"remote extended", frame(0x1abcdef0, can.Extended|can.Remote), "1ABCDEF0#R"},
		{"fd no flags", frame(0x123, can.FD, 0xaa, 0xbb), "123##0AABB"},
		{"fd brs", frame(0x123, can.FD|can.BRS, 0xaa, 0xbb), "123##1AABB"},
		{"fd esi", frame(0x123, can.FD|can.ESI, 0xaa), "123##2AA"},
		{"fd brs esi", frame(0x123, can.FD|can.BRS|can.ESI), "123##3"},
		{"fd extended", frame(0x1abcdef0, can.Extended|can.FD|can.BRS, 0x01), "1ABCDEF0##101"},
		{
			"fd 64 bytes", frame(0x7ff, can.FD, seq(64)...),
			"7FF##0000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F" +
				"202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F",
		},
		// String must not panic on frames Validate rejects: they end up in
		// log lines and error messages.
		{"invalid length clamped", can.Frame{ID: 0x1, Len: 200, Data: [64]byte{0xab}}, "001#AB" + zeros(63)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.frame.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func zeros(n int) string {
	b := make([]byte, 2*n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func TestFrameValidate(t *testing.T) {
	tests := []struct {
		name  string
		frame can.Frame
		want  error // nil, can.ErrBadID or can.ErrBadLength
	}{
		{"classic empty", frame(0x1, 0), nil},
		{"classic 8 bytes", frame(0x1, 0, seq(8)...), nil},
		{"classic 9 bytes", can.Frame{ID: 0x1, Len: 9}, can.ErrBadLength},
		{"classic 64 bytes", can.Frame{ID: 0x1, Len: 64}, can.ErrBadLength},
		{"classic 255 bytes", can.Frame{ID: 0x1, Len: 255}, can.ErrBadLength},
		{"largest standard id", frame(can.MaxStandardID, 0), nil},
		{"standard id out of range", frame(can.MaxStandardID+1, 0), can.ErrBadID},
		{"extended small id", frame(0x1, can.Extended), nil},
		{"largest extended id", frame(can.MaxExtendedID, can.Extended), nil},
		{"extended id out of range", frame(can.MaxExtendedID+1, can.Extended), can.ErrBadID},
		{"extended id with flag bits", frame(0x80000001, can.Extended), can.ErrBadID},
		{"id checked before length", can.Frame{ID: 0x800, Len: 9}, can.ErrBadID},
		{"remote classic", frame(0x1, can.Remote), nil},
		{"remote classic with length", can.Frame{ID: 0x1, Flags: can.Remote, Len: 8}, nil},
		{"remote fd", frame(0x1, can.FD|can.Remote), can.ErrBadLength},
		{"remote fd 8 bytes", can.Frame{ID: 0x1, Flags: can.FD | can.Remote, Len: 8}, can.ErrBadLength},
		{"fd 65 bytes", can.Frame{ID: 0x1, Flags: can.FD, Len: 65}, can.ErrBadLength},
		{"fd with brs and esi", can.Frame{ID: 0x1, Flags: can.FD | can.BRS | can.ESI, Len: 64}, nil},
		{"fd extended id out of range", can.Frame{ID: 0x20000000, Flags: can.FD | can.Extended, Len: 12}, can.ErrBadID},
	}
	// Every FD length: only 0..8, 12, 16, 20, 24, 32, 48 and 64 are valid.
	validFD := map[int]bool{12: true, 16: true, 20: true, 24: true, 32: true, 48: true, 64: true}
	for n := 0; n <= 8; n++ {
		validFD[n] = true
	}
	for n := 0; n <= 70; n++ {
		var want error
		if !validFD[n] {
			want = can.ErrBadLength
		}
		tests = append(tests, struct {
			name  string
			frame can.Frame
			want  error
		}{"fd length " + strconv.Itoa(n), can.Frame{ID: 0x1, Flags: can.FD, Len: uint8(n)}, want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.frame.Validate()
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Validate() = %v, want an error wrapping %v", err, tt.want)
			}
		})
	}
}

func TestFDLen(t *testing.T) {
	tests := []struct {
		n    int
		want uint8
		ok   bool
	}{
		{-1, 0, true}, {0, 0, true}, {1, 1, true}, {7, 7, true}, {8, 8, true},
		{9, 12, true}, {12, 12, true}, {13, 16, true}, {16, 16, true},
		{17, 20, true}, {20, 20, true}, {21, 24, true}, {24, 24, true},
		{25, 32, true}, {32, 32, true}, {33, 48, true}, {48, 48, true},
		{49, 64, true}, {64, 64, true}, {65, 0, false}, {1000, 0, false},
	}
	for _, tt := range tests {
		got, ok := can.FDLen(tt.n)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FDLen(%d) = %d, %v; want %d, %v", tt.n, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFrameAccessors(t *testing.T) {
	f := frame(0x123, can.Extended|can.FD|can.BRS, 1, 2, 3)
	if !f.IsExtended() || !f.IsFD() || f.IsRemote() {
		t.Errorf("flags: extended %v fd %v remote %v", f.IsExtended(), f.IsFD(), f.IsRemote())
	}
	if got := f.Payload(); string(got) != "\x01\x02\x03" {
		t.Errorf("Payload() = %x, want 010203", got)
	}
	r := frame(0x1, can.Remote)
	if r.IsExtended() || r.IsFD() || !r.IsRemote() {
		t.Errorf("remote flags: extended %v fd %v remote %v", r.IsExtended(), r.IsFD(), r.IsRemote())
	}
}

func TestPayloadOfAnOversizeFrame(t *testing.T) {
	f := can.Frame{Len: 200}
	if n := len(f.Payload()); n != can.MaxDataLen {
		t.Errorf("len(Payload()) = %d, want %d", n, can.MaxDataLen)
	}
}
