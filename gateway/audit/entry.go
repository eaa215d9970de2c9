package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Entry is one event of the log.
type Entry struct {
	Seq    uint64
	Time   time.Time
	Kind   string
	Reason string
	// Prev is the hash of the entry before; Hash this entry's.
	Prev, Hash [sha256.Size]byte
	// MAC authenticates Hash under the vehicle's audit key; Keyed is
	// false for an entry without one (written without a key).
	MAC   [sha256.Size]byte
	Keyed bool
}

// mac is HMAC-SHA256 of an entry's hash under the audit key: the hash
// covers the entry and, through prev, every entry before it.
func mac(key []byte, hash [sha256.Size]byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	m.Write(hash[:])
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// Authentic reports whether the entry carries a MAC that verifies under
// key.
func (e *Entry) Authentic(key []byte) bool {
	want := mac(key, e.Hash)
	return e.Keyed && hmac.Equal(want[:], e.MAC[:])
}

// Kinds the log writes itself.
const (
	// KindRecovered: Open cut a torn last line (a power cut during a
	// write) or found the log damaged.
	KindRecovered = "audit.recovered"
	// KindLost: events were lost because the writer fell behind.
	KindLost = "audit.lost"
	// KindKeyed: the log is authenticated from this entry on (Open with
	// a key, of a log with no authenticated entry: a fresh one, or one
	// from before the vehicle had its key).
	KindKeyed = "audit.keyed"
)

// Limits of an entry.
const (
	MaxKind   = 64
	MaxReason = 256
	// maxLine bounds a line: an entry is far shorter.
	maxLine = 2048
)

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// ValidKind reports whether kind may name an event: lower-case words
// joined by dots.
func ValidKind(kind string) bool { return len(kind) <= MaxKind && kindPattern.MatchString(kind) }

// body is an entry as hashed; its field order is the line's.
type body struct {
	Seq    uint64 `json:"seq"`
	Time   string `json:"time"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Prev   string `json:"prev"`
}

const (
	hashKey = `,"hash":"`
	macKey  = `,"mac":"`
)

// hashSuffixLen is the length of `,"hash":"<64 hex>"}`; macSuffixLen of
// `,"mac":"<64 hex>"}`.
const (
	hashSuffixLen = len(hashKey) + 2*sha256.Size + 2
	macSuffixLen  = len(macKey) + 2*sha256.Size + 2
)

// encode fills in e.Hash (and e.MAC with a key) and returns e's line,
// newline included.
func (e *Entry) encode(key []byte) ([]byte, error) {
	b, err := json.Marshal(body{
		Seq:    e.Seq,
		Time:   e.Time.UTC().Format(time.RFC3339Nano),
		Kind:   e.Kind,
		Reason: e.Reason,
		Prev:   hex.EncodeToString(e.Prev[:]),
	})
	if err != nil {
		return nil, err
	}
	e.Hash = sha256.Sum256(b)
	line := make([]byte, 0, len(b)+hashSuffixLen+macSuffixLen)
	line = append(line, b[:len(b)-1]...)
	line = append(line, hashKey...)
	line = hex.AppendEncode(line, e.Hash[:])
	line = append(line, '"')
	if key != nil {
		e.MAC, e.Keyed = mac(key, e.Hash), true
		line = append(line, macKey...)
		line = hex.AppendEncode(line, e.MAC[:])
		line = append(line, '"')
	}
	return append(line, '}', '\n'), nil
}

// Reasons a line is not an entry.
var (
	// ErrEdited: the line is well formed, but its hash is not that of
	// its content.
	ErrEdited = errors.New("hash does not match the entry's content")
	// ErrMalformed: the line is not an entry at all.
	ErrMalformed = errors.New("not an audit entry")
)

// ParseLine reads one line (without its newline) and checks its own hash
// (not its MAC: Entry.Authentic does, with the key).
func ParseLine(line []byte) (Entry, error) {
	var e Entry
	if n := len(line); n >= macSuffixLen+hashSuffixLen && n <= maxLine && bytes.HasSuffix(line, []byte(`"}`)) &&
		bytes.HasPrefix(line[n-macSuffixLen:], []byte(macKey)) {
		macHex := line[n-macSuffixLen+len(macKey) : n-2]
		if _, err := hex.Decode(e.MAC[:], macHex); err != nil || !isLowerHex(macHex) {
			return e, fmt.Errorf("%w: mac: want 64 lower-case hex digits", ErrMalformed)
		}
		e.Keyed = true
		line = append(line[:n-macSuffixLen:n-macSuffixLen], '}') // a copy: the capacity is cut
	}
	if len(line) > maxLine || len(line) < hashSuffixLen+2 || !bytes.HasSuffix(line, []byte(`"}`)) ||
		!bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(hashKey)) {
		return e, fmt.Errorf("%w: want a JSON object ending in a hash", ErrMalformed)
	}
	hashHex := line[len(line)-hashSuffixLen+len(hashKey) : len(line)-2]
	if _, err := hex.Decode(e.Hash[:], hashHex); err != nil || !isLowerHex(hashHex) {
		return e, fmt.Errorf("%w: hash: want 64 lower-case hex digits", ErrMalformed)
	}
	raw := make([]byte, 0, len(line)-hashSuffixLen+1)
	raw = append(append(raw, line[:len(line)-hashSuffixLen]...), '}')
	var b body
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() {
		return e, fmt.Errorf("%w: %s", ErrMalformed, jsonReason(err))
	}
	e.Seq, e.Kind, e.Reason = b.Seq, b.Kind, b.Reason
	var err error
	if e.Time, err = time.Parse(time.RFC3339Nano, b.Time); err != nil || !strings.HasSuffix(b.Time, "Z") {
		return e, fmt.Errorf("%w: time: want RFC 3339 in UTC", ErrMalformed)
	}
	switch {
	case e.Seq < 1:
		return e, fmt.Errorf("%w: seq: want a number from 1", ErrMalformed)
	case !ValidKind(e.Kind):
		return e, fmt.Errorf("%w: kind: want lower-case words joined by dots", ErrMalformed)
	case len(e.Reason) > MaxReason || !utf8.ValidString(e.Reason):
		return e, fmt.Errorf("%w: reason: want UTF-8, up to %d bytes", ErrMalformed, MaxReason)
	case len(b.Prev) != 2*sha256.Size || !isLowerHex([]byte(b.Prev)):
		return e, fmt.Errorf("%w: prev: want 64 lower-case hex digits", ErrMalformed)
	}
	hex.Decode(e.Prev[:], []byte(b.Prev))
	if sha256.Sum256(raw) != e.Hash {
		return e, ErrEdited
	}
	return e, nil
}

// jsonReason says what is wrong with a line's JSON without quoting it:
// the line may hold anything.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "data after the object"
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s: wrong type", te.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown member"
	}
	return "bad JSON"
}

func isLowerHex(s []byte) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// cleanReason makes a reason fit an entry: valid UTF-8, at most
// MaxReason bytes.
func cleanReason(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= MaxReason {
		return s
	}
	s = s[:MaxReason]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
