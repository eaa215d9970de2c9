package uplink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"quietzone/uplink/atrest"
)

// The on-disk format of the DiskQueue's segment files. All integers are
// little-endian.
//
//	segment = header frame*
//	header  = "QZSG" version:u8 flags:u8 0:u16 keyCheck:[8]u8 firstID:u64 crc:u32
//	frame   = length:u32 crc:u32 body[length]
//	body    = meta data
//	meta    = kind:u8 id:u64 firstSeq:u64 lastSeq:u64 records:u32 rawBytes:u32
//	data    = payload                      (plain)
//	        | nonce[12] AES-GCM(payload)   (flags&1: encrypted, meta as
//	                                        additional data, tag appended)
//
// The header's crc is CRC-32C of the 24 bytes before it; a frame's crc is
// CRC-32C of its length field and body, so a damaged length is caught too.
// keyCheck is the first 8 bytes of SHA-256(keyCheckLabel || key): it tells a
// wrong key from a damaged frame without revealing anything of the key.
// A segment is named after the ID of its first batch, %020d.seg, and holds
// batches with consecutive IDs.
const (
	segMagic      = "QZSG"
	segVersion    = 1
	segHeaderLen  = 28
	frameHeadLen  = 8
	metaLen       = 1 + 8 + 8 + 8 + 4 + 4
	nonceLen      = atrest.NonceLen
	gcmTagLen     = atrest.TagLen
	maxFrameBody  = 16 << 20 // far above any batch; a larger length is damage
	flagEncrypted = 1
	keyCheckLabel = "quietzone queue key check v1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segHeader struct {
	encrypted bool
	keyCheck  [8]byte
	firstID   uint64
}

func (h segHeader) encode() []byte {
	b := make([]byte, segHeaderLen)
	copy(b, segMagic)
	b[4] = segVersion
	if h.encrypted {
		b[5] = flagEncrypted
	}
	copy(b[8:16], h.keyCheck[:])
	binary.LittleEndian.PutUint64(b[16:24], h.firstID)
	binary.LittleEndian.PutUint32(b[24:28], crc32.Checksum(b[:24], castagnoli))
	return b
}

var errBadHeader = errors.New("not a queue segment, or its header is damaged")

func parseSegHeader(b []byte) (segHeader, error) {
	if len(b) < segHeaderLen || string(b[:4]) != segMagic ||
		binary.LittleEndian.Uint32(b[24:28]) != crc32.Checksum(b[:24], castagnoli) {
		return segHeader{}, errBadHeader
	}
	if b[4] != segVersion || b[5]&^flagEncrypted != 0 || b[6] != 0 || b[7] != 0 {
		return segHeader{}, fmt.Errorf("segment format version %d, flags %#x: written by a newer quietzone?", b[4], b[5])
	}
	h := segHeader{encrypted: b[5]&flagEncrypted != 0, firstID: binary.LittleEndian.Uint64(b[16:24])}
	copy(h.keyCheck[:], b[8:16])
	return h, nil
}

// sealer encrypts and decrypts frame payloads (atrest.Sealer); nil
// means plaintext.
type sealer struct {
	*atrest.Sealer
	check [8]byte
}

// QueueKeyLen is the length of the key that encrypts the queue at rest:
// AES-256.
const QueueKeyLen = atrest.KeyLen

func newSealer(key []byte) (*sealer, error) {
	if key == nil {
		return nil, nil
	}
	s, err := atrest.NewSealer(key, keyCheckLabel)
	if err != nil {
		return nil, fmt.Errorf("queue %w", err)
	}
	return &sealer{Sealer: s, check: s.Check()}, nil
}

// encodeFrame returns the frame of a batch, sealed when s is not nil.
func encodeFrame(b *Batch, s *sealer) ([]byte, error) {
	n := metaLen + len(b.Payload)
	if s != nil {
		n += nonceLen + gcmTagLen
	}
	if n > maxFrameBody {
		return nil, fmt.Errorf("batch %d: %d bytes, more than a frame holds", b.ID, len(b.Payload))
	}
	f := make([]byte, frameHeadLen+metaLen, frameHeadLen+n)
	meta := f[frameHeadLen:]
	meta[0] = byte(b.Kind)
	binary.LittleEndian.PutUint64(meta[1:9], b.ID)
	binary.LittleEndian.PutUint64(meta[9:17], b.FirstSeq)
	binary.LittleEndian.PutUint64(meta[17:25], b.LastSeq)
	binary.LittleEndian.PutUint32(meta[25:29], uint32(b.Records))
	binary.LittleEndian.PutUint32(meta[29:33], uint32(b.RawBytes))
	if s == nil {
		f = append(f, b.Payload...)
	} else {
		var err error
		if f, err = s.Seal(f, b.Payload, f[frameHeadLen:frameHeadLen+metaLen]); err != nil {
			return nil, fmt.Errorf("batch %d: %w", b.ID, err)
		}
	}
	binary.LittleEndian.PutUint32(f[0:4], uint32(n))
	binary.LittleEndian.PutUint32(f[4:8], frameCRC(f[0:4], f[frameHeadLen:]))
	return f, nil
}

