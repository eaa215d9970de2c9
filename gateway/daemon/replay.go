package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"quietzone/gateway/config"
	"runtime"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"quietzone/can"
	"quietzone/gateway"
)

// Transition is one change of the gateway's safety state during a replay.
type Transition struct {
	// At is the time since the first frame of the log.
	At       time.Duration
	From, To gateway.State
	Reason   string
}

// ReplayReport is what a replayed log made the gateway do. It carries no
// positions: only states, reasons and counters.
type ReplayReport struct {
	Source string
	// First and Last are the times of the log's first and last frames.
	First, Last time.Time
	Frames      uint64 // frames fed to the gateway
	Transitions []Transition
	Gateway     gateway.Stats
	// Log counts the log's lines, when the source is a LogReader.
	Log *can.LogStats
	// Commands counts the command frames the gateway sent on the bus.
	Commands uint64
	// Steps are the jumps in the log's time longer than MaxGap, which
	// the replay's clock stepped over.
	Steps []LogStep
	Wall  time.Duration
}

// LogStep is a jump in a log's time that the replay stepped the clock
// over instead of ticking through it.
type LogStep struct {
	// At is the time of the frame after the jump, since the first frame
	// (the jump included); By is how far the clock stepped (negative:
	// back).
	At, By time.Duration
	// Frame counts the frames before it; Line is its line in the log,
	// when the source is a LogReader.
	Frame, Line uint64
}

// ReplayOptions change how a log is replayed.
type ReplayOptions struct {
	// Logger receives the gateway's log; nil discards it.
	Logger *slog.Logger
	// Name names the source in the report.
	Name string
	// MaxGap is the longest jump in the log's time that the replay ticks
	// through at the gateway's tick rate (default DefaultMaxGap). Over a
	// longer one (a logger stopped overnight, or its clock set from 1970
	// to today) the clock steps as a wall clock set by NTP does: the
	// gateway sees the discontinuity, one tick before it and the next
	// after, and the replay ends in a time bounded by the log's length
	// whatever its stamps say. A frame stamped back by less than MaxGap
	// keeps the clock's time, as before.
	MaxGap time.Duration
}

// DefaultMaxGap is ReplayOptions.MaxGap's default: longer than anything
// the gateway times (fix age, hysteresis, staleness), so that a gap ticked
// through and a gap stepped over leave it in the same kind of state.
const DefaultMaxGap = 10 * time.Minute

