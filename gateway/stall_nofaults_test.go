//go:build !quietzone_faults

package gateway

import "testing"

// The vehicle's binary cannot stall its own decision loop: the fault
// switch exists only in a build with the quietzone_faults tag.
func TestNoStallHookWithoutTheTag(t *testing.T) {
	if stallHook != nil {
		t.Fatal("the decision loop has a stall hook in a build without the quietzone_faults tag")
	}
}
