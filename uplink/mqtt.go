package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// MQTTConfig says where and how to publish.
type MQTTConfig struct {
	// Broker is a URL: tcp://host:1883, or ssl://host:8883 with TLS set.
	Broker string
	// ClientID defaults to "quietzone-" + the pseudonym.
	ClientID string
	// Pseudonym names the vehicle in topics; never the VIN.
	Pseudonym string
	// TLS, when set, is used for the connection (CA and client certificate).
	TLS *tls.Config
	// PublishTimeout bounds the wait for PUBACK before the batch is retried.
	PublishTimeout time.Duration
	// MaxBackoff caps the wait between failed attempts.
	MaxBackoff time.Duration
}

// Topic returns the topic of kind (telemetry, status, alarm) for a vehicle.
func Topic(pseudonym, kind string) string {
	return "quietzone/v1/" + pseudonym + "/" + kind
}

// PublisherStats count deliveries.
type PublisherStats struct {
	Published uint64 // batches acknowledged by the broker
	Records   uint64 // records in those batches
	Bytes     uint64 // payload bytes acknowledged
	Failures  uint64 // attempts that were not acknowledged in time
}

// Publisher drains a Queue to an MQTT broker at QoS 1.
type Publisher struct {
	cfg    MQTTConfig
	q      Queue
	log    *slog.Logger
	client mqtt.Client

	published, records, bytes, failures atomic.Uint64
}

// NewPublisher returns a Publisher; it connects in Run.
func NewPublisher(cfg MQTTConfig, q Queue, log *slog.Logger) (*Publisher, error) {
	if cfg.Broker == "" || cfg.Pseudonym == "" {
		return nil, errors.New("new publisher: broker and pseudonym are required")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "quietzone-" + cfg.Pseudonym
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{cfg: cfg, q: q, log: log}
	status := Topic(cfg.Pseudonym, "status")
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetProtocolVersion(4). // MQTT 3.1.1
		SetCleanSession(true). // the durable queue, not the broker session, holds what is unsent
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(cfg.MaxBackoff).
		SetConnectTimeout(10*time.Second).
		SetKeepAlive(30*time.Second).
		SetOrderMatters(true).
		SetStore(discardStore{}). // the Queue holds what is unsent; see discardStore
		SetWill(status, "offline", 1, true).
		SetOnConnectHandler(func(c mqtt.Client) {
			log.Info("uplink connected")
			c.Publish(status, 1, true, "online")
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("uplink connection lost", "err", err)
		})
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	p.client = mqtt.NewClient(opts)
	return p, nil
}

// Run connects and publishes queued batches in order until ctx is done.
// A batch is acknowledged in the queue only after the broker's PUBACK;
// one that fails is retried, after a backoff with jitter.
func (p *Publisher) Run(ctx context.Context) error {
	p.client.Connect() // retries in the background until it succeeds
	defer p.client.Disconnect(250)
	topic := Topic(p.cfg.Pseudonym, "telemetry")
	backoff := 100 * time.Millisecond
	for {
		b, err := p.q.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("publish: %w", err)
		}
		if err := p.publish(ctx, topic, b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.failures.Add(1)
			p.log.Warn("uplink publish failed; will retry", "batch", b.ID, "err", err)
			if !sleep(ctx, jitter(backoff)) {
				return nil
			}
			backoff = min(2*backoff, p.cfg.MaxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		if err := p.q.Ack(b.ID); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		p.published.Add(1)
		p.records.Add(uint64(b.Records))
		p.bytes.Add(uint64(len(b.Payload)))
	}
}

func (p *Publisher) publish(ctx context.Context, topic string, b Batch) error {
	if !p.client.IsConnectionOpen() {
		return errors.New("not connected")
	}
	tok := p.client.Publish(topic, 1, false, b.Payload)
	timer := time.NewTimer(p.cfg.PublishTimeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-timer.C:
		return errors.New("no PUBACK in time")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain waits until the queue is empty or ctx is done.
func (p *Publisher) Drain(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for p.q.Len() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("drain uplink: %d batches unsent: %w", p.q.Len(), ctx.Err())
		}
	}
	return nil
}

// Stats returns the delivery counters.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{
		Published: p.published.Load(),
		Records:   p.records.Load(),
		Bytes:     p.bytes.Load(),
		Failures:  p.failures.Load(),
	}
}

// discardStore is a paho Store that keeps nothing. The Queue holds what is
// unsent and Run publishes a batch again until it is acknowledged, so paho
// need not keep copies of its own. With its default store, paho resends
// them on every reconnection, from a goroutine that races the publishes
// made as the connection comes up (the "online" status, the next batch):
// a data race on the packet (paho.mqtt.golang issue #703) and a batch sent
// twice, its first token orphaned.
type discardStore struct{}

func (discardStore) Open()                             {}
func (discardStore) Put(string, packets.ControlPacket) {}
func (discardStore) Get(string) packets.ControlPacket  { return nil }
func (discardStore) All() []string                     { return nil }
func (discardStore) Del(string)                        {}
func (discardStore) Close()                            {}
func (discardStore) Reset()                            {}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
