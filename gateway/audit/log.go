package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"quietzone/uplink/atrest"
)

// Options configure a Log. The zero value is usable.
type Options struct {
	// SyncEvery: zero fsyncs every write before the next (entries queued
	// together share one); positive fsyncs at most that late.
	SyncEvery time.Duration
	// Depth is how many events may wait for the writer; default 1024.
	Depth int
	// Now stamps the log's own entries (recovered, lost); nil means
	// time.Now. The daemon passes the gateway's clock.
	Now func() time.Time
	// Logger gets the log's own troubles (counts and line numbers only);
	// nil discards them.
	Logger *slog.Logger
	// Key, when set, is the vehicle's audit key: every entry written
	// carries a MAC under it, and Open checks every MAC (a forged or
	// unauthenticated entry makes the log not intact). Nil: the hash
	// chain alone, which anyone who can write the file can recompute.
	Key []byte
	// Each, when set, is called at Open with every entry of the log that
	// reads, in order, and whether it passed every check (VerifyOptions).
	Each func(e Entry, authentic bool)
}

// Summary is what the fleet hears of the log: counts per kind and the
// chain's head. No times, positions or names.
type Summary struct {
	Counts map[string]uint64
	Head   Head
	// Tail is the last entries, oldest first, up to TailLen, the head
	// last: the fleet finds the head it saw before in it, if the chain
	// goes on from there.
	Tail []Head
	// Intact is false when the log did not verify at Open.
	Intact bool
	// Lost counts events lost since Open (the writer fell behind or a
	// write failed).
	Lost uint64
}

// Log is an open audit log. Append may be called from any goroutine;
// Run writes.
type Log struct {
	path string
	o    Options
	log  *slog.Logger
	lock io.Closer
	f    *os.File
	size int64 // bytes of whole entries: a failed write is cut back to it

	in      chan pending
	lost    atomic.Uint64 // events not queued or not written, not yet recorded
	lostAll atomic.Uint64
	closed  atomic.Bool // Run has stopped taking events

	mu     sync.Mutex // guards what Summary reads
	last   Entry
	tail   []Head // the last TailLen entries, a ring from tailAt
	tailAt int
	counts map[string]uint64
	intact bool
	dirty  bool // written, not fsynced
	timer  *time.Timer
}

type pending struct {
	t            time.Time
	kind, reason string
}

