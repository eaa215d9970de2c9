package can_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"quietzone/can"
	"quietzone/can/profiles"
)

// refProfile is the embedded reference vehicle: its DBC and the signal map
// of quietzone.yaml, with mappings sorted by role.
var refProfile = sync.OnceValues(func() (*can.Database, error) {
	data, err := profiles.FS.ReadFile("quietzone.dbc")
	if err != nil {
		return nil, err
	}
	return can.LoadDBC("quietzone.dbc", data)
})

var refMappingsOnce = sync.OnceValues(func() ([]can.Mapping, error) {
	data, err := profiles.FS.ReadFile("quietzone.yaml")
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
			return nil, errors.New("quietzone.yaml: " + role + ": not MESSAGE.SIGNAL")
		}
		maps = append(maps, can.Mapping{Role: role, Message: msg, Signal: sig})
	}
	sort.Slice(maps, func(i, j int) bool { return maps[i].Role < maps[j].Role })
	return maps, nil
})

func refDB(tb testing.TB) *can.Database {
	tb.Helper()
	db, err := refProfile()
	if err != nil {
		tb.Fatalf("load the reference DBC: %v", err)
	}
	return db
}

func refMappings(tb testing.TB) []can.Mapping {
	tb.Helper()
	maps, err := refMappingsOnce()
	if err != nil {
		tb.Fatalf("read the reference signal map: %v", err)
	}
	return maps
}

// refDecoder returns a new decoder (with its own counters) for the
// reference profile's signal map.
func refDecoder(tb testing.TB) *can.Decoder {
	tb.Helper()
	d, err := can.NewDecoder(refDB(tb), refMappings(tb))
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
