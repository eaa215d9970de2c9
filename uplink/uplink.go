package uplink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// Stats count what the uplink did. They hold no values, positions or names.
type Stats struct {
	Snapshots         uint64 // snapshots offered
	Records           uint64 // telemetry records accepted into batches
	PositionsSent     uint64
	PositionsWithheld uint64
	SignalsDenied     uint64 // values left out: not allowed, not vehicle data, not finite
	ForbiddenDenied   uint64 // of those, personal data (phone, contacts), which never leaves
	// Coarsened counts records merged into one per time quantum near
	// zones (each counts, the merged record too).
	Coarsened uint64
	// HeldDropped counts records held back and dropped because a trip
	// ended near a zone. It never leaves the vehicle: it would say so.
	HeldDropped     uint64
	Alarms          uint64 // alarm records queued
	Batches         uint64 // batches queued
	RawBytes        uint64 // JSON bytes before compression
	CompressedBytes uint64
}

// maxHeldRecords bounds the records held back while the gateway waits to
// know whether a trip ends near a zone: two hours at one a second. Past
// it, the oldest held records are dropped (counted in HeldDropped).
const maxHeldRecords = 7200

// Uplink turns snapshots into queued batches under a Policy:
//
//	Snapshot → Redactor (per snapshot: default deny, rates, quanta, grid,
//	  withholding) → time quanta (every record waits for its quantum to
//	  end; a quantum with any withheld snapshot becomes one coarse record)
//	→ hold-back (records the gateway holds wait; a trip end near a zone
//	  drops them) → sequence numbers → Batcher → Queue
//
// Sequence numbers are given when records leave the hold-back, so records
// that never leave the vehicle leave no gap. Offer, Flush and Alarm are
// called by one goroutine; Stats may be called from any.
type Uplink struct {
	red      *Redactor
	bat      *Batcher
	alarmBat *Batcher
	q        Queue
	seq      uint64
	quantum  int64 // seconds

	groups []group   // quanta not yet released, oldest first
	alarms []pending // alarms waiting for their quantum to end

	mu    sync.Mutex
	stats Stats
}

// group is one time quantum's records.
type group struct {
	// start and end bound the quantum in Unix seconds: [start, end). A
	// policy change may change the quantum's length; a group keeps its own.
	start, end int64
	withheld   bool // some snapshot in it was withheld: merge it
	held       bool // held back by the gateway
	recs       []Record
}

type pending struct {
	end int64 // the end of the alarm's quantum: it waits until then
	rec Record
}

// New returns an Uplink for a policy, queueing into q. firstSeq is the
// sequence number of the next record: 1 for a new vehicle, or
// DiskQueue.NextSeq after a restart.
func New(p *Policy, q Queue, firstSeq uint64) (*Uplink, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new uplink: policy: %w", err)
	}
	b, err := NewBatcher(p.Batch)
	if err != nil {
		return nil, fmt.Errorf("new uplink: %w", err)
	}
	ab, err := NewBatcher(BatchRule{MaxRecords: 1, MaxAge: time.Second})
	if err != nil {
		return nil, fmt.Errorf("new uplink: %w", err)
	}
	return &Uplink{
		red: NewRedactor(p), bat: b, alarmBat: ab, q: q, seq: max(firstSeq, 1),
		quantum: int64(p.NearZones.TimeQuantum / time.Second),
	}, nil
}

// quantumStart returns the start, in Unix seconds, of the quantum
// holding t.
func (u *Uplink) quantumStart(t time.Time) int64 {
	s := t.Unix()
	q := s / u.quantum
	if s%u.quantum < 0 {
		q-- // floor for times before 1970
	}
	return q * u.quantum
}

// Offer redacts a snapshot, holds its record until its quantum is over
// (and the gateway releases it), and queues what is released.
func (u *Uplink) Offer(s Snapshot) error {
	rec, out, ok := u.red.Redact(s)
	u.mu.Lock()
	u.stats.Snapshots++
	if out.PositionWithheld {
		u.stats.PositionsWithheld++
	}
	u.stats.SignalsDenied += uint64(out.SignalsDenied)
	u.stats.ForbiddenDenied += uint64(out.ForbiddenDenied)
	u.mu.Unlock()

	ts := s.Time.Unix()
	if n := len(u.groups); n == 0 || u.groups[n-1].end <= ts {
		start := u.quantumStart(s.Time)
		g := group{start: start, end: start + u.quantum}
		if n > 0 {
			g.start = max(g.start, u.groups[n-1].end) // after a longer quantum
		}
		u.groups = append(u.groups, g)
	}
	g := &u.groups[len(u.groups)-1] // a snapshot from the past joins the newest quantum
	g.withheld = g.withheld || s.Withhold
	g.held = g.held || s.Hold
	if ok {
		g.recs = append(g.recs, rec)
	}
	// INTERIM (issue 14, helper C): ReleaseBefore and TripEnd mapped onto
	// the quanta until B's uplink.go implements them; B's version wins at
	// merge. A quantum leaves once it ends at or before ReleaseBefore (zero:
	// the old behaviour); at TripEnd every waiting quantum is merged.
	if s.TripEnd {
		for i := range u.groups {
			u.groups[i].withheld = true
		}
	}
	if !s.ReleaseBefore.IsZero() && !s.TripEnd {
		ts = min(ts, s.ReleaseBefore.Unix())
	}
	if s.Drop {
		u.dropHeld()
	}
	if !s.Hold {
		for i := range u.groups {
			u.groups[i].held = false
		}
	}
	u.limitHeld()
	if err := u.release(ts, false, s.Time); err != nil {
		return err
	}
	if b, due := u.bat.Due(s.Time); due {
		return u.put(b)
	}
	return nil
}

