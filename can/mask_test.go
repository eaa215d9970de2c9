package can

import (
	"math/rand/v2"
	"testing"
)

// TestOverlapsAgainstReference holds Mask and Overlaps against the naive
// bit numbering of refPositions, for random pairs of layouts in both
// byte orders and across byte boundaries.
func TestOverlapsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	layout := func() *Signal {
		for {
			s := &Signal{Start: r.IntN(64), Length: 1 + r.IntN(16), BigEndian: r.IntN(2) == 0}
			if refFits(s.Start, s.Length, s.BigEndian, 8) {
				return s
			}
		}
	}
	overlaps := 0
	for range 20000 {
		a, b := layout(), layout()
		want := false
		bits := map[int]bool{}
		for _, p := range refPositions(a.Start, a.Length, a.BigEndian) {
			bits[p] = true
		}
		for _, p := range refPositions(b.Start, b.Length, b.BigEndian) {
			want = want || bits[p]
		}
		if got := a.Overlaps(b); got != want || b.Overlaps(a) != want {
			t.Fatalf("%+v and %+v: Overlaps %v, reference %v", *a, *b, got, want)
		}
		if want {
			overlaps++
		}
		m := a.Mask()
		n := 0
		for _, x := range m {
			for ; x != 0; x &= x - 1 {
				n++
			}
		}
		if n != a.Length {
			t.Fatalf("%+v: mask % x has %d bits", *a, m[:8], n)
		}
	}
	if overlaps < 1000 || overlaps > 19000 {
		t.Fatalf("%d overlapping pairs of 20000: the test draws too few of one kind", overlaps)
	}
}

func TestOverlapsKnown(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Signal
		want bool
	}{
		{"adjacent intel", Signal{Start: 0, Length: 2}, Signal{Start: 2, Length: 2}, false},
		{"one shared intel bit", Signal{Start: 0, Length: 3}, Signal{Start: 2, Length: 2}, true},
		// Motorola 7|2 is bits 7 and 6 of byte 0; Intel 6|1 is bit 6.
		{"motorola over intel", Signal{Start: 7, Length: 2, BigEndian: true}, Signal{Start: 6, Length: 1}, true},
		{"motorola beside intel", Signal{Start: 7, Length: 2, BigEndian: true}, Signal{Start: 0, Length: 6}, false},
		// Motorola 0|2 runs from bit 0 of byte 0 to bit 7 of byte 1.
		{"motorola across a byte", Signal{Start: 0, Length: 2, BigEndian: true}, Signal{Start: 15, Length: 1}, true},
		{"motorola across a byte, clear", Signal{Start: 0, Length: 2, BigEndian: true}, Signal{Start: 8, Length: 7}, false},
	} {
		if got := tc.a.Overlaps(&tc.b); got != tc.want {
			t.Errorf("%s: Overlaps = %v, want %v", tc.name, got, tc.want)
		}
	}
}