// Replay runs the whole gateway pipeline (decoder, decision loop, cameras
// on fake power lines, uplink policy and batching; no broker) on the frames
// of src, on a manual clock that follows the frames' timestamps: ticks fire
// at the log's pace, whatever the speed of the replay. Each frame is fed
// once the gateway has finished with the one before (lock step), so the
// outcome is the same on every run.
func Replay(ctx context.Context, src can.Source, setup *config.Setup, o ReplayOptions) (*ReplayReport, error) {
	wall := time.Now()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxGap <= 0 {
		o.MaxGap = DefaultMaxGap
	}
	rep := &ReplayReport{Source: o.Name}
	var f can.Frame
	if err := src.ReadFrame(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("replay: the log holds no frame")
		}
		return nil, fmt.Errorf("replay: %w", err)
	}
	rep.First = f.Time
	clock := gateway.NewManualClock(f.Time)
	rec := &transitions{clock: clock, start: f.Time, next: o.Logger.Handler(), seen: &seenTransitions{}}
	bus := can.NewBus(clock.Now)
	port := bus.Open() // the log's side of the bus
	defer port.Close()
	hw := Hardware{
		OpenBus: func(string, []can.Filter) (Bus, error) { return bus.Open(), nil },
		OpenPin: func(name string) (gpio.PinOut, error) { return &replayPin{name: name}, nil },
	}
	cfg := *setup.Config
	fleetDir := cfg.FleetStateDir()
	// A replay publishes nothing and keeps nothing: no durable queue, no
	// suppression state, no audit log. With a vehicle's configuration it
	// would otherwise write into the vehicle's state directory, and the
	// replayed drive's records would go up with the vehicle's own.
	cfg.Uplink.Broker = ""
	cfg.Uplink.StateDir, cfg.Uplink.Queue, cfg.Enforcement.StateFile = "", config.QueueConfig{}, ""
	cfg.Audit.File = ""
	if cfg.Fleet.Pinned() {
		// The vehicle's last good bundle, read only: no bundle file is
		// offered, so nothing is stored.
		cfg.Fleet.StateDir, cfg.Fleet.Bundle = fleetDir, ""
	}
	s := *setup
	s.Config = &cfg
	d, err := New(&s, hw, Options{Clock: clock, Logger: slog.New(rec)})
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(gctx) }()
	if err := WaitFor(done, func() bool { return clock.Tickers() >= 2 }); err != nil { // the daemon's watch and the loop
		return nil, fmt.Errorf("replay: gateway did not start: %w", err)
	}

	tick := cfg.Decision.Tick
	nextTick := f.Time.Add(tick)
	var cmd can.Frame
	drain := func() {
		for port.TryReadFrame(&cmd) {
			rep.Commands++
		}
	}
	for {
		if ctx.Err() != nil {
			break
		}
		if gap := f.Time.Sub(clock.Now()); gap > o.MaxGap || gap < -o.MaxGap {
			clock.Step(gap)
			nextTick = nextTick.Add(gap)
			rep.Steps = append(rep.Steps, LogStep{At: f.Time.Sub(rep.First), By: gap, Frame: rep.Frames, Line: logLine(src)})
		}
		// Ticks up to the frame's time, one at a time, each finished
		// before the next: a tick sees exactly its own time. There are
		// at most MaxGap/tick of them.
		for t := f.Time; !nextTick.After(t) && ctx.Err() == nil; nextTick = nextTick.Add(tick) {
			ticks := d.gw.Ticks()
			clock.Set(nextTick)
			if err := WaitFor(done, func() bool { return d.gw.Ticks() > ticks }); err != nil {
				return nil, fmt.Errorf("replay: gateway stopped: %w", err)
			}
			drain()
		}
		if f.Time.After(clock.Now()) {
			clock.Set(f.Time)
		}
		fr := f
		fr.Time = clock.Now() // a frame older than the one before keeps the clock's time
		if err := port.WriteFrame(&fr); err == nil {
			rep.Frames++
			rep.Last = fr.Time
			if err := WaitFor(done, func() bool { return d.gw.Processed() >= rep.Frames }); err != nil {
				return nil, fmt.Errorf("replay: gateway stopped: %w", err)
			}
		}
		drain()
		err := src.ReadFrame(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
	}
	// One last tick, so that the counters include the end of the log.
	ticks := d.gw.Ticks()
	clock.Set(nextTick)
	if err := WaitFor(done, func() bool { return d.gw.Ticks() > ticks }); err != nil {
		return nil, fmt.Errorf("replay: gateway stopped: %w", err)
	}
	drain()
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("replay: gateway: %w", err)
	}
	rep.Gateway = d.gw.Stats()
	rep.Transitions = rec.seen.list
	if lr, ok := src.(*can.LogReader); ok {
		st := lr.Stats()
		rep.Log = &st
	}
	rep.Wall = time.Since(wall)
	return rep, nil
}

// logLine is the line of the frame a LogReader read last; 0 for another
// source.
func logLine(src can.Source) uint64 {
	lr, ok := src.(*can.LogReader)
	if !ok {
		return 0
	}
	st := lr.Stats()
	return st.Frames + st.Blank + st.ErrorFrames + st.OtherIface + st.Bad()
}

// transitions is a slog handler that takes the gateway's "state changed"
// records, stamped with the manual clock, and passes everything on. The
// replay holds the clock still while the gateway handles a frame or a
// tick, so the clock's time is the time of the change.
type transitions struct {
	clock *gateway.ManualClock
	start time.Time
	next  slog.Handler
	seen  *seenTransitions // shared with the handlers WithAttrs makes
}

type seenTransitions struct {
	mu   sync.Mutex
	list []Transition
}

func (h *transitions) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *transitions) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "state changed" {
		t := Transition{At: h.clock.Now().Sub(h.start)}
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "from":
				t.From, _ = a.Value.Any().(gateway.State)
			case "to":
				t.To, _ = a.Value.Any().(gateway.State)
			case "reason":
				t.Reason = a.Value.String()
			}
			return true
		})
		h.seen.mu.Lock()
		h.seen.list = append(h.seen.list, t)
		h.seen.mu.Unlock()
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *transitions) WithAttrs(as []slog.Attr) slog.Handler {
	return &transitions{clock: h.clock, start: h.start, next: h.next.WithAttrs(as), seen: h.seen}
}