// Flush is the end of the trip: held records are dropped (the gateway
// held them because the vehicle was near a zone), everything else is
// released, quanta not yet over included, and the open batch is queued.
func (u *Uplink) Flush(now time.Time) error {
	u.dropHeld()
	if err := u.release(0, true, now); err != nil {
		return err
	}
	if b, ok := u.bat.Close(); ok {
		return u.put(b)
	}
	return nil
}

// dropHeld drops every held quantum.
func (u *Uplink) dropHeld() {
	keep := u.groups[:0]
	var dropped uint64
	for _, g := range u.groups {
		if g.held {
			dropped += uint64(len(g.recs))
			continue
		}
		keep = append(keep, g)
	}
	clear(u.groups[len(keep):])
	u.groups = keep
	if dropped > 0 {
		u.mu.Lock()
		u.stats.HeldDropped += dropped
		u.mu.Unlock()
	}
}

// limitHeld drops the oldest held quanta beyond maxHeldRecords.
func (u *Uplink) limitHeld() {
	n := 0
	for _, g := range u.groups {
		if g.held {
			n += len(g.recs)
		}
	}
	for n > maxHeldRecords {
		i := 0
		for !u.groups[i].held {
			i++
		}
		d := len(u.groups[i].recs)
		n -= d
		u.groups = append(u.groups[:i], u.groups[i+1:]...)
		u.mu.Lock()
		u.stats.HeldDropped += uint64(d)
		u.mu.Unlock()
	}
}

// release queues the quanta over by ts (Unix seconds) that are not held
// (all of them when all is set), then the alarms of quanta over by ts.
func (u *Uplink) release(ts int64, all bool, now time.Time) error {
	n := 0
	for _, g := range u.groups {
		if g.held || (!all && g.end > ts) {
			break
		}
		if err := u.emit(g, now); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		rest := copy(u.groups, u.groups[n:])
		clear(u.groups[rest:])
		u.groups = u.groups[:rest]
	}
	n = 0
	for _, a := range u.alarms {
		if !all && a.end > ts {
			break
		}
		if err := u.emitAlarm(a.rec); err != nil {
			return err
		}
		n++
	}
	u.alarms = u.alarms[n:]
	return nil
}

// emit queues one quantum's records; a withheld quantum becomes one
// record stamped with the quantum's start, without position, with the
// latest value of each signal (all vehicle data: the Redactor let nothing
// else in).
func (u *Uplink) emit(g group, now time.Time) error {
	if !g.withheld {
		for _, r := range g.recs {
			if err := u.add(r, now); err != nil {
				return err
			}
		}
		return nil
	}
	if len(g.recs) == 0 {
		return nil
	}
	merged := Record{Time: g.start}
	var posStripped uint64
	for _, r := range g.recs {
		if r.Pos != nil {
			posStripped++
		}
		for role, v := range r.Signals {
			if merged.Signals == nil {
				merged.Signals = map[string]float64{}
			}
			merged.Signals[role] = v
		}
	}
	u.mu.Lock()
	u.stats.Coarsened += uint64(len(g.recs))
	u.stats.PositionsWithheld += posStripped
	u.mu.Unlock()
	if len(merged.Signals) == 0 {
		return nil
	}
	return u.add(merged, now)
}

// add numbers a released record and batches it.
func (u *Uplink) add(rec Record, now time.Time) error {
	rec.Seq = u.seq
	u.seq++
	b, full, err := u.bat.Add(rec, now)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.stats.Records++
	if rec.Pos != nil {
		u.stats.PositionsSent++
	}
	u.mu.Unlock()
	if full {
		return u.put(b)
	}
	return nil
}

func (u *Uplink) put(b Batch) error {
	if err := u.q.Put(b); err != nil {
		return fmt.Errorf("queue batch: %w", err)
	}
	u.mu.Lock()
	u.stats.Batches++
	u.stats.RawBytes += uint64(b.RawBytes)
	u.stats.CompressedBytes += uint64(len(b.Payload))
	u.mu.Unlock()
	return nil
}

// Alarm is an event the fleet must hear of, such as a camera that does not
// obey (issue 5). It has no position, and its time is coarsened to the
// policy's time quantum: alarms happen near zones, where cameras are
// suppressed, and must not say when the vehicle was there more precisely
// than a withheld stretch does. An alarm is queued, durably like telemetry,
// when its quantum is over; it is never held back or dropped at a trip end.
type Alarm struct {
	Time time.Time
	// Type names what happened: lower-case words joined by dots, such as
	// "camera.disobeyed". Fixed strings from code: never a zone's name.
	Type string
	// Values are optional numbers (counts, codes) keyed the same way,
	// fixed strings from code too: never a signal's value. Names of
	// location and personal roles are refused.
	Values map[string]float64
}

