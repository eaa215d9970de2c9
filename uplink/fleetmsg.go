package uplink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// What a vehicle publishes, topic by topic (kind is the topic's last
// level, Topic(pseudonym, kind)):
//
//	telemetry  a batch (batch.go, dict.go): zstd frame of JSON records
//	alarm      a batch of alarm records, same format
//	status     "online" / "offline" (retained, plain), or a StatusRecord
//	audit      an AuditSummary (retained)
//	policy     the fleet's signed bundle, to the vehicle (retained)
//
// Every payload but "online" / "offline" may be sealed (seal.go). This
// file holds the formats the fleet reads beside the batches, and the
// batch decoder a receiver reuses.

// Topic kinds.
const (
	KindNameTelemetry = "telemetry"
	KindNameAlarm     = "alarm"
	KindNameStatus    = "status"
	KindNameAudit     = "audit"
	KindNamePolicy    = "policy"
)

// TopicPrefix starts every quietzone topic.
const TopicPrefix = "quietzone/v1/"

// SplitTopic returns the pseudonym and kind of a vehicle's topic; ok is
// false for any other topic (another prefix, a level too many or too
// few, a pseudonym that is not one, a wildcard).
func SplitTopic(topic string) (pseudonym, kind string, ok bool) {
	rest, found := strings.CutPrefix(topic, TopicPrefix)
	if !found {
		return "", "", false
	}
	pseudonym, kind, found = strings.Cut(rest, "/")
	if !found || !ValidPseudonym(pseudonym) || strings.Contains(kind, "/") {
		return "", "", false
	}
	switch kind {
	case KindNameTelemetry, KindNameAlarm, KindNameStatus, KindNameAudit, KindNamePolicy:
		return pseudonym, kind, true
	}
	return "", "", false
}

// ValidPseudonym reports whether s is spelled as Pseudonym spells one:
// 16 characters of lower-case base32.
func ValidPseudonym(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// AuditSummary is what a vehicle publishes on its audit topic (retained,
// QoS 1, sealed when it has the fleet's key): counts per kind of audit
// event and the chain's head, which the fleet keeps to verify the log
// later (`quietzone audit verify --head`) and to see that the chain goes
// on from the head it saw before (Tail); the bundle in force and the last
// one refused, for rollouts. No times, positions or names.
type AuditSummary struct {
	V      int               `json:"v"` // 1
	Counts map[string]uint64 `json:"counts"`
	// Head is the chain's last entry, "SEQ:HASH" (64 hex digits).
	Head   string `json:"head,omitempty"`
	Intact bool   `json:"intact"`
	Lost   uint64 `json:"lost"`
	// Tail names the last entries of the chain, oldest first, each
	// "SEQ:HASH16" with the first 16 hex digits of its hash, the last
	// being the head: a head the fleet saw before is in it if the chain
	// goes on from there, unless more than len(Tail) entries came since.
	Tail []string `json:"tail,omitempty"`
	// Policy is the version of the bundle in force; 0 for none.
	Policy uint64 `json:"policy,omitempty"`
	// Refused is the last bundle the vehicle refused, if any.
	Refused *Refusal `json:"refused,omitempty"`
}

// Refusal says which bundle a vehicle refused and why, in a word that
// holds none of its contents ("rollback", "tampered", "expired", …).
type Refusal struct {
	Version uint64 `json:"version"`
	Cause   string `json:"cause"`
}

// TailHashLen is how many hex digits of an entry's hash AuditSummary.Tail
// carries.
const TailHashLen = 16

// Limits of what the fleet accepts in a status record or an audit
// summary.
const (
	maxSummaryBytes = 64 << 10
	maxTail         = 256
	maxCounts       = 256
)

// ParseAuditSummary reads an audit summary and checks that it is one a
// vehicle writes.
func ParseAuditSummary(data []byte) (AuditSummary, error) {
	var s AuditSummary
	if len(data) > maxSummaryBytes {
		return s, fmt.Errorf("audit summary: %d bytes, more than %d", len(data), maxSummaryBytes)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("audit summary: %w", err)
	}
	if s.V != 1 {
		return s, fmt.Errorf("audit summary: version %d, want 1", s.V)
	}
	if len(s.Counts) > maxCounts || len(s.Tail) > maxTail {
		return s, errors.New("audit summary: too many counts or tail entries")
	}
	for k := range s.Counts {
		if !ValidRole(k) { // audit kinds are spelled like roles
			return s, fmt.Errorf("audit summary: kind %q", k)
		}
	}
	if s.Head != "" {
		if _, _, err := ParseChainRef(s.Head, 64); err != nil {
			return s, fmt.Errorf("audit summary: head: %w", err)
		}
	}
	var prev uint64
	for i, t := range s.Tail {
		seq, _, err := ParseChainRef(t, TailHashLen)
		if err != nil {
			return s, fmt.Errorf("audit summary: tail %d: %w", i, err)
		}
		if i > 0 && seq != prev+1 {
			return s, fmt.Errorf("audit summary: tail %d: seq %d after %d", i, seq, prev)
		}
		prev = seq
	}
	if s.Refused != nil && (!ValidRole(s.Refused.Cause) && !validCause(s.Refused.Cause)) {
		return s, fmt.Errorf("audit summary: refusal cause %q", s.Refused.Cause)
	}
	return s, nil
}

// validCause: a few lower-case words (the vehicle's rejectCause).
func validCause(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if ch := c[i]; (ch < 'a' || ch > 'z') && ch != ' ' {
			return false
		}
	}
	return true
}

