package main

import (
	"testing"
	"time"
)

// follows, the system test's judge of the live cameras against `quietzone
// replay`, lets the live system suppress a little more (briefly, or late
// at the edges), never allow more.
func TestFollows(t *testing.T) {
	s := time.Second
	want := []flip{{s / 2, true}, {13 * s, false}, {58 * s, true}}
	for _, tc := range []struct {
		name string
		live []flip
		ok   bool
	}{
		{"the same", want, true},
		{"within the tolerance", []flip{{s, true}, {13 * s, false}, {58*s + s/2, true}}, true},
		{"never clears", []flip{{s, true}, {13 * s, false}}, false},
		{"allowed late into the zone", []flip{{s, true}, {16 * s, false}, {58 * s, true}}, false},
		{"a short suppression while clear", []flip{{s, true}, {5 * s, false}, {6 * s, true}, {13 * s, false}, {58 * s, true}}, true},
		{"a long suppression while clear", []flip{{s, true}, {5 * s, false}, {9 * s, true}, {13 * s, false}, {58 * s, true}}, false},
		{"allowed inside the zone", []flip{{s, true}, {13 * s, false}, {30 * s, true}, {31 * s, false}, {58 * s, true}}, false},
	} {
		_, err := follows("x", tc.live, want, 80*s, 1500*time.Millisecond, 2*s)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
