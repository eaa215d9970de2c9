package ingest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/uplink"
	"quietzone/uplink/ingest"
	"quietzone/uplink/store"
	"quietzone/uplink/store/storetest"
	"quietzone/uplink/uplinktest"
)

// The load test (make test-load; not in make test): 100,000 simulated
// vehicles at the demo's rate, one batch of 30 records every 30 s each —
// 3,333 batches/s, 100,000 records/s — published for
// QUIETZONE_LOAD_SECONDS by 40 lightweight publishers replaying real
// batches (encoded by the vehicle's Batcher) to a Mosquitto on
// 127.0.0.1, into one or two ingest processes (this test binary run
// again) on a shared subscription, into SQLite and PostgreSQL. It stops
// by itself: the publishers after the duration, the ingests once every
// record is stored or a minute after. It reports records stored per
// second (from the first publish to the last record stored) and the lag
// at the end.
const (
	loadSecondsEnv = "QUIETZONE_LOAD_SECONDS"
	loadChildDSN   = "QUIETZONE_LOAD_CHILD_DSN"
	loadChildID    = "QUIETZONE_LOAD_CHILD_ID"
	loadChildURL   = "QUIETZONE_LOAD_CHILD_BROKER"

	loadVehicles   = 100_000
	loadPerBatch   = 30
	loadPeriod     = 30 * time.Second
	loadPublishers = 40
)

func TestLoad(t *testing.T) {
	if dsn := os.Getenv(loadChildDSN); dsn != "" {
		loadChild(dsn, os.Getenv(loadChildURL), os.Getenv(loadChildID))
		return
	}
	secs, _ := strconv.Atoi(os.Getenv(loadSecondsEnv))
	if secs <= 0 {
		t.Skip("the load test runs with make test-load (" + loadSecondsEnv + "=N)")
	}
	rate := float64(loadVehicles) / loadPeriod.Seconds() // batches/s
	n := int(rate * float64(secs))
	t.Logf("generating %d real batches of %d records (%d vehicles, %.0f batches/s for %d s)", n, loadPerBatch, loadVehicles, rate, secs)
	payloads, topics := loadBatches(t, n)
	for _, tc := range []struct {
		backend string
		procs   int
	}{{"postgres", 1}, {"postgres", 2}, {"sqlite", 1}, {"sqlite", 2}} {
		if b := os.Getenv("QUIETZONE_LOAD_BACKEND"); b != "" && b != tc.backend {
			continue
		}
		t.Run(fmt.Sprintf("%s/%d", tc.backend, tc.procs), func(t *testing.T) {
			m := uplinktest.StartMosquitto(t, uplinktest.WithConfig(append(brokerConfig, "max_connections -1")...))
			dsn := filepath.Join(t.TempDir(), "fleet.db")
			if tc.backend == "postgres" {
				dsn = storetest.Start(t, storetest.Options{Durable: true}).DSN
			}
			db, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var kids []*exec.Cmd
			for i := 0; i < tc.procs; i++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestLoad$")
				cmd.Env = append(os.Environ(), loadChildDSN+"="+dsn, loadChildURL+"="+m.URL(), loadChildID+"="+fmt.Sprintf("load-ingest-%d", i))
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				kids = append(kids, cmd)
			}
			defer func() {
				for _, k := range kids {
					_ = k.Process.Signal(syscall.SIGKILL)
					_ = k.Wait()
				}
			}()
			// Subscribed: a probe from each process's share arrives.
			c := publisher(t, m.URL(), "probe")
			waitFor(t, "the ingests' subscriptions", func() bool {
				publish(t, c, uplink.Topic("pppppppppppppppp", "telemetry"), false, batch(t, 1, 1, ""))
				time.Sleep(200 * time.Millisecond)
				return storedRecords(db) > 0
			})
			base := storedRecords(db)
			start := time.Now()
			published := loadPublish(t, m.URL(), payloads, topics, rate)
			pubDone := time.Since(start)
			want := base + int64(n*loadPerBatch)
			deadline := time.Now().Add(time.Minute)
			lagAtEnd := want - storedRecords(db)
			for storedRecords(db) < want && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			total := time.Since(start)
			got := storedRecords(db) - base
			perProc := perIngest(db)
			t.Logf("%s, %d ingest process(es): %d batches published in %.1f s (%.0f batches/s offered); %d records stored in %.1f s: %.0f records/s; behind by %d records when publishing ended; per process %v",
				tc.backend, tc.procs, published, pubDone.Seconds(), float64(published)/pubDone.Seconds(), got, total.Seconds(), float64(got)/total.Seconds(), lagAtEnd, perProc)
			if got != int64(n*loadPerBatch) {
				t.Errorf("%d records stored, %d published", got, n*loadPerBatch)
			}
		})
	}
}

