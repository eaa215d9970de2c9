package uplink_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/can/cantest"
	"quietzone/uplink"
)

// Generous bounds for a loaded 2-core CI machine running -race. They are
// how long to wait before giving up, never assertions on speed.
const (
	connectWait = 30 * time.Second
	deliverWait = 90 * time.Second
)

// makeBatches returns n batches of 30 demo records, the first record
// numbered firstSeq, as the Batcher closes them.
func makeBatches(t testing.TB, firstSeq uint64, n int) []uplink.Batch {
	t.Helper()
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Hour})
	var out []uplink.Batch
	for seq := firstSeq; len(out) < n; seq++ {
		batch, full, err := b.Add(demoRecord(seq), t0)
		if err != nil {
			t.Fatal(err)
		}
		if full {
			out = append(out, batch)
		}
	}
	return out
}

// syncBuffer is a log the publisher writes from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// publisher is a Publisher running in the background until the test ends
// or stop is called.
type publisher struct {
	*uplink.Publisher
	stop func()
}

// testConfig has back-off capped at 1 s, so that a test does not wait long
// for the publisher to notice a broker back from an outage.
func testConfig(broker, pseudonym string) uplink.MQTTConfig {
	return uplink.MQTTConfig{
		Broker:            broker,
		InsecurePlaintext: strings.HasPrefix(broker, "tcp://"), // the test brokers listen on 127.0.0.1
		Pseudonym:         pseudonym,
		PublishTimeout:    5 * time.Second,
		MaxBackoff:        time.Second,
	}
}

func startPublisher(t *testing.T, cfg uplink.MQTTConfig, q uplink.Queue) *publisher {
	t.Helper()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("publisher log:\n%s", logs)
		}
	})
	p, err := uplink.NewPublisher(cfg, q, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(connectWait):
				t.Errorf("Run did not return within %v of its context's end", connectWait)
			}
		})
	}
	t.Cleanup(stop)
	return &publisher{Publisher: p, stop: stop}
}

type message struct {
	topic    string
	payload  []byte
	retained bool
}

// subscriber is a paho client that subscribes to one topic filter at QoS 1
// on every connection (the broker forgets subscriptions when it restarts)
// and keeps what arrives.
type subscriber struct {
	client     mqtt.Client
	subscribed chan error // one result per (re)subscription

	mu   sync.Mutex
	msgs []message
}

var subscribers atomic.Int64

func subscribe(t *testing.T, url, filter string, tlsCfg *tls.Config) *subscriber {
	t.Helper()
	s := &subscriber{subscribed: make(chan error, 64)}
	opts := mqtt.NewClientOptions().
		AddBroker(url).
		SetClientID(fmt.Sprintf("quietzone-test-subscriber-%d", subscribers.Add(1))).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(time.Second).
		SetConnectTimeout(10 * time.Second).
		SetOnConnectHandler(func(c mqtt.Client) { // runs in a goroutine of its own
			tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.msgs = append(s.msgs, message{topic: m.Topic(), payload: bytes.Clone(m.Payload()), retained: m.Retained()})
			})
			if !tok.WaitTimeout(connectWait) {
				s.subscribed <- fmt.Errorf("no SUBACK for %s in %v", filter, connectWait)
				return
			}
			s.subscribed <- tok.Error()
		})
	if tlsCfg != nil {
		opts.SetTLSConfig(tlsCfg)
	}
	s.client = mqtt.NewClient(opts)
	t.Cleanup(func() { s.client.Disconnect(250) })
	if tok := s.client.Connect(); !tok.WaitTimeout(connectWait) || tok.Error() != nil {
		t.Fatalf("subscriber connect to %s: %v", url, tok.Error())
	}
	s.waitSubscribed(t)
	return s
}

// waitSubscribed waits for the next subscription, after a connection or
// a reconnection.
func (s *subscriber) waitSubscribed(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.subscribed:
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	case <-time.After(connectWait):
		t.Fatalf("not subscribed after %v", connectWait)
	}
}

