package uplink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"quietzone/uplink/atrest"
)

// DiskOptions configure a DiskQueue. The zero value is usable.
type DiskOptions struct {
	// QuotaBytes caps the size of the queue's segment files. When a batch
	// would not fit, the oldest segment is dropped, and what it held is
	// counted in Drops. Default 64 MiB; at least 64 KiB.
	QuotaBytes int64
	// SegmentBytes is the size past which a new segment is started.
	// Space is reclaimed, and dropped, a segment at a time. Default
	// QuotaBytes/16 within [64 KiB, 4 MiB]; at most QuotaBytes/2.
	SegmentBytes int64
	// SyncEvery: zero makes Put fsync before it returns, so that an
	// accepted batch survives a power cut. A positive value lets Put
	// return after the write and fsyncs at most SyncEvery later: fewer
	// writes to flash, and a power cut may lose the batches of the last
	// SyncEvery (they show as torn bytes at the next start). Either way,
	// Next hands out a batch only once it is on disk.
	SyncEvery time.Duration
	// Key, when set, encrypts payloads at rest with AES-256-GCM
	// (QueueKeyLen bytes; LoadQueueKey reads and checks a key file).
	// Segments written without a key stay readable; a segment written with
	// a key cannot be read without it, and the queue refuses to open.
	Key []byte
	// OldKeys open segments sealed before the key changed (each segment
	// names its key by its check); new segments are sealed with Key only.
	// A segment of an old key goes once its batches are acknowledged, and
	// the old key is not needed after that.
	OldKeys [][]byte
	// Logger gets warnings about torn writes, damage and drops (counts
	// only); nil discards them.
	Logger *slog.Logger
	// Now is the clock that paces how often acknowledgements are
	// persisted; nil means time.Now.
	Now func() time.Time
}

// Drops count what the queue lost on purpose (the quota) or found damaged.
// They are persisted, cumulative over the queue's life, and published in
// the status record; they hold counts and sequence numbers only.
type Drops struct {
	// Batches, Records and Bytes were dropped by the quota, oldest first.
	Batches uint64 `json:"dropped_batches"`
	Records uint64 `json:"dropped_records"`
	Bytes   uint64 `json:"dropped_bytes"`
	// ThroughSeq is the highest sequence number dropped by the quota.
	ThroughSeq uint64 `json:"dropped_through_seq"`
	// CorruptBytes were found damaged on disk (bad CRC or header) and
	// skipped: media failure, not a torn write.
	CorruptBytes uint64 `json:"corrupt_bytes"`
	// TornBytes were cut from the end of the newest segment at start: a
	// write that a crash or power cut interrupted. With SyncEvery zero they
	// are batches whose Put never returned.
	TornBytes uint64 `json:"torn_bytes"`
}

// DiskStats describe a DiskQueue.
type DiskStats struct {
	Batches  int   // waiting for acknowledgement
	Segments int   // files on disk
	Bytes    int64 // size of the segment files
	Syncs    uint64
	Drops    Drops
}

// DiskQueue is a Queue in append-only segment files: durable across
// crashes and power cuts, bounded by a byte quota. See segment.go for the
// format. One process at a time may open a directory (a lock file).
//
// Crash safety: a batch is framed with its length and CRC-32C and appended
// to the newest segment, then fsynced (SyncEvery zero) before Put returns;
// a torn tail is cut at the next start. A new segment is written under a
// temporary name, fsynced, renamed and the directory fsynced, so it exists
// whole or not at all. The state file (sequence number, acknowledged
// head, drop counters) is replaced the same way, and always before a
// segment is removed, so that a removed segment's batches are never
// needed and its sequence numbers never reused.
type DiskQueue struct {
	dir  string
	o    DiskOptions
	seal *sealer
	old  []*sealer // OldKeys'
	log  *slog.Logger
	lock io.Closer

	mu    sync.Mutex
	segs  []*segment // oldest first; the last is the one written
	head  headPos    // what of segs[0] is acknowledged or dropped
	count int        // batches not yet acknowledged
	total int64      // bytes of all segment files
	// headID is the last batch ID acknowledged or dropped: every batch up
	// to it is gone. nextID is the ID of the next batch put.
	headID, nextID uint64
	nextSeq        uint64
	drops          Drops
	cached         *Batch // the head batch, once read
	cachedSize     int
	// droppedInFlight is the ID of a batch the quota dropped after Next
	// returned it: its Ack is expected, and harmless.
	droppedInFlight uint64
	dirty           bool // the newest segment has writes not yet fsynced
	// synced is the last batch ID known to be on disk. Next hands out
	// nothing later: a batch published before its fsync could be lost in
	// a power cut after the broker had it, and its sequence numbers given
	// again.
	synced     uint64
	syncTimer  *time.Timer
	stateAt    time.Time // when the state file was last written
	stateDirty bool
	syncs      uint64
	ready      chan struct{} // closed and replaced when a batch arrives
	closed     bool
}