func storedRecords(db *store.DB) int64 {
	var n int64
	_ = db.SQL().QueryRow(`SELECT COALESCE(sum(received), 0) FROM counters`).Scan(&n)
	return n
}

func perIngest(db *store.DB) map[string]int64 {
	out := map[string]int64{}
	rows, err := db.SQL().Query(`SELECT ingest, sum(received) FROM counters GROUP BY ingest`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int64
		if rows.Scan(&id, &n) == nil {
			out[id] = n
		}
	}
	return out
}

// loadBatches encodes n real batches, vehicle after vehicle, each
// vehicle's sequence numbers going on.
func loadBatches(t testing.TB, n int) ([][]byte, []string) {
	payloads := make([][]byte, n)
	topics := make([]string, n)
	var wg sync.WaitGroup
	workers := 2
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := uplink.NewBatcher(uplink.BatchRule{MaxRecords: loadPerBatch, MaxAge: time.Hour})
			if err != nil {
				t.Error(err)
				return
			}
			for i := w; i < n; i += workers {
				v := i % loadVehicles
				round := uint64(i / loadVehicles)
				first := round*loadPerBatch + 1
				for j := 0; j < loadPerBatch; j++ {
					r := uplink.Record{Seq: first + uint64(j), Time: 1_780_000_000 + int64(round)*30 + int64(j),
						Pos:     []float64{52.4 + float64(v%1000)*0.0018, 13.1 + float64(v/1000)*0.0029},
						Signals: map[string]float64{"vehicle.speed": float64(30 + (j*7+v)%90)}}
					if j%5 != 0 {
						r.Pos = nil // a position every 5 s, as the demo's policy
					}
					out, full, err := b.Add(r, time.Unix(0, 0))
					if err != nil {
						t.Error(err)
						return
					}
					if full {
						payloads[i] = out.Payload
					}
				}
				topics[i] = uplink.Topic(loadPseudonym(v), "telemetry")
			}
		}()
	}
	wg.Wait()
	return payloads, topics
}

func loadPseudonym(i int) string {
	const a = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte("llllllllllllllll")
	for j := 0; j < 4; j++ {
		b[15-j] = a[i%32]
		i /= 32
	}
	return string(b)
}

// loadPublish publishes every payload at rate per second, split over the
// publishers, QoS 1, and returns how many the broker acknowledged.
func loadPublish(t *testing.T, broker string, payloads [][]byte, topics []string, rate float64) int {
	var acked atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for p := 0; p < loadPublishers; p++ {
		c := publisher(t, broker, fmt.Sprintf("load-pub-%d", p))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var toks []mqtt.Token
			for i := p; i < len(payloads); i += loadPublishers {
				// Batch i is due at i/rate seconds from the start.
				if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
					time.Sleep(d)
				}
				toks = append(toks, c.Publish(topics[i], 1, false, payloads[i]))
				if len(toks) >= 256 {
					for _, tok := range toks {
						if tok.WaitTimeout(time.Minute) && tok.Error() == nil {
							acked.Add(1)
						}
					}
					toks = toks[:0]
				}
			}
			for _, tok := range toks {
				if tok.WaitTimeout(time.Minute) && tok.Error() == nil {
					acked.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(acked.Load())
}

func loadChild(dsn, broker, id string) {
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		os.Exit(2)
	}
	in, err := ingest.New(ingest.Config{Broker: broker, InsecurePlaintext: true, ClientID: id, Group: "fleet"}, db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		os.Exit(2)
	}
	_ = in.Run(context.Background())
}
