package uplink

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// MQTTConfig says where and how to publish.
type MQTTConfig struct {
	// Broker is a URL: ssl://host:8883 (TLS), or tcp://127.0.0.1:1883
	// (plain, with InsecurePlaintext, to a loopback address only).
	Broker string
	// InsecurePlaintext allows a plain TCP broker (tcp://, mqtt://). It
	// must be asked for, and is refused anyway unless the broker's host
	// is a literal loopback address: see CheckBroker.
	InsecurePlaintext bool
	// ClientID defaults to "quietzone-" + the pseudonym.
	ClientID string
	// Pseudonym names the vehicle in topics; never the VIN.
	Pseudonym string
	// TLS, when set, is used for the connection (CA and client certificate).
	TLS *tls.Config
	// PublishTimeout bounds the wait for PUBACK before the batch is retried.
	PublishTimeout time.Duration
	// Seal, when set, is the fleet's public key: every payload but the
	// status words is sealed to it (seal.go). SetSealKey replaces it.
	Seal *SealKey
	// MaxBackoff caps the wait between failed connection attempts and
	// between failed publishes. Waits start at min(1 s, MaxBackoff)
	// (100 ms for a publish) and double, each drawn at random from its
	// upper half, so that a fleet does not come back in step when its
	// broker does.
	MaxBackoff time.Duration
	// After returns a channel that gets a time once d has passed: the
	// backoff's waits. Nil is time.After; the daemon passes its clock's,
	// so that a test bench on a manual clock backs off in its own time.
	// The timeouts of network operations stay on the wall.
	After func(d time.Duration) <-chan time.Time
	// Now is the clock the cadence's slots are read from (with After);
	// nil is time.Now.
	Now func() time.Time
}

// Status payloads. "online" and "offline" are retained on the status
// topic: the broker publishes "offline" as the last will when the vehicle
// vanishes, and the publisher itself on a clean shutdown. A StatusRecord,
// not retained, follows them when the queue has dropped anything.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// StatusRecord is the JSON the publisher sends on the status topic (QoS
// 1, not retained) when the queue's drop counters have changed, and after
// every connection while they are not zero. It holds counts and sequence
// numbers only: never a position, a time of day or a name. The counters
// are cumulative over the queue's life, so the latest record received
// says everything; sequence numbers up to dropped_through_seq that never
// arrived never will.
type StatusRecord struct {
	V int `json:"v"` // 1
	Drops
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
	Statuses  uint64 // status records acknowledged
	Dials     uint64 // connection attempts
	Padding   uint64 // padding payloads published in empty slots
}

// Publisher drains a Queue to an MQTT broker at QoS 1.
type Publisher struct {
	cfg    MQTTConfig
	q      Queue
	log    *slog.Logger
	client mqtt.Client

	// Connection attempts since the last success, for the backoff; stop
	// ends a backoff sleep when Run returns.
	attempt  atomic.Int64
	dialed   atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	// reported is the last drop count the broker acknowledged; a new
	// connection forgets it, so that the status goes again.
	reported       Drops
	reportedValid  atomic.Bool
	published      atomic.Uint64
	records, bytes atomic.Uint64
	failures       atomic.Uint64
	statuses       atomic.Uint64
	dials          atomic.Uint64

	subMu sync.Mutex
	subs  []subscription // subscribe.go

	// seal is the fleet's key every payload is sealed to; nil: none.
	seal atomic.Pointer[SealKey]

	// cadence, when set, is the constant cadence (SetCadence); nil
	// publishes each batch as soon as it is queued.
	cadence atomic.Pointer[cadence]
	padding atomic.Uint64
	// waitingFor is the tick the publisher waits for (Unix nanoseconds),
	// 0 while it publishes or keeps no cadence.
	waitingFor atomic.Int64
	// fixed counts the run's last ticks still to publish, a batch or
	// padding at every tick, once Drain asks for them (edgeTicks).
	fixed atomic.Int64
	// finals counts the runs of last ticks published (Drain waits for one more).
	finals atomic.Int64
}

