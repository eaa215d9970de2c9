package uplink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Stats count what the uplink did. They hold no values, positions or names.
type Stats struct {
	Snapshots         uint64 // snapshots offered
	Records           uint64 // telemetry records released (numbered) for slots
	PositionsSent     uint64
	PositionsWithheld uint64
	SignalsDenied     uint64 // values left out: not allowed, not vehicle data, not finite
	ForbiddenDenied   uint64 // of those, personal data (phone, contacts), which never leaves
	// Coarsened counts records merged into withheld stretches and trip
	// ends, which leave as one merged record each (Merged).
	Coarsened uint64
	// Merged counts the merged records released: one per withheld
	// stretch, trip end or overflow, none when nothing parked-car-like
	// was in it.
	Merged uint64
	// Overflowed counts records that waited past maxWaitingRecords and
	// were merged (without position and motion) rather than kept whole.
	Overflowed uint64
	// EdgeMotion counts motion values (MotionRole) left out of records
	// beside a withheld stretch: between the last position before it, or
	// after it the first, and the stretch (the observer's gap runs from
	// position to position).
	EdgeMotion      uint64
	Alarms          uint64 // alarm records released
	Batches         uint64 // batches queued: one per slot that had records
	RawBytes        uint64 // JSON bytes before compression
	CompressedBytes uint64 // payload bytes, padding included
}

// maxWaitingRecords bounds the records waiting for the gateway's
// ReleaseBefore: two hours at one a second. Past it, the oldest waiting
// quanta are merged like a withheld stretch (counted in Overflowed):
// nothing is dropped, and nothing of them leaves with a position.
const maxWaitingRecords = 7200

// maxSlotsAtOnce bounds the slots filled by one Offer after a gap (the
// clock jumped, the worker stalled): the rest of the records wait for
// the next slots.
const maxSlotsAtOnce = 4

// Uplink turns snapshots into queued batches under a Policy:
//
//	Snapshot → Redactor (per snapshot: default deny, rates, quanta, grid,
//	  withholding) → time quanta (every record waits for its quantum to
//	  end; the quanta of a withheld stretch become one merged record)
//	→ release (records wait until the gateway's ReleaseBefore passes
//	  them; a trip end merges all that waits) → sequence numbers
//	→ slots (one padded payload per cadence slot, as many records as
//	  fit, the rest in later slots) → Queue
//
// Sequence numbers are given when records are released, so records that
// never leave the vehicle leave no gap. Offer, Flush and Alarm are called
// by one goroutine; Stats may be called from any.
type Uplink struct {
	red     *Redactor
	bat     *Batcher
	q       Queue
	seq     uint64
	quantum int64 // seconds
	alarmQ  int64 // seconds: the alarms' quantum
	slot    int64 // seconds: the cadence
	size    int   // bytes of every payload
	phase   int64 // seconds into a slot where slots begin (SetPhase)

	nextSlot int64 // Unix seconds of the next slot; 0 before the first Offer
	rb       int64 // ReleaseBefore, Unix seconds (floor); math.MinInt64: none yet

	// edge: positions leave under the policy, and since the last
	// withheld stretch (or the start) no record has carried one. To the
	// observer a gap runs from position to position, so the records in
	// it, around the stretch, carry no motion either; nor do those of
	// edgeMargin seconds beside it (edgeUntil after it, stripBefore
	// before it), whose speeds would say how the speed changed across.
	edge      bool
	posOn     bool
	edgeUntil int64
	groups    []group   // quanta not yet released, oldest first
	alarms    []pending // alarms waiting for their quantum to end
	ready     []Record  // released and numbered, waiting for a slot

	mu    sync.Mutex
	stats Stats
}

// group is one time quantum's records, or a withheld stretch of quanta.
type group struct {
	// start and end bound the quantum in Unix seconds: [start, end). A
	// policy change may change the quantum's length; a group keeps its own.
	// A withheld stretch spans from its first quantum's start to its
	// last's end.
	start, end int64
	withheld   bool
	// stamp is a withheld stretch's time on the wire: the start of its
	// last quantum.
	stamp int64
	recs  []Record // not withheld: the records
	last  int64    // not withheld: the latest record's time
	// pos: a record has a position; open: the newest record has none
	// (the observer's gap may begin after the last that has).
	pos, open bool
	// merged holds a withheld stretch's latest value of each parked role
	// (ParkedRole): nothing of position or motion, no count.
	merged map[string]float64
	waits  int // records folded into merged, for Stats
}