var _ Queue = (*DiskQueue)(nil)

type segment struct {
	id      uint64 // ID of its first batch, and its name
	path    string
	f       *os.File
	seal    *sealer // the key it is sealed with; nil for plaintext
	size    int64
	batches int
	records int
	maxSeq  uint64
	sealed  bool // damaged: append nothing more to it
}

type headPos struct {
	off     int64
	batches int
	records int
}

func (s *segment) lastID() uint64 { return s.id + uint64(s.batches) - 1 }

const (
	defaultQuota      = 64 << 20
	minQuota          = 64 << 10
	minSegment        = 4 << 10
	stateFile         = "state"
	lockFile          = "lock"
	segSuffix         = ".seg"
	tmpSuffix         = atrest.TmpSuffix
	stateMagic        = "QZST"
	stateLen          = 8 + 8*8 + 4
	ackPersistEvery   = time.Second
	segmentNameDigits = 20
)

var segName = regexp.MustCompile(`^(\d{20})\.seg$`)

// ErrQueueClosed is returned by a DiskQueue's methods after Close.
var ErrQueueClosed = errors.New("queue closed")

// OpenDiskQueue opens the queue in dir, creating it if need be. It checks
// every segment, cuts a torn tail, skips damage (counting it), and refuses
// to open segments it cannot decrypt.
func OpenDiskQueue(dir string, o DiskOptions) (*DiskQueue, error) {
	if o.QuotaBytes == 0 {
		o.QuotaBytes = defaultQuota
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = min(max(o.QuotaBytes/16, 64<<10), 4<<20, o.QuotaBytes/2)
	}
	switch {
	case o.QuotaBytes < minQuota:
		return nil, fmt.Errorf("open queue: quota %d bytes, want at least %d", o.QuotaBytes, minQuota)
	case o.SegmentBytes < minSegment || o.SegmentBytes > o.QuotaBytes/2:
		return nil, fmt.Errorf("open queue: segment size %d bytes, want %d to half the quota (%d)", o.SegmentBytes, minSegment, o.QuotaBytes/2)
	case o.SyncEvery < 0:
		return nil, errors.New("open queue: SyncEvery must not be negative")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	seal, err := newSealer(o.Key)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	var old []*sealer
	for _, k := range o.OldKeys {
		s, err := newSealer(k)
		if err != nil {
			return nil, fmt.Errorf("open queue: old %w", err)
		}
		if s != nil {
			old = append(old, s)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	lock, err := atrest.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", dir, err)
	}
	q := &DiskQueue{dir: dir, o: o, seal: seal, old: old, log: o.Logger, lock: lock, ready: make(chan struct{})}
	if err := q.load(); err != nil {
		q.closeFiles()
		lock.Close()
		return nil, fmt.Errorf("open queue %s: %w", dir, err)
	}
	return q, nil
}

// load reads the state file and every segment.
func (q *DiskQueue) load() error {
	if err := q.readState(); err != nil {
		return err
	}
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return err
	}
	var ids []uint64
	for _, e := range entries {
		name := e.Name()
		switch {
		case filepath.Ext(name) == tmpSuffix:
			// An interrupted segment creation or state write: the rename
			// never happened, so nothing refers to it.
			if err := os.Remove(filepath.Join(q.dir, name)); err != nil {
				return err
			}
		case segName.MatchString(name):
			id, err := strconv.ParseUint(name[:segmentNameDigits], 10, 64)
			if err != nil || id == 0 {
				return fmt.Errorf("segment %s: bad name", name)
			}
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	maxSeq := uint64(0)
	for i, id := range ids {
		s, err := q.loadSegment(id, i == len(ids)-1)
		if err != nil {
			return err
		}
		if s == nil {
			continue
		}
		if n := len(q.segs); n > 0 && q.segs[n-1].batches > 0 && s.id <= q.segs[n-1].lastID() {
			s.f.Close()
			return fmt.Errorf("segment %s overlaps the one before it", filepath.Base(s.path))
		}
		q.segs = append(q.segs, s)
		q.total += s.size
		maxSeq = max(maxSeq, s.maxSeq)
	}
	q.nextSeq = max(q.nextSeq, maxSeq+1, 1)
	q.nextID = q.headID + 1
	if t := q.tail(); t != nil && t.batches > 0 {
		q.nextID = max(q.nextID, t.lastID()+1)
		// A crashed process may have left writes in the page cache: put
		// them on disk before handing them out.
		if err := t.f.Sync(); err != nil {
			return fmt.Errorf("segment %s: fsync: %w", filepath.Base(t.path), err)
		}
	}
	q.synced = q.nextID - 1
	// Work out the head: skip what is acknowledged, removing whole
	// segments of it.
	for _, s := range q.segs {
		if s.batches > 0 && s.lastID() > q.headID {
			first := max(q.headID+1, s.id)
			q.count += int(s.lastID() - first + 1)
		}
	}
	return q.settleHead(true)
}

// loadSegment reads and checks one segment file, cutting a torn or
// damaged tail. It returns nil for a file that holds nothing usable,
// which it removes.
func (q *DiskQueue) loadSegment(id uint64, last bool) (*segment, error) {
	path := filepath.Join(q.dir, fmt.Sprintf("%020d%s", id, segSuffix))
	f, err := os.OpenFile(path, os.O_RDWR, 0) // O_RDWR: a FIFO does not block the open; Stat refuses it
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("segment %s: not a regular file", filepath.Base(path))
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment %s: %w", filepath.Base(path), err)
	}
	h, frames, valid, err := scanSegment(data)
	if err == nil && h.firstID != id {
		err = errBadHeader
	}
	if errors.Is(err, errBadHeader) {
		// Count it in the state file first, then remove it: a crash in
		// between counts it again rather than not at all.
		f.Close()
		q.drops.CorruptBytes += uint64(len(data))
		q.log.Error("queue segment damaged beyond reading; removing it", "segment", filepath.Base(path), "bytes", len(data))
		// Its batches are lost, but their sequence numbers must not be
		// given again: receivers would drop new records as repeats.
		q.nextSeq = max(q.nextSeq, salvageSeq(data)+1)
		if err := q.writeState(); err != nil {
			return nil, err
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
		return nil, atrest.SyncDir(q.dir)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment %s: %w", filepath.Base(path), err)
	}
	var seal *sealer
	if h.encrypted {
		if seal = q.sealerFor(h.keyCheck); seal == nil {
			f.Close()
			if q.seal == nil && len(q.old) == 0 {
				return nil, fmt.Errorf("segment %s is encrypted and no queue key is configured", filepath.Base(path))
			}
			return nil, fmt.Errorf("segment %s was encrypted with another key", filepath.Base(path))
		}
	}
	if valid < len(data) {
		cut := uint64(len(data) - valid)
		if last {
			q.drops.TornBytes += cut
			q.log.Warn("queue: cutting a torn write from the newest segment", "segment", filepath.Base(path), "bytes", cut)
		} else {
			q.drops.CorruptBytes += cut
			q.log.Error("queue: damaged frames in a segment; skipping the rest of it", "segment", filepath.Base(path), "bytes", cut)
		}
		if err := f.Truncate(int64(valid)); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		q.stateDirty = true
	}
	s := &segment{id: id, path: path, f: f, seal: seal, size: int64(valid), batches: len(frames), sealed: valid < len(data) && !last}
	for _, fi := range frames {
		s.records += fi.records
		s.maxSeq = max(s.maxSeq, fi.lastSeq)
	}
	return s, nil
}

// settleHead moves the head past acknowledged batches, removing segments
// that hold nothing unacknowledged (never the newest). At load, frames at
// or below headID in the head segment are skipped by scanning.
func (q *DiskQueue) settleHead(loading bool) error {
	for len(q.segs) > 0 {
		s := q.segs[0]
		if loading && q.head.off == 0 {
			q.head = headPos{off: segHeaderLen}
			if err := q.skipAcked(s); err != nil {
				return err
			}
		}
		if q.head.batches < s.batches || len(q.segs) == 1 {
			break
		}
		// Everything in s is gone: persist that before removing it.
		q.headID = max(q.headID, s.lastID(), s.id-1)
		if err := q.writeState(); err != nil {
			return err
		}
		s.f.Close()
		if err := os.Remove(s.path); err != nil {
			return err
		}
		if err := atrest.SyncDir(q.dir); err != nil {
			return err
		}
		q.total -= s.size
		q.segs = q.segs[1:]
		q.head = headPos{}
		q.cached = nil
		if !loading {
			q.head.off = segHeaderLen
		}
		if len(q.segs) > 0 {
			// IDs missing between segments were dropped or damaged.
			q.headID = max(q.headID, q.segs[0].id-1)
		}
	}
	if len(q.segs) > 0 {
		q.headID = max(q.headID, q.segs[0].id-1)
	}
	if q.stateDirty {
		return q.writeState()
	}
	return nil
}

// skipAcked sets the head past the frames of s at or below headID.
func (q *DiskQueue) skipAcked(s *segment) error {
	if s.batches == 0 || q.headID < s.id {
		return nil
	}
	for q.head.batches < s.batches && s.id+uint64(q.head.batches) <= q.headID {
		fi, err := q.frameAt(s, q.head.off)
		if err != nil {
			return err
		}
		q.head.off += int64(fi.size)
		q.head.batches++
		q.head.records += fi.records
	}
	return nil
}

// frameAt reads the frame of s at off and checks it.
func (q *DiskQueue) frameAt(s *segment, off int64) (frameInfo, error) {
	f, err := q.readFrame(s, off)
	if err != nil {
		return frameInfo{}, err
	}
	fi, ok := nextFrame(f, s.seal != nil)
	if !ok {
		return frameInfo{}, fmt.Errorf("segment %s: damaged frame at %d", filepath.Base(s.path), off)
	}
	return fi, nil
}

func (q *DiskQueue) readFrame(s *segment, off int64) ([]byte, error) {
	var head [frameHeadLen]byte
	if _, err := s.f.ReadAt(head[:], off); err != nil {
		return nil, fmt.Errorf("segment %s: read frame at %d: %w", filepath.Base(s.path), off, err)
	}
	n := int64(binary.LittleEndian.Uint32(head[:4]))
	if n > maxFrameBody || off+frameHeadLen+n > s.size {
		return nil, fmt.Errorf("segment %s: damaged frame at %d", filepath.Base(s.path), off)
	}
	f := make([]byte, frameHeadLen+n)
	if _, err := s.f.ReadAt(f, off); err != nil {
		return nil, fmt.Errorf("segment %s: read frame at %d: %w", filepath.Base(s.path), off, err)
	}
	return f, nil
}

func (q *DiskQueue) tail() *segment {
	if len(q.segs) == 0 {
		return nil
	}
	return q.segs[len(q.segs)-1]
}

// Put implements Queue: it appends b, with the next ID, to the newest
// segment, dropping the oldest segments if the quota requires, and (with
// SyncEvery zero) returns once it is on disk.
func (q *DiskQueue) Put(b Batch) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrQueueClosed
	}
	b.ID = q.nextID
	frame, err := encodeFrame(&b, q.seal)
	if err != nil {
		return fmt.Errorf("queue batch: %w", err)
	}
	size := int64(len(frame))
	if size+segHeaderLen > q.o.QuotaBytes {
		return fmt.Errorf("queue batch %d: %d bytes do not fit in the quota of %d", b.ID, size, q.o.QuotaBytes)
	}
	t := q.tail()
	if t == nil || t.sealed || t.seal != q.seal || (t.batches > 0 && t.lastID()+1 != b.ID) ||
		(t.batches > 0 && t.size+size > q.o.SegmentBytes) {
		if t, err = q.newSegment(b.ID); err != nil {
			return fmt.Errorf("queue batch %d: %w", b.ID, err)
		}
	}
	for q.total+size > q.o.QuotaBytes && len(q.segs) > 1 {
		if err := q.dropOldest(); err != nil {
			return fmt.Errorf("queue batch %d: drop oldest: %w", b.ID, err)
		}
	}
	if _, err := t.f.WriteAt(frame, t.size); err != nil {
		// Leave no partial frame behind for the next Put to follow.
		_ = t.f.Truncate(t.size)
		return fmt.Errorf("queue batch %d: %w", b.ID, err)
	}
	t.size += size
	q.total += size
	t.batches++
	t.records += b.Records
	t.maxSeq = max(t.maxSeq, b.LastSeq)
	q.nextID++
	q.nextSeq = max(q.nextSeq, b.LastSeq+1)
	q.count++
	q.dirty = true
	if q.o.SyncEvery == 0 {
		if err := q.syncTail(); err != nil {
			return fmt.Errorf("queue batch %d: %w", b.ID, err)
		}
	} else if q.syncTimer == nil {
		q.syncTimer = time.AfterFunc(q.o.SyncEvery, q.timedSync)
	}
	return nil
}

func (q *DiskQueue) timedSync() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.syncTimer = nil
	if q.closed {
		return
	}
	if err := q.syncTail(); err != nil {
		q.log.Error("queue: fsync failed", "err", err)
	}
}

