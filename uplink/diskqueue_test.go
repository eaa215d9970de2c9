package uplink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"quietzone/can/cantest"
	"quietzone/uplink"
)

var testKey = bytes.Repeat([]byte{0x5a}, uplink.QueueKeyLen)

// openDisk opens a DiskQueue that the test closes when it ends.
func openDisk(t *testing.T, dir string, o uplink.DiskOptions) *uplink.DiskQueue {
	t.Helper()
	q, err := uplink.OpenDiskQueue(dir, o)
	if err != nil {
		t.Fatalf("OpenDiskQueue: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// reopen closes q and opens its directory again.
func reopen(t *testing.T, q *uplink.DiskQueue, dir string, o uplink.DiskOptions) *uplink.DiskQueue {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openDisk(t, dir, o)
}

// seqBatch is a batch of n records from seq on, its payload naming them.
func seqBatch(seq uint64, n int) uplink.Batch {
	p := []byte(fmt.Sprintf("records %06d-%06d %s", seq, seq+uint64(n)-1, strings.Repeat("x", 40)))
	return uplink.Batch{FirstSeq: seq, LastSeq: seq + uint64(n) - 1, Records: n, RawBytes: 2 * len(p), Payload: p}
}

func putSeq(t *testing.T, q uplink.Queue, from uint64, batches, per int) uint64 {
	t.Helper()
	for i := 0; i < batches; i++ {
		if err := q.Put(seqBatch(from, per)); err != nil {
			t.Fatalf("Put seq %d: %v", from, err)
		}
		from += uint64(per)
	}
	return from
}

// takeAll acknowledges every batch in q and returns them.
func takeAll(t *testing.T, q uplink.Queue) []uplink.Batch {
	t.Helper()
	var out []uplink.Batch
	for q.Len() > 0 {
		b := next(t, q)
		if err := q.Ack(b.ID); err != nil {
			t.Fatalf("Ack(%d): %v", b.ID, err)
		}
		out = append(out, b)
	}
	return out
}

// checkRun checks that batches hold consecutive records from seq on,
// each with its own payload, and returns the seq after them.
func checkRun(t *testing.T, batches []uplink.Batch, seq uint64) uint64 {
	t.Helper()
	for _, b := range batches {
		want := seqBatch(seq, b.Records)
		if b.FirstSeq != seq || b.LastSeq != want.LastSeq || !bytes.Equal(b.Payload, want.Payload) || b.RawBytes != want.RawBytes {
			t.Fatalf("batch %d: seq %d-%d %q, want %d-%d %q", b.ID, b.FirstSeq, b.LastSeq, b.Payload, seq, want.LastSeq, want.Payload)
		}
		seq = b.LastSeq + 1
	}
	return seq
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, p := range segFiles(t, dir) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// A queue survives a restart: what was not acknowledged comes back in
// order, the sequence continues, and kinds and payloads are intact.
func TestDiskQueueReopen(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		t.Run(fmt.Sprintf("encrypted=%v", key != nil), func(t *testing.T) {
			dir := t.TempDir()
			o := uplink.DiskOptions{Key: key}
			q := openDisk(t, dir, o)
			if q.NextSeq() != 1 || q.Len() != 0 {
				t.Fatalf("new queue: NextSeq %d, Len %d", q.NextSeq(), q.Len())
			}
			seq := putSeq(t, q, 1, 10, 30)
			alarm := uplink.Batch{Kind: uplink.KindAlarm, FirstSeq: seq, LastSeq: seq, Records: 1, Payload: []byte("alarm")}
			if err := q.Put(alarm); err != nil {
				t.Fatal(err)
			}
			seq++
			for i := 0; i < 3; i++ {
				b := next(t, q)
				if err := q.Ack(b.ID); err != nil {
					t.Fatal(err)
				}
			}
			q = reopen(t, q, dir, o)
			if q.Len() != 8 || q.NextSeq() != seq {
				t.Fatalf("reopened: Len %d, NextSeq %d; want 8, %d", q.Len(), q.NextSeq(), seq)
			}
			got := takeAll(t, q)
			checkRun(t, got[:7], 91)
			if a := got[7]; a.Kind != uplink.KindAlarm || string(a.Payload) != "alarm" || a.FirstSeq != seq-1 {
				t.Errorf("alarm came back as %+v", a)
			}
			for i := 1; i < len(got); i++ {
				if got[i].ID != got[i-1].ID+1 {
					t.Errorf("IDs %d then %d", got[i-1].ID, got[i].ID)
				}
			}
			// Empty now; the sequence still continues after a restart.
			q = reopen(t, q, dir, o)
			if q.Len() != 0 || q.NextSeq() != seq {
				t.Fatalf("drained and reopened: Len %d, NextSeq %d; want 0, %d", q.Len(), q.NextSeq(), seq)
			}
			putSeq(t, q, seq, 1, 5)
			if b := next(t, q); b.ID <= got[len(got)-1].ID {
				t.Errorf("ID %d after restart, not above %d", b.ID, got[len(got)-1].ID)
			}
		})
	}
}

// Acknowledged segments are removed, and the sequence number they held is
// never handed out again.
func TestDiskQueueRemovesAckedSegments(t *testing.T) {
	dir := t.TempDir()
	o := uplink.DiskOptions{QuotaBytes: 1 << 20, SegmentBytes: 4 << 10}
	q := openDisk(t, dir, o)
	seq := putSeq(t, q, 1, 200, 3)
	if n := len(segFiles(t, dir)); n < 5 {
		t.Fatalf("%d segments for 200 batches in 4 KiB segments", n)
	}
	checkRun(t, takeAll(t, q), 1)
	if n := len(segFiles(t, dir)); n != 1 {
		t.Errorf("%d segments left after everything was acknowledged, want the newest only", n)
	}
	q = reopen(t, q, dir, o)
	if q.NextSeq() != seq || q.Len() != 0 {
		t.Errorf("NextSeq %d, Len %d; want %d, 0", q.NextSeq(), q.Len(), seq)
	}
}

// A torn write at the end of the newest segment, cut anywhere, is cut off
// at the next start; every whole batch before it is kept, and the queue
// goes on from there.
func TestDiskQueueTornTail(t *testing.T) {
	src := t.TempDir()
	q := openDisk(t, src, uplink.DiskOptions{})
	putSeq(t, q, 1, 3, 10)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, src)
	full, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(src, "state"))
	if err != nil {
		t.Fatal(err)
	}
	// Frame boundaries: the header, then three frames of equal size.
	frame := (len(full) - 28) / 3
	for cut := 28; cut <= len(full); cut++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(segs[0])), full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state"), state, 0o600); err != nil {
			t.Fatal(err)
		}
		lazy := uplink.DiskOptions{SyncEvery: time.Hour} // what is tested is the reading, not the fsync
		q, err := uplink.OpenDiskQueue(dir, lazy)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		whole := (cut - 28) / frame
		torn := uint64(cut - 28 - whole*frame)
		if q.Len() != whole || q.Drops().TornBytes != torn || q.Drops().CorruptBytes != 0 {
			t.Fatalf("cut at %d: Len %d, drops %+v; want %d whole batches, %d torn bytes", cut, q.Len(), q.Drops(), whole, torn)
		}
		putSeq(t, q, 100, 1, 1)
		q.Close()
		q, err = uplink.OpenDiskQueue(dir, lazy)
		if err != nil {
			t.Fatalf("cut at %d, reopened: %v", cut, err)
		}
		got := takeAll(t, q)
		if len(got) != whole+1 {
			t.Fatalf("cut at %d: %d batches after a Put and a restart, want %d", cut, len(got), whole+1)
		}
		checkRun(t, got[:whole], 1)
		checkRun(t, got[whole:], 100)
		q.Close()
	}
}

