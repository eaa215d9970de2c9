package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

// The SIGKILL test. The test binary runs itself as a child process that
// wires the uplink exactly as the daemon does (newUplinkStack: durable
// queue in a state directory, uplink continuing the queue's sequence,
// publisher, the pipe from the decision loop) and offers snapshots as fast
// as the disk takes them, while it publishes to a real Mosquitto. The
// parent kills it with SIGKILL at a random moment, again and again, then
// lets a last child drain the queue, and checks what a subscriber got:
// every record the queue accepted arrived, first arrivals in sequence
// order, and a sequence number seen twice always with the same record.
//
// The child reports, every few milliseconds, the queue's NextSeq: every
// record below it is on disk (Put returned after its fsync).
const (
	killChildEnv      = "QUIETZONE_KILL_CHILD" // state directory: this process is the child
	killBrokerEnv     = "QUIETZONE_KILL_BROKER"
	killRunEnv        = "QUIETZONE_KILL_RUN"
	killModeEnv       = "QUIETZONE_KILL_MODE" // run, or drain
	killIterationsEnv = "QUIETZONE_KILL_ITERATIONS"
	killExecEnv       = "QUIETZONE_TEST_EXEC" // the go test -exec wrapper, if any
	killLine          = "KILLTEST "
)

var killVIN = "QZKILL0000000001"

func killSetup(stateDir, broker string) *config.Setup {
	return &config.Setup{
		Config: &config.Config{Uplink: config.UplinkConfig{
			Broker:            broker,
			InsecurePlaintext: true, // Mosquitto on 127.0.0.1
			StateDir:          stateDir,
			// Small segments, so that kills also land in segment creation
			// and removal.
			Queue: config.QueueConfig{Fsync: "batch", QuotaMB: 64},
		}},
		Policy: &uplink.Policy{
			TelemetryPeriod: time.Second,
			Signals:         map[string]uplink.Rule{"test.run": {}, "test.i": {}},
			Batch:           uplink.BatchRule{MaxRecords: 5, MaxAge: time.Hour},
			NearZones:       uplink.NearZoneRule{TimeQuantum: time.Second},
		},
		VIN:       killVIN,
		Pseudonym: uplink.Pseudonym(killVIN, []byte("kill test fleet key")),
	}
}

