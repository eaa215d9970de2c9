package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/uplink"
	"quietzone/uplink/store"
	"quietzone/uplink/store/storetest"
)

// backends opens a fresh database of each backend.
func backends(t *testing.T) map[string]func(t *testing.T) *store.DB {
	return map[string]func(t *testing.T) *store.DB{
		"sqlite": func(t *testing.T) *store.DB {
			db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "fleet.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"postgres": func(t *testing.T) *store.DB {
			pg := storetest.Start(t, storetest.Options{})
			db, err := store.Open(context.Background(), pg.DSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
}

const (
	carA = "aaaaaaaaaaaaaaaa"
	carB = "bbbbbbbbbbbbbbbb"
)

func recs(first, n uint64) []uplink.Record {
	var out []uplink.Record
	for i := uint64(0); i < n; i++ {
		out = append(out, uplink.Record{Seq: first + i, Time: 1_780_000_000 + int64(i), Pos: []float64{52.5, 13.25},
			Signals: map[string]float64{"vehicle.speed": float64(i)}})
	}
	return out
}

func head(seq uint64, c byte) string { return fmt.Sprintf("%d:%s", seq, strings.Repeat(string(c), 64)) }

func TestStore(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			if v, err := db.SchemaVersion(ctx); err != nil || v != store.Latest() {
				t.Fatalf("schema %d, %v", v, err)
			}
			if applied, err := db.Migrate(ctx); err != nil || len(applied) != 0 {
				t.Fatalf("migrating again applied %v, %v", applied, err)
			}
			now := time.Unix(1_780_000_100, 0)
			w := &store.Write{Ingest: "i1", Received: now,
				Batches: []store.Batch{
					{Vehicle: carA, Records: recs(1, 5)},
					{Vehicle: carB, Records: recs(1, 3)},
					{Vehicle: carA, Records: recs(1, 5)}, // a repeat in the same flush
					{Vehicle: carA, Alarm: true, Records: []uplink.Record{{Seq: 6, Time: 1_780_000_000, Alarm: "camera.disobeyed", Signals: map[string]float64{"camera.index": 1}}}},
				},
				Statuses: []store.Status{{Vehicle: carA, Word: uplink.StatusOnline}},
				Audits:   []store.Audit{{Vehicle: carA, Summary: uplink.AuditSummary{V: 1, Intact: true, Head: head(3, 'a'), Policy: 2}}},
				Rejects:  map[string]uint64{"undecodable": 2},
			}
			res, err := db.WriteBatch(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if res.Records != 9 || res.Repeats != 5 || len(res.Breaks) != 0 {
				t.Fatalf("result %+v, want 9 stored, 5 repeats", res)
			}
			// Another ingest: a repeat, a gap (8 and 9 never come), a
			// status record, a head that goes back.
			w2 := &store.Write{Ingest: "i2", Received: now.Add(time.Second),
				Batches:  []store.Batch{{Vehicle: carA, Records: recs(4, 4)}, {Vehicle: carA, Records: recs(10, 2)}},
				Statuses: []store.Status{{Vehicle: carA, Drops: &uplink.StatusRecord{V: 1, Drops: uplink.Drops{Batches: 1, Records: 2, ThroughSeq: 9}}}},
				Audits:   []store.Audit{{Vehicle: carA, Summary: uplink.AuditSummary{V: 1, Intact: true, Head: head(2, 'b'), Policy: 2}}},
				Rejects:  map[string]uint64{"undecodable": 1, "foreign topic": 4},
			}
			res, err = db.WriteBatch(ctx, w2)
			if err != nil {
				t.Fatal(err)
			}
			if res.Records != 3 || res.Repeats != 3 || len(res.Breaks) != 1 || res.Breaks[0] != carA {
				t.Fatalf("result %+v, want 3 stored (7, 10, 11), 3 repeats, a break", res)
			}
			vs, err := db.Vehicles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 2 {
				t.Fatalf("%d vehicles", len(vs))
			}
			a := vs[0]
			if a.Pseudonym != carA || a.Records != 9 || a.Repeats != 8 || a.MaxSeq != 11 || a.Gaps != 2 ||
				a.Status != "online" || a.DroppedBatches != 1 || a.DroppedRecords != 2 || a.Policy != 2 ||
				a.Alarms["camera.disobeyed"] != 1 || !strings.HasPrefix(a.ChainBroken, "broken: the head went back") {
				t.Errorf("vehicle A %+v", a)
			}
			if b := vs[1]; b.Records != 3 || b.Gaps != 0 || b.Status != "" {
				t.Errorf("vehicle B %+v", b)
			}
			rs, err := db.Records(ctx, store.RecordQuery{Vehicle: carA, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 3 || rs[0].Seq != 11 || rs[0].Signals["vehicle.speed"] != 1 || len(rs[0].Pos) != 2 {
				t.Errorf("records %+v", rs)
			}
			al, err := db.Records(ctx, store.RecordQuery{Alarms: true})
			if err != nil || len(al) != 1 || al[0].Alarm != "camera.disobeyed" || al[0].Vehicle != carA {
				t.Errorf("alarms %+v, %v", al, err)
			}
			ev, err := db.Events(ctx, carA, 0)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, e := range ev {
				kinds[e.Kind] = true
			}
			for _, k := range []string{"online", "queue.drop", "audit.head", "policy.applied"} {
				if !kinds[k] {
					t.Errorf("no %s event in %+v", k, ev)
				}
			}
			rj, err := db.Rejects(ctx)
			if err != nil || rj["undecodable"] != 3 || rj["foreign topic"] != 4 {
				t.Errorf("rejects %v, %v", rj, err)
			}
			if err := db.AcknowledgeChain(ctx, carA); err != nil {
				t.Fatal(err)
			}
			vs, _ = db.Vehicles(ctx)
			if vs[0].ChainBroken != "" {
				t.Errorf("chain break not acknowledged: %+v", vs[0])
			}
		})
	}
}

func TestChainVerdict(t *testing.T) {
	h := func(seq uint64, c byte) string { return head(seq, c) }
	tail := func(from, to uint64, c byte) []string {
		var out []string
		for s := from; s <= to; s++ {
			out = append(out, fmt.Sprintf("%d:%s", s, strings.Repeat(string(c), 16)))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		prev string
		s    uplink.AuditSummary
		want string
		bad  bool
	}{
		{"first", "", uplink.AuditSummary{Intact: true, Head: h(3, 'a')}, "ok", false},
		{"not intact", "", uplink.AuditSummary{Head: h(3, 'a')}, "broken: the vehicle's log does not verify", true},
		{"same", h(3, 'a'), uplink.AuditSummary{Intact: true, Head: h(3, 'a')}, "ok", false},
		{"rewritten", h(3, 'a'), uplink.AuditSummary{Intact: true, Head: h(3, 'b')}, "broken: entry 3 was rewritten", true},
		{"back", h(3, 'a'), uplink.AuditSummary{Intact: true, Head: h(2, 'a')}, "broken: the head went back", true},
		{"emptied", h(3, 'a'), uplink.AuditSummary{Intact: true}, "broken: the log is empty", true},
		{"extends", h(3, 'a'), uplink.AuditSummary{Intact: true, Head: h(5, 'c'), Tail: tail(2, 5, 'a')}, "ok", false},
		{"cut and regrown", h(3, 'a'), uplink.AuditSummary{Intact: true, Head: h(5, 'c'), Tail: tail(2, 5, 'c')}, "broken: entry 3 is not the one", true},
		{"too far", h(3, 'a'), uplink.AuditSummary{Intact: true, Head: h(50, 'c'), Tail: tail(19, 50, 'c')}, "unverified", false},
	} {
		got, bad := store.ChainVerdict(tc.prev, tc.s)
		if !strings.HasPrefix(got, tc.want) || bad != tc.bad {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, bad, tc.want, tc.bad)
		}
	}
}
