package daemon

import (
	"context"
	"errors"
	"log/slog"
	"quietzone/gateway"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"quietzone/uplink"
)

// pipe runs the uplink beside the decision loop. Uplink.Offer may wait for
// the disk (the durable queue fsyncs every batch), and a camera decision
// must never wait for a disk: the loop hands snapshots over a buffered
// channel and goes on. It implements Telemetry and Publisher; Run runs the
// uplink's goroutine and the MQTT publisher.
type pipe struct {
	up        *uplink.Uplink
	pub       *uplink.Publisher // nil without a broker
	queue     *uplink.DiskQueue // nil unless opened for this pipe
	pseudonym string
	log       *slog.Logger
	in        chan pipeItem
	// done is closed when the worker has stopped.
	done chan struct{}
	// endPending: a refused snapshot ended a trip; the next one accepted
	// does, so that a full pipe never lets a trip's last stretch out with
	// its position.
	endPending atomic.Bool
	refused    atomic.Uint64 // snapshots refused: the pipe was full
	// policy is a policy switch the pipe was too full to take; the next
	// Offer hands it over first (SetPolicy).
	policy atomic.Pointer[uplink.Policy]
	failed atomic.Uint64 // snapshots and alarms the uplink refused
	// handed and taken count the items sent down the pipe and the ones
	// the worker has handled (Idle).
	handed, taken atomic.Uint64
}

type pipeItem struct {
	snap   uplink.Snapshot
	policy *uplink.Policy // set: switch to it
	alarm  *uplink.Alarm
	flush  chan error // set: flush, and reply
}

// pipeDepth is how many snapshots wait for the uplink: over 15 minutes at
// one a second, so that only a disk stuck that long loses any.
const pipeDepth = 1024

var errPipeFull = errors.New("uplink busy: snapshot refused")

func newPipe(up *uplink.Uplink, pub *uplink.Publisher, log *slog.Logger) *pipe {
	return &pipe{up: up, pub: pub, log: log, in: make(chan pipeItem, pipeDepth), done: make(chan struct{})}
}

var (
	_ gateway.Telemetry = (*pipe)(nil)
	_ gateway.Publisher = (*pipe)(nil)
)

// Offer implements Telemetry: it never waits.
func (p *pipe) Offer(s uplink.Snapshot) error {
	s.Samples = slices.Clone(s.Samples) // the loop reuses its slice
	if !p.handPolicy() {
		p.refused.Add(1)
		return errPipeFull
	}
	if p.endPending.Load() {
		s.TripEnd = true
	}
	select {
	case p.in <- pipeItem{snap: s}:
		p.handed.Add(1)
		if s.TripEnd {
			p.endPending.Store(false)
		}
		return nil
	default:
		if s.TripEnd {
			p.endPending.Store(true)
		}
		p.refused.Add(1)
		return errPipeFull
	}
}

// SetPolicy (gateway.Telemetry): the policy goes down the pipe
// between the snapshots offered before and after, without waiting. If
// the pipe is full it waits for the next Offer, which hands it over
// first (or is refused as well).
func (p *pipe) SetPolicy(pol *uplink.Policy) {
	p.policy.Store(pol)
	p.handPolicy()
}

// handPolicy hands a waiting policy switch down the pipe; it reports
// false if one is still waiting.
func (p *pipe) handPolicy() bool {
	pol := p.policy.Load()
	if pol == nil {
		return true
	}
	select {
	case p.in <- pipeItem{policy: pol}:
		p.handed.Add(1)
		p.policy.CompareAndSwap(pol, nil)
		return true
	default:
		return false
	}
}

// Alarm queues an alarm for the uplink without waiting (issue 5's camera
// disobedience uses it).
func (p *pipe) Alarm(a uplink.Alarm) error {
	select {
	case p.in <- pipeItem{alarm: &a}:
		p.handed.Add(1)
		return nil
	default:
		p.refused.Add(1)
		return errPipeFull
	}
}

// Flush implements Telemetry: it waits until the uplink has taken every
// snapshot handed over and flushed.
func (p *pipe) Flush(now time.Time) error {
	reply := make(chan error, 1)
	select {
	case p.in <- pipeItem{flush: reply, snap: uplink.Snapshot{Time: now}}:
		p.handed.Add(1)
	case <-p.done:
		return errors.New("flush telemetry: the uplink has stopped")
	}
	select {
	case err := <-reply:
		return err
	case <-p.done:
		return errors.New("flush telemetry: the uplink has stopped")
	}
}

// Run implements Publisher: the uplink's worker and the MQTT publisher,
// until ctx is done.
func (p *pipe) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		defer close(p.done)
		p.work(ctx)
		return nil
	})
	if p.pub != nil {
		eg.Go(func() error { return p.pub.Run(ctx) })
	}
	return eg.Wait()
}

func (p *pipe) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-p.in:
			var err error
			switch {
			case it.flush != nil:
				err = p.up.Flush(it.snap.Time)
				it.flush <- err
			case it.alarm != nil:
				err = p.up.Alarm(*it.alarm)
			case it.policy != nil:
				if err = p.up.SetPolicy(it.policy); err == nil && p.pub != nil {
					p.up.SetPhase(uplink.SlotPhase(p.pseudonym, it.policy.Cadence.Slot()))
					p.pub.SetCadence(it.policy.Cadence)
				}
			default:
				err = p.up.Offer(it.snap)
			}
			if err != nil {
				p.failed.Add(1)
				p.log.Error("uplink refused telemetry", "err", err)
			}
			p.taken.Add(1)
		}
	}
}

// idle reports whether the worker has handled everything handed to it
// (a test bench's lock-step waits for it: on a vehicle the worker keeps
// up in microseconds, on a bench the drive's clock outruns it).
func (p *pipe) idle() bool { return p.taken.Load() >= p.handed.Load() }

// Drain implements Publisher.
func (p *pipe) Drain(ctx context.Context) error {
	if p.pub == nil {
		return nil
	}
	return p.pub.Drain(ctx)
}
