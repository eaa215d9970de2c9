package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"quietzone/gateway/audit"
)

var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// write opens the log at path, appends the events (kind, reason pairs)
// one second apart from start and closes it.
func write(t *testing.T, path string, start time.Time, events ...string) *audit.Log {
	t.Helper()
	return writeOpts(t, path, audit.Options{}, start, events...)
}

// writeOpts is write with options (a key).
func writeOpts(t testing.TB, path string, o audit.Options, start time.Time, events ...string) *audit.Log {
	t.Helper()
	o.Now = func() time.Time { return start }
	l, err := audit.Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	for i := 0; i+1 < len(events); i += 2 {
		l.Append(start.Add(time.Duration(i/2)*time.Second), events[i], events[i+1])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return l
}

func verify(t *testing.T, path string, head *audit.Head) *audit.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, audit.VerifyOptions{Head: head})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

var events = []string{
	"suppression.on", "unknown: no zones",
	"policy.applied", "version 3 from mqtt",
	"suppression.off", "consecutive clear fixes",
	"manual.on", "privacy switch",
	"manual.off", "privacy switch released",
}

// The chain goes on across restarts: one log, one chain, counts over its
// whole life.
func TestRestartContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	write(t, path, t0, events[:4]...)
	l := write(t, path, t0.Add(time.Hour), events[4:]...)
	rep := verify(t, path, nil)
	if !rep.OK() || rep.Entries != 5 || rep.Last.Seq != 5 {
		t.Fatalf("%d entries, last seq %d, problems %v", rep.Entries, rep.Last.Seq, rep.Problems)
	}
	s := l.Summary()
	if s.Head.Seq != 5 || s.Head.Hash != rep.Last.Hash || !s.Intact || s.Counts["suppression.on"] != 1 || s.Counts["manual.off"] != 1 {
		t.Errorf("summary %+v", s)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, %v", fi.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"time":"2026-06-01T09:00:00Z"`) {
		t.Errorf("times not in UTC RFC 3339:\n%s", data)
	}
}

// Every way of editing or removing entries is found, at its line, and
// told apart.
func TestVerifyFindsTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	write(t, path, t0, events...)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	lines = lines[:len(lines)-1] // after the last newline
	join := func(ls ...string) string { return strings.Join(ls, "") }
	rehash := func(line, old, new string) string {
		// What a deliberate tamperer does: edit, and recompute the hash.
		edited := strings.Replace(line, old, new, 1)
		i := strings.Index(edited, `,"hash":"`)
		return edited[:i] + `,"hash":"` + sha(edited[:i]+"}") + `"}` + "\n"
	}
	head := func(rep *audit.Report) *audit.Head { return &audit.Head{Seq: rep.Last.Seq, Hash: rep.Last.Hash} }
	fleet := head(verify(t, path, nil))
	cases := []struct {
		name  string
		data  string
		head  *audit.Head
		want  audit.ProblemKind
		line  int
		match string
	}{
		{"reason edited", join(lines[0], strings.Replace(lines[1], "version 3", "version 9", 1), join(lines[2:]...)), nil, audit.Edited, 2, "hash does not match"},
		{"kind edited", join(lines[0], lines[1], strings.Replace(lines[2], "suppression.off", "suppression.on", 1), join(lines[3:]...)), nil, audit.Edited, 3, "hash does not match"},
		{"edited, hash recomputed", join(lines[0], rehash(lines[1], "version 3", "version 9"), join(lines[2:]...)), nil, audit.Edited, 3, "line 2 was edited"},
		{"a middle entry removed", join(lines[0], lines[1], join(lines[3:]...)), nil, audit.Removed, 3, "1 entry removed"},
		{"the first entry removed", join(lines[1:]...), nil, audit.Removed, 1, "1 entry removed from the start"},
		{"two entries swapped", join(lines[0], lines[2], lines[1], join(lines[3:]...)), nil, audit.Removed, 2, "removed"},
		{"the last entry removed", join(lines[:4]...), fleet, audit.Removed, 0, "removed from the end"},
		{"rewritten since the fleet's head", join(lines[:4]...) + rehash(lines[4], "released", "held"), fleet, audit.Edited, 5, "rewritten"},
		{"a line of garbage", join(lines[0], "hello\n", join(lines[1:]...)), nil, audit.Malformed, 2, "not an audit entry"},
		{"torn last line", join(lines[:4]...) + lines[4][:40], nil, audit.Torn, 5, "no newline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := audit.Verify(strings.NewReader(tc.data), audit.VerifyOptions{Head: tc.head})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("verified")
			}
			p := rep.Problems[0]
			if p.Kind != tc.want || p.Line != tc.line || !strings.Contains(p.String(), tc.match) {
				t.Errorf("first problem %q (%v at line %d), want %v at line %d saying %q; all: %v", p, p.Kind, p.Line, tc.want, tc.line, tc.match, rep.Problems)
			}
		})
	}
	if rep := verify(t, path, fleet); !rep.OK() {
		t.Errorf("the untouched log against its own head: %v", rep.Problems)
	}
}