type pending struct {
	end  int64 // the end of the alarm's quantum: it waits until then
	free bool  // a trip ended since: it need not wait for ReleaseBefore
	rec  Record
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
	u := &Uplink{red: NewRedactor(p), bat: b, q: q, seq: max(firstSeq, 1), rb: math.MinInt64}
	u.setRules(p) // a run starts where the last one's position is not known: edge
	return u, nil
}

func (u *Uplink) setRules(p *Policy) {
	if on := p.Position != nil; on != u.posOn {
		// Positions start (as at a run's start: where the last was is not
		// known) or stop (no gap to hide motion beside).
		u.posOn, u.edge, u.edgeUntil = on, on, 0
	}
	u.quantum = int64(p.NearZones.TimeQuantum / time.Second)
	u.alarmQ = int64(p.Cadence.alarmQuantum(p.NearZones.TimeQuantum) / time.Second)
	slot := int64(p.Cadence.Slot() / time.Second)
	if slot != u.slot {
		u.slot = slot
		u.nextSlot = 0 // the next Offer finds the next slot of the new cadence
	}
	u.size = p.Cadence.Size()
	u.bat.setGrid(p)
}

// SetPhase sets where in each cadence slot slots begin (SlotPhase: fixed
// per vehicle); a new phase starts at its next slot.
func (u *Uplink) SetPhase(d time.Duration) {
	if p := int64(d / time.Second); p != u.phase {
		u.phase, u.nextSlot = p, 0
	}
}

// SlotPhase is a vehicle's phase in a cadence of every: where in each
// slot its slots begin, spread over the slot by its pseudonym (the
// observer sees the phase anyway; what it must not be is the same for
// every vehicle, or a fleet would publish in one burst). Whole seconds.
func SlotPhase(pseudonym string, every time.Duration) time.Duration {
	sum := sha256.Sum256([]byte("quietzone slot phase " + pseudonym))
	n := int64(every / time.Second)
	if n <= 1 {
		return 0
	}
	v := int64(uint64(sum[0])<<24|uint64(sum[1])<<16|uint64(sum[2])<<8|uint64(sum[3])) % n
	return time.Duration(v) * time.Second
}

// floorDiv is a/b rounded down, b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// quantumStart returns the start, in Unix seconds, of the quantum
// holding t.
func (u *Uplink) quantumStart(t time.Time) int64 {
	return floorDiv(t.Unix(), u.quantum) * u.quantum
}

// Offer redacts a snapshot, keeps its record until its quantum is over
// and the gateway's ReleaseBefore passes it, merges withheld stretches
// and trip ends, and fills the cadence's slots that are due.
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
	// A trip's end is judged on what ReleaseBefore had passed before it:
	// the end snapshot's own ReleaseBefore (the gateway may move it to the
	// end, as everything after is parked) must not let the waiting records
	// out with their positions first.
	setRB := func() {
		if !s.ReleaseBefore.IsZero() {
			u.rb = max(u.rb, floorDiv(s.ReleaseBefore.UnixNano(), int64(time.Second)))
		}
	}
	if !s.TripEnd {
		setRB()
	}
	if n := len(u.groups); n == 0 || u.groups[n-1].end <= ts {
		start := u.quantumStart(s.Time)
		g := group{start: start, end: start + u.quantum}
		if n > 0 {
			g.start = max(g.start, u.groups[n-1].end) // after a longer quantum
			g.end = max(g.end, g.start+1)
		}
		u.groups = append(u.groups, g)
	}
	g := &u.groups[len(u.groups)-1] // a snapshot from the past joins the newest quantum
	if s.Withhold && !g.withheld {
		u.withhold(g)
	}
	if ok {
		if g.withheld {
			u.fold(g, &rec)
		} else {
			if u.edge && rec.Pos != nil {
				u.edge, u.edgeUntil = false, rec.Time+u.edgeMargin()
			}
			if u.edge || rec.Time < u.edgeUntil {
				u.stripMotion(&rec)
			}
			g.recs = append(g.recs, rec)
			g.last = max(g.last, rec.Time)
			g.pos = g.pos || rec.Pos != nil
			g.open = u.posOn && rec.Pos == nil
		}
	}
	if n := len(u.groups); g.withheld && n >= 2 && u.groups[n-2].withheld {
		u.join(n - 2)
	}
	if s.TripEnd {
		u.endTrip()
		setRB()
	}
	u.limitWaiting()
	u.release(ts, false)
	return u.fillSlots(ts)
}

