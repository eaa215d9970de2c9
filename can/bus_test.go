package can_test

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"quietzone/can"
)

var _ can.Source = (*can.Port)(nil)

// fixedClock is a bus clock that always reads t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

var busEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// numbered returns frame i of a writer's stream: writer w's identifier and
// the 32-bit sequence number i in the payload.
func numbered(w, i int) can.Frame {
	f := can.Frame{ID: uint32(0x100 + w), Len: 4}
	binary.BigEndian.PutUint32(f.Data[:4], uint32(i))
	return f
}

func seqOf(f *can.Frame) int { return int(binary.BigEndian.Uint32(f.Data[:4])) }

func mustWrite(tb testing.TB, p *can.Port, f can.Frame) {
	tb.Helper()
	if err := p.WriteFrame(&f); err != nil {
		tb.Fatalf("WriteFrame(%v): %v", f, err)
	}
}

// drain returns every frame queued on p without waiting.
func drain(p *can.Port) []can.Frame {
	var fs []can.Frame
	var f can.Frame
	for p.TryReadFrame(&f) {
		fs = append(fs, f)
	}
	return fs
}

func TestBusFanOut(t *testing.T) {
	bus := can.NewBus(fixedClock(busEpoch))
	ports := []*can.Port{bus.Open(), bus.Open(), bus.Open(), bus.Open()}
	defer func() {
		for _, p := range ports {
			p.Close()
		}
	}()
	// Fewer frames than a port's queue holds: no reader goroutines needed.
	const n = 20
	for writer := range ports {
		for i := range n {
			mustWrite(t, ports[writer], numbered(writer, i))
		}
		for reader, p := range ports {
			got := drain(p)
			if reader == writer {
				if len(got) != 0 {
					t.Fatalf("writer %d received %d of its own frames", writer, len(got))
				}
				continue
			}
			if len(got) != n {
				t.Fatalf("writer %d → port %d: %d frames, want %d", writer, reader, len(got), n)
			}
			for i, f := range got {
				want := numbered(writer, i)
				want.Time = busEpoch
				if f != want {
					t.Fatalf("writer %d → port %d: frame %d = %v (%v), want %v", writer, reader, i, f, f.Time, want)
				}
			}
		}
	}
}