func sha(s string) string { return fmt.Sprintf("%x", sha256Sum([]byte(s))) }

// A power cut in the middle of a write leaves a torn last line: Open cuts
// it, records the cut in the chain, and the log verifies again.
func TestTornLastLineRecovered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	write(t, path, t0, events[:6]...)
	data, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(data, []byte("\n"))
	torn := append(bytes.Join(lines[:2], nil), lines[2][:len(lines[2])/2]...)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, path, t0.Add(time.Hour), "manual.on", "privacy switch")
	rep := verify(t, path, nil)
	if !rep.OK() || rep.Entries != 4 || rep.Counts[audit.KindRecovered] != 1 {
		t.Fatalf("%d entries %v, problems %v", rep.Entries, rep.Counts, rep.Problems)
	}
	out, _ := os.ReadFile(path)
	if !bytes.Contains(out, []byte("cut a torn last entry of")) {
		t.Errorf("the cut is not on record:\n%s", out)
	}
}

// A log found tampered with at start is appended to as it is: nothing
// hidden, and the finding recorded.
func TestTamperedLogNotRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	write(t, path, t0, events...)
	data, _ := os.ReadFile(path)
	edited := bytes.Replace(data, []byte("version 3"), []byte("version 4"), 1)
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	l := write(t, path, t0.Add(time.Hour), "manual.on", "privacy switch")
	if l.Summary().Intact {
		t.Error("summary says intact")
	}
	rep := verify(t, path, nil)
	if len(rep.Problems) != 1 || rep.Problems[0].Line != 2 || rep.Problems[0].Kind != audit.Edited {
		t.Errorf("problems %v, want the one edited line", rep.Problems)
	}
	out, _ := os.ReadFile(path)
	if !bytes.HasPrefix(out, edited) || !bytes.Contains(out, []byte("did not verify at start")) {
		t.Errorf("log rewritten or finding not recorded:\n%s", out)
	}
}

// Events appended faster than the writer takes them are counted, and the
// count goes into the chain; nothing blocks.
func TestLostEventsRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, audit.Options{Depth: 2, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		l.Append(t0, "queue.drop", "test")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Append(t0, "queue.drop", "after Run") // lost: counted
	if s := l.Summary(); s.Lost != 4 || s.Counts["queue.drop"] != 2 || s.Counts[audit.KindLost] != 1 {
		t.Errorf("summary %+v", s)
	}
	l.Close()
	rep := verify(t, path, nil)
	if !rep.OK() || rep.Counts[audit.KindLost] != 1 {
		t.Errorf("%v %v", rep.Counts, rep.Problems)
	}
}

// Many goroutines append at once (run with -race); with an fsync interval
// every event arrives in one unbroken chain.
func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, audit.Options{SyncEvery: 5 * time.Millisecond, Depth: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				l.Append(t0, "camera.disobedient", fmt.Sprintf("camera %d", g))
				_ = l.Summary()
			}
		}()
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Close()
	rep := verify(t, path, nil)
	if !rep.OK() || rep.Counts["camera.disobedient"] != 800 {
		t.Errorf("%v %v", rep.Counts, rep.Problems)
	}
}

func TestOneProcessAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := audit.Open(path, audit.Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second open: %v", err)
	}
}

func TestAppendCleansInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	write(t, path, t0, "Not A Kind", "x", "policy.rejected", strings.Repeat("é", 300)+"\xff")
	rep := verify(t, path, nil)
	if !rep.OK() || rep.Counts["audit.invalid_kind"] != 1 || rep.Counts["policy.rejected"] != 1 {
		t.Errorf("%v %v", rep.Counts, rep.Problems)
	}
}