// syncTail fsyncs the newest segment and lets Next hand out what it holds.
func (q *DiskQueue) syncTail() error {
	if q.dirty {
		if err := q.tail().f.Sync(); err != nil {
			return fmt.Errorf("fsync: %w", err)
		}
		q.dirty = false
		q.syncs++
	}
	if last := q.nextID - 1; last > q.synced {
		q.synced = last
		close(q.ready)
		q.ready = make(chan struct{})
	}
	return nil
}

// sealerFor returns the sealer of the key whose check a segment names:
// the current key or an old one; nil for none.
func (q *DiskQueue) sealerFor(check [8]byte) *sealer {
	if q.seal != nil && q.seal.check == check {
		return q.seal
	}
	for _, s := range q.old {
		if s.check == check {
			return s
		}
	}
	return nil
}

// newSegment starts a segment whose first batch will be id.
func (q *DiskQueue) newSegment(id uint64) (*segment, error) {
	if err := q.syncTail(); err != nil { // older segments are complete on disk
		return nil, err
	}
	path := filepath.Join(q.dir, fmt.Sprintf("%020d%s", id, segSuffix))
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("new segment: %w", err)
	}
	h := segHeader{firstID: id}
	if q.seal != nil {
		h.encrypted, h.keyCheck = true, q.seal.check
	}
	if err := atrest.WriteSync(f, h.encode()); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("new segment: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("new segment: %w", err)
	}
	if err := atrest.SyncDir(q.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("new segment: %w", err)
	}
	s := &segment{id: id, path: path, f: f, seal: q.seal, size: segHeaderLen}
	q.segs = append(q.segs, s)
	q.total += s.size
	if len(q.segs) == 1 {
		q.head = headPos{off: segHeaderLen}
	}
	// An empty or fully acknowledged segment before it can go now.
	return s, q.settleHead(false)
}

