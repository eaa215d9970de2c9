package testbench

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"quietzone/uplink"
)

// broker is an embedded MQTT broker on a free 127.0.0.1 port.
type broker struct {
	srv *mochi.Server
	// URL is where clients connect, tcp://127.0.0.1:PORT.
	URL string
}

// startBroker starts an embedded broker that accepts any client.
func startBroker() (*broker, error) {
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "bench", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	return &broker{srv: srv, URL: "tcp://" + l.Address()}, nil
}

// Close stops the broker. It first waits (up to 5 s) for the clients to
// be gone: mochi v2.7.9 can deadlock when a client disconnects while the
// server closes its listeners (Clients.GetByListener takes its read lock
// twice, and a disconnect's write lock waits between the two).
func (b *broker) Close() error {
	for deadline := time.Now().Add(5 * time.Second); b.srv.Clients.Len() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return b.srv.Close()
}

// message is one publish the collector received.
type message struct {
	Topic   string
	Payload []byte
	Records []uplink.Record
	Err     error // the payload did not decode
	// Arrived is when it arrived, on the collector's clock.
	Arrived time.Time
}

// collector subscribes to every quietzone topic and keeps what arrives.
type collector struct {
	client mqtt.Client
	o      collectOptions
	mu     sync.Mutex
	msgs   []message
}

// collectOptions change what a collector keeps.
type collectOptions struct {
	// ClientID is the collector's MQTT client id; each collector on a
	// broker needs its own. Empty: one is made up.
	ClientID string
	// Now stamps arrivals; nil is the system clock. The simulator passes
	// its clock, so that delays are in simulated time.
	Now func() time.Time
	// Pseudonym, when set, drops what other vehicles publish (topics
	// quietzone/v1/OTHER/...), for a fleet on one broker.
	Pseudonym string
}

var collectors atomic.Uint64

// collect connects a subscriber to url.
func collect(url string, o collectOptions) (*collector, error) {
	if o.ClientID == "" {
		o.ClientID = fmt.Sprintf("quietzone-bench-collector-%d-%d", os.Getpid(), collectors.Add(1))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &collector{o: o}
	handle := func(_ mqtt.Client, m mqtt.Message) {
		if !c.ours(m.Topic()) {
			return
		}
		msg := message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), Arrived: c.o.Now()}
		if isRecords(m.Topic()) {
			msg.Records, msg.Err = uplink.DecodeBatch(msg.Payload)
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, msg)
		c.mu.Unlock()
	}
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(o.ClientID).
		SetCleanSession(true).SetOrderMatters(true).SetAutoReconnect(true).
		SetOnConnectHandler(func(cl mqtt.Client) {
			// A clean session forgets the subscription: renew it on
			// every reconnection.
			cl.Subscribe("quietzone/#", 1, handle)
		})
	c.client = mqtt.NewClient(opts)
	if tok := c.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("collector connect: %v", tok.Error())
	}
	tok := c.client.Subscribe("quietzone/#", 1, handle)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.client.Disconnect(0)
		return nil, fmt.Errorf("collector subscribe: %v", tok.Error())
	}
	return c, nil
}

// ours reports whether a topic is this collector's vehicle's (or names
// no vehicle, which every collector keeps and checks).
func (c *collector) ours(topic string) bool {
	if c.o.Pseudonym == "" {
		return true
	}
	rest, ok := strings.CutPrefix(topic, "quietzone/v1/")
	if !ok {
		return true
	}
	p, _, _ := strings.Cut(rest, "/")
	return p == c.o.Pseudonym
}

// Messages returns a copy of what arrived so far.
func (c *collector) Messages() []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]message(nil), c.msgs...)
}

// Telemetry counts the batches received, telemetry and alarms.
func (c *collector) Telemetry() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if isRecords(m.Topic) {
			n++
		}
	}
	return n
}

// Close disconnects the subscriber.
func (c *collector) Close() { c.client.Disconnect(250) }