func TestParseHead(t *testing.T) {
	h := audit.Head{Seq: 12}
	h.Hash[0] = 0xab
	got, err := audit.ParseHead(h.String())
	if err != nil || got != h {
		t.Errorf("%v, %v", got, err)
	}
	for _, bad := range []string{"", "12", "0:" + strings.Repeat("0", 64), "12:" + strings.Repeat("A", 64), "012:" + strings.Repeat("0", 64), "x:y"} {
		if _, err := audit.ParseHead(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

var testKey = bytes.Repeat([]byte{7}, 32)

// verifyKeyed verifies data with the test key and an optional head.
func verifyKeyed(t *testing.T, data string, head *audit.Head) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(strings.NewReader(data), audit.VerifyOptions{Key: testKey, Head: head})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// rehash renumbers and rehashes lines, dropping any MAC, as an attacker
// without the key would after removing an entry; keepMAC leaves the old
// MACs in place instead (those of the entries before the removed one
// still verify: their hashes did not change).
func rehashFrom(lines []string, keepMAC bool) string {
	var out strings.Builder
	prev := strings.Repeat("0", 64)
	for n, l := range lines {
		var b struct {
			Seq    uint64 `json:"seq"`
			Time   string `json:"time"`
			Kind   string `json:"kind"`
			Reason string `json:"reason"`
			Prev   string `json:"prev"`
		}
		i := strings.Index(l, `,"hash":"`)
		json.Unmarshal([]byte(l[:i]+"}"), &b)
		b.Seq, b.Prev = uint64(n+1), prev
		raw, _ := json.Marshal(b)
		prev = sha(string(raw))
		out.WriteString(string(raw[:len(raw)-1]) + `,"hash":"` + prev + `"`)
		if j := strings.Index(l, `,"mac":"`); keepMAC && j > 0 {
			out.WriteString(strings.TrimSuffix(l[j:], "}\n"))
		}
		out.WriteString("}\n")
	}
	return out.String()
}

// With the vehicle's key every entry carries a MAC, and what a writer
// without the key does to the log shows: an entry removed and the rest
// renumbered and rehashed (with or without their old MACs), entries
// appended without a MAC, a whole log under another key. Without a MAC
// on its entries, a log's own chain cannot vouch for it, and the keyed
// writer says when it took up such a log.
func TestKeyedLogFindsRehashing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeOpts(t, path, audit.Options{Key: testKey}, t0, events...)
	good, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(good), "\n")
	lines = lines[:len(lines)-1]
	if len(lines) != 6 || !strings.Contains(lines[0], `"kind":"audit.keyed"`) {
		t.Fatalf("a fresh keyed log does not start with audit.keyed:\n%s", good)
	}
	for _, l := range lines {
		if !strings.Contains(l, `,"mac":"`) {
			t.Fatalf("an entry without a MAC: %s", l)
		}
	}
	if rep := verifyKeyed(t, string(good), nil); !rep.OK() || rep.Authenticated != 6 || rep.Unkeyed != 0 {
		t.Fatalf("the good keyed log: %+v", rep)
	}
	headAt := func(i int) *audit.Head {
		rep := verifyKeyed(t, strings.Join(lines[:i+1], ""), nil)
		return &audit.Head{Seq: rep.Last.Seq, Hash: rep.Last.Hash}
	}
	offAt := 3 // suppression.off
	if !strings.Contains(lines[offAt], "suppression.off") {
		t.Fatalf("line %d: %s", offAt+1, lines[offAt])
	}
	without := append(slices.Clone(lines[:offAt]), lines[offAt+1:]...)
	for _, tc := range []struct {
		name string
		data string
		head *audit.Head
		want audit.ProblemKind
		line int
	}{
		{"suppression.off removed, rehashed, MACs kept", rehashFrom(without, true), nil, audit.Forged, 4},
		{"suppression.off removed, rehashed, MACs dropped from there", strings.Join(lines[:offAt], "") + rehashFrom(without, false)[len(rehashFrom(lines[:offAt], false)):], nil, audit.Unauthenticated, 4},
		{"the same, with the fleet's head from before", strings.Join(lines[:offAt], "") + rehashFrom(without, false)[len(rehashFrom(lines[:offAt], false)):], headAt(1), audit.Unauthenticated, 4},
		{"suppression.off removed, rehashed, every MAC dropped", rehashFrom(without, false), nil, audit.Unauthenticated, 1},
		{"the same, with the fleet's head from before", rehashFrom(without, false), headAt(1), audit.Unauthenticated, 1},
		{"an entry appended without a MAC", string(good) + rehashFrom(append(slices.Clone(lines), lines[5]), false)[len(rehashFrom(lines, false)):], nil, audit.Unauthenticated, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := verifyKeyed(t, tc.data, tc.head)
			if rep.OK() {
				t.Fatal("verified")
			}
			p := rep.Problems[0]
			if p.Kind != tc.want || p.Line != tc.line {
				t.Errorf("first problem %v at line %d, want %v at line %d: %v", p.Kind, p.Line, tc.want, tc.line, rep.Problems)
			}
		})
	}
	other, err := audit.Verify(strings.NewReader(string(good)), audit.VerifyOptions{Key: bytes.Repeat([]byte{8}, 32)})
	if err != nil || len(other.Problems) != 6 || other.Problems[0].Kind != audit.Forged {
		t.Errorf("under another key: %v", other.Problems)
	}
	// Stripped of every MAC and of its audit.keyed entry, the log is a
	// chain alone: nothing to find, nothing authenticated (only the
	// fleet's head can tell it from a log of before the key). The keyed
	// writer takes it up saying so.
	stripped := rehashFrom(lines[1:], false)
	if rep := verifyKeyed(t, stripped, nil); !rep.OK() || rep.Authenticated != 0 || rep.Unkeyed != 5 || rep.UnkeyedThrough != 5 {
		t.Fatalf("a stripped log: %+v", rep)
	}
	os.WriteFile(path, []byte(stripped), 0o600)
	writeOpts(t, path, audit.Options{Key: testKey}, t0.Add(time.Hour), "manual.on", "again")
	data, _ := os.ReadFile(path)
	rep := verifyKeyed(t, string(data), nil)
	if !rep.OK() || rep.Counts[audit.KindKeyed] != 1 || rep.Authenticated != 2 || rep.Unkeyed != 5 {
		t.Errorf("taken up: %+v\n%s", rep, data)
	}
}