// Damage in an older segment (a flipped bit) is counted and skipped: the
// batches before it and in later segments arrive.
func TestDiskQueueDamage(t *testing.T) {
	dir := t.TempDir()
	o := uplink.DiskOptions{QuotaBytes: 1 << 20, SegmentBytes: 4 << 10}
	q := openDisk(t, dir, o)
	putSeq(t, q, 1, 120, 1)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	q = openDisk(t, dir, o)
	if q.Drops().CorruptBytes == 0 {
		t.Fatal("damage not counted")
	}
	got := takeAll(t, q)
	if len(got) >= 120 || len(got) < 60 {
		t.Fatalf("%d batches after damage in the first of %d segments", len(got), len(segs))
	}
	// Before the damage: consecutive from 1; after it: consecutive to 120.
	i := 0
	for ; i < len(got) && got[i].FirstSeq == uint64(i+1); i++ {
	}
	checkRun(t, got[i:], got[i].FirstSeq)
	if got[len(got)-1].LastSeq != 120 {
		t.Errorf("last batch seq %d, want 120", got[len(got)-1].LastSeq)
	}
	t.Logf("%d of 120 batches readable, %d corrupt bytes", len(got), q.Drops().CorruptBytes)

	// A header beyond reading: the segment is counted and removed.
	q.Close()
	putQ := openDisk(t, dir, o)
	putSeq(t, putQ, 200, 100, 1)
	putQ.Close()
	segs = segFiles(t, dir)
	if err := os.WriteFile(segs[0], []byte("QZSG garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	q = openDisk(t, dir, o)
	if got := takeAll(t, q); len(got) == 0 || got[len(got)-1].LastSeq != 299 {
		t.Errorf("after a damaged header: %d batches", len(got))
	}

	// The newest segment's header damaged, with no state file newer than
	// it: its batches are lost, but not its sequence numbers.
	putSeq(t, q, 300, 3, 1)
	q.Close()
	os.Remove(filepath.Join(dir, "state"))
	segs = segFiles(t, dir)
	data, err = os.ReadFile(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 'X'
	os.WriteFile(segs[len(segs)-1], data, 0o600)
	q = openDisk(t, dir, o)
	if q.NextSeq() != 303 {
		t.Errorf("NextSeq %d after the newest segment's header was damaged, want 303", q.NextSeq())
	}
}

// Damage that appears while the queue is open (read back when the batch
// is next) is skipped with the rest of its segment, not returned.
func TestDiskQueueDamageWhileOpen(t *testing.T) {
	dir := t.TempDir()
	q := openDisk(t, dir, uplink.DiskOptions{QuotaBytes: 1 << 20, SegmentBytes: 4 << 10})
	putSeq(t, q, 1, 100, 1)
	segs := segFiles(t, dir)
	f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff, 0xff}, 40); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := takeAll(t, q)
	if len(got) == 0 || got[0].FirstSeq == 1 || got[len(got)-1].LastSeq != 100 {
		t.Fatalf("after damage to the first batch: %d batches from seq %d", len(got), got[0].FirstSeq)
	}
	checkRun(t, got, got[0].FirstSeq)
	if q.Drops().CorruptBytes == 0 {
		t.Error("damage not counted")
	}
}

// The quota holds at every moment: the oldest segments go, their batches
// counted; what stays is the newest run, in order; the counters survive a
// restart.
func TestDiskQueueQuota(t *testing.T) {
	dir := t.TempDir()
	// A lazy fsync keeps the test fast; what is tested is the accounting.
	o := uplink.DiskOptions{QuotaBytes: 64 << 10, SegmentBytes: 8 << 10, SyncEvery: time.Hour}
	q := openDisk(t, dir, o)
	const batches, per = 2000, 2
	for i := 0; i < batches; i++ {
		putSeq(t, q, uint64(1+i*per), 1, per)
		if n := dirBytes(t, dir); n > o.QuotaBytes {
			t.Fatalf("after %d batches: %d bytes on disk, quota %d", i+1, n, o.QuotaBytes)
		}
	}
	d := q.Drops()
	if d.Batches == 0 || d.Records != per*d.Batches || d.ThroughSeq != per*d.Batches {
		t.Fatalf("drops %+v", d)
	}
	if int(d.Batches)+q.Len() != batches {
		t.Errorf("%d dropped + %d queued != %d put", d.Batches, q.Len(), batches)
	}
	q = reopen(t, q, dir, o)
	if got := q.Drops(); got != d {
		t.Errorf("drops after restart %+v, want %+v", got, d)
	}
	got := takeAll(t, q)
	if checkRun(t, got, d.ThroughSeq+1) != batches*per+1 {
		t.Error("the newest batches did not all stay")
	}
	if q.NextSeq() != batches*per+1 {
		t.Errorf("NextSeq %d", q.NextSeq())
	}
}

// A batch the quota drops while it is in flight may still be
// acknowledged: that is not an error, and the queue goes on.
func TestDiskQueueAckOfDroppedBatch(t *testing.T) {
	q := openDisk(t, t.TempDir(), uplink.DiskOptions{QuotaBytes: 64 << 10, SegmentBytes: 4 << 10, SyncEvery: 5 * time.Millisecond})
	putSeq(t, q, 1, 1, 1)
	inFlight := next(t, q)
	putSeq(t, q, 2, 2000, 1)
	if q.Drops().Batches == 0 {
		t.Fatal("nothing dropped")
	}
	if err := q.Ack(inFlight.ID); err != nil {
		t.Errorf("Ack of a dropped batch: %v", err)
	}
	b := next(t, q)
	if b.FirstSeq != q.Drops().ThroughSeq+1 {
		t.Errorf("next batch seq %d after drops through %d", b.FirstSeq, q.Drops().ThroughSeq)
	}
	if err := q.Ack(b.ID); err != nil {
		t.Error(err)
	}
}

func TestDiskQueueRefusesTooLargeBatch(t *testing.T) {
	q := openDisk(t, t.TempDir(), uplink.DiskOptions{QuotaBytes: 64 << 10})
	b := seqBatch(1, 1)
	b.Payload = make([]byte, 70<<10)
	if err := q.Put(b); err == nil || !strings.Contains(err.Error(), "quota") {
		t.Errorf("Put of a batch larger than the quota: %v", err)
	}
	if q.Len() != 0 {
		t.Error("queued anyway")
	}
}

// Encrypted at rest: the payload is not on disk in the clear; the wrong
// key, or none, is refused with a clear error; plaintext segments from
// before a key was configured stay readable.
func TestDiskQueueEncryption(t *testing.T) {
	dir := t.TempDir()
	plain := openDisk(t, dir, uplink.DiskOptions{})
	putSeq(t, plain, 1, 2, 1)
	plain.Close()

	q := openDisk(t, dir, uplink.DiskOptions{Key: testKey})
	secret := uplink.Batch{FirstSeq: 3, LastSeq: 3, Records: 1, Payload: []byte("a secret payload, repeated: a secret payload")}
	if err := q.Put(secret); err != nil {
		t.Fatal(err)
	}
	q.Close()
	for _, p := range segFiles(t, dir) {
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, []byte("secret")) {
			t.Errorf("%s holds the payload in the clear", filepath.Base(p))
		}
	}
	other := bytes.Repeat([]byte{0x11}, uplink.QueueKeyLen)
	for name, key := range map[string][]byte{"no key": nil, "another key": other} {
		q, err := uplink.OpenDiskQueue(dir, uplink.DiskOptions{Key: key})
		if err == nil {
			q.Close()
			t.Errorf("%s: opened an encrypted queue", name)
			continue
		}
		if !strings.Contains(err.Error(), "encrypted") {
			t.Errorf("%s: error %q does not say why", name, err)
		}
	}
	q = openDisk(t, dir, uplink.DiskOptions{Key: testKey})
	got := takeAll(t, q)
	if len(got) != 3 || !bytes.Equal(got[2].Payload, secret.Payload) {
		t.Fatalf("got %d batches, last %q", len(got), got[len(got)-1].Payload)
	}
	checkRun(t, got[:2], 1)
	if _, err := uplink.OpenDiskQueue(t.TempDir(), uplink.DiskOptions{Key: []byte("short")}); err == nil {
		t.Error("a 5-byte key accepted")
	}
}

