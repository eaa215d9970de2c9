package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// Problem is something wrong with a log, at a line.
type Problem struct {
	Line int // 1-based; 0 for the file as a whole
	// Seq of the entry at Line, when it could be read.
	Seq    uint64
	Kind   ProblemKind
	Detail string
}

// ProblemKind classifies a Problem.
type ProblemKind string

// The problems Verify reports.
const (
	// Edited: an entry's hash is not that of its content, or the next
	// entry's prev is not its hash (edited with the hash recomputed).
	Edited ProblemKind = "edited"
	// Removed: entries are missing: a gap in seq, or entries cut from the
	// start, or from the end (found against a head the fleet received).
	Removed ProblemKind = "removed"
	// Malformed: a line that is not an entry at all.
	Malformed ProblemKind = "malformed"
	// Torn: the last line has no newline: a write a power cut
	// interrupted (Open cuts it and records that), or a cut by hand.
	Torn ProblemKind = "torn"
	// Forged: an entry's MAC does not verify under the vehicle's audit
	// key: written, or rewritten with its hash, without the key.
	Forged ProblemKind = "forged"
	// Unauthenticated: an entry without a MAC after entries that carry
	// one: written without the key, or its MAC stripped.
	Unauthenticated ProblemKind = "unauthenticated"
)

func (p Problem) String() string {
	at := "file"
	switch {
	case p.Line > 0 && p.Seq > 0:
		at = fmt.Sprintf("line %d (seq %d)", p.Line, p.Seq)
	case p.Line > 0:
		at = fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("%s: %s: %s", at, p.Kind, p.Detail)
}

// Report is what Verify found.
type Report struct {
	// Entries is the number of entries read, good or not.
	Entries int
	// Keyed: Verify had the audit key, and checked every MAC.
	Keyed bool
	// Authenticated counts the entries whose MAC verified.
	Authenticated int
	// Unkeyed counts the entries without a MAC before the first one with
	// a MAC (all of them in a log written without a key), UnkeyedThrough
	// is the last one's seq: only the chain to the first authenticated
	// entry (and the fleet's head) vouches for them.
	Unkeyed        int
	UnkeyedThrough uint64
	// Last is the last entry that reads (its Seq and Hash are the head).
	Last     Entry
	HaveLast bool
	// Counts are entries per kind.
	Counts   map[string]uint64
	Problems []Problem
	// size is the length of the file's whole lines: where Open appends.
	size      int64
	tornBytes int
}

// OK reports whether the log verified without a problem.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Head is the last seq and hash of a chain, as the fleet receives it.
type Head struct {
	Seq  uint64
	Hash [sha256.Size]byte
}

// ParseHead reads a head written "SEQ:HASH" (the hash in hex, 64 digits).
func ParseHead(s string) (Head, error) {
	var h Head
	seq, hashHex, ok := bytes.Cut([]byte(s), []byte(":"))
	if !ok {
		return h, errors.New("head: want SEQ:HASH")
	}
	if _, err := fmt.Sscanf(string(seq), "%d", &h.Seq); err != nil || h.Seq < 1 || fmt.Sprint(h.Seq) != string(seq) {
		return h, errors.New("head: SEQ must be a number from 1")
	}
	if len(hashHex) != 2*sha256.Size || !isLowerHex(hashHex) {
		return h, errors.New("head: HASH must be 64 lower-case hex digits")
	}
	hex.Decode(h.Hash[:], hashHex)
	return h, nil
}

func (h Head) String() string { return fmt.Sprintf("%d:%x", h.Seq, h.Hash) }

// VerifyOptions say what Verify checks a log against.
type VerifyOptions struct {
	// Head is the fleet's last known seq and hash (the audit summary):
	// with it Verify also finds entries removed from the end and a log
	// rewritten or replaced since. Without it, neither can be seen.
	Head *Head
	// Key is the vehicle's audit key: with it every entry's MAC is
	// checked, and an entry rewritten with its hash recomputed, or added
	// without the key, is found. Without it, anyone who can write the
	// file can rewrite it whole with a chain that verifies.
	Key []byte
	// Each, when set, is called with every entry that reads, in order,
	// and whether it passed every check Verify could make of it so far:
	// its hash, its link to the entry before, and its MAC (with a key;
	// an entry without one counts only before the first with one).
	Each func(e Entry, authentic bool)
}

// Verify reads a log and reports every entry that was edited, removed,
// forged, or cannot be read, with its line.
func Verify(r io.Reader, o VerifyOptions) (*Report, error) {
	head := o.Head
	rep := &Report{Counts: map[string]uint64{}, Keyed: o.Key != nil}
	keyedSeen := false
	br := bufio.NewReaderSize(r, 64<<10)
	var prev *Entry // the entry on the line before, if it read
	var off int64
	headSeen := false
	for line := 1; ; line++ {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Far longer than any entry: skip to the end of it.
			n := len(raw)
			for errors.Is(err, bufio.ErrBufferFull) {
				raw, err = br.ReadSlice('\n')
				n += len(raw)
			}
			if err == nil {
				rep.Entries++
				rep.Problems = append(rep.Problems, Problem{Line: line, Kind: Malformed, Detail: fmt.Sprintf("a line of %d bytes", n)})
				off += int64(n)
				prev = nil
				continue
			}
			raw = make([]byte, n) // torn: only the length matters
		}
		if err == io.EOF {
			if len(raw) > 0 {
				rep.tornBytes = len(raw)
				rep.Problems = append(rep.Problems, Problem{Line: line, Kind: Torn,
					Detail: fmt.Sprintf("the last line (%d bytes) has no newline: a write cut short by a power cut, or by hand", len(raw))})
			}
			break
		}
		if err != nil {
			return rep, fmt.Errorf("verify audit log: %w", err)
		}
		off += int64(len(raw))
		rep.size = off
		rep.Entries++
		e, perr := ParseLine(raw[:len(raw)-1])
		switch {
		case errors.Is(perr, ErrEdited):
			rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Edited, Detail: "its hash does not match its content"})
		case perr != nil:
			rep.Problems = append(rep.Problems, Problem{Line: line, Kind: Malformed, Detail: perr.Error()})
			prev = nil
			continue
		}
		rep.Counts[e.Kind]++
		before := len(rep.Problems)
		rep.check(line, prev, &e)
		if o.Key != nil {
			switch {
			case e.Keyed && !e.Authentic(o.Key):
				rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Forged,
					Detail: "its MAC does not verify: written, or rewritten with its hash, without the vehicle's key"})
			case e.Keyed:
				keyedSeen = true
				rep.Authenticated++
			case keyedSeen:
				rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Unauthenticated,
					Detail: "no MAC after entries that carry one: written without the vehicle's key, or its MAC removed"})
			case e.Kind == KindKeyed:
				rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Unauthenticated,
					Detail: "an audit.keyed entry without a MAC: the log's MACs were removed"})
			default:
				rep.Unkeyed++
				rep.UnkeyedThrough = e.Seq
			}
		}
		if o.Each != nil {
			o.Each(e, len(rep.Problems) == before && perr == nil)
		}
		if head != nil && e.Seq == head.Seq {
			headSeen = true
			if e.Hash != head.Hash {
				rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Edited,
					Detail: "not the entry the fleet received as the head: the log was rewritten from here or before"})
			}
		}
		rep.Last, rep.HaveLast = e, true
		prev = &rep.Last
	}
	if head != nil && !headSeen {
		last := uint64(0)
		if rep.HaveLast {
			last = rep.Last.Seq
		}
		if last < head.Seq {
			rep.Problems = append(rep.Problems, Problem{Kind: Removed,
				Detail: fmt.Sprintf("the fleet received entries up to seq %d; the log ends at seq %d: entries were removed from the end", head.Seq, last)})
		} else {
			rep.Problems = append(rep.Problems, Problem{Kind: Removed, Detail: fmt.Sprintf("the fleet's head, seq %d, is not in the log", head.Seq)})
		}
	}
	return rep, nil
}