// withhold turns a quantum into a withheld one: its records are folded.
// The records waiting before it since the last position lose their
// motion: the observer's gap begins at that position.
func (u *Uplink) withhold(g *group) {
	g.withheld, g.stamp = true, g.start
	if u.posOn {
		u.edge = true
		u.stripBefore()
	}
	recs := g.recs
	g.recs = nil
	for i := range recs {
		u.fold(g, &recs[i])
	}
}

// edgeMargin is how long beside a withheld stretch records carry no
// motion: two quanta (60 s by default, a kilometre or so). The speeds
// nearest a gap, with its duration and chord, placed the vehicle inside
// it by one change of speed (the speed-trend attack: 108 m against the
// baseline's 168 m, 300 fleet trips); from a minute away they no longer
// do better than the baseline.
func (u *Uplink) edgeMargin() int64 { return 2 * u.quantum }

// stripBefore strips the motion of the waiting records after the last
// one with a position, and of those up to edgeMargin before it, back to
// a withheld stretch. Records already released are out of reach:
// ReleaseBefore trails the vehicle by a kilometre or more (the gateway's
// trip-end rule), so that most of the margin is still waiting when a
// stretch begins.
func (u *Uplink) stripBefore() {
	from := int64(math.MinInt64) // the margin's start, once the last position is found
	for i := len(u.groups) - 1; i >= 0; i-- {
		g := &u.groups[i]
		if g.withheld {
			if i == len(u.groups)-1 {
				continue // the stretch itself
			}
			return
		}
		for j := len(g.recs) - 1; j >= 0; j-- {
			r := &g.recs[j]
			if from == math.MinInt64 && r.Pos != nil {
				from = r.Time - u.edgeMargin()
			}
			if r.Time < from {
				return
			}
			u.stripMotion(r)
		}
	}
}

// stripMotion leaves a record's motion values (MotionRole) out.
func (u *Uplink) stripMotion(r *Record) {
	n := 0
	for role := range r.Signals {
		if MotionRole(role) {
			delete(r.Signals, role)
			n++
		}
	}
	if n > 0 {
		u.mu.Lock()
		u.stats.EdgeMotion += uint64(n)
		u.mu.Unlock()
	}
}

// fold merges a record into a withheld group: its parked values only.
func (u *Uplink) fold(g *group, r *Record) {
	for role, v := range r.Signals {
		if ParkedRole(role) {
			if g.merged == nil {
				g.merged = map[string]float64{}
			}
			g.merged[role] = v
		}
	}
	g.waits++
	if r.Pos != nil {
		u.mu.Lock()
		u.stats.PositionsWithheld++
		u.mu.Unlock()
	}
}

// join merges group i+1, withheld, into group i, withheld; its values are
// the later ones.
func (u *Uplink) join(i int) {
	a, b := &u.groups[i], &u.groups[i+1]
	a.end, a.stamp = b.end, b.stamp
	for role, v := range b.merged {
		if a.merged == nil {
			a.merged = map[string]float64{}
		}
		a.merged[role] = v
	}
	a.waits += b.waits
	u.groups = slices.Delete(u.groups, i+1, i+2)
}

// endTrip ends a trip: what ReleaseBefore passed leaves as it is (a
// withheld stretch merged, as always), and everything else still waiting
// is merged into one withheld stretch, released at once: a trip's end
// never leaves with its position or its motion, and nothing is dropped
// for it. Alarms waiting need no longer wait for ReleaseBefore.
func (u *Uplink) endTrip() {
	for i := range u.alarms {
		u.alarms[i].free = true
	}
	n := 0
	for i := range u.groups {
		g := &u.groups[i]
		if (g.withheld && g.end > u.rb) || (!g.withheld && g.last >= u.rb) {
			break
		}
		u.emit(g)
		n++
	}
	u.groups = slices.Delete(u.groups, 0, n)
	if len(u.groups) == 0 {
		return
	}
	for i := range u.groups {
		if !u.groups[i].withheld {
			u.withhold(&u.groups[i])
		}
	}
	for len(u.groups) > 1 {
		u.join(0)
	}
	// The merged stretch waits: the parked records that follow join it,
	// and it leaves when the run ends (Flush) or the vehicle drives on,
	// stamped with its last quantum. Released now, it would say to a
	// quantum, by its stamp and its slot, when the trip ended.
}