// A key change loses nothing: segments sealed with the old key are read
// with OldKeys, batches put from now on go into a new segment sealed with
// the new key only, and once the old segments are acknowledged the old
// key is no longer needed.
func TestDiskQueueKeyChange(t *testing.T) {
	dir := t.TempDir()
	newKey := bytes.Repeat([]byte{0x22}, uplink.QueueKeyLen)
	q := openDisk(t, dir, uplink.DiskOptions{Key: testKey})
	putSeq(t, q, 1, 3, 2)
	q.Close()
	if _, err := uplink.OpenDiskQueue(dir, uplink.DiskOptions{Key: newKey}); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("the old segments without the old key: %v", err)
	}
	q = openDisk(t, dir, uplink.DiskOptions{Key: newKey, OldKeys: [][]byte{testKey}})
	putSeq(t, q, 7, 2, 1)
	if n := len(segFiles(t, dir)); n != 2 {
		t.Errorf("%d segments, want the old key's and a new one", n)
	}
	got := takeAll(t, q) // acknowledges them all
	if checkRun(t, got, 1) != 9 {
		t.Fatalf("got %d batches", len(got))
	}
	putSeq(t, q, 9, 1, 1)
	q.Close()
	q = openDisk(t, dir, uplink.DiskOptions{Key: newKey}) // the old key is not needed any more
	if got := takeAll(t, q); len(got) != 1 || got[0].FirstSeq != 9 {
		t.Fatalf("after the old segments went: %+v", got)
	}
	q.Close()
}