func TestSIGKILLDuringPublish(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	iterations := 50
	if s := os.Getenv(killIterationsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", killIterationsEnv, s)
		}
		iterations = n
	}
	// The collector must see everything, however far behind it falls in
	// the drain at the end: no limit on what the broker queues for it.
	m := uplinktest.StartMosquitto(t, uplinktest.WithConfig("max_queued_messages 0"))
	pseudonym := uplink.Pseudonym(killVIN, []byte("kill test fleet key"))
	got := collect(t, m.URL(), uplink.Topic(pseudonym, "telemetry"))
	stateDir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))

	var accepted uint64 // every seq below it was accepted into the queue
	var kills int
	start := time.Now()
	for i := 0; i < iterations; i++ {
		c := startKillChild(t, stateDir, m.URL(), i, "run")
		// Kill at a random moment: sometimes while the queue opens, mostly
		// while it writes, fsyncs, publishes and acknowledges, and now and
		// then after it has persisted acknowledgements (once a second).
		var delay time.Duration
		switch r := rng.IntN(10); {
		case r < 4:
			delay = time.Duration(rng.IntN(50)) * time.Millisecond
		case r < 8:
			delay = time.Duration(50+rng.IntN(350)) * time.Millisecond
		default:
			delay = time.Duration(400+rng.IntN(1100)) * time.Millisecond
		}
		time.Sleep(delay)
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		err := c.cmd.Wait()
		c.readers.Wait()
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("child %d ended by itself (%v), not by SIGKILL:\n%s", i, err, c.stderr.String())
		}
		accepted = max(accepted, c.lastSeq())
	}
	killedFor := time.Since(start)

	c := startKillChild(t, stateDir, m.URL(), iterations, "drain")
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		c.readers.Wait()
		if err != nil {
			t.Fatalf("draining child: %v\n%s", err, c.stderr.String())
		}
	case <-time.After(3 * time.Minute):
		c.cmd.Process.Kill()
		t.Fatalf("draining child did not finish:\n%s", c.stderr.String())
	}
	final := c.lastSeq()
	if final < accepted {
		t.Fatalf("the queue's sequence went back: %d after the kills, %d at the end", accepted, final)
	}
	var drops uplink.Drops
	if err := json.Unmarshal([]byte(c.last("drops")), &drops); err != nil {
		t.Fatalf("drops line %q: %v", c.last("drops"), err)
	}
	if drops.Batches != 0 || drops.CorruptBytes != 0 {
		t.Errorf("queue drops %+v: nothing may be dropped under this quota, nor damaged by a kill", drops)
	}

	// Every record accepted arrives; a sequence number seen twice is the
	// same record; first arrivals come in sequence order.
	deadline := time.Now().Add(2 * time.Minute)
	for got.distinct() < int(final-1) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	recs, repeats, err := got.check()
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq < final; seq++ {
		if _, ok := recs[seq]; !ok {
			t.Fatalf("record %d was accepted into the queue (below NextSeq %d) and never arrived", seq, final)
		}
	}
	t.Logf("%d iterations, %d kills in %v: %d records accepted and delivered, %d repeats (dropped by seq), queue torn bytes %d",
		iterations, kills, killedFor.Round(time.Millisecond), final-1, repeats, drops.TornBytes)
}

// killProc is a running child.
type killProc struct {
	cmd     *exec.Cmd
	stderr  *syncBuf
	readers sync.WaitGroup
	mu      sync.Mutex
	lines   map[string]string // last line of each kind
}

func (c *killProc) last(kind string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines[kind]
}

// lastSeq is the NextSeq the child last reported.
func (c *killProc) lastSeq() uint64 {
	n, _ := strconv.ParseUint(c.last("seq"), 10, 64)
	return n
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startKillChild(t *testing.T, stateDir, broker string, run int, mode string) *killProc {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^TestSIGKILLDuringPublish$", "-test.count=1"}
	// Under go test -exec (make test-arm64 runs the tests in qemu-user),
	// the test binary is foreign to this machine: start the child through
	// the same wrapper.
	if w := os.Getenv(killExecEnv); w != "" {
		args = append(strings.Fields(w), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(),
		killChildEnv+"="+stateDir, killBrokerEnv+"="+broker,
		killRunEnv+"="+strconv.Itoa(run), killModeEnv+"="+mode)
	c := &killProc{cmd: cmd, stderr: &syncBuf{}, lines: map[string]string{}}
	cmd.Stderr = c.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.readers.Add(1)
	go func() {
		defer c.readers.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), killLine)
			if !ok {
				continue
			}
			kind, value, _ := strings.Cut(line, " ")
			c.mu.Lock()
			c.lines[kind] = value
			c.mu.Unlock()
		}
		io.Copy(io.Discard, out)
	}()
	return c
}

