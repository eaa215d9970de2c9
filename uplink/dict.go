package uplink

import (
	_ "embed"
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// The payload format, versioned by the zstd frame's dictionary ID.
//
// A batch payload is one zstd frame holding JSON lines, one Record each.
// Since payload format 1 the frame is compressed with a dictionary trained
// on telemetry records (dict-1.zstd, ID DictID1), named in the frame
// header as zstd prescribes; a frame without a dictionary ID is format 0.
// A receiver in another language decodes with the dictionary the frame
// names: `zstd -D uplink/dict-1.zstd -d` for DictID1, dict-2.zstd for
// DictID2; one that lacks it fails with an error naming the ID, not with
// garbage. A new dictionary gets a new ID (DictID1+1, …) and is added to
// the decoder's list, never replacing one.
//
// Payload format 2 (the constant cadence, issue 14) pads a format 1
// payload to a fixed size: it opens with a zstd skippable frame (magic
// 0x184D2A52, little-endian: the low nibble is the format; then its
// length) of zeros, followed by the format 1 frame, so that the whole
// payload is exactly the cadence's size (Batcher.Fill). zstd decoders,
// DecodeBatch among them and `zstd -d` too, skip the padding; Padded
// tells a padded payload. A payload of only the skippable frame is an
// empty slot (PaddingPayload): it holds no records, and BatchDecoder
// accepts it as such. Records in a padded payload may be alarms
// (Record.Alarm): alarms ride in the slots.
//
// Payload format 3 (what Fill writes) is format 2 with, in place of the
// JSON lines, one JSON object of columns (columns.go: the first seq and
// time, time differences, positions as grid indices or millionths of a
// degree, one column per signal), compressed with dictionary 2
// (dict-2.zstd, ID DictID2) and without zstd's content checksum; its
// padding's magic is 0x184D2A53, as is an empty slot's. Fill falls back
// to format 2 for a record whose position format 3 cannot carry (none a
// vehicle makes). DecodeBatch and BatchDecoder tell format 3 by the
// dictionary ID, and read formats 0 to 2 as before.
//
// Why a dictionary: batches are small (30 records, ~2.5 KB of JSON), and
// most of their bytes are the same keys and number shapes. On the demo
// drive, which the dictionary was not trained on, it cuts the payload by
// about 30% (BenchmarkCompression, the note of issue 6). Why columns: a
// slot of the demo policy was still ~250 bytes in format 2, most of it
// what every record repeats (keys, absolute time and seq, the ignition,
// a position's 17 digits); in format 3 it is ~85 (BenchmarkCompression,
// records=30: 94 against 257 bytes; 76 bytes of frame, median, on the
// 300-trip fleet population), which sets the cadence's payload size
// (DefaultPayloadBytes) and so its cost.

// DictID1 is the dictionary ID of payload format 1: "QZ" and 1, in the
// range zstd leaves for private dictionaries.
const DictID1 = 0x515A0001

// DictID2 is the dictionary ID of payload format 3 (columns.go).
const DictID2 = DictID1 + 1

//go:embed dict-1.zstd
var dict1 []byte

//go:embed dict-2.zstd
var dict2 []byte

// dictionaries are every dictionary a payload may name, oldest first; the
// last is the one slots are compressed with (Fill).
var dictionaries = [][]byte{dict1, dict2}

// newEncoder returns an encoder with dict. Frames of format 3 carry no
// content checksum (crc false): 4 bytes of a slot's ~100, and what they
// would catch the seal (an AEAD), TLS and the queue's CRC framing catch.
func newEncoder(dict []byte, crc bool) (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(crc),
		zstd.WithEncoderDict(dict))
}

func newDecoder() (*zstd.Decoder, error) {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(64<<20),
		zstd.WithDecoderDicts(dictionaries...))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return d, nil
}

// payloadDict returns the dictionary ID the first zstd frame of a payload
// names, after any skippable frames (the padding); 0 for none or for a
// payload that is not zstd.
func payloadDict(p []byte) uint32 {
	for len(p) >= 8 && binary.LittleEndian.Uint32(p)&^0xF == 0x184D2A50 {
		n := uint64(binary.LittleEndian.Uint32(p[4:]))
		if n > uint64(len(p)-8) {
			return 0
		}
		p = p[8+n:]
	}
	var h zstd.Header
	if h.Decode(p) != nil {
		return 0
	}
	return h.DictionaryID
}