func (s *subscriber) messages() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message(nil), s.msgs...)
}

// waitMessage waits for a message with payload to arrive, and returns it.
func (s *subscriber) waitMessage(t *testing.T, payload string, after int) message {
	t.Helper()
	var found message
	cantest.WaitFor(t, connectWait, fmt.Sprintf("%q after message %d", payload, after), func() bool {
		msgs := s.messages()
		for _, m := range msgs[min(after, len(msgs)):] {
			if string(m.payload) == payload {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// retainedStatus subscribes a fresh client to a status topic and returns
// the retained message the broker hands it. A message that arrives live
// (published after the subscription) says nothing of what was retained, so
// it tries again with another client.
func retainedStatus(t *testing.T, url, topic string) message {
	t.Helper()
	for try := 0; ; try++ {
		s := subscribe(t, url, topic, nil)
		cantest.WaitFor(t, connectWait, "the retained status", func() bool { return len(s.messages()) > 0 })
		s.client.Disconnect(250)
		if m := s.messages()[0]; m.retained || try == 4 {
			return m
		}
	}
}

// deliveredOnce returns how many of want have arrived at least once.
func deliveredOnce(msgs []message, want []uplink.Batch) int {
	byPayload := map[string]bool{}
	for _, m := range msgs {
		byPayload[string(m.payload)] = true
	}
	n := 0
	for _, b := range want {
		if byPayload[string(b.Payload)] {
			n++
		}
	}
	return n
}

// checkDelivered checks what arrived on topic against the batches queued:
// each batch arrived, intact, and their first arrivals are in queue order.
// Delivery is at least once, so a batch may arrive again, but only as a
// repeat of one already received, identical, sequence numbers included.
// It returns the number of repeats.
func checkDelivered(t *testing.T, topic string, msgs []message, want []uplink.Batch) (repeats int) {
	t.Helper()
	index := map[uint64]int{} // FirstSeq → position in want
	for i, b := range want {
		index[b.FirstSeq] = i
	}
	seen := make([]bool, len(want))
	next := 0
	recordSeen := map[uint64]uplink.Record{}
	for k, m := range msgs {
		if m.topic != topic {
			t.Errorf("message %d on %q, want %q", k, m.topic, topic)
			continue
		}
		recs, err := uplink.DecodeBatch(m.payload)
		if err != nil || len(recs) == 0 {
			t.Errorf("message %d: %d records, %v", k, len(recs), err)
			continue
		}
		i, ok := index[recs[0].Seq]
		if !ok {
			t.Errorf("message %d starts at seq %d, which no queued batch does", k, recs[0].Seq)
			continue
		}
		if !bytes.Equal(m.payload, want[i].Payload) {
			t.Errorf("message %d: batch %d (seq %d–%d) is not the payload queued", k, i, want[i].FirstSeq, want[i].LastSeq)
		}
		for _, r := range recs {
			if prev, dup := recordSeen[r.Seq]; dup && fmt.Sprint(prev) != fmt.Sprint(r) {
				t.Errorf("message %d: record seq %d repeated with other content: %+v, then %+v", k, r.Seq, prev, r)
			}
			recordSeen[r.Seq] = r
		}
		if seen[i] {
			repeats++
			continue
		}
		if i != next {
			t.Errorf("message %d: batch %d (seq %d–%d) arrived first, want batch %d (seq %d–%d)",
				k, i, want[i].FirstSeq, want[i].LastSeq, next, want[next].FirstSeq, want[next].LastSeq)
		}
		seen[i] = true
		next = i + 1
	}
	for i, ok := range seen {
		if !ok {
			t.Errorf("batch %d (seq %d–%d) never arrived", i, want[i].FirstSeq, want[i].LastSeq)
		}
	}
	return repeats
}

// gatedQueue is a Queue whose Next can be held, so that a test can
// order the publisher's next attempt after something else: a subscriber
// resubscribing to a broker that came back without its sessions.
type gatedQueue struct {
	uplink.Queue
	mu      sync.Mutex
	open    chan struct{} // closed while the gate is open
	waiting atomic.Int32  // Next calls held at the gate
}

func newGatedQueue() *gatedQueue { return gate(uplink.NewMemQueue()) }

// gate puts a gate in front of q.
func gate(q uplink.Queue) *gatedQueue {
	g := &gatedQueue{Queue: q, open: make(chan struct{})}
	close(g.open)
	return g
}

// Drops passes on the drop counters of a queue that has them, so that the
// publisher reports them through the gate.
func (g *gatedQueue) Drops() uplink.Drops {
	if d, ok := g.Queue.(interface{ Drops() uplink.Drops }); ok {
		return d.Drops()
	}
	return uplink.Drops{}
}

func (g *gatedQueue) Next(ctx context.Context) (uplink.Batch, error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	default:
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
		select {
		case <-open:
		case <-ctx.Done():
			return uplink.Batch{}, ctx.Err()
		}
	}
	return g.Queue.Next(ctx)
}

// hold makes Next wait, and waits until the publisher is waiting there:
// it is then in no publish attempt.
func (g *gatedQueue) hold(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
	g.mu.Unlock()
	cantest.WaitFor(t, connectWait, "the publisher to wait for the next batch", func() bool { return g.waiting.Load() > 0 })
}

func (g *gatedQueue) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// proxy forwards TCP connections to a broker and can break them the ways
// a vehicle's network does: cut (the broker stays up and sees the client
// vanish), kicked (a blip: the connection drops, the next one works), or
// stalled (open, but nothing gets through).
type proxy struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup
	held   atomic.Int64 // bytes held back so far

	mu      sync.Mutex
	cut     bool
	release chan struct{} // while not nil, held data waits until it is closed
	hold    holdMode
	conns   map[*link]bool
}

type holdMode int

const (
	holdNothing    holdMode = iota
	holdAll                 // both ways
	holdFromClient          // the client's data after its first packet (CONNECT)
)

// link is one forwarded connection.
type link struct {
	client, broker net.Conn
	closed         chan struct{}
	once           sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.closed)
		l.client.Close()
		l.broker.Close()
	})
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target, conns: map[*link]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) URL() string { return "tcp://" + p.l.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	defer p.wg.Done()
	u, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		c.Close()
		return
	}
	l := &link{client: c, broker: u, closed: make(chan struct{})}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		l.close()
		return
	}
	p.conns[l] = true
	p.mu.Unlock()
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); p.pipe(l, u, c, true) }()
	go func() { defer pipes.Done(); p.pipe(l, c, u, false) }()
	pipes.Wait()
	p.mu.Lock()
	delete(p.conns, l)
	p.mu.Unlock()
}

