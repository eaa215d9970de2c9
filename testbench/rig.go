package testbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/gateway/gatewaytest"
	"quietzone/uplink"
)

// rig is the gateway under test and what it is wired to. It can stop the
// gateway and start a new one on the same state directory (a restart),
// and adds up the counters of every gateway it ran.
type rig struct {
	setup *config.Setup
	// clock is the manual clock of a lock-step drive; nil on the wall
	// clock (vcan0), where nothing waits for the gateway.
	clock   *gatewaytest.Clock
	openBus func(iface string, filters []can.Filter) (daemon.Bus, error)
	log     *slog.Logger
	// rand draws the gateways' privacy margins, seeded from the
	// scenario: the same trip draws the same margins.
	rand io.Reader
	// pins are the power lines of the running gateway, by line name.
	pins map[string]*gpiotest.Pin

	d      *daemon.Daemon
	stop   context.CancelFunc
	done   chan error
	sent   uint64 // frames written since this gateway started
	starts int
	// firstSeq is the sequence number of the drive's first record.
	firstSeq uint64
	// linkUp reports whether the vehicle can reach the broker; lagging
	// is set when the publisher could not keep up (see settle).
	linkUp  func() bool
	lagging bool
	// connected, when set, reports whether the vehicle's MQTT client is
	// connected to the broker: a lock-step drive waits for it at each
	// start, so that the connection, as the broker sees it, is when the
	// vehicle started (in the drive's time), not a wall-clock moment later.
	connected func() bool

	// Totals of the gateways that stopped.
	gw       gateway.Stats
	up       uplink.Stats
	pub      uplink.PublisherStats
	dropped  uint64 // triggers dropped while suppressed
	runErrs  []error
	lastDisk uplink.DiskStats
}

