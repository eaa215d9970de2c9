// Package cantest holds what the module's tests share: the reference
// vehicle's DBC and signal map, loaded once, and the waits and goroutine
// dumps that tests of concurrent code need. can is the module's root, so
// the tests of every package may import it; no production code does (a
// dependency test of the vehicle binary guards that).
package cantest

import (
	"errors"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"quietzone/can"
	"quietzone/can/profiles"
)

var refDB = sync.OnceValues(func() (*can.Database, error) {
	data, err := profiles.FS.ReadFile(profiles.Default + ".dbc")
	if err != nil {
		return nil, err
	}
	return can.LoadDBC(profiles.Default+".dbc", data)
})

var refMappings = sync.OnceValues(func() ([]can.Mapping, error) {
	data, err := profiles.FS.ReadFile(profiles.Default + ".yaml")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Signals map[string]string `yaml:"signals"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var maps []can.Mapping
	for role, ref := range doc.Signals {
		msg, sig, ok := strings.Cut(ref, ".")
		if !ok {
			return nil, errors.New(profiles.Default + ".yaml: " + role + ": not MESSAGE.SIGNAL")
		}
		maps = append(maps, can.Mapping{Role: role, Message: msg, Signal: sig})
	}
	sort.Slice(maps, func(i, j int) bool { return maps[i].Role < maps[j].Role })
	return maps, nil
})

// RefDB is the embedded reference vehicle's DBC, loaded once and shared
// read-only.
func RefDB(tb testing.TB) *can.Database {
	tb.Helper()
	db, err := refDB()
	if err != nil {
		tb.Fatalf("load the reference DBC: %v", err)
	}
	return db
}

// RefMappings is the reference vehicle's signal map, sorted by role.
func RefMappings(tb testing.TB) []can.Mapping {
	tb.Helper()
	maps, err := refMappings()
	if err != nil {
		tb.Fatalf("read the reference signal map: %v", err)
	}
	return slices.Clone(maps)
}

// WaitFor polls cond until it holds and fails the test if it has not
// within timeout. The timeout is a deadlock guard for a loaded CI
// machine, never an assertion on speed. It yields at first and sleeps
// longer the longer it waits, so a condition about to hold costs
// microseconds and a slow one costs no CPU.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for i := 0; !cond(); i++ {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
		switch {
		case i < 100:
			runtime.Gosched()
		case i < 200:
			time.Sleep(time.Millisecond)
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// AllStacks is every goroutine's stack, as a panic prints them.
func AllStacks() string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