// dropOldest drops the oldest segment to make room, counting what in it
// was not yet acknowledged.
func (q *DiskQueue) dropOldest() error {
	s := q.segs[0]
	if n := s.batches - q.head.batches; n > 0 {
		q.drops.Batches += uint64(n)
		q.drops.Records += uint64(s.records - q.head.records)
		q.drops.Bytes += uint64(s.size - q.head.off)
		q.drops.ThroughSeq = max(q.drops.ThroughSeq, s.maxSeq)
		q.count -= n
		q.log.Warn("queue full: dropped the oldest batches", "batches", n, "records", s.records-q.head.records)
	}
	q.head.batches, q.head.records = s.batches, s.records
	if q.cached != nil {
		q.droppedInFlight = q.cached.ID
	}
	q.stateDirty = true
	return q.settleHead(false)
}

// Next implements Queue.
func (q *DiskQueue) Next(ctx context.Context) (Batch, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return Batch{}, ErrQueueClosed
		}
		if q.count > 0 && q.headID < q.synced {
			b, err := q.readHead()
			q.mu.Unlock()
			if err != nil {
				return Batch{}, fmt.Errorf("next batch: %w", err)
			}
			if b != nil {
				return *b, nil
			}
			continue // the head was damaged and skipped
		}
		ready := q.ready
		q.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