// killChild is the child process: the daemon's uplink wiring, fed as fast
// as it takes snapshots, until it is killed (run), or until its queue is
// empty (drain).
func killChild(stateDir string) {
	run, _ := strconv.Atoi(os.Getenv(killRunEnv))
	drain := os.Getenv(killModeEnv) == "drain"
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		os.Exit(2)
	}
	p, err := newUplinkStack(killSetup(stateDir, os.Getenv(killBrokerEnv)), nil, gateway.SystemClock{}, log)
	if err != nil {
		fail("child: %v", err)
	}
	var outMu sync.Mutex
	report := func(kind string, v any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, "%s%s %v\n", killLine, kind, v)
	}
	report("seq", p.queue.NextSeq())
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	go func() {
		for {
			time.Sleep(2 * time.Millisecond)
			report("seq", p.queue.NextSeq())
		}
	}()
	if drain {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := p.Flush(time.Now()); err != nil {
			fail("child: flush: %v", err)
		}
		if err := p.Drain(dctx); err != nil {
			fail("child: drain: %v", err)
		}
		cancel()
		if err := <-runErr; err != nil {
			fail("child: run: %v", err)
		}
		report("seq", p.queue.NextSeq())
		d, _ := json.Marshal(p.queue.Drops())
		report("drops", string(d))
		if err := p.queue.Close(); err != nil {
			fail("child: close: %v", err)
		}
		os.Exit(0)
	}
	// Each run's records have their own times, after the last run's.
	base := time.Unix(1_800_000_000+int64(run)*1_000_000, 0)
	for i := 0; ; i++ {
		s := uplink.Snapshot{
			Time:    base.Add(time.Duration(i) * time.Second),
			Samples: []uplink.Sample{{Role: "test.run", Value: float64(run), Class: uplink.ClassVehicle}, {Role: "test.i", Value: float64(i), Class: uplink.ClassVehicle}},
		}
		for p.Offer(s) != nil { // the pipe is full: the disk sets the pace
			time.Sleep(time.Millisecond)
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
		if i > 2_000_000 {
			fail("child: not killed")
		}
	}
}

// collector keeps every payload a subscriber receives, in order, and
// decodes them when asked: the handler must keep up with a drain.
type collector struct {
	mu       sync.Mutex
	payloads [][]byte
	decoded  int
	recs     []uplink.Record
	bad      []error
}

func collect(t *testing.T, url, topic string) *collector {
	t.Helper()
	c := &collector{}
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("quietzone-kill-collector").
		SetProtocolVersion(4).SetCleanSession(true).SetOrderMatters(true).SetAutoReconnect(true)
	client := mqtt.NewClient(opts)
	if tok := client.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("collector: %v", tok.Error())
	}
	t.Cleanup(func() { client.Disconnect(250) })
	tok := client.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		p := bytes.Clone(m.Payload())
		c.mu.Lock()
		defer c.mu.Unlock()
		c.payloads = append(c.payloads, p)
	})
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("collector subscribe: %v", tok.Error())
	}
	return c
}

// decode decodes the payloads received since the last call; c.mu held.
func (c *collector) decode() {
	for ; c.decoded < len(c.payloads); c.decoded++ {
		recs, err := uplink.DecodeBatch(c.payloads[c.decoded])
		if err != nil {
			c.bad = append(c.bad, err)
		}
		c.recs = append(c.recs, recs...)
	}
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.decode()
	seen := map[uint64]bool{}
	for _, r := range c.recs {
		seen[r.Seq] = true
	}
	return len(seen)
}

// check returns the records by sequence number and the number of repeats,
// or an error if a payload did not decode, a sequence number came with two
// different records, or a first arrival was out of order.
func (c *collector) check() (map[uint64]uplink.Record, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.decode()
	if len(c.bad) > 0 {
		return nil, 0, fmt.Errorf("%d payloads did not decode: %v", len(c.bad), c.bad[0])
	}
	byseq := map[uint64]uplink.Record{}
	repeats := 0
	var last uint64
	for _, r := range c.recs {
		if prev, ok := byseq[r.Seq]; ok {
			if fmt.Sprint(prev) != fmt.Sprint(r) {
				return nil, 0, fmt.Errorf("sequence number %d reused: %+v, then %+v", r.Seq, prev, r)
			}
			repeats++
			continue
		}
		if r.Seq <= last {
			return nil, 0, fmt.Errorf("record %d arrived first after record %d", r.Seq, last)
		}
		last = r.Seq
		byseq[r.Seq] = r
	}
	return byseq, repeats, nil
}
