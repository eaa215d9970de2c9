package ingest_test

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"quietzone/uplink"
	"quietzone/uplink/ingest"
	"quietzone/uplink/store"
	"quietzone/uplink/uplinktest"
)

// The SIGKILL test of the ingest, after the vehicle's (gateway's
// TestSIGKILLDuringPublish): the test binary runs itself as a child that
// is an ingest into a SQLite file, and the parent kills it with SIGKILL
// at random moments while vehicles publish, again and again, then lets a
// last child catch up. Every record published must be stored once, none
// twice: what the dead ingest had not acknowledged came again from its
// session on the broker.
const (
	ingestKillChildEnv = "QUIETZONE_INGEST_KILL_DB" // this process is the child
	ingestKillBroker   = "QUIETZONE_INGEST_KILL_BROKER"
	ingestKillIters    = "QUIETZONE_INGEST_KILL_ITERATIONS"
	killExecEnv        = "QUIETZONE_TEST_EXEC" // the go test -exec wrapper, if any
)

func TestIngestSIGKILL(t *testing.T) {
	if db := os.Getenv(ingestKillChildEnv); db != "" {
		ingestKillChild(db, os.Getenv(ingestKillBroker))
		return
	}
	iterations := 15
	if s := os.Getenv(ingestKillIters); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q", ingestKillIters, s)
		}
		iterations = n
	}
	m := uplinktest.StartMosquitto(t, uplinktest.WithConfig(brokerConfig...))
	dbPath := filepath.Join(t.TempDir(), "fleet.db")
	start := func() *exec.Cmd {
		args := []string{os.Args[0], "-test.run=^TestIngestSIGKILL$"}
		if w := os.Getenv(killExecEnv); w != "" {
			args = append([]string{w}, args...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), ingestKillChildEnv+"="+dbPath, ingestKillBroker+"="+m.URL())
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	count := func() (records, vehicles int) {
		db, err := store.OpenNoMigrate(context.Background(), dbPath)
		if err != nil {
			return 0, 0
		}
		defer db.Close()
		vs, err := db.Vehicles(context.Background())
		if err != nil {
			return 0, 0
		}
		for _, v := range vs {
			records += int(v.Records)
		}
		return records, len(vs)
	}
	// The first child makes the session and its subscriptions: a probe
	// batch stored says they are there.
	child := start()
	c := publisher(t, m.URL(), "vehicles")
	probe := uplink.Topic("pppppppppppppppp", "telemetry")
	waitFor(t, "the first ingest's subscriptions", func() bool {
		publish(t, c, probe, false, batch(t, 1, 1, ""))
		time.Sleep(50 * time.Millisecond)
		n, _ := count()
		return n > 0
	})

	const vehicles, perBatch = 20, 10
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var published int
	wg.Add(1)
	go func() { // the fleet: each vehicle's batches in sequence order
		defer wg.Done()
		seq := make([]uint64, vehicles)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := i % vehicles
			topic := uplink.Topic(pseudonym(v), "telemetry")
			if tok := c.Publish(topic, 1, false, batch(t, seq[v]+1, perBatch, "")); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Errorf("publish: %v", tok.Error())
				return
			}
			seq[v] += perBatch
			published += perBatch
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < iterations; i++ {
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		_ = child.Process.Signal(syscall.SIGKILL)
		_ = child.Wait()
		child = start()
	}
	close(stop)
	wg.Wait()
	defer func() {
		_ = child.Process.Signal(syscall.SIGKILL)
		_ = child.Wait()
	}()
	want := published + 1 // and the probe
	waitFor(t, "the last ingest to store every record", func() bool {
		n, _ := count()
		return n >= want
	})
	time.Sleep(300 * time.Millisecond) // anything more would be a record stored twice
	db, err := store.OpenNoMigrate(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, err := db.Vehicles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total, repeats := 0, 0
	for _, v := range vs {
		total += int(v.Records)
		repeats += int(v.Repeats)
		if v.Gaps != 0 {
			t.Errorf("vehicle %s: %d gaps", v.Pseudonym, v.Gaps)
		}
	}
	var rows int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM records`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if total != want || rows != want {
		t.Fatalf("%d records counted, %d rows, want %d published", total, rows, want)
	}
	t.Logf("%d kills, %d records published, all stored once; %d repeats after redelivery", iterations, want, repeats)
}

func pseudonym(i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte("kkkkkkkkkkkkkkkk")
	for j := 0; j < 4; j++ {
		b[15-j] = alphabet[i%32]
		i /= 32
	}
	return string(b)
}

// ingestKillChild is an ingest until it is killed.
func ingestKillChild(dbPath, broker string) {
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		os.Exit(2)
	}
	in, err := ingest.New(ingest.Config{Broker: broker, InsecurePlaintext: true, ClientID: "ingest-kill", Group: "fleet",
		FlushEvery: 10 * time.Millisecond}, db)
	if err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		os.Exit(2)
	}
	if err := in.Run(context.Background()); err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		os.Exit(2)
	}
}
