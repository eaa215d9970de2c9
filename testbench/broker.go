package testbench

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"quietzone/uplink"
)

// Broker is an embedded MQTT broker on a free 127.0.0.1 port.
type Broker struct {
	srv *mochi.Server
	// URL is where clients connect, tcp://127.0.0.1:PORT.
	URL string
}

// StartBroker starts an embedded broker that accepts any client.
func StartBroker() (*Broker, error) {
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
	return &Broker{srv: srv, URL: "tcp://" + l.Address()}, nil
}

// Close stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }

// Message is one publish the collector received.
type Message struct {
	Topic   string
	Payload []byte
	Records []uplink.Record
	Err     error // the payload did not decode
}

// Collector subscribes to every quietzone topic and keeps what arrives.
type Collector struct {
	client mqtt.Client
	mu     sync.Mutex
	msgs   []Message
}

// Collect connects a subscriber to url.
func Collect(url string) (*Collector, error) {
	c := &Collector{}
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("quietzone-bench-collector").
		SetCleanSession(true).SetOrderMatters(true).SetAutoReconnect(true)
	c.client = mqtt.NewClient(opts)
	if tok := c.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("collector connect: %v", tok.Error())
	}
	tok := c.client.Subscribe("quietzone/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		msg := Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...)}
		if isRecords(m.Topic()) {
			msg.Records, msg.Err = uplink.DecodeBatch(msg.Payload)
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, msg)
		c.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.client.Disconnect(0)
		return nil, fmt.Errorf("collector subscribe: %v", tok.Error())
	}
	return c, nil
}

// Messages returns a copy of what arrived so far.
func (c *Collector) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Telemetry counts the batches received, telemetry and alarms.
func (c *Collector) Telemetry() int {
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
func (c *Collector) Close() { c.client.Disconnect(250) }