// pipe copies src to dst, holding data back as the proxy's mode says,
// until either side closes.
func (p *proxy) pipe(l *link, dst, src net.Conn, fromClient bool) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for reads := 1; ; reads++ {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			release, mode := p.release, p.hold
			p.mu.Unlock()
			if release != nil && (mode == holdAll || mode == holdFromClient && fromClient && reads > 1) {
				p.held.Add(int64(n))
				select {
				case <-release:
				case <-l.closed:
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every forwarded connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.Kick()
}

// Kick closes every forwarded connection, as a network blip would; unless
// cut, new connections are forwarded at once.
func (p *proxy) Kick() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Stall holds back what the client and the broker send, as a link that
// went dead without closing, until Restore.
func (p *proxy) Stall() { p.holdData(holdAll) }

// StallAfterConnect holds back what clients send after their first packet,
// until Restore: a client can connect, and no more.
func (p *proxy) StallAfterConnect() { p.holdData(holdFromClient) }

func (p *proxy) holdData(mode holdMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release == nil {
		p.release = make(chan struct{})
	}
	p.hold = mode
}

// Held is how many bytes have been held back so far.
func (p *proxy) Held() int64 { return p.held.Load() }

// Restore forwards new connections again, and whatever is held.
func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	if p.release != nil {
		close(p.release)
		p.release = nil
	}
	p.hold = holdNothing
}