// ParseChainRef reads "SEQ:HEX" with a hash of hexLen lower-case hex
// digits and a seq from 1.
func ParseChainRef(s string, hexLen int) (uint64, string, error) {
	num, h, ok := strings.Cut(s, ":")
	if !ok {
		return 0, "", errors.New("want SEQ:HASH")
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil || seq < 1 || strconv.FormatUint(seq, 10) != num {
		return 0, "", errors.New("SEQ must be a number from 1")
	}
	if len(h) != hexLen {
		return 0, "", fmt.Errorf("HASH must be %d hex digits", hexLen)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, "", errors.New("HASH must be lower-case hex")
		}
	}
	return seq, h, nil
}

// ParseStatusRecord reads a status record (counts of the queue's drops).
func ParseStatusRecord(data []byte) (StatusRecord, error) {
	var s StatusRecord
	if len(data) > maxSummaryBytes {
		return s, fmt.Errorf("status record: %d bytes, more than %d", len(data), maxSummaryBytes)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("status record: %w", err)
	}
	if s.V != 1 {
		return s, fmt.Errorf("status record: version %d, want 1", s.V)
	}
	return s, nil
}

// BatchDecoder decodes batch payloads, every format version (dict.go),
// reusing its zstd decoder and buffers: a receiver's hot path. It is not
// safe for concurrent use.
type BatchDecoder struct {
	dec    *zstd.Decoder
	raw    []byte
	maxRaw int
}

// DefaultMaxBatchRaw bounds a batch's JSON after decompression: a policy
// of 1,000 records a batch makes about 100 KiB.
const DefaultMaxBatchRaw = 4 << 20

// ErrBatchTooLarge: a payload that decompresses to more than the bound.
var ErrBatchTooLarge = errors.New("batch decompresses to more than the bound")

// NewBatchDecoder returns a decoder that refuses a batch whose JSON is
// larger than maxRaw bytes (DefaultMaxBatchRaw when 0).
func NewBatchDecoder(maxRaw int) (*BatchDecoder, error) {
	if maxRaw <= 0 {
		maxRaw = DefaultMaxBatchRaw
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(maxRaw)),
		zstd.WithDecoderMaxWindow(uint64(max(maxRaw, zstd.MinWindowSize))),
		zstd.WithDecoderDicts(dictionaries...))
	if err != nil {
		return nil, fmt.Errorf("batch decoder: %w", err)
	}
	return &BatchDecoder{dec: d, maxRaw: maxRaw}, nil
}

// Close releases the decoder.
func (d *BatchDecoder) Close() { d.dec.Close() }

// Decode appends a payload's records to dst; a padded payload (format 2
// or 3) may hold none: an empty slot. A record must have a
// sequence number, a position (if any) of two finite coordinates in
// range, finite values, and an alarm type spelled as one; the records'
// sequence numbers must rise by one from the first.
func (d *BatchDecoder) Decode(payload []byte, dst []Record) ([]Record, error) {
	raw, err := d.dec.DecodeAll(payload, d.raw[:0])
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return dst, fmt.Errorf("decode batch: %w", ErrBatchTooLarge)
		}
		return dst, fmt.Errorf("decode batch: %w", err)
	}
	if len(raw) > d.maxRaw {
		return dst, fmt.Errorf("decode batch: %w", ErrBatchTooLarge)
	}
	d.raw = raw
	n0 := len(dst)
	if payloadDict(payload) == DictID2 {
		dst, err = decodeColumns(raw, dst)
		if err != nil {
			return dst[:n0], fmt.Errorf("decode batch: %w", err)
		}
		for i := n0; i < len(dst); i++ {
			if err := checkRecord(&dst[i]); err != nil {
				return dst[:n0], fmt.Errorf("decode batch record %d: %w", i-n0, err)
			}
		}
		return dst, nil
	}
	for len(raw) > 0 {
		line, rest, _ := bytes.Cut(raw, []byte("\n"))
		raw = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return dst[:n0], fmt.Errorf("decode batch record %d: %w", len(dst)-n0, err)
		}
		if err := checkRecord(&r); err != nil {
			return dst[:n0], fmt.Errorf("decode batch record %d: %w", len(dst)-n0, err)
		}
		if len(dst) > n0 && r.Seq != dst[len(dst)-1].Seq+1 {
			return dst[:n0], fmt.Errorf("decode batch record %d: seq %d after %d", len(dst)-n0, r.Seq, dst[len(dst)-1].Seq)
		}
		dst = append(dst, r)
	}
	if len(dst) == n0 && !Padded(payload) { // an empty slot's padding holds none
		return dst, errors.New("decode batch: no records")
	}
	return dst, nil
}

// checkRecord holds a decoded record to what a vehicle writes.
func checkRecord(r *Record) error {
	if r.Seq == 0 {
		return errors.New("no sequence number")
	}
	if r.Pos != nil {
		if len(r.Pos) != 2 || !(r.Pos[0] >= -90 && r.Pos[0] <= 90) || !(r.Pos[1] >= -180 && r.Pos[1] <= 180) {
			return errors.New("position is not [latitude, longitude] in range")
		}
	}
	for k, v := range r.Signals {
		if !ValidRole(k) {
			return fmt.Errorf("signal name %q", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("signal %s is not finite", k)
		}
	}
	if r.Alarm != "" && !ValidRole(r.Alarm) {
		return fmt.Errorf("alarm type %q", r.Alarm)
	}
	return nil
}
