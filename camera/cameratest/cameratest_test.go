package cameratest_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
)

// The fakes stand in for what the camera package is given in production.
var (
	_ gpio.PinOut        = (*gpiotest.Pin)(nil)
	_ gpio.PinIO         = cameratest.NewPin("")
	_ camera.FrameWriter = (*cameratest.Frames)(nil)
)

func frame(id uint32, data ...byte) can.Frame {
	f := can.Frame{ID: id, Len: uint8(len(data)), Time: time.Date(2025, 6, 1, 12, 0, 0, int(id), time.UTC)}
	copy(f.Data[:], data)
	return f
}

func TestNewPin(t *testing.T) {
	p := cameratest.NewPin("GPIO17")
	if p.Name() != "GPIO17" || p.Number() != -1 {
		t.Errorf("NewPin: name %q number %d, want GPIO17, -1", p.Name(), p.Number())
	}
	if got := cameratest.Level(p); got != gpio.Low {
		t.Errorf("new pin level = %v, want Low", got)
	}
	if got := p.Read(); got != gpio.Low {
		t.Errorf("new pin Read = %v, want Low", got)
	}
	for _, l := range []gpio.Level{gpio.High, gpio.Low, gpio.High} {
		if err := p.Out(l); err != nil {
			t.Fatalf("Out(%v) = %v", l, err)
		}
		if got := cameratest.Level(p); got != l {
			t.Errorf("after Out(%v) Level = %v", l, got)
		}
	}
	if q := cameratest.NewPin("GPIO17"); q == p {
		t.Error("NewPin returned the same pin twice")
	}
}

// TestLevelConcurrent: Level takes the pin's lock, so reading while another
// goroutine drives the line is race-free (run with -race).
func TestLevelConcurrent(t *testing.T) {
	p := cameratest.NewPin("GPIO4")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 1000 {
			_ = p.Out(gpio.Level(i%2 == 0))
		}
	})
	for range 1000 {
		_ = cameratest.Level(p)
	}
	wg.Wait()
	if got := cameratest.Level(p); got != gpio.Low { // last write: i = 999
		t.Errorf("final level = %v, want Low", got)
	}
}

func TestFramesRecordsCopies(t *testing.T) {
	var r cameratest.Frames // the zero value is ready
	f := frame(0x300, 0x15, 0, 0, 0, 0, 0, 0, 0)
	want := f
	if err := r.WriteFrame(&f); err != nil {
		t.Fatalf("WriteFrame = %v", err)
	}
	// The caller reuses its frame: the record must not change.
	f.Data[0] = 0xff
	f.ID = 0x123
	f.Time = time.Time{}
	got := r.All()
	if len(got) != 1 || got[0] != want {
		t.Fatalf("All() = %v, want [%v]", got, want)
	}
	if last, ok := r.Last(); !ok || last != want {
		t.Errorf("Last() = %v, %v; want %v, true", last, ok, want)
	}

	// All returns a copy too.
	got[0].Data[0] = 0xee
	if again := r.All(); again[0] != want {
		t.Errorf("mutating All()'s result changed the record: %v", again[0])
	}

	g := frame(0x301, 1)
	if err := r.WriteFrame(&g); err != nil {
		t.Fatal(err)
	}
	all := r.All()
	if len(all) != 2 || all[0] != want || all[1] != g {
		t.Errorf("All() = %v, want [%v %v]", all, want, g)
	}
	if last, _ := r.Last(); last != g {
		t.Errorf("Last() = %v, want %v", last, g)
	}
}

func TestFramesErr(t *testing.T) {
	errBus := errors.New("bus-off")
	r := &cameratest.Frames{Err: errBus}
	f := frame(0x300, 1)
	if err := r.WriteFrame(&f); !errors.Is(err, errBus) {
		t.Errorf("WriteFrame with Err set = %v, want %v", err, errBus)
	}
	if n := len(r.All()); n != 0 {
		t.Errorf("failed write was recorded (%d frames)", n)
	}
	if _, ok := r.Last(); ok {
		t.Error("Last() after a failed write reports a frame")
	}
	r.Err = nil
	if err := r.WriteFrame(&f); err != nil {
		t.Errorf("WriteFrame after clearing Err = %v", err)
	}
	if got := r.All(); len(got) != 1 || got[0] != f {
		t.Errorf("All() = %v, want [%v]", got, f)
	}
}

func TestFramesLastEmpty(t *testing.T) {
	var r cameratest.Frames
	f, ok := r.Last()
	if ok || f != (can.Frame{}) {
		t.Errorf("Last() on empty = %v, %v; want zero frame, false", f, ok)
	}
	if all := r.All(); len(all) != 0 {
		t.Errorf("All() on empty = %v", all)
	}
}

// TestFramesConcurrent: the recorder may be written and read from several
// goroutines (run with -race).
func TestFramesConcurrent(t *testing.T) {
	var r cameratest.Frames
	const writers, each = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				f := frame(uint32(w), byte(i))
				if err := r.WriteFrame(&f); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 100 {
		_ = r.All()
		_, _ = r.Last()
	}
	wg.Wait()
	all := r.All()
	if len(all) != writers*each {
		t.Fatalf("recorded %d frames, want %d", len(all), writers*each)
	}
	// Each writer's frames are in its own order.
	next := make([]int, writers)
	for _, f := range all {
		if int(f.Data[0]) != next[f.ID] {
			t.Fatalf("writer %d: frame %d out of order (want %d)", f.ID, f.Data[0], next[f.ID])
		}
		next[f.ID]++
	}
}

// An input starts at its level, In with edges flushes edges made before
// it, and Edge wakes a WaitForEdge that then reads the new level; a wait
// with nothing to report times out.
func TestNewInput(t *testing.T) {
	p := cameratest.NewInput("SWITCH", gpio.High)
	if p.Read() != gpio.High {
		t.Fatalf("new input reads %v, want High", p.Read())
	}
	cameratest.Edge(p, gpio.Low) // before In: flushed
	if err := p.In(gpio.PullNoChange, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	if p.WaitForEdge(10 * time.Millisecond) {
		t.Error("an edge made before In was reported")
	}
	done := make(chan gpio.Level)
	go func() {
		if !p.WaitForEdge(10 * time.Second) {
			t.Error("no edge reported")
		}
		done <- p.Read()
	}()
	cameratest.Edge(p, gpio.Low)
	if l := <-done; l != gpio.Low {
		t.Errorf("after the edge the input reads %v, want Low", l)
	}
}