func (a Alarm) validate() error {
	if !ValidRole(a.Type) {
		return fmt.Errorf("alarm type %q: want lower-case words joined by dots", a.Type)
	}
	for k, v := range a.Values {
		switch {
		case !ValidRole(k):
			return fmt.Errorf("alarm %s: value name %q: want lower-case words joined by dots", a.Type, k)
		case notVehicle(k) != "":
			return fmt.Errorf("alarm %s: value %s: %s", a.Type, k, notVehicle(k))
		case math.IsNaN(v) || math.IsInf(v, 0):
			return fmt.Errorf("alarm %s: value %s is not a finite number", a.Type, k)
		}
	}
	return nil
}

// Alarm takes an alarm; it is queued when its time quantum is over (or at
// Flush), on the alarm topic, with the vehicle's next sequence number.
func (u *Uplink) Alarm(a Alarm) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("uplink alarm: %w", err)
	}
	start := u.quantumStart(a.Time)
	end := start + u.quantum
	rec := Record{Time: start, Alarm: a.Type}
	if len(a.Values) > 0 {
		rec.Signals = make(map[string]float64, len(a.Values))
		for k, v := range a.Values {
			rec.Signals[k] = v
		}
	}
	// Kept in time order, so that a late alarm does not hold back others.
	i := len(u.alarms)
	for i > 0 && u.alarms[i-1].end > end {
		i--
	}
	u.alarms = append(u.alarms[:i], append([]pending{{end: end, rec: rec}}, u.alarms[i:]...)...)
	return nil
}

// emitAlarm queues one alarm in a batch of its own, after the open
// telemetry batch, so that the queue holds records in sequence order.
func (u *Uplink) emitAlarm(rec Record) error {
	if b, ok := u.bat.Close(); ok {
		if err := u.put(b); err != nil {
			return err
		}
	}
	rec.Seq = u.seq
	u.seq++
	b, _, err := u.alarmBat.Add(rec, time.Unix(rec.Time, 0)) // a batch of one: always full
	if err != nil {
		return err
	}
	b.Kind = KindAlarm
	if err := u.put(b); err != nil {
		return err
	}
	u.mu.Lock()
	u.stats.Alarms++
	u.mu.Unlock()
	return nil
}

// SetPolicy switches to a new policy between two snapshots, the next
// snapshot is redacted under it. The boundary is clean: the open batch
// (records the old policy released) is queued first, and every record
// still waiting in the vehicle (its quantum not over, or held back) is
// restricted to what the new policy allows: signals it does not allow
// go, values are rounded to its quanta, and a position stays only if the
// new policy allows one at least as coarse. Rate limits carry over.
// Groups keep the quantum they started with; new ones take the new one.
func (u *Uplink) SetPolicy(p *Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set policy: %w", err)
	}
	old := u.red.p
	if b, ok := u.bat.Close(); ok {
		if err := u.put(b); err != nil {
			return fmt.Errorf("set policy: %w", err)
		}
	}
	keepPos := p.Position != nil && old.Position != nil && old.Position.PrecisionM >= p.Position.PrecisionM
	var withheld uint64
	for gi := range u.groups {
		for ri := range u.groups[gi].recs {
			if restrict(&u.groups[gi].recs[ri], p, keepPos) {
				withheld++
			}
		}
	}
	u.red = &Redactor{p: p, lastSent: u.red.lastSent}
	u.bat.rule = p.Batch
	u.quantum = int64(p.NearZones.TimeQuantum / time.Second)
	u.mu.Lock()
	u.stats.PositionsWithheld += withheld
	u.mu.Unlock()
	return nil
}

// restrict limits a waiting record to a new policy; it reports whether
// it took a position away.
func restrict(r *Record, p *Policy, keepPos bool) (posTaken bool) {
	if r.Pos != nil && !keepPos {
		r.Pos, posTaken = nil, true
	}
	for role, v := range r.Signals {
		rule, ok := p.Signals[role]
		switch {
		case !ok:
			delete(r.Signals, role)
		case rule.Quantum > 0:
			r.Signals[role] = math.Round(v/rule.Quantum) * rule.Quantum
		}
	}
	return posTaken
}

// Policy returns the policy in force.
func (u *Uplink) Policy() *Policy { return u.red.p }

// Stats returns a copy of the counters.
func (u *Uplink) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stats
}

// Pseudonym derives the vehicle's name on the wire from its VIN and the
// fleet's secret key: HMAC-SHA256, truncated to 80 bits, in base32. The
// fleet can map it back; nobody without the key can.
func Pseudonym(vin string, fleetKey []byte) string {
	m := hmac.New(sha256.New, fleetKey)
	m.Write([]byte(strings.ToUpper(strings.TrimSpace(vin))))
	sum := m.Sum(nil)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
}