// WaitingFor returns the cadence's tick the publisher is waiting for;
// zero while it is publishing, or without a cadence. Every tick before
// it has been handled: a test bench on a manual clock waits for it to
// pass the clock's time before it moves the clock on.
func (p *Publisher) WaitingFor() time.Time {
	if n := p.waitingFor.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Paced reports whether the publisher keeps a constant cadence.
func (p *Publisher) Paced() bool { return p.cadence.Load() != nil }

// EdgeTicks returns how many of a run's last ticks (Drain) are still to
// be published: a test bench moves its clock to them while a
// run ends.
func (p *Publisher) EdgeTicks() int { return int(p.fixed.Load()) }

// cadence is the schedule the publisher keeps.
type cadence struct {
	every, phase time.Duration
	size         int
}

// catchUp is how many publishes a slot may carry while a backlog is
// queued (after a time offline): one at the slot's tick, the others at
// fixed fractions of the slot between ticks. Content never decides it:
// only how many batches wait, which follows how long the vehicle was
// offline while running.
const catchUp = 4

// edgeTicks is how many ticks in a row a run ends with (Drain), each
// carrying a batch or padding: the records queued at its end (a trip
// end, a release just before it) leave in them, so that how many
// publishes end a run does not say how many there were. More than that
// stay queued for the next run, which sends them at catchUp a slot from
// its start: that, like a time offline, still shows.
const edgeTicks = catchUp

// SetCadence makes the publisher keep a constant cadence (CadenceRule):
// at every slot's tick — the vehicle's phase (SlotPhase) plus half a
// slot, so that the Uplink's batch of the slot is queued by then — it
// publishes the oldest queued batch, or, if none, a padding payload of
// the cadence's size: exactly one telemetry publish per slot, of one
// size, whatever the vehicle holds. A backlog goes at catchUp publishes
// per slot, on the same fixed grid. Status records go at ticks too.
func (p *Publisher) SetCadence(r CadenceRule) {
	p.cadence.Store(&cadence{every: r.Slot(), phase: SlotPhase(p.cfg.Pseudonym, r.Slot()), size: r.Size()})
}

// SetSealKey replaces the fleet's sealing key (a bundle rotated it): the
// next payload published, a batch queued before included, is sealed to
// it. Nil stops sealing.
func (p *Publisher) SetSealKey(k *SealKey) { p.seal.Store(k) }

// SealKey returns the key payloads are sealed to, nil for none.
func (p *Publisher) SealKey() *SealKey { return p.seal.Load() }

// sealFor seals a payload for its topic if the publisher has a key.
func (p *Publisher) sealFor(topic string, payload []byte) ([]byte, error) {
	k := p.seal.Load()
	if k == nil {
		return payload, nil
	}
	return k.Seal(topic, payload)
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
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	plain, err := CheckBroker(cfg.Broker, cfg.InsecurePlaintext)
	if err != nil {
		return nil, fmt.Errorf("new publisher: %w", err)
	}
	if plain && cfg.TLS != nil {
		return nil, fmt.Errorf("new publisher: broker %s is plain TCP, and a TLS configuration is set that it would not use", cfg.Broker)
	}
	p := &Publisher{cfg: cfg, q: q, log: log, stop: make(chan struct{})}
	p.seal.Store(cfg.Seal)
	status := Topic(cfg.Pseudonym, "status")
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetProtocolVersion(4). // MQTT 3.1.1
		SetCleanSession(true). // the durable queue, not the broker session, holds what is unsent
		SetAutoReconnect(true).
		SetConnectRetry(true).
		// paho's own waits between attempts are short and fixed; dial
		// adds the exponential backoff with jitter.
		SetConnectRetryInterval(pahoRetryInterval).
		SetMaxReconnectInterval(pahoRetryInterval).
		SetCustomOpenConnectionFn(p.dial).
		SetConnectTimeout(10*time.Second).
		SetKeepAlive(30*time.Second).
		SetOrderMatters(true).
		SetStore(discardStore{}). // the Queue holds what is unsent; see discardStore
		SetWill(status, StatusOffline, 1, true).
		SetOnConnectHandler(func(c mqtt.Client) {
			log.Info("uplink connected")
			p.attempt.Store(0)
			p.reportedValid.Store(false)
			c.Publish(status, 1, true, StatusOnline)
			p.subscribeAll(c)
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

// ErrPlaintext: a broker without TLS that is not explicitly allowed.
var ErrPlaintext = errors.New("plain TCP only when insecure plaintext is asked for, and only to a loopback address")

// BrokerPlain parses a broker URL and reports whether it is plain TCP
// (tcp://, mqtt://) rather than TLS (ssl://, tls://, mqtts://, tcps://),
// and its host.
func BrokerPlain(broker string) (plain bool, host string, err error) {
	u, err := url.Parse(broker)
	if err != nil {
		return false, "", fmt.Errorf("broker: %w", err)
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "tcps":
	case "tcp", "mqtt":
		plain = true
	default:
		return false, "", fmt.Errorf("broker %q: want ssl://HOST:PORT", broker)
	}
	if u.Hostname() == "" {
		return false, "", fmt.Errorf("broker %q: no host", broker)
	}
	return plain, u.Hostname(), nil
}

// LoopbackLiteral reports whether host is a literal loopback address
// (127.0.0.0/8, ::1). Names are not: what they resolve to can change
// under the vehicle, and localhost is only a convention of its resolver.
func LoopbackLiteral(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckBroker checks a broker URL: TLS, or plain TCP only when
// insecurePlaintext asks for it and only to a literal loopback address (a
// broker or a TLS-terminating proxy on the vehicle itself). TLS with
// insecurePlaintext set is refused too: the setting would mean nothing.
// It reports whether the broker is plain.
func CheckBroker(broker string, insecurePlaintext bool) (plain bool, err error) {
	plain, host, err := BrokerPlain(broker)
	switch {
	case err != nil:
		return false, err
	case !plain && insecurePlaintext:
		return false, fmt.Errorf("broker %s uses TLS: insecure plaintext is for a tcp:// broker only", broker)
	case plain && (!insecurePlaintext || !LoopbackLiteral(host)):
		return true, fmt.Errorf("broker %s: %w", broker, ErrPlaintext)
	}
	return plain, nil
}

// pahoRetryInterval is paho's fixed wait between connection attempts, on
// top of the backoff dial draws.
const pahoRetryInterval = 250 * time.Millisecond

// The first waits of the backoff (or MaxBackoff if smaller): before a
// connection attempt, and before a failed publish is retried.
const (
	dialBackoffBase    = time.Second
	publishBackoffBase = 100 * time.Millisecond
)

// backoff returns the wait before attempt n (0 for the first after a
// success): base·2ⁿ capped at max, drawn from its upper half. The one
// backoff of the uplink: connections and publishes.
func backoff(n int64, base, max time.Duration) time.Duration {
	d := min(base, max)
	for i := int64(0); i < n && d < max; i++ {
		d = min(2*d, max)
	}
	return jitter(d)
}

// wait waits d on the publisher's clock; false when stop or ctx ended it.
func (p *Publisher) wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-p.cfg.After(d):
		return true
	case <-p.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// dial opens the network connection for paho, after the backoff. The
// first attempt of Run does not wait.
func (p *Publisher) dial(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	n := p.attempt.Add(1) - 1
	if p.dialed.Swap(true) && !p.wait(context.Background(), backoff(n, dialBackoffBase, p.cfg.MaxBackoff)) {
		return nil, errors.New("publisher stopping")
	}
	p.dials.Add(1)
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	switch u.Scheme {
	case "tcp", "mqtt":
		// NewPublisher checked; checked again here, where the bytes go,
		// whatever paho made of the URL.
		if !p.cfg.InsecurePlaintext || !LoopbackLiteral(u.Hostname()) {
			return nil, fmt.Errorf("dial %s: %w", u.Redacted(), ErrPlaintext)
		}
		return d.Dial("tcp", u.Host)
	default: // ssl, tls, mqtts, tcps: NewPublisher checked
		cfg := o.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = u.Hostname()
		}
		return tls.DialWithDialer(d, "tcp", u.Host, cfg)
	}
}

// Run connects and publishes queued batches in order until ctx is done,
// each on its kind's topic. A batch is acknowledged in the queue only
// after the broker's PUBACK; one that fails is retried, after a backoff
// with jitter. Before a batch, a status record goes out if the queue's
// drop counters changed. On the way out, Run says "offline" (retained)
// if it can, then disconnects.
func (p *Publisher) Run(ctx context.Context) error {
	p.client.Connect() // retries in the background until it succeeds
	defer func() {
		p.stopOnce.Do(func() { close(p.stop) })
		if p.client.IsConnectionOpen() {
			tok := p.client.Publish(Topic(p.cfg.Pseudonym, "status"), 1, true, StatusOffline)
			if !tok.WaitTimeout(2*time.Second) || tok.Error() != nil {
				p.log.Warn("uplink could not say offline; the broker's will will", "err", tok.Error())
			}
		}
		p.client.Disconnect(250)
	}()
	var failed int64 // publishes failed in a row
	var tick time.Time
	for {
		if c := p.cadence.Load(); c != nil {
			var ok bool
			if tick, ok = p.slotTick(ctx, c, tick); !ok {
				return nil
			}
			if err := p.publishTick(ctx, c, tick); err != nil {
				return err
			}
			continue
		}
		b, err := p.q.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("publish: %w", err)
		}
		err = p.reportDrops(ctx)
		if err == nil {
			err = p.publish(ctx, Topic(p.cfg.Pseudonym, b.Kind.String()), b.Payload)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.failures.Add(1)
			p.log.Warn("uplink publish failed; will retry", "batch", b.ID, "err", err)
			if !p.wait(ctx, backoff(failed, publishBackoffBase, p.cfg.MaxBackoff)) {
				return nil
			}
			failed++
			continue
		}
		failed = 0
		if err := p.q.Ack(b.ID); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		p.published.Add(1)
		p.records.Add(uint64(b.Records))
		p.bytes.Add(uint64(len(b.Payload)))
	}
}

// slotTick waits for the cadence's next tick after last (the grid of
// every/catchUp from the phase plus half a slot) and returns it; false
// when ctx or stop ended the wait.
func (p *Publisher) slotTick(ctx context.Context, c *cadence, last time.Time) (time.Time, bool) {
	sub := c.every / catchUp
	base := time.Unix(0, 0).Add(c.phase + c.every/2)
	now := p.cfg.Now()
	if last.IsZero() || !last.Before(now.Add(c.every)) { // the first, or a clock stepped back
		last = now
	}
	k := now.Sub(base) / sub
	tick := base.Add(k * sub)
	for !tick.After(last) || tick.Before(now) {
		tick = tick.Add(sub)
	}
	// The wait is measured from a fresh reading of the clock, and the
	// clock read again once the wait is set: a clock moved meanwhile (a
	// test bench's, between steps) is not waited for past the tick.
	p.waitingFor.Store(tick.UnixNano())
	defer p.waitingFor.Store(0)
	d := tick.Sub(p.cfg.Now())
	if d <= 0 {
		return tick, true
	}
	after := p.cfg.After(d)
	if !p.cfg.Now().Before(tick) {
		return tick, true
	}
	select {
	case <-after:
		return tick, true
	case <-p.stop:
	case <-ctx.Done():
	}
	return tick, false
}

// publishTick publishes at one tick of the cadence: at a slot's tick the
// oldest batch or padding, at the ticks between only a batch of a backlog
// (more than one waiting). Status records go first, when due. A failure
// (not connected, no PUBACK) waits for the next tick.
func (p *Publisher) publishTick(ctx context.Context, c *cadence, tick time.Time) error {
	sub := c.every / catchUp
	slotTick := tick.Sub(time.Unix(0, 0).Add(c.phase+c.every/2))%c.every < sub
	if p.fixed.Load() > 0 && p.client.IsConnectionOpen() {
		// A run's last ticks (Drain): each carries one. Offline, they
		// wait for the connection (Drain's deadline bounds the wait).
		slotTick = true
		if p.fixed.Add(-1) == 0 {
			defer p.finals.Add(1) // counted once this tick is published (or failed)
		}
	}
	n := p.q.Len()
	if !slotTick && n < 2 {
		return nil
	}
	if err := p.reportDrops(ctx); err != nil {
		p.failures.Add(1)
		return nil
	}
	topic := Topic(p.cfg.Pseudonym, KindTelemetry.String())
	if n == 0 {
		if err := p.publish(ctx, topic, PaddingPayload(c.size)); err != nil {
			p.failures.Add(1)
			return nil
		}
		p.padding.Add(1)
		return nil
	}
	b, err := p.q.Next(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("publish: %w", err)
	}
	if err := p.publish(ctx, Topic(p.cfg.Pseudonym, b.Kind.String()), b.Payload); err != nil {
		if ctx.Err() == nil {
			p.failures.Add(1)
			p.log.Warn("uplink publish failed; will retry at the next slot", "batch", b.ID, "err", err)
		}
		return nil
	}
	if err := p.q.Ack(b.ID); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	p.published.Add(1)
	p.records.Add(uint64(b.Records))
	p.bytes.Add(uint64(len(b.Payload)))
	return nil
}

// reportDrops publishes a status record when the drop counters differ
// from what the broker last acknowledged.
func (p *Publisher) reportDrops(ctx context.Context) error {
	d := p.q.Drops()
	if d == (Drops{}) || (p.reportedValid.Load() && d == p.reported) {
		return nil
	}
	payload, err := json.Marshal(StatusRecord{V: 1, Drops: d})
	if err != nil {
		return fmt.Errorf("status record: %w", err)
	}
	if err := p.publish(ctx, Topic(p.cfg.Pseudonym, "status"), payload); err != nil {
		return fmt.Errorf("status record: %w", err)
	}
	p.reported = d
	p.reportedValid.Store(true)
	p.statuses.Add(1)
	return nil
}

// publish seals a payload (if the publisher has the fleet's key) and
// publishes it at QoS 1, waiting for the PUBACK. Sealed anew on every
// attempt: a rotated key applies to what is still unsent.
func (p *Publisher) publish(ctx context.Context, topic string, payload []byte) error {
	if !p.client.IsConnectionOpen() {
		return errors.New("not connected")
	}
	payload, err := p.sealFor(topic, payload)
	if err != nil {
		return err
	}
	tok := p.client.Publish(topic, 1, false, payload)
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
//
// With a cadence it publishes the run's last edgeTicks ticks, a batch or
// padding each, and returns: what is still queued then stays for the
// next run (an error says how much), so that how many publishes end a
// run does not say how much was queued.
func (p *Publisher) Drain(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	if p.cadence.Load() != nil {
		done := p.finals.Load()
		p.fixed.Store(edgeTicks)
		for p.finals.Load() == done {
			select {
			case <-t.C:
			case <-ctx.Done():
				return fmt.Errorf("drain uplink: %d batches unsent: %w", p.q.Len(), ctx.Err())
			}
		}
		if n := p.q.Len(); n > 0 {
			return fmt.Errorf("drain uplink: %d batches stay queued for the next run", n)
		}
		return nil
	}
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
		Statuses:  p.statuses.Load(),
		Dials:     p.dials.Load(),
		Padding:   p.padding.Load(),
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
