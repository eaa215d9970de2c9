package uplink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testSegment builds a segment file of n batches from firstID on.
func testSegment(t testing.TB, firstID uint64, n int, s *sealer) []byte {
	t.Helper()
	h := segHeader{firstID: firstID}
	if s != nil {
		h.encrypted, h.keyCheck = true, s.check
	}
	seg := h.encode()
	for i := 0; i < n; i++ {
		b := Batch{ID: firstID + uint64(i), Kind: Kind(i % 2), FirstSeq: uint64(10 * i), LastSeq: uint64(10*i + 9), Records: 10, RawBytes: 100,
			Payload: []byte(fmt.Sprintf("payload %d", i))}
		f, err := encodeFrame(&b, s)
		if err != nil {
			t.Fatal(err)
		}
		seg = append(seg, f...)
	}
	return seg
}

func TestSegmentRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, QueueKeyLen)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range []*sealer{nil, s} {
		data := testSegment(t, 5, 3, sl)
		h, frames, valid, err := scanSegment(data)
		if err != nil || valid != len(data) || len(frames) != 3 || h.firstID != 5 || h.encrypted != (sl != nil) {
			t.Fatalf("scan: %+v %d frames, valid %d of %d, %v", h, len(frames), valid, len(data), err)
		}
		for i, fi := range frames {
			b, err := decodeFrame(data[fi.off:fi.off+fi.size], sl)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("payload %d", i)
			if b.ID != 5+uint64(i) || string(b.Payload) != want || b.Records != 10 || b.RawBytes != 100 || b.Kind != Kind(i%2) {
				t.Errorf("frame %d: %+v", i, b)
			}
		}
	}
}

// FuzzSegment feeds arbitrary bytes to the segment reader, directly and
// through OpenDiskQueue. Neither may panic; what they accept must be
// exactly the intact frames at the start, and the queue must hand those
// back unchanged. The corpus (testdata/fuzz/FuzzSegment) holds whole,
// torn, encrypted and damaged segments.
func FuzzSegment(f *testing.F) {
	f.Add(testSegment(f, 1, 2, nil))
	f.Add(testSegment(f, 1, 1, nil)[:40])
	f.Add(testSegment(f, 1, 0, nil))
	f.Add([]byte("QZSG"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, frames, valid, err := scanSegment(data)
		if err != nil {
			if valid != 0 || frames != nil {
				t.Fatalf("error %v with %d frames, valid %d", err, len(frames), valid)
			}
		} else {
			off := segHeaderLen
			for i, fi := range frames {
				if fi.off != off || fi.id != h.firstID+uint64(i) || fi.off+fi.size > len(data) {
					t.Fatalf("frame %d: %+v after offset %d", i, fi, off)
				}
				if !h.encrypted {
					b, err := decodeFrame(data[fi.off:fi.off+fi.size], nil)
					if err != nil {
						t.Fatalf("frame %d accepted by the scan, refused by decode: %v", i, err)
					}
					again, err := encodeFrame(&b, nil)
					if err != nil || !bytes.Equal(again, data[fi.off:fi.off+fi.size]) {
						t.Fatalf("frame %d does not encode back to its bytes: %v", i, err)
					}
				}
				off += fi.size
			}
			if valid != off {
				t.Fatalf("valid %d, frames end at %d", valid, off)
			}
		}

		name := uint64(1)
		if err == nil && h.firstID != 0 {
			name = h.firstID
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", name)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		q, qerr := OpenDiskQueue(dir, DiskOptions{SyncEvery: time.Hour})
		if qerr != nil {
			if err == nil && !h.encrypted {
				t.Fatalf("a readable plaintext segment refused: %v", qerr)
			}
			return
		}
		defer q.Close()
		if err != nil || h.firstID != name {
			if q.Len() != 0 {
				t.Fatalf("%d batches from a segment with a bad header", q.Len())
			}
			return
		}
		if q.Len() != len(frames) {
			t.Fatalf("queue holds %d batches, the scan found %d", q.Len(), len(frames))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for i := range frames {
			b, err := q.Next(ctx)
			if err != nil {
				t.Fatalf("Next %d: %v", i, err)
			}
			want, _ := decodeFrame(data[frames[i].off:frames[i].off+frames[i].size], nil)
			if b.ID != want.ID || !bytes.Equal(b.Payload, want.Payload) {
				t.Fatalf("batch %d: %+v, want %+v", i, b, want)
			}
			if err := q.Ack(b.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
}
