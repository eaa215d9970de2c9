package gateway

import (
	"context"
	"time"
)

// Saved is the part of the decision loop's state that outlives a restart.
// It holds no zone; its one position and time, the anchor, are sealed on
// disk, and not kept at all without a key.
type Saved struct {
	// State is the safety state when saved. A restart starts Manual if
	// Manual is set, Unknown otherwise: the state is for people reading
	// the file, what follows from it is in the other fields.
	State State
	// Manual: the privacy switch had the manual mode on.
	Manual bool
	// NeedClear is how many consecutive clear fixes leaving suppression
	// takes (ClearFixes, or more if a zone's policy asked).
	NeedClear int
	// Held: a zone held the vehicle since it was last clear; a parked
	// vehicle's clear fixes do not count until it moves.
	Held bool
	// HeldSince is when (on the steady clock) a zone began to hold the
	// vehicle: zones in force then stay in force while it holds
	// (zones.go). Zero while held: every zone counts.
	HeldSince time.Time
	// SteadyWall and SteadyMono are the steady clock's base (zones.go):
	// the wall time when the clock was first seen synchronised, and the
	// monotonic time then. A restart in the same boot (the monotonic time
	// not before SteadyMono) goes on from it, so that a step of the wall
	// clock while the gateway was down is no more believed than one while
	// it runs. Zero: no base yet.
	SteadyWall time.Time
	SteadyMono time.Duration
	// Distrusted: GNSS was distrusted (trust.go) when saved.
	Distrusted bool
	// Anchor is the last trusted fix; zero (At zero) when none is known
	// or the file has no key to seal it with.
	Anchor Anchor
	// DebtM is the trust debt (trust.go), in metres.
	DebtM float64
}

// Anchor is a trusted fix kept across a restart: sealed on disk.
type Anchor struct {
	Lat, Lon float64
	// AccM is the fix's margin (accuracy and debt), in metres.
	AccM float64
	At   time.Time
}

// same reports whether s and o would restore the same way, as far as the
// writer needs to know: the anchor of trusted GNSS moves with every fix
// and is written along with the next change only, not on its own.
func (s Saved) same(o Saved) bool {
	if s.Distrusted || o.Distrusted {
		if s.Anchor.Lat != o.Anchor.Lat || s.Anchor.Lon != o.Anchor.Lon || s.Anchor.AccM != o.Anchor.AccM || !s.Anchor.At.Equal(o.Anchor.At) {
			return false
		}
	}
	return s.State == o.State && s.Manual == o.Manual && s.NeedClear == o.NeedClear && s.Held == o.Held && s.HeldSince.Equal(o.HeldSince) &&
		s.SteadyWall.Equal(o.SteadyWall) && s.SteadyMono == o.SteadyMono &&
		s.Distrusted == o.Distrusted && s.DebtM == o.DebtM
}

// StateStore keeps the suppression state across restarts. Load returns an
// error wrapping fs.ErrNotExist when nothing was saved; any other error
// means the state could not be read, and the gateway starts held (fail
// closed). Save is called off the decision loop, one call at a time.
type StateStore interface {
	Load() (Saved, error)
	Save(s Saved) error
}

// MaxNeedClear bounds a saved hysteresis, so that a damaged file cannot
// hold the cameras off for ever.
const MaxNeedClear = 1000

// saveable is the state to keep, as the loop has it now.
func (g *Gateway) saveable() Saved {
	s := Saved{State: g.state, Manual: g.manual, NeedClear: g.z.needClear, Held: g.e.held,
		Distrusted: g.tr.distrusted, DebtM: g.tr.debtM}
	if g.e.held {
		s.HeldSince = g.z.heldSince
	}
	s.SteadyWall, s.SteadyMono = g.z.steadyWall, g.z.steadyMono
	if a, ok := g.tr.anchor(); ok && !g.tr.provisional {
		s.Anchor = Anchor{Lat: a.lat, Lon: a.lon, AccM: a.acc, At: a.t}
	}
	return s
}

// persist hands the state to the writer when it changed. The loop never
// waits for the disk: a state the writer has not taken yet is replaced by
// the newer one.
func (g *Gateway) persist() {
	if g.e.save == nil {
		return
	}
	s := g.saveable()
	if s.same(g.e.saved) {
		return
	}
	g.e.saved = s
	for { // the loop is the only sender
		select {
		case g.e.save <- s:
			return
		default:
			select {
			case <-g.e.save:
			default:
			}
		}
	}
}

// writeStates saves what persist hands over until ctx is done.
func (g *Gateway) writeStates(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-g.e.save:
			g.writeState(s)
		}
	}
}

func (g *Gateway) writeState(s Saved) {
	if err := g.opts.Enforcement.State.Save(s); err != nil {
		g.e.saveErrors.Add(1)
		g.log.Error("suppression state not saved", "err", err)
		return
	}
	g.e.saves.Add(1)
}

// saveFinal writes the state the gateway stops in, after the writer has
// stopped.
func (g *Gateway) saveFinal() {
	if g.e.save == nil {
		return
	}
	select {
	case <-g.e.save: // older than what follows
	default:
	}
	g.writeState(g.saveable())
}