// Tampering with an encrypted frame whose CRC is made to match is caught
// by the authentication tag.
func TestDiskQueueEncryptionDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	q := openDisk(t, dir, uplink.DiskOptions{Key: testKey})
	putSeq(t, q, 1, 1, 1)
	q.Close()
	seg := segFiles(t, dir)[0]
	data, _ := os.ReadFile(seg)
	data[len(data)-1] ^= 1
	fixFrameCRC(data[28:])
	os.WriteFile(seg, data, 0o600)
	q = openDisk(t, dir, uplink.DiskOptions{Key: testKey})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if b, err := q.Next(ctx); err == nil {
		t.Errorf("a tampered batch was returned: %+v", b)
	}
	if q.Len() != 0 || q.Drops().CorruptBytes == 0 {
		t.Error("tampering not counted")
	}
}

func TestDiskQueueLock(t *testing.T) {
	dir := t.TempDir()
	q := openDisk(t, dir, uplink.DiskOptions{})
	if q2, err := uplink.OpenDiskQueue(dir, uplink.DiskOptions{}); err == nil {
		q2.Close()
		t.Fatal("a second open of the same directory succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("second open: %v", err)
	}
	q.Close()
	openDisk(t, dir, uplink.DiskOptions{})
}

func TestDiskQueueDamagedState(t *testing.T) {
	dir := t.TempDir()
	q := openDisk(t, dir, uplink.DiskOptions{})
	putSeq(t, q, 1, 1, 1)
	q.Close()
	os.WriteFile(filepath.Join(dir, "state"), []byte("QZST nonsense"), 0o600)
	if _, err := uplink.OpenDiskQueue(dir, uplink.DiskOptions{}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("open with a damaged state file: %v", err)
	}
}

func TestDiskQueueOptions(t *testing.T) {
	for _, o := range []uplink.DiskOptions{
		{QuotaBytes: 1000},
		{QuotaBytes: 1 << 20, SegmentBytes: 1 << 20},
		{QuotaBytes: 1 << 20, SegmentBytes: 100},
		{SyncEvery: -time.Second},
	} {
		if q, err := uplink.OpenDiskQueue(t.TempDir(), o); err == nil {
			q.Close()
			t.Errorf("%+v accepted", o)
		}
	}
}

// With SyncEvery, Put does not wait for the disk; the sync follows within
// the interval, and Close syncs what is left.
func TestDiskQueueSyncEvery(t *testing.T) {
	dir := t.TempDir()
	q := openDisk(t, dir, uplink.DiskOptions{SyncEvery: 50 * time.Millisecond})
	putSeq(t, q, 1, 20, 1)
	before := q.Stats().Syncs
	cantest.WaitFor(t, 10*time.Second, "an fsync after a Put", func() bool { return q.Stats().Syncs != before })
	if s := q.Stats().Syncs; s > before+2 {
		t.Errorf("%d fsyncs for 20 batches put at once", s-before)
	}
	every := openDisk(t, t.TempDir(), uplink.DiskOptions{})
	putSeq(t, every, 1, 20, 1)
	if s := every.Stats().Syncs; s < 20 {
		t.Errorf("fsync every batch: %d fsyncs for 20 batches", s)
	}
}

// With SyncEvery, a batch is handed out only once it is on disk: one
// published before its fsync could be lost in a power cut after the broker
// had it, and its sequence numbers given again.
func TestDiskQueueHandsOutOnlySynced(t *testing.T) {
	q := openDisk(t, t.TempDir(), uplink.DiskOptions{SyncEvery: 300 * time.Millisecond})
	putSeq(t, q, 1, 1, 1)
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if b, err := q.Next(short); err == nil && q.Stats().Syncs == 0 {
		t.Fatalf("batch %d handed out before its fsync", b.ID)
	}
	if b := next(t, q); b.FirstSeq != 1 || q.Stats().Syncs == 0 {
		t.Errorf("after the fsync: batch seq %d, %d fsyncs", b.FirstSeq, q.Stats().Syncs)
	}
}

func TestDiskQueueClosed(t *testing.T) {
	q := openDisk(t, t.TempDir(), uplink.DiskOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := q.Next(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	q.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, uplink.ErrQueueClosed) {
			t.Errorf("Next after Close = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return on Close")
	}
	if err := q.Put(seqBatch(1, 1)); !errors.Is(err, uplink.ErrQueueClosed) {
		t.Errorf("Put after Close = %v", err)
	}
}

func TestLoadQueueKey(t *testing.T) {
	dir := t.TempDir()
	hexKey := strings.Repeat("5a", uplink.QueueKeyLen)
	cases := []struct {
		name    string
		data    string
		mode    os.FileMode
		wantErr string
	}{
		{"raw", string(testKey), 0o600, ""},
		{"hex", hexKey, 0o600, ""},
		{"hex and newline", hexKey + "\n", 0o400, ""},
		{"group-readable", hexKey, 0o640, "chmod 600"},
		{"world-readable", hexKey, 0o604, "chmod 600"},
		{"group-writable", hexKey, 0o620, "chmod 600"},
		{"short", "5a5a", 0o600, "hexadecimal"},
		{"not hex", strings.Repeat("zz", uplink.QueueKeyLen), 0o600, "hexadecimal"},
		{"too long", hexKey + "00", 0o600, "hexadecimal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			key, err := uplink.LoadQueueKey(p)
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(key, testKey) {
					t.Errorf("key %x, %v", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
	if _, err := uplink.LoadQueueKey(dir); err == nil {
		t.Error("a directory accepted as a key")
	}
	if _, err := uplink.LoadQueueKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing key file accepted")
	}
}

// fixFrameCRC recomputes the CRC of the frame at the start of f, as a
// deliberate tamperer would.
func fixFrameCRC(f []byte) {
	n := binary.LittleEndian.Uint32(f[0:4])
	c := crc32.Update(crc32.Checksum(f[0:4], crc32.MakeTable(crc32.Castagnoli)), crc32.MakeTable(crc32.Castagnoli), f[8:8+n])
	binary.LittleEndian.PutUint32(f[4:8], c)
}
