package can_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"quietzone/can"
	"quietzone/can/cantest"
)

// refDecoder returns a new decoder (with its own counters) for the
// reference profile's signal map.
func refDecoder(tb testing.TB) *can.Decoder {
	tb.Helper()
	d, err := can.NewDecoder(cantest.RefDB(tb), cantest.RefMappings(tb))
	if err != nil {
		tb.Fatalf("NewDecoder(reference profile): %v", err)
	}
	return d
}

func fixtureDB(tb testing.TB, name string) *can.Database {
	tb.Helper()
	db, err := can.LoadDBCFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return db
}

// sharedDBC is the reference data directory, beside the repository.
const sharedDBC = "../../shared/data/dbc"

func sharedDB(tb testing.TB, name string) *can.Database {
	tb.Helper()
	path := filepath.Join(sharedDBC, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		tb.Skipf("reference data %s is absent: the real-DBC tests need ../shared/data beside the repository", path)
	}
	db, err := can.LoadDBCFile(path)
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return db
}

func newDecoder(tb testing.TB, db *can.Database, maps ...can.Mapping) *can.Decoder {
	tb.Helper()
	d, err := can.NewDecoder(db, maps)
	if err != nil {
		tb.Fatalf("NewDecoder: %v", err)
	}
	return d
}

// encode sets physical values on a new frame of message msg.
func encode(tb testing.TB, db *can.Database, msg string, values map[string]float64) can.Frame {
	tb.Helper()
	m := db.Message(msg)
	if m == nil {
		tb.Fatalf("%s: no message %s", db.Name, msg)
	}
	f := m.NewFrame()
	for name, v := range values {
		s := m.Signal(name)
		if s == nil {
			tb.Fatalf("%s: no signal %s.%s", db.Name, msg, name)
		}
		if err := s.Encode(&f.Data, v); err != nil {
			tb.Fatalf("%s.%s = %v: %v", msg, name, v, err)
		}
	}
	return f
}
