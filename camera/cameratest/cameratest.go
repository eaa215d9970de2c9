// Package cameratest provides fakes for the camera package's hardware edge:
// power lines and inputs (triggers, switches) built on periph's
// gpiotest.Pin, and a frame recorder in place of the CAN bus. Tests read
// and set their exported fields directly.
package cameratest

import (
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera"
	"quietzone/can"
)

// NewPin returns a fake GPIO line called name, initially Low.
func NewPin(name string) *gpiotest.Pin {
	return &gpiotest.Pin{N: name, Num: -1, L: gpio.Low}
}

// NewInput returns a fake GPIO input called name at level l, whose edges
// a test makes with Edge. A watcher that calls In flushes edges sent
// before it: wait until it has reported the line's first level.
func NewInput(name string, l gpio.Level) *gpiotest.Pin {
	return &gpiotest.Pin{N: name, Num: -1, L: l, EdgesChan: make(chan gpio.Level, 16)}
}

// Edge moves a fake input to level l as the hardware would: a watcher
// waiting in WaitForEdge wakes and reads l.
func Edge(p *gpiotest.Pin, l gpio.Level) { p.EdgesChan <- l }

// Level reads a fake pin's level under its lock.
func Level(p *gpiotest.Pin) gpio.Level {
	p.Lock()
	defer p.Unlock()
	return p.L
}

// Frames records the frames written to it; it implements camera.FrameWriter.
type Frames struct {
	mu     sync.Mutex
	frames []can.Frame
	// Err, when set, is returned by WriteFrame and nothing is recorded.
	Err error
}

var _ camera.FrameWriter = (*Frames)(nil)

// WriteFrame records a copy of f.
func (r *Frames) WriteFrame(f *can.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return r.Err
	}
	r.frames = append(r.frames, *f)
	return nil
}

// All returns a copy of the recorded frames.
func (r *Frames) All() []can.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]can.Frame(nil), r.frames...)
}

// Last returns the last recorded frame.
func (r *Frames) Last() (can.Frame, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.frames) == 0 {
		return can.Frame{}, false
	}
	return r.frames[len(r.frames)-1], true
}