func frameCRC(length, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, body)
}

// frameInfo is what a scan learns of a frame without opening its payload.
type frameInfo struct {
	off, size int // where the frame starts and its whole length
	kind      Kind
	id        uint64
	firstSeq  uint64
	lastSeq   uint64
	records   int
}

// nextFrame checks the frame at the start of b: its length, its CRC and
// its metadata. It returns ok false for anything that is not a whole,
// intact frame: a torn write, damage, or the end.
func nextFrame(b []byte, encrypted bool) (fi frameInfo, ok bool) {
	if len(b) < frameHeadLen {
		return fi, false
	}
	n := int(binary.LittleEndian.Uint32(b[0:4]))
	minBody := metaLen
	if encrypted {
		minBody += nonceLen + gcmTagLen
	}
	if n < minBody || n > maxFrameBody || n > len(b)-frameHeadLen {
		return fi, false
	}
	body := b[frameHeadLen : frameHeadLen+n]
	if binary.LittleEndian.Uint32(b[4:8]) != frameCRC(b[0:4], body) {
		return fi, false
	}
	fi = frameInfo{
		size:     frameHeadLen + n,
		kind:     Kind(body[0]),
		id:       binary.LittleEndian.Uint64(body[1:9]),
		firstSeq: binary.LittleEndian.Uint64(body[9:17]),
		lastSeq:  binary.LittleEndian.Uint64(body[17:25]),
		records:  int(binary.LittleEndian.Uint32(body[25:29])),
	}
	if fi.kind > maxKind || fi.firstSeq > fi.lastSeq || fi.records < 1 {
		return frameInfo{}, false
	}
	return fi, true
}

// decodeFrame opens a whole frame checked by nextFrame.
func decodeFrame(f []byte, s *sealer) (Batch, error) {
	fi, ok := nextFrame(f, s != nil)
	if !ok || fi.size != len(f) {
		return Batch{}, errors.New("damaged frame")
	}
	body := f[frameHeadLen:]
	b := Batch{
		ID: fi.id, Kind: fi.kind, FirstSeq: fi.firstSeq, LastSeq: fi.lastSeq, Records: fi.records,
		RawBytes: int(binary.LittleEndian.Uint32(body[29:33])),
	}
	data := body[metaLen:]
	if s == nil {
		b.Payload = append([]byte(nil), data...)
		return b, nil
	}
	p, err := s.Open(nil, data, body[:metaLen])
	if err != nil {
		return Batch{}, fmt.Errorf("batch %d: decrypt: %w", fi.id, err)
	}
	b.Payload = p
	return b, nil
}

// scanSegment reads a whole segment file. It returns the header, the
// intact frames in order (IDs consecutive from the header's firstID), and
// how many leading bytes they make up: everything after valid is a torn
// write or damage. err is set only when the header is unusable.
func scanSegment(data []byte) (h segHeader, frames []frameInfo, valid int, err error) {
	h, err = parseSegHeader(data)
	if err != nil {
		return h, nil, 0, err
	}
	off := segHeaderLen
	want := h.firstID
	for {
		fi, ok := nextFrame(data[off:], h.encrypted)
		if !ok || fi.id != want {
			return h, frames, off, nil
		}
		fi.off = off
		frames = append(frames, fi)
		off += fi.size
		want++
	}
}

// salvageSeq returns the highest sequence number of the intact frames in
// a segment whose header is damaged: frame metadata is never encrypted.
func salvageSeq(data []byte) uint64 {
	var seq uint64
	for off := segHeaderLen; off < len(data); {
		fi, ok := nextFrame(data[off:], false)
		if !ok {
			break
		}
		seq = max(seq, fi.lastSeq)
		off += fi.size
	}
	return seq
}