// limitWaiting merges the oldest waiting quanta, beyond maxWaitingRecords,
// as a withheld stretch.
func (u *Uplink) limitWaiting() {
	n := 0
	for _, g := range u.groups {
		n += len(g.recs)
	}
	for i := 0; n > maxWaitingRecords && i < len(u.groups)-1; {
		g := &u.groups[i]
		if g.withheld {
			i++
			continue
		}
		d := len(g.recs)
		n -= d
		u.withhold(g)
		u.mu.Lock()
		u.stats.Overflowed += uint64(d)
		u.mu.Unlock()
		if i+1 < len(u.groups) && u.groups[i+1].withheld {
			u.join(i)
		}
		if i > 0 && u.groups[i-1].withheld {
			u.join(i - 1)
			i--
		}
	}
}

// release numbers what may leave: the quanta that are over and before
// ReleaseBefore, a withheld stretch once it is over (the quantum after it
// is over too) and before ReleaseBefore, then the alarms of quanta that
// are over and may leave; all of them when all is set.
func (u *Uplink) release(ts int64, all bool) {
	n := 0
	for i := range u.groups {
		g := &u.groups[i]
		if !all {
			if g.end > u.rb {
				break
			}
			if g.withheld && (i+1 >= len(u.groups) || u.groups[i+1].end > ts) {
				break // the stretch may not be over
			}
			if !g.withheld && g.end > ts {
				break
			}
			if g.open && !u.closes(i+1, ts) {
				// Its last records have no position: they wait until a
				// quantum with a position follows them, over and not
				// withheld (they leave as they are), or a withheld
				// stretch (they lose their motion, stripBefore). The
				// records up to its last position leave now.
				u.emitHead(g)
				break
			}
		}
		u.emit(g)
		n++
	}
	if n > 0 {
		rest := copy(u.groups, u.groups[n:])
		clear(u.groups[rest:])
		u.groups = u.groups[:rest]
	}
	n = 0
	for _, a := range u.alarms {
		if !all && (a.end > ts || (!a.free && a.end > u.rb)) {
			break
		}
		u.number(a.rec)
		u.mu.Lock()
		u.stats.Alarms++
		u.mu.Unlock()
		n++
	}
	u.alarms = slices.Delete(u.alarms, 0, n)
}

// closes reports whether group i ends the observer's gap that an open
// group before it may begin: a withheld stretch (whose start stripped
// that group's tail), or a quantum that is over, not withheld, with a
// position (a quantum still running may yet be withheld whole).
func (u *Uplink) closes(i int, ts int64) bool {
	if i >= len(u.groups) {
		return false
	}
	g := &u.groups[i]
	return g.withheld || g.pos && g.end <= ts
}

// emit releases a group: a withheld stretch as its one merged record,
// else its records as they are.
func (u *Uplink) emit(g *group) {
	if g.withheld {
		u.emitMerged(g)
		return
	}
	for _, r := range g.recs {
		u.number(r)
	}
}

// emitHead releases an open group's records up to its last position;
// the rest stay in it.
func (u *Uplink) emitHead(g *group) {
	k := len(g.recs)
	for k > 0 && g.recs[k-1].Pos == nil {
		k--
	}
	if k == 0 {
		return
	}
	for _, r := range g.recs[:k] {
		u.number(r)
	}
	rest := copy(g.recs, g.recs[k:])
	clear(g.recs[rest:])
	g.recs = g.recs[:rest]
	g.pos = false
}

// emitMerged releases a withheld stretch as one record, stamped with its
// last quantum's start, holding only parked values (none: no record).
func (u *Uplink) emitMerged(g *group) {
	u.mu.Lock()
	u.stats.Coarsened += uint64(g.waits)
	u.mu.Unlock()
	if len(g.merged) == 0 {
		return
	}
	u.number(Record{Time: g.stamp, Signals: g.merged})
	u.mu.Lock()
	u.stats.Merged++
	u.mu.Unlock()
}

