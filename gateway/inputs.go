package gateway

import (
	"context"
	"fmt"

	"periph.io/x/conn/v3/gpio"
)

type inputKind uint8

const (
	inSwitch inputKind = iota
	inTrigger
)

// input is a GPIO line the decision loop hears of.
type input struct {
	Input
	kind inputKind
	cam  int // for a trigger
	// pulses: an edge after which the line reads as before is reported
	// as a pulse (active, then inactive), so that a press or a trigger
	// shorter than a read is not lost. A level switch does not want
	// them: a spurious edge would engage and release it.
	pulses bool
}

// inputEvent is a change of input idx, handed to the decision loop.
type inputEvent struct {
	idx    int
	active bool
}

func (in *input) active(l gpio.Level) bool { return (l == gpio.High) != in.ActiveLow }

// watch reads input idx until ctx is done: its level first, then every
// change. Each wait for an edge is bounded by Enforcement.Poll, so that a
// cancelled ctx is noticed in time on a line that never moves, and the
// level is read after every wait, so that a lost edge is caught by the
// next read. The decision loop alone acts on what it reports.
func (g *Gateway) watch(ctx context.Context, idx int) error {
	in := &g.e.inputs[idx]
	if err := in.Pin.In(gpio.PullNoChange, gpio.BothEdges); err != nil {
		return fmt.Errorf("watch gpio %s: %w", in.Pin.Name(), err)
	}
	send := func(active bool) bool {
		select {
		case g.e.events <- inputEvent{idx: idx, active: active}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	last := in.Pin.Read()
	if !send(in.active(last)) {
		return nil
	}
	poll := g.opts.Enforcement.Poll
	// owed counts edges still queued for a change or a pulse already
	// reported. The device queues one event per edge, and a reader late
	// by a pulse's length finds both its edges queued and the line back
	// where it was: the first edge reports the pulse, the second is owed
	// and reports nothing. (periph's WaitForEdge does not say which way
	// an edge went.) An edge that never comes is forgotten at the next
	// wait that times out, so that a lost event costs no later pulse.
	owed := 0
	for ctx.Err() == nil {
		edge := in.Pin.WaitForEdge(poll)
		if !edge {
			owed = 0
		} else if owed > 0 {
			owed--
			edge = false
		}
		l := in.Pin.Read()
		switch {
		case l != last:
			last = l
			if !edge {
				owed++ // its own edge is still to come
			}
			if !send(in.active(l)) {
				return nil
			}
		case edge:
			owed++ // the pulse's other edge
			if in.pulses && (!send(!in.active(l)) || !send(in.active(l))) {
				return nil
			}
		}
	}
	return nil
}