func (h *transitions) WithGroup(name string) slog.Handler {
	return &transitions{clock: h.clock, start: h.start, next: h.next.WithGroup(name), seen: h.seen}
}

// WriteText prints the replay for people.
func (r *ReplayReport) WriteText(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("quietzone replay — %s\n\n", r.Source)
	span := r.Last.Sub(r.First)
	p("Log          %d frames over %s (replayed in %s)\n", r.Frames, stamp(span), r.Wall.Round(time.Millisecond))
	if l := r.Log; l != nil {
		p("Log lines    %d frames, %d blank or comments, %d error frames, %d of other interfaces; dropped: %d\n",
			l.Frames, l.Blank, l.ErrorFrames, l.OtherIface, l.Bad())
		if l.Bad() > 0 {
			p("             bad timestamp %d, syntax %d, identifier %d, data %d, length %d, too long %d, CAN XL %d\n",
				l.BadTimestamp, l.BadSyntax, l.BadID, l.BadData, l.BadLength, l.TooLong, l.Unsupported)
		}
	}
	ds := r.Gateway.Decode
	p("Decoded      %d frames; not mapped %d; dropped: wrong length %d, remote %d; values out of DBC range %d\n",
		ds.Decoded, ds.Unmapped, ds.WrongLength, ds.Remote, ds.OutOfRange)
	p("Fixes        %d accepted, %d refused\n", r.Gateway.Fixes, r.Gateway.BadFixes)
	if len(r.Steps) > 0 {
		p("Clock steps  %d jumps in the log's time, stepped over, not ticked through:\n", len(r.Steps))
		for i, st := range r.Steps {
			if i == maxStepsShown {
				p("             and %d more\n", len(r.Steps)-i)
				break
			}
			line := ""
			if st.Line > 0 {
				line = fmt.Sprintf(", line %d", st.Line)
			}
			sign := "+"
			if st.By < 0 {
				sign = ""
			}
			p("             %s%v before frame %d%s\n", sign, st.By, st.Frame+1, line)
		}
	}
	p("\nDecisions    (time since the first frame)\n")
	p("  %s  %-8s start: everything suppressed\n", stamp(0), gateway.Unknown)
	for _, t := range r.Transitions {
		p("  %s  %-8s %s\n", stamp(t.At), t.To, t.Reason)
	}
	p("\nTime in     ")
	for st, d := range r.Gateway.TimeIn {
		p(" %s %s", gateway.State(st), stamp(d))
	}
	p("\n             suppressed %s of %s; %d camera command frames sent\n", stamp(r.Gateway.Suppressed()), stamp(span), r.Commands)
}

// maxStepsShown bounds the clock steps WriteText lists.
const maxStepsShown = 20

// stamp formats a duration as h:mm:ss.mmm.
func stamp(d time.Duration) string {
	d = d.Round(time.Millisecond)
	return fmt.Sprintf("%d:%02d:%02d.%03d", d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second, d%time.Second/time.Millisecond)
}

// replayPin is a power line in a replay: there is none, the level is kept.
type replayPin struct {
	name  string
	level gpio.Level
}

var _ gpio.PinOut = (*replayPin)(nil)

func (p *replayPin) String() string                        { return p.name }
func (p *replayPin) Name() string                          { return p.name }
func (p *replayPin) Number() int                           { return -1 }
func (p *replayPin) Function() string                      { return "Out/" + p.level.String() }
func (p *replayPin) Halt() error                           { return nil }
func (p *replayPin) Out(l gpio.Level) error                { p.level = l; return nil }
func (p *replayPin) PWM(gpio.Duty, physic.Frequency) error { return errors.New("replay: no PWM") }

// WaitFor spins until cond holds, giving the daemon's goroutines the
// CPU; it fails if the daemon returned meanwhile (done) or cond never
// held. For driving a daemon in lock step with a gateway.ManualClock:
// Replay does, and so does the test bench.
func WaitFor(done <-chan error, cond func() bool) error {
	for spins := 0; !cond(); spins++ {
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("returned early")
			}
			return err
		default:
		}
		if spins < 1000 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
		if spins > 2_000_000 {
			return errors.New("timed out")
		}
	}
	return nil
}