// number gives a released record its sequence number; it waits in ready
// for a slot.
func (u *Uplink) number(rec Record) {
	rec.Seq = u.seq
	u.seq++
	u.ready = append(u.ready, rec)
	if rec.Alarm == "" {
		u.mu.Lock()
		u.stats.Records++
		if rec.Pos != nil {
			u.stats.PositionsSent++
		}
		u.mu.Unlock()
	}
}

// fillSlots fills the slots due by ts, one batch each, as many released
// records as fit in the payload size; an empty slot queues nothing (the
// Publisher publishes padding in its place).
func (u *Uplink) fillSlots(ts int64) error {
	if u.nextSlot == 0 || u.nextSlot > ts+u.slot {
		// The first Offer, a new cadence, or a clock stepped back.
		u.nextSlot = u.phase + (floorDiv(ts-u.phase, u.slot)+1)*u.slot
	}
	for k := 0; u.nextSlot <= ts; k++ {
		if k >= maxSlotsAtOnce {
			u.nextSlot = u.phase + (floorDiv(ts-u.phase, u.slot)+1)*u.slot
			break
		}
		if err := u.fillSlot(); err != nil {
			return err
		}
		u.nextSlot += u.slot
	}
	return nil
}

// fillSlot queues one batch of the ready records, if any.
func (u *Uplink) fillSlot() error {
	if len(u.ready) == 0 {
		return nil
	}
	b, n := u.bat.Fill(u.ready, u.size)
	if err := u.put(b); err != nil {
		return err
	}
	rest := copy(u.ready, u.ready[n:])
	clear(u.ready[rest:])
	u.ready = u.ready[:rest]
	return nil
}

// Flush is the end of the trip and of the run: everything waiting is
// merged (TripEnd), alarms are released, and every released record is
// queued, in as many padded batches as it takes: what is queued survives
// the shutdown, and the Publisher sends it at its slots.
func (u *Uplink) Flush(now time.Time) error {
	u.endTrip()
	u.release(now.Unix(), true)
	for len(u.ready) > 0 {
		if err := u.fillSlot(); err != nil {
			return err
		}
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
// cadence's alarm quantum (CadenceRule.AlarmQuantum, 30 minutes by
// default): alarms happen near zones, where cameras are suppressed, and
// must not say when the vehicle was there. An alarm waits until its
// quantum is over and the telemetry of its time may leave (ReleaseBefore,
// or a trip end), then rides in the cadence's slots like a record; it is
// never dropped.
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

// Alarm takes an alarm; it is released when its alarm quantum is over
// and the telemetry of that time may leave (or at Flush), with the
// vehicle's next sequence number, and leaves in a slot.
func (u *Uplink) Alarm(a Alarm) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("uplink alarm: %w", err)
	}
	start := floorDiv(a.Time.Unix(), u.alarmQ) * u.alarmQ
	end := start + u.alarmQ
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
	u.alarms = slices.Insert(u.alarms, i, pending{end: end, rec: rec})
	return nil
}

// SetPolicy switches to a new policy between two snapshots, the next
// snapshot is redacted under it. Every record still in the vehicle
// (waiting for its quantum or ReleaseBefore, or released and waiting for
// a slot) is restricted to what the new policy allows: signals it does
// not allow go, values are rounded to its quanta, and a position stays
// only if the new policy allows one at least as coarse. Rate limits carry
// over. Groups keep the quantum they started with; new ones take the new
// one. A new cadence starts at its next slot.
func (u *Uplink) SetPolicy(p *Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set policy: %w", err)
	}
	old := u.red.p
	keepPos := p.Position != nil && old.Position != nil && old.Position.PrecisionM >= p.Position.PrecisionM
	var withheld uint64
	for gi := range u.groups {
		g := &u.groups[gi]
		for ri := range g.recs {
			if restrict(&g.recs[ri], p, keepPos) {
				withheld++
			}
		}
		if g.merged != nil {
			r := Record{Signals: g.merged}
			restrict(&r, p, false)
		}
	}
	for ri := range u.ready {
		if u.ready[ri].Alarm == "" && restrict(&u.ready[ri], p, keepPos) {
			withheld++
		}
	}
	u.red = &Redactor{p: p, lastSent: u.red.lastSent}
	u.bat.rule = p.Batch
	u.setRules(p)
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