// Open opens the log at path, creating it (0600) and its directory
// (0700) if need be; one process at a time may hold it. It checks the
// whole chain, cuts a torn last line and records that.
func Open(path string, o Options) (*Log, error) {
	if o.Depth <= 0 {
		o.Depth = 1024
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SyncEvery < 0 {
		return nil, errors.New("open audit log: SyncEvery must not be negative")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	lock, err := atrest.Lock(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	l := &Log{path: path, o: o, log: o.Logger, lock: lock, in: make(chan pending, o.Depth), counts: map[string]uint64{}}
	if err := l.load(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	return l, nil
}

func (l *Log) load() error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	l.f = f
	// A FIFO opened read-write does not block the open, but reading it
	// would, for ever.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	rep, err := Verify(f, VerifyOptions{Key: l.o.Key, Each: func(e Entry, authentic bool) {
		l.push(e)
		if l.o.Each != nil {
			l.o.Each(e, authentic)
		}
	}})
	if err != nil {
		return err
	}
	l.counts = rep.Counts
	l.intact = true
	for _, p := range rep.Problems {
		if p.Kind != Torn {
			l.intact = false
			l.log.Error("audit log does not verify; appending to it as it is", "problem", p.String())
		}
	}
	l.size = rep.size
	if rep.HaveLast {
		// The chain goes on from the last entry that reads, from the hash
		// it carries: an entry edited without its hash recomputed then
		// shows alone.
		l.last = rep.Last
	}
	var notes []pending
	switch {
	case rep.tornBytes > 0:
		if err := f.Truncate(l.size); err != nil {
			return fmt.Errorf("cut torn entry: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("cut torn entry: %w", err)
		}
		l.log.Warn("audit log: cut a torn last entry (a write cut short)", "bytes", rep.tornBytes)
		notes = append(notes, pending{t: l.o.Now(), kind: KindRecovered,
			reason: fmt.Sprintf("cut a torn last entry of %d bytes: a write cut short by a power cut or crash", rep.tornBytes)})
	case !l.intact:
		notes = append(notes, pending{t: l.o.Now(), kind: KindRecovered,
			reason: fmt.Sprintf("the log did not verify at start (%d problems); the chain goes on from seq %d", countNotTorn(rep.Problems), l.last.Seq)})
	}
	if l.o.Key != nil && rep.Authenticated == 0 {
		// A fresh log, or one from before the vehicle had its key: keyed
		// from here on, and that said once, so that a log later stripped
		// of its MACs and taken up again shows a second one (the summary
		// counts audit.keyed).
		notes = append(notes, pending{t: l.o.Now(), kind: KindKeyed,
			reason: fmt.Sprintf("entries are authenticated from here on; the %d before carry no MAC", rep.Entries)})
	}
	if len(notes) == 0 {
		return nil
	}
	if err := l.write(notes); err != nil {
		return err
	}
	return l.sync()
}

func countNotTorn(ps []Problem) int {
	n := 0
	for _, p := range ps {
		if p.Kind != Torn {
			n++
		}
	}
	return n
}

// Append queues an event without waiting; kind must satisfy ValidKind
// (an invalid kind is recorded as "audit.invalid_kind"), reason is cut
// to MaxReason bytes. If the writer has fallen behind by Depth events,
// or has stopped, the event is counted as lost.
func (l *Log) Append(t time.Time, kind, reason string) {
	if !ValidKind(kind) {
		reason, kind = "invalid kind", "audit.invalid_kind"
	}
	if l.closed.Load() {
		l.lose(1)
		return
	}
	select {
	case l.in <- pending{t: t, kind: kind, reason: cleanReason(reason)}:
	default:
		l.lose(1)
	}
}

func (l *Log) lose(n uint64) {
	l.lost.Add(n)
	l.lostAll.Add(n)
}

// Run writes queued events until ctx is done, then writes what is still
// queued, fsyncs, and returns. Call it once.
func (l *Log) Run(ctx context.Context) error {
	batch := make([]pending, 0, 64)
	for {
		select {
		case <-ctx.Done():
			l.closed.Store(true)
			batch = batch[:0]
		rest:
			for {
				select {
				case p := <-l.in:
					batch = append(batch, p)
				default:
					break rest
				}
			}
			l.flush(batch)
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.timer != nil {
				l.timer.Stop()
			}
			if err := l.syncLocked(); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			return nil
		case p := <-l.in:
			batch = append(batch[:0], p)
		drain:
			for len(batch) < cap(batch) {
				select {
				case p := <-l.in:
					batch = append(batch, p)
				default:
					break drain
				}
			}
			l.flush(batch)
		}
	}
}

// flush writes a batch (and a note of lost events first) and fsyncs per
// SyncEvery. A failed write is logged and its events counted as lost.
func (l *Log) flush(batch []pending) {
	if n := l.lost.Swap(0); n > 0 {
		batch = append([]pending{{t: l.o.Now(), kind: KindLost, reason: fmt.Sprintf("%d events lost: the log could not take them", n)}}, batch...)
	}
	if len(batch) == 0 {
		return
	}
	if err := l.write(batch); err != nil {
		l.lose(uint64(len(batch)))
		l.log.Error("audit log: write failed; events lost", "events", len(batch), "err", err)
		return
	}
	if l.o.SyncEvery == 0 {
		if err := l.sync(); err != nil {
			l.log.Error("audit log: fsync failed", "err", err)
		}
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer == nil {
		l.timer = time.AfterFunc(l.o.SyncEvery, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.timer = nil
			if err := l.syncLocked(); err != nil {
				l.log.Error("audit log: fsync failed", "err", err)
			}
		})
	}
}

// write appends entries for a batch of events in one write.
func (l *Log) write(batch []pending) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf []byte
	last := l.last
	counts := map[string]uint64{}
	written := make([]Entry, 0, len(batch))
	for _, p := range batch {
		e := Entry{Seq: last.Seq + 1, Time: p.t, Kind: p.kind, Reason: p.reason, Prev: last.Hash}
		line, err := e.encode(l.o.Key)
		if err != nil {
			return err
		}
		buf = append(buf, line...)
		counts[e.Kind]++
		last = e
		written = append(written, e)
	}
	if _, err := l.f.WriteAt(buf, l.size); err != nil {
		// Leave no partial line for the next entry to follow.
		_ = l.f.Truncate(l.size)
		return err
	}
	l.size += int64(len(buf))
	l.last = last
	for _, e := range written {
		l.push(e)
	}
	for k, n := range counts {
		l.counts[k] += n
	}
	l.dirty = true
	return nil
}

func (l *Log) sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncLocked()
}

func (l *Log) syncLocked() error {
	if !l.dirty || l.f == nil {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	l.dirty = false
	return nil
}

// TailLen is how many of the last entries Summary names.
const TailLen = 32

// push remembers an entry as the newest of the tail; l.mu is held (or
// the log not yet shared).
func (l *Log) push(e Entry) {
	h := Head{Seq: e.Seq, Hash: e.Hash}
	if len(l.tail) < TailLen {
		l.tail = append(l.tail, h)
		return
	}
	l.tail[l.tailAt] = h
	l.tailAt = (l.tailAt + 1) % TailLen
}

// Summary returns the counts per kind, the head and the tail, as written
// so far.
func (l *Log) Summary() Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Summary{Counts: make(map[string]uint64, len(l.counts)), Head: Head{Seq: l.last.Seq, Hash: l.last.Hash},
		Intact: l.intact, Lost: l.lostAll.Load()}
	for k, n := range l.counts {
		s.Counts[k] = n
	}
	// The chain goes on from the last entry that read (load): an entry
	// that did not read is not in the tail, and the tail stops before a
	// break, so that it never names two entries that do not follow.
	for i := range l.tail {
		h := l.tail[(l.tailAt+i)%len(l.tail)]
		if n := len(s.Tail); n > 0 && s.Tail[n-1].Seq+1 != h.Seq {
			s.Tail = s.Tail[:0]
		}
		s.Tail = append(s.Tail, h)
	}
	if n := len(s.Tail); n > 0 && s.Tail[n-1] != s.Head {
		s.Tail = nil
	}
	return s
}

// Path returns the log's file.
func (l *Log) Path() string { return l.path }

// Close releases the file; call it after Run has returned. Events
// appended after Run stopped are lost (counted).
func (l *Log) Close() error {
	l.closed.Store(true)
	for {
		select {
		case <-l.in: // appended as Run stopped: never written
			l.lose(1)
			continue
		default:
		}
		break
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	err := l.syncLocked()
	l.closeFiles()
	if err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	return nil
}

func (l *Log) closeFiles() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	if l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
}
