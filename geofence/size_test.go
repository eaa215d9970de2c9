package geofence

import (
	"testing"
	"unsafe"
)

// TestLayout: the sizes the query's cache use is planned around.
func TestLayout(t *testing.T) {
	if n := unsafe.Sizeof(part{}); n != 128 {
		t.Errorf("part is %d bytes, want 128 (two cache lines)", n)
	}
	if n := unsafe.Offsetof(part{}.boundM); n != 64 {
		t.Errorf("a part's second cache line starts at %d, want 64", n)
	}
	if n := unsafe.Sizeof(entry{}); n != 24 {
		t.Errorf("entry is %d bytes, want 24", n)
	}
	if n := unsafe.Sizeof(cell{}); n*cellBlock != 128 {
		t.Errorf("a block of cells is %d bytes, want 128", n*cellBlock)
	}
}