// check holds an entry against the one before it.
func (rep *Report) check(line int, prev, e *Entry) {
	var zero [sha256.Size]byte
	switch {
	case prev == nil && line == 1:
		if e.Seq != 1 {
			rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Removed,
				Detail: fmt.Sprintf("the log starts at seq %d: %s removed from the start", e.Seq, entries(e.Seq-1))})
		} else if e.Prev != zero {
			rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Edited, Detail: "the first entry's prev is not zero"})
		}
	case prev == nil:
		// The line before did not read: it is reported already.
	case e.Seq <= prev.Seq:
		rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Edited,
			Detail: fmt.Sprintf("seq %d follows seq %d: entries reordered or edited", e.Seq, prev.Seq)})
	case e.Seq > prev.Seq+1:
		rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Removed,
			Detail: fmt.Sprintf("seq %d follows seq %d: %s removed before this line", e.Seq, prev.Seq, entries(e.Seq-prev.Seq-1))})
	case e.Prev != prev.Hash:
		rep.Problems = append(rep.Problems, Problem{Line: line, Seq: e.Seq, Kind: Edited,
			Detail: fmt.Sprintf("prev is not the hash of the entry before: line %d was edited and its hash recomputed", line-1)})
	}
}

// SortedKinds returns the kinds counted, sorted.
func (rep *Report) SortedKinds() []string {
	return slices.Sorted(maps.Keys(rep.Counts))
}

func entries(n uint64) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