// start wires a new gateway and runs it until stop.
func (r *rig) start(ctx context.Context) error {
	r.pins = map[string]*gpiotest.Pin{}
	hw := daemon.Hardware{
		OpenBus: r.openBus,
		OpenPin: func(name string) (gpio.PinOut, error) {
			p := cameratest.NewPin(name)
			r.pins[name] = p
			return p, nil
		},
	}
	do := daemon.Options{Logger: r.log, Rand: r.rand}
	if r.clock != nil {
		do.Clock = r.clock
	}
	d, err := daemon.New(r.setup, hw, do)
	if err != nil {
		return err
	}
	// The gateway stops when halt says so, not when ctx is cancelled
	// mid-step: the drive ends at a step's end, with a report.
	gctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.d, r.stop, r.done, r.sent = d, stop, make(chan error, 1), 0
	if r.starts == 0 && d.Queue() != nil {
		r.firstSeq = d.Queue().NextSeq() // a vehicle's later trip goes on from its last
	}
	r.starts++
	go func() { r.done <- d.Run(gctx) }() // the daemon's run: audit writer, drop watch, summaries and all
	if r.clock == nil {
		return nil
	}
	// Running once both its tickers are: the daemon's watch and the
	// decision loop's.
	if err := daemon.WaitFor(r.done, func() bool { return r.clock.Tickers() >= 2 }); err != nil {
		stop()
		d.Close()
		r.d = nil
		return fmt.Errorf("gateway did not start: %w", err)
	}
	if r.connected != nil && d.Publisher() != nil && (r.linkUp == nil || r.linkUp()) {
		for deadline := time.Now().Add(2 * time.Second); !r.connected() && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return nil
}

// running reports whether a gateway is up.
func (r *rig) running() bool { return r.d != nil }

// write sends a frame to the gateway.
func (r *rig) write(port vehicleBus, f *can.Frame) error {
	if err := port.WriteFrame(f); err != nil {
		return err
	}
	r.sent++
	return nil
}

// settle waits until the gateway has handled every frame written.
func (r *rig) settle() error {
	if r.d == nil || r.clock == nil {
		return nil
	}
	if err := daemon.WaitFor(r.done, func() bool { return r.d.Gateway().Processed() >= r.sent && r.d.UplinkIdle() }); err != nil {
		return fmt.Errorf("gateway stopped during the drive: %w", err)
	}
	// The publisher runs on the wall clock; the drive, much faster. Give
	// it the time to deliver what is queued, so that delays measured in
	// simulated time are the policy's (batching, time quanta, hold-back)
	// and not the wall's. A publisher that cannot (backing off after an
	// outage) is not waited for until it has caught up.
	q := r.d.Queue()
	if q == nil || (r.linkUp != nil && !r.linkUp()) {
		return nil
	}
	if pub := r.d.Publisher(); pub != nil {
		// The constant cadence: the publisher sends at its ticks, on the
		// drive's clock. Wait until it has handled every tick up to now
		// (it waits for a later one), not until the queue is empty.
		// A publisher that is not waiting for a later tick within 2 s
		// (its timer runs on the drive's time, which a clock step does
		// not move) is not waited for until it is.
		now := r.clock.Now()
		caught := func() bool { return pub.WaitingFor().After(now) }
		if r.lagging {
			r.lagging = !caught()
			return nil
		}
		deadline := time.Now().Add(2 * time.Second)
		for !caught() {
			if time.Now().After(deadline) {
				r.lagging = true
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		return nil
	}
	if r.lagging {
		r.lagging = q.Stats().Batches > 0
		return nil
	}
	deadline := time.Now().Add(2 * time.Second)
	for q.Stats().Batches > 0 {
		if time.Now().After(deadline) {
			r.lagging = true
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

// halt stops the running gateway the way the daemon stops on SIGTERM (it
// suppresses, flushes and drains for its drain timeout) and adds its
// counters to the totals.
func (r *rig) halt() {
	if r.d == nil {
		return
	}
	r.stop()
	// The daemon drains its queue at the cadence's ticks, on the drive's
	// clock: time passes while it stops, the vehicle standing.
	var err error
	for done := false; !done; {
		select {
		case err = <-r.done:
			done = true
		case <-time.After(time.Millisecond):
			if r.clock == nil {
				continue
			}
			// With a cadence the publisher ends the run on its last
			// ticks: the clock moves to each exactly, so that the broker
			// receives them on the grid (not up to a second late).
			if pub := r.d.Publisher(); pub != nil && pub.Paced() {
				if w := pub.WaitingFor(); pub.EdgeTicks() > 0 && w.After(r.clock.Now()) {
					r.clock.Advance(w.Sub(r.clock.Now()))
				}
				continue
			}
			if r.d.Queue() != nil && r.d.Queue().Stats().Batches > 0 {
				r.clock.Advance(time.Second)
			}
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.runErrs = append(r.runErrs, err)
	}
	r.add(r.d)
	if r.d.Queue() != nil {
		r.lastDisk = r.d.Queue().Stats()
	}
	r.d.Close()
	r.d = nil
}

func (r *rig) add(d *daemon.Daemon) {
	g := d.Gateway().Stats()
	r.gw.Frames += g.Frames
	r.gw.Decode.Decoded += g.Decode.Decoded
	r.gw.Decode.WrongLength += g.Decode.WrongLength
	r.gw.Decode.Remote += g.Decode.Remote
	r.gw.Decode.Unmapped += g.Decode.Unmapped
	r.gw.Decode.OutOfRange += g.Decode.OutOfRange
	r.gw.Fixes += g.Fixes
	r.gw.BadFixes += g.BadFixes
	r.gw.GNSSDistrusts += g.GNSSDistrusts
	r.gw.CourseFixes += g.CourseFixes
	r.gw.Transitions += g.Transitions
	r.gw.PathsCrossed += g.PathsCrossed
	for i := range g.TimeIn {
		r.gw.TimeIn[i] += g.TimeIn[i]
	}
	u := d.Uplink().Stats()
	r.up.Snapshots += u.Snapshots
	r.up.Records += u.Records
	r.up.PositionsSent += u.PositionsSent
	r.up.PositionsWithheld += u.PositionsWithheld
	r.up.SignalsDenied += u.SignalsDenied
	r.up.ForbiddenDenied += u.ForbiddenDenied
	r.up.Coarsened += u.Coarsened
	r.up.Merged += u.Merged
	r.up.Alarms += u.Alarms
	r.up.Batches += u.Batches
	r.up.RawBytes += u.RawBytes
	r.up.CompressedBytes += u.CompressedBytes
	if d.Publisher() != nil {
		p := d.Publisher().Stats()
		r.pub.Published += p.Published
		r.pub.Records += p.Records
		r.pub.Bytes += p.Bytes
		r.pub.Failures += p.Failures
		r.pub.Statuses += p.Statuses
		r.pub.Dials += p.Dials
	}
	r.dropped += d.Cameras().Stats().TriggersDropped
}