// TestBusOrder has every port write more frames than a queue holds while
// every port also reads: each must see every other writer's frames complete
// and in order, and none of its own.
func TestBusOrder(t *testing.T) {
	const (
		nports = 4
		n      = 3 * can.DefaultPortQueue
	)
	bus := can.NewBus(nil)
	var ports []*can.Port
	for range nports {
		ports = append(ports, bus.Open())
	}
	var wg sync.WaitGroup
	for me, p := range ports {
		wg.Add(2)
		go func() { // reader
			defer wg.Done()
			next := make([]int, nports)
			var f can.Frame
			for range (nports - 1) * n {
				if err := p.ReadFrame(&f); err != nil {
					t.Errorf("port %d: %v", me, err)
					return
				}
				w := int(f.ID) - 0x100
				switch {
				case w == me:
					t.Errorf("port %d received its own frame %v", me, f)
					return
				case w < 0 || w >= nports:
					t.Errorf("port %d: frame from unknown writer: %v", me, f)
					return
				case seqOf(&f) != next[w]:
					t.Errorf("port %d: writer %d frame %d arrived when %d was due", me, w, seqOf(&f), next[w])
					return
				}
				next[w]++
			}
		}()
		go func() { // writer
			defer wg.Done()
			for i := range n {
				f := numbered(me, i)
				if err := p.WriteFrame(&f); err != nil {
					t.Errorf("port %d: %v", me, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, p := range ports {
		if got := drain(p); len(got) != 0 {
			t.Errorf("%d unexpected frames left, first %v", len(got), got[0])
		}
		p.Close()
	}
}

func TestBusStampsTime(t *testing.T) {
	t.Run("zero time from the bus clock", func(t *testing.T) {
		bus := can.NewBus(fixedClock(busEpoch))
		a, b := bus.Open(), bus.Open()
		defer a.Close()
		defer b.Close()
		f := frame(0x1, 0, 1)
		mustWrite(t, a, f)
		var got can.Frame
		if !b.TryReadFrame(&got) {
			t.Fatal("no frame delivered")
		}
		if !got.Time.Equal(busEpoch) {
			t.Errorf("Time = %v, want the bus clock's %v", got.Time, busEpoch)
		}
	})
	t.Run("non-zero time kept", func(t *testing.T) {
		bus := can.NewBus(fixedClock(busEpoch))
		a, b := bus.Open(), bus.Open()
		defer a.Close()
		defer b.Close()
		logged := busEpoch.Add(-time.Hour)
		f := frame(0x1, 0, 1)
		f.Time = logged
		mustWrite(t, a, f)
		var got can.Frame
		if !b.TryReadFrame(&got) {
			t.Fatal("no frame delivered")
		}
		if !got.Time.Equal(logged) {
			t.Errorf("Time = %v, want the frame's own %v", got.Time, logged)
		}
	})
	t.Run("nil clock is time.Now", func(t *testing.T) {
		bus := can.NewBus(nil)
		a, b := bus.Open(), bus.Open()
		defer a.Close()
		defer b.Close()
		before := time.Now()
		mustWrite(t, a, frame(0x1, 0))
		after := time.Now()
		var got can.Frame
		if !b.TryReadFrame(&got) {
			t.Fatal("no frame delivered")
		}
		if got.Time.Before(before) || got.Time.After(after) {
			t.Errorf("Time = %v, want between %v and %v", got.Time, before, after)
		}
	})
}

func TestBusWriteCopiesFrame(t *testing.T) {
	bus := can.NewBus(fixedClock(busEpoch))
	a, b := bus.Open(), bus.Open()
	defer a.Close()
	defer b.Close()
	f := frame(0x10, 0, 1, 2, 3)
	mustWrite(t, a, f)
	f.Data[0] = 0xff
	var got can.Frame
	if !b.TryReadFrame(&got) || got.Data[0] != 1 {
		t.Fatalf("delivered frame %v changed with the writer's copy", got)
	}
	if !f.Time.IsZero() {
		t.Errorf("WriteFrame stamped the caller's frame: %v", f.Time)
	}
}

func TestBusRejectsInvalidFrames(t *testing.T) {
	bus := can.NewBus(fixedClock(busEpoch))
	a, b := bus.Open(), bus.Open()
	defer a.Close()
	defer b.Close()
	tests := []struct {
		name  string
		frame can.Frame
		want  error
	}{
		{"classic 9 bytes", can.Frame{ID: 1, Len: 9}, can.ErrBadLength},
		{"fd 13 bytes", can.Frame{ID: 1, Flags: can.FD, Len: 13}, can.ErrBadLength},
		{"standard id too large", can.Frame{ID: 0x800}, can.ErrBadID},
	}
	for _, tt := range tests {
		err := a.WriteFrame(&tt.frame)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: WriteFrame = %v, want %v", tt.name, err, tt.want)
		}
	}
	if got := drain(b); len(got) != 0 {
		t.Errorf("invalid frames were delivered: %v", got)
	}
}

func TestBusTryReadFrame(t *testing.T) {
	bus := can.NewBus(fixedClock(busEpoch))
	a, b := bus.Open(), bus.Open()
	defer a.Close()
	defer b.Close()
	var f can.Frame
	if b.TryReadFrame(&f) {
		t.Fatalf("TryReadFrame on an empty port returned %v", f)
	}
	mustWrite(t, a, frame(0x1, 0, 1))
	mustWrite(t, a, frame(0x2, 0, 2))
	if !b.TryReadFrame(&f) || f.ID != 0x1 {
		t.Fatalf("first TryReadFrame = %v", f)
	}
	if !b.TryReadFrame(&f) || f.ID != 0x2 {
		t.Fatalf("second TryReadFrame = %v", f)
	}
	if b.TryReadFrame(&f) {
		t.Fatalf("TryReadFrame after draining returned %v", f)
	}
}

func TestBusClosedPort(t *testing.T) {
	bus := can.NewBus(fixedClock(busEpoch))
	a, b := bus.Open(), bus.Open()
	defer b.Close()
	mustWrite(t, b, frame(0x1, 0, 1)) // queued on a
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	f := frame(0x2, 0)
	if err := a.WriteFrame(&f); !errors.Is(err, can.ErrClosed) {
		t.Errorf("WriteFrame on a closed port = %v, want ErrClosed", err)
	}
	// A frame still queued must not hide the close: every read after Close
	// reports ErrClosed (as Source documents).
	for i := range 100 {
		var got can.Frame
		if err := a.ReadFrame(&got); !errors.Is(err, can.ErrClosed) {
			t.Fatalf("ReadFrame %d on a closed port = %v (%v), want ErrClosed", i, err, got)
		}
	}
	// The closed port is detached: writes from others no longer reach it
	// and do not wait for it.
	for range 2 * can.DefaultPortQueue {
		mustWrite(t, b, frame(0x3, 0))
	}
}

func TestBusCloseUnblocksReader(t *testing.T) {
	bus := can.NewBus(nil)
	p := bus.Open()
	done := make(chan error)
	go func() {
		var f can.Frame
		done <- p.ReadFrame(&f)
	}()
	waitBlocked(t, "quietzone/can.(*Port).ReadFrame")
	p.Close()
	if err := <-done; !errors.Is(err, can.ErrClosed) {
		t.Fatalf("blocked ReadFrame returned %v after Close, want ErrClosed", err)
	}
}

// fillQueue writes from w until the queue of w's one peer is full; w and
// that peer must be the only ports on the bus.
func fillQueue(tb testing.TB, w *can.Port) {
	tb.Helper()
	for i := range can.DefaultPortQueue {
		mustWrite(tb, w, numbered(0, i))
	}
}

func TestBusCloseUnblocksWriter(t *testing.T) {
	t.Run("reader closes", func(t *testing.T) {
		bus := can.NewBus(fixedClock(busEpoch))
		w, full := bus.Open(), bus.Open()
		defer w.Close()
		fillQueue(t, w)
		// A port opened after the queue filled, behind the full one in
		// delivery order: it must still get the frame.
		behind := bus.Open()
		defer behind.Close()
		done := make(chan error)
		go func() {
			f := numbered(0, can.DefaultPortQueue)
			done <- w.WriteFrame(&f)
		}()
		waitBlocked(t, "quietzone/can.(*Port).WriteFrame")
		full.Close()
		if err := <-done; err != nil {
			t.Fatalf("WriteFrame blocked on a port that closed = %v, want nil (the frame still goes to the others)", err)
		}
		var f can.Frame
		if !behind.TryReadFrame(&f) || seqOf(&f) != can.DefaultPortQueue {
			t.Fatalf("port behind the closed one got %v", f)
		}
	})
	t.Run("writer closes", func(t *testing.T) {
		bus := can.NewBus(fixedClock(busEpoch))
		w, full := bus.Open(), bus.Open()
		defer full.Close()
		fillQueue(t, w)
		done := make(chan error)
		go func() {
			f := numbered(0, can.DefaultPortQueue)
			done <- w.WriteFrame(&f)
		}()
		waitBlocked(t, "quietzone/can.(*Port).WriteFrame")
		w.Close()
		if err := <-done; !errors.Is(err, can.ErrClosed) {
			t.Fatalf("blocked WriteFrame returned %v after its port closed, want ErrClosed", err)
		}
		if got := drain(full); len(got) != can.DefaultPortQueue {
			t.Fatalf("full port holds %d frames, want %d", len(got), can.DefaultPortQueue)
		}
	})
}

// TestBusOpenCloseWhileWriting churns ports while frames flow, for the race
// detector: the copy-on-write port list must stay consistent.
func TestBusOpenCloseWhileWriting(t *testing.T) {
	bus := can.NewBus(nil)
	w, r := bus.Open(), bus.Open()
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // steady reader: sees every frame in order
		defer wg.Done()
		var f can.Frame
		for i := range n {
			if err := r.ReadFrame(&f); err != nil {
				t.Errorf("reader: %v", err)
				return
			}
			if seqOf(&f) != i {
				t.Errorf("reader: frame %d arrived when %d was due", seqOf(&f), i)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			f := numbered(0, i)
			if err := w.WriteFrame(&f); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	}()
	go func() { // ports that come and go, read a little, never block anyone for good
		defer wg.Done()
		for range 200 {
			p := bus.Open()
			var f can.Frame
			p.TryReadFrame(&f)
			p.Close()
		}
	}()
	wg.Wait()
	w.Close()
	r.Close()
}

func TestTryReadFrameAfterClose(t *testing.T) {
	bus := can.NewBus(nil)
	a, b := bus.Open(), bus.Open()
	defer a.Close()
	f := can.Frame{ID: 1, Len: 1}
	if err := a.WriteFrame(&f); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if b.TryReadFrame(&f) {
		t.Error("a closed port handed out a queued frame")
	}
}