// readHead returns the oldest unacknowledged batch, reading it once. A
// frame damaged since the queue was opened is skipped with the rest of its
// segment, counted as corrupt; readHead then returns nil.
func (q *DiskQueue) readHead() (*Batch, error) {
	if q.cached != nil {
		b := *q.cached
		return &b, nil
	}
	s := q.segs[0]
	f, err := q.readFrame(s, q.head.off)
	var b Batch
	if err == nil {
		b, err = decodeFrame(f, s.seal)
		if err == nil && b.ID != q.headID+1 {
			err = fmt.Errorf("batch %d where %d was expected", b.ID, q.headID+1)
		}
	}
	if err != nil {
		q.log.Error("queue: damaged batch; skipping the rest of its segment", "segment", filepath.Base(s.path), "err", err)
		q.drops.CorruptBytes += uint64(s.size - q.head.off)
		q.count -= s.batches - q.head.batches
		q.head.batches, q.head.records = s.batches, s.records
		s.sealed = true
		q.stateDirty = true
		if err := q.settleHead(false); err != nil {
			return nil, err
		}
		return nil, nil
	}
	q.cached, q.cachedSize = &b, len(f)
	c := b
	return &c, nil
}

// Ack implements Queue. Acknowledging the batch the quota dropped while
// it was in flight is not an error.
func (q *DiskQueue) Ack(id uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrQueueClosed
	}
	if id == q.droppedInFlight {
		return nil
	}
	if q.count == 0 || id != q.headID+1 {
		return fmt.Errorf("ack batch %d: not the oldest in the queue", id)
	}
	if q.cached == nil {
		b, err := q.readHead()
		if err != nil {
			return fmt.Errorf("ack batch %d: %w", id, err)
		}
		if b == nil || b.ID != id {
			return fmt.Errorf("ack batch %d: damaged on disk", id)
		}
	}
	q.head.off += int64(q.cachedSize)
	q.head.batches++
	q.head.records += q.cached.Records
	q.cached = nil
	q.headID = id
	q.count--
	q.stateDirty = true
	if q.head.batches == q.segs[0].batches && len(q.segs) > 1 {
		return q.settleHead(false)
	}
	// Persisting every acknowledgement would cost two fsyncs a batch; at
	// most ackPersistEvery of them are published again after a crash.
	if now := q.o.Now(); now.Sub(q.stateAt) >= ackPersistEvery {
		return q.writeState()
	}
	return nil
}