// Open with the key finds a forged entry: the log is not intact, and
// that is recorded; Each sees every entry and whether it passed.
func TestKeyedOpenFindsForgery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeOpts(t, path, audit.Options{Key: testKey}, t0, events...)
	good, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(good), "\n")
	lines = lines[:len(lines)-1]
	forged := rehashFrom(append(slices.Clone(lines[:3]), strings.Replace(lines[3], "suppression.off", "suppression.on", 1)), true)
	forged = strings.Join(lines[:3], "") + forged[len(rehashFrom(lines[:3], true)):]
	os.WriteFile(path, []byte(forged), 0o600)
	var seen []bool
	l := writeOpts(t, path, audit.Options{Key: testKey, Each: func(e audit.Entry, ok bool) { seen = append(seen, ok) }}, t0.Add(time.Hour))
	if l.Summary().Intact {
		t.Error("a forged entry left the log intact")
	}
	if !slices.Equal(seen, []bool{true, true, true, false}) {
		t.Errorf("Each saw %v", seen)
	}
}

// The summary's tail names the last entries, consecutive and ending at
// the head, across a restart (read back at Open) and past TailLen: the
// fleet finds the head it saw before in it (issue 15).
func TestSummaryTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var many []string
	for i := 0; i < audit.TailLen+5; i++ {
		many = append(many, "suppression.on", fmt.Sprintf("event %d", i))
	}
	write(t, path, t0, events[:4]...)
	for _, tc := range []struct {
		name   string
		events []string
		want   int // entries in the tail
	}{
		{"reopened", nil, 2},
		{"one more", events[4:6], 3},
		{"past the tail's length", many, audit.TailLen},
	} {
		l := write(t, path, t0, tc.events...)
		s := l.Summary()
		rep := verify(t, path, nil)
		if len(s.Tail) != tc.want || s.Tail[len(s.Tail)-1] != s.Head || s.Head.Hash != rep.Last.Hash {
			t.Fatalf("%s: tail of %d ending %v, head %v; want %d ending at the head", tc.name, len(s.Tail), s.Tail[len(s.Tail)-1], s.Head, tc.want)
		}
		for i := 1; i < len(s.Tail); i++ {
			if s.Tail[i].Seq != s.Tail[i-1].Seq+1 {
				t.Fatalf("%s: tail not consecutive: %v", tc.name, s.Tail)
			}
		}
	}
}
