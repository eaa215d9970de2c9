package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/testbench"
	"quietzone/testbench/scenario"
	"quietzone/uplink/ingest"
	"quietzone/uplink/store"
	"quietzone/uplink/store/storetest"
	"quietzone/uplink/uplinktest"
)

// runFleet runs the command line and returns its output and error.
func runFleet(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

// TestDemoIntoTheFleet drives the bench's demo against a real Mosquitto
// with an ingest attached, into SQLite and into PostgreSQL, and reads
// the records back with the fleet command: every record the vehicle
// published is there (issue 15's done-when).
func TestDemoIntoTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the demo")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "fleet.db")
			if backend == "postgres" {
				dsn = storetest.Start(t, storetest.Options{}).DSN
			}
			m := uplinktest.StartMosquitto(t, uplinktest.WithConfig("max_inflight_messages 1000", "max_queued_messages 0"))
			db, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			in, err := ingest.New(ingest.Config{Broker: m.URL(), InsecurePlaintext: true, ClientID: "demo-ingest", Group: "fleet"}, db)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- in.Run(ctx) }()
			time.Sleep(500 * time.Millisecond) // the ingest's subscriptions
			rep, err := testbench.Run(context.Background(), scenario.BuiltIn(), testbench.Options{BrokerURL: m.URL()})
			if err != nil {
				t.Fatal(err)
			}
			want := rep.Published.Records
			if want == 0 {
				t.Fatal("the demo published nothing")
			}
			deadline := time.Now().Add(30 * time.Second)
			for in.Stats().Records < want && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			db.Close()
			out, err := runFleet(t, "records", "--db", dsn, "--json", "--limit", "100000")
			if err != nil {
				t.Fatalf("records: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if uint64(len(lines)) != want {
				t.Fatalf("%d records read back, the demo published %d", len(lines), want)
			}
			var r store.StoredRecord
			if err := json.Unmarshal([]byte(lines[0]), &r); err != nil || r.Seq == 0 || r.Vehicle == "" {
				t.Errorf("record %q: %v", lines[0], err)
			}
			out, err = runFleet(t, "status", "--db", dsn)
			if err != nil || !strings.Contains(out, "1 vehicles") || !strings.Contains(out, r.Vehicle) {
				t.Errorf("status: %v\n%s", err, out)
			}
			t.Logf("%s: %d records of the demo read back", backend, want)
		})
	}
}
