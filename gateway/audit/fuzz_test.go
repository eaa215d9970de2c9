package audit_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quietzone/gateway/audit"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

var fuzzKey = bytes.Repeat([]byte{3}, 32)

// keyedLog is the good log's events written with fuzzKey.
func keyedLog(f *testing.F) []byte {
	path := filepath.Join(f.TempDir(), "audit.log")
	writeOpts(f, path, audit.Options{Key: fuzzKey}, t0, events...)
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

func goodLog(f *testing.F) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", "good.log"))
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzParseLine: no line makes ParseLine panic, and a line it accepts
// has the hash of its own content.
func FuzzParseLine(f *testing.F) {
	for _, l := range bytes.Split(goodLog(f), []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"seq":1,"hash":"` + strings.Repeat("0", 64) + `"}`))
	for _, l := range bytes.Split(keyedLog(f), []byte("\n")) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := audit.ParseLine(line)
		if err != nil {
			return
		}
		i := bytes.LastIndex(line, []byte(`,"hash":"`))
		body := append(bytes.Clone(line[:i]), '}')
		if sha256.Sum256(body) != e.Hash || e.Seq < 1 || !audit.ValidKind(e.Kind) {
			t.Fatalf("accepted %q as %+v", line, e)
		}
		if e.Keyed != bytes.HasSuffix(line, []byte(fmt.Sprintf(`,"mac":"%x"}`, e.MAC))) {
			t.Fatalf("accepted %q: keyed %v, MAC %x", line, e.Keyed, e.MAC)
		}
		if e.Keyed && e.Authentic([]byte("another key")) {
			t.Fatalf("%q authentic under another key", line)
		}
	})
}

// FuzzVerify: no file makes Verify panic or fail to read; a file that
// verifies is made of whole, linked entries.
func FuzzVerify(f *testing.F) {
	good := goodLog(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("\n\n"))
	f.Add(keyedLog(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{Key: fuzzKey})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() && len(data) > 0 {
			if data[len(data)-1] != '\n' || rep.Entries != bytes.Count(data, []byte("\n")) || rep.Last.Seq != uint64(rep.Entries) {
				t.Fatalf("verified %q: %d entries, last seq %d", data, rep.Entries, rep.Last.Seq)
			}
		}
	})
}

// FuzzParseHead: no string makes ParseHead panic, and a head it accepts
// is written back exactly as it was given: one spelling per head.
func FuzzParseHead(f *testing.F) {
	f.Add("1:" + strings.Repeat("0", 64))
	f.Add("18446744073709551615:" + strings.Repeat("ab", 32))
	f.Add("01:" + strings.Repeat("0", 64))
	f.Add("+1:" + strings.Repeat("0", 64))
	f.Add("1:" + strings.Repeat("A", 64))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := audit.ParseHead(s)
		if err != nil {
			return
		}
		if h.Seq < 1 || h.String() != s {
			t.Fatalf("ParseHead(%q) = %v, written back as %q", s, h, h.String())
		}
	})
}