// Len implements Queue.
func (q *DiskQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

// NextSeq returns the sequence number after the highest one ever put into
// the queue: where the uplink continues after a restart.
func (q *DiskQueue) NextSeq() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nextSeq
}

// Drops returns the drop counters.
func (q *DiskQueue) Drops() Drops {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.drops
}

// Stats returns the queue's figures.
func (q *DiskQueue) Stats() DiskStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return DiskStats{Batches: q.count, Segments: len(q.segs), Bytes: q.total, Syncs: q.syncs, Drops: q.drops}
}

// Close syncs what is written, records the state and releases the
// directory. Next calls waiting return ErrQueueClosed.
func (q *DiskQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	if q.syncTimer != nil {
		q.syncTimer.Stop()
		q.syncTimer = nil
	}
	var errs []error
	if len(q.segs) > 0 {
		errs = append(errs, q.syncTail())
	}
	q.stateDirty = true
	errs = append(errs, q.writeState())
	q.closed = true
	close(q.ready)
	q.closeFiles()
	errs = append(errs, q.lock.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close queue: %w", err)
	}
	return nil
}

func (q *DiskQueue) closeFiles() {
	for _, s := range q.segs {
		s.f.Close()
	}
}

// The state file, replaced atomically:
//
//	"QZST" version:u8 0:u8[3] nextSeq:u64 headID:u64 drops:u64[6] crc:u32
func (q *DiskQueue) writeState() error {
	b := make([]byte, stateLen)
	copy(b, stateMagic)
	b[4] = 1
	for i, v := range []uint64{q.nextSeq, q.headID, q.drops.Batches, q.drops.Records, q.drops.Bytes,
		q.drops.ThroughSeq, q.drops.CorruptBytes, q.drops.TornBytes} {
		binary.LittleEndian.PutUint64(b[8+8*i:], v)
	}
	binary.LittleEndian.PutUint32(b[stateLen-4:], crc32.Checksum(b[:stateLen-4], castagnoli))
	if err := atrest.WriteFile(filepath.Join(q.dir, stateFile), b, 0o600); err != nil {
		return fmt.Errorf("queue state: %w", err)
	}
	q.stateAt = q.o.Now()
	q.stateDirty = false
	return nil
}

func (q *DiskQueue) readState() error {
	path := filepath.Join(q.dir, stateFile)
	b, err := atrest.Read(path, atrest.State.Named("queue state").Bounded(stateLen))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(b) != stateLen || string(b[:4]) != stateMagic || b[4] != 1 ||
		binary.LittleEndian.Uint32(b[stateLen-4:]) != crc32.Checksum(b[:stateLen-4], castagnoli) {
		return fmt.Errorf("state file %s is damaged: without it sequence numbers could be reused; move the directory aside to start a new queue", path)
	}
	v := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8+8*i:]) }
	q.nextSeq, q.headID = v(0), v(1)
	q.drops = Drops{Batches: v(2), Records: v(3), Bytes: v(4), ThroughSeq: v(5), CorruptBytes: v(6), TornBytes: v(7)}
	return nil
}
