package camera_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/can/cantest"
)

// t0 is an arbitrary wall-clock instant; every test passes time explicitly.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Identifiers and reference-DBC names used throughout.
const (
	camCommandID = 768 // CAM_Command, 0x300
	camCommand   = "CAM_Command"
	frontCmd     = "CAM_FrontCmd"
	rearCmd      = "CAM_RearCmd"
	cabinCmd     = "CAM_CabinCmd"
)

var (
	twoOnce = sync.OnceValues(func() (*can.Database, error) {
		return can.LoadDBCFile("testdata/two_messages.dbc")
	})
)

// twoDB has two command messages (a standard and an extended one).
func twoDB(tb testing.TB) *can.Database {
	tb.Helper()
	db, err := twoOnce()
	if err != nil {
		tb.Fatalf("load testdata DBC: %v", err)
	}
	return db
}

// signal looks up msg.name in db.
func signal(tb testing.TB, db *can.Database, msg, name string) *can.Signal {
	tb.Helper()
	m := db.Message(msg)
	if m == nil {
		tb.Fatalf("%s: no message %s", db.Name, msg)
	}
	s := m.Signal(name)
	if s == nil {
		tb.Fatalf("%s: no signal %s.%s", db.Name, msg, name)
	}
	return s
}

// refCmd returns a command signal of the reference DBC's CAM_Command.
func refCmd(tb testing.TB, name string) *can.Signal {
	tb.Helper()
	return signal(tb, cantest.RefDB(tb), camCommand, name)
}

// onLevel is the level that powers a camera.
func onLevel(activeLow bool) gpio.Level { return gpio.Level(!activeLow) }

// offLevel is the level that cuts a camera's power.
func offLevel(activeLow bool) gpio.Level { return gpio.Level(activeLow) }

// setLevel forces a fake pin's level, as the hardware might have it before
// the controller first touches it.
func setLevel(p *gpiotest.Pin, l gpio.Level) {
	p.Lock()
	defer p.Unlock()
	p.L = l
}

// brokenPin is a power line whose writes fail. It counts the attempts so
// that tests can check the controller tried.
type brokenPin struct {
	*gpiotest.Pin
	err   error
	tries int
}

var _ gpio.PinOut = (*brokenPin)(nil)

func newBrokenPin(name string, err error) *brokenPin {
	return &brokenPin{Pin: cameratest.NewPin(name), err: err}
}

// Out fails without changing the level.
func (p *brokenPin) Out(gpio.Level) error {
	p.tries++
	return p.err
}

// failIDWriter records frames like cameratest.Frames but fails every write
// of one identifier.
type failIDWriter struct {
	cameratest.Frames
	failID uint32
	err    error
}

func (w *failIDWriter) WriteFrame(f *can.Frame) error {
	if f.ID == w.failID {
		return w.err
	}
	return w.Frames.WriteFrame(f)
}

// discard is a FrameWriter that drops everything; for benchmarks.
type discard struct{}

func (discard) WriteFrame(*can.Frame) error { return nil }

var (
	_ camera.FrameWriter = (*failIDWriter)(nil)
	_ camera.FrameWriter = discard{}
	_ camera.FrameWriter = (*can.Port)(nil)
)

var (
	errPin = errors.New("gpio: line busy")
	errBus = errors.New("can: bus-off")
)

// newController builds a controller on bus w (none if nil), with the
// command messages completed (complete), or fails the test.
func newController(tb testing.TB, specs []camera.Spec, w camera.FrameWriter, opts camera.Options) *camera.Controller {
	tb.Helper()
	c, err := camera.NewController(specs, buses(w), complete(specs, opts))
	if err != nil {
		tb.Fatalf("NewController: %v", err)
	}
	return c
}

// buses is w as the controller's only bus; none for nil.
func buses(w camera.FrameWriter) []camera.FrameWriter {
	if w == nil {
		return nil
	}
	return []camera.FrameWriter{w}
}

// complete declares, unless opts already does, every signal of the
// specs' command messages that no spec commands, as the test DBCs mean
// them: a *Cmd signal is an unlisted camera's command (told deny), any
// other (CAM_CmdCounter) is fixed at 0.
func complete(specs []camera.Spec, opts camera.Options) camera.Options {
	if opts.Unlisted != nil || opts.Fixed != nil {
		return opts
	}
	driven := map[*can.Signal]bool{}
	var msgs []*can.Message
	for _, s := range specs {
		if s.Command != nil {
			driven[s.Command] = true
			if !slices.Contains(msgs, s.Command.Message) {
				msgs = append(msgs, s.Command.Message)
			}
		}
	}
	for _, m := range msgs {
		for _, sig := range m.Signals {
			switch {
			case driven[sig]:
			case strings.HasSuffix(sig.Name, "Cmd"):
				opts.Unlisted = append(opts.Unlisted, sig)
			default:
				opts.Fixed = append(opts.Fixed, camera.Fixed{Signal: sig})
			}
		}
	}
	return opts
}

// index finds a camera by name or fails the test.
func index(tb testing.TB, c *camera.Controller, name string) int {
	tb.Helper()
	i, ok := c.Lookup(name)
	if !ok {
		tb.Fatalf("Lookup(%q): not found", name)
	}
	return i
}

// state returns the controller's state of camera name.
func state(tb testing.TB, c *camera.Controller, name string) camera.State {
	tb.Helper()
	return c.States()[index(tb, c, name)]
}
