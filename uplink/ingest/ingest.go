// Package ingest is the receiving end of the uplink: it subscribes to
// every vehicle's telemetry, alarm, status and audit topics, opens sealed
// payloads with the fleet's private keys, decodes every payload format
// version, and stores what it decoded (uplink/store), acknowledging each
// message to the broker only once the transaction holding it committed.
//
// Delivery: MQTT 3.1.1 at QoS 1 with a persistent session (clean session
// off, a fixed client ID) and manual acknowledgement (paho's
// SetAutoAckDisabled). A message not yet acknowledged when the ingest
// dies stays in its session on the broker and comes again when the
// ingest reconnects under the same client ID; what was stored but not
// acknowledged comes again too, and is a repeat by sequence number,
// counted and not stored twice. So a killed ingest loses nothing, as long
// as the broker keeps its sessions (Mosquitto: persistence, and
// max_queued_messages large enough for the outage).
//
// Telemetry and alarms are read through shared subscriptions
// ($share/GROUP/quietzone/v1/+/telemetry, …, in Mosquitto 2 and EMQX):
// several ingest processes under one group split a fleet's traffic. The
// status and audit topics, whose latest message is retained and which a
// shared subscription never gets, are read by every ingest process on
// a plain subscription: storing them twice changes nothing.
//
// Bad input — a payload that does not open or decode, a foreign topic, a
// record on the wrong topic, an oversized message — is counted by reason
// (Stats, and the store's rejects), stored nowhere, and acknowledged:
// sending it again would not make it better. Nothing of it is logged but
// its reason: no pseudonym, no position.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/uplink"
	"quietzone/uplink/store"
)

// Store is what the ingest needs of the database.
type Store interface {
	WriteBatch(ctx context.Context, w *store.Write) (store.Result, error)
}

// Config configures an ingest.
type Config struct {
	// Broker is the broker's URL: ssl://… (TLS), or tcp://127.0.0.1:…
	// with InsecurePlaintext (uplink.CheckBroker).
	Broker            string
	InsecurePlaintext bool
	TLS               *tls.Config
	// ClientID names this ingest process to the broker: its session,
	// and its counters in the store. It must stay the same across
	// restarts, and differ between processes.
	ClientID string
	// Group is the shared subscription's group; "" subscribes without
	// sharing (one ingest only).
	Group string
	// Opener opens sealed payloads; nil: sealed payloads are refused.
	Opener *uplink.Opener
	// RequireSealed refuses payloads that are not sealed (but the status
	// words, which the broker sees anyway).
	RequireSealed bool
	// MaxPayload bounds a message; default 1 MiB.
	MaxPayload int
	// FlushRecords and FlushEvery bound a transaction: it commits when it
	// holds FlushRecords records or its first message waited FlushEvery.
	// Defaults 20,000 and 100 ms.
	FlushRecords int
	FlushEvery   time.Duration
	// Queue is how many messages may wait for their transaction; the
	// broker's in-flight window should be below it. Default 65,536.
	Queue  int
	Logger *slog.Logger
}

// Reasons a message is refused.
const (
	RejectForeignTopic = "foreign topic"
	RejectOversized    = "oversized"
	RejectUnsealed     = "unsealed"
	RejectSealUnknown  = "sealed to an unknown key"
	RejectSealOpen     = "does not open"
	RejectUndecodable  = "undecodable"
	RejectWrongTopic   = "record on the wrong topic"
)

// Stats count what the ingest did.
type Stats struct {
	Messages uint64 // received
	Batches  uint64 // telemetry and alarm batches stored (or all repeats)
	Records  uint64 // records stored
	Repeats  uint64 // records already stored
	Statuses uint64
	Audits   uint64
	Sealed   uint64 // payloads that were sealed
	Flushes  uint64 // transactions committed
	Failures uint64 // transactions that failed (retried)
	Breaks   uint64 // audit chains that broke
	Rejects  map[string]uint64
}

// Ingest receives and stores.
type Ingest struct {
	cfg    Config
	st     Store
	log    *slog.Logger
	in     chan mqtt.Message
	client mqtt.Client
	dec    *uplink.BatchDecoder

	messages, batches, records, repeats, statuses, audits, sealed, flushes, failures, breaks atomic.Uint64
	rejMu                                                                                    sync.Mutex
	rejects                                                                                  map[string]uint64
}

// New checks the configuration; Run connects.
func New(cfg Config, st Store) (*Ingest, error) {
	if cfg.Broker == "" || cfg.ClientID == "" {
		return nil, errors.New("new ingest: a broker and a client ID are required")
	}
	plain, err := uplink.CheckBroker(cfg.Broker, cfg.InsecurePlaintext)
	if err != nil {
		return nil, fmt.Errorf("new ingest: %w", err)
	}
	if plain && cfg.TLS != nil {
		return nil, fmt.Errorf("new ingest: broker %s is plain TCP, and a TLS configuration is set", cfg.Broker)
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 1 << 20
	}
	if cfg.FlushRecords <= 0 {
		cfg.FlushRecords = 20000
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 100 * time.Millisecond
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1 << 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dec, err := uplink.NewBatchDecoder(0)
	if err != nil {
		return nil, fmt.Errorf("new ingest: %w", err)
	}
	in := &Ingest{cfg: cfg, st: st, log: cfg.Logger, in: make(chan mqtt.Message, cfg.Queue), dec: dec, rejects: map[string]uint64{}}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetProtocolVersion(4).
		SetCleanSession(false). // the broker keeps what is not acknowledged
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetResumeSubs(false).
		SetDefaultPublishHandler(in.receive). // messages of the session, before the subscriptions are made again
		SetOnConnectHandler(in.subscribe).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			in.log.Warn("ingest lost the broker", "err", err)
		})
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	in.client = mqtt.NewClient(opts)
	return in, nil
}

// Filters returns the topic filters the ingest subscribes to.
func (in *Ingest) Filters() []string {
	var out []string
	for _, kind := range []string{uplink.KindNameTelemetry, uplink.KindNameAlarm} {
		f := uplink.TopicPrefix + "+/" + kind
		if in.cfg.Group != "" {
			f = "$share/" + in.cfg.Group + "/" + f
		}
		out = append(out, f)
	}
	for _, kind := range []string{uplink.KindNameStatus, uplink.KindNameAudit} {
		out = append(out, uplink.TopicPrefix+"+/"+kind)
	}
	return out
}

func (in *Ingest) subscribe(c mqtt.Client) {
	in.log.Info("ingest connected")
	filters := map[string]byte{}
	for _, f := range in.Filters() {
		filters[f] = 1
	}
	tok := c.SubscribeMultiple(filters, in.receive)
	go func() {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			in.log.Error("ingest subscription refused", "err", tok.Error())
		}
	}()
}

// receive hands a message to Run. It blocks when the queue is full:
// paho then stops reading, and TCP holds the broker back.
func (in *Ingest) receive(_ mqtt.Client, m mqtt.Message) {
	in.messages.Add(1)
	in.in <- m
}

// Run connects, and stores what comes until ctx is done. A transaction
// that fails is tried again, its messages not acknowledged meanwhile.
func (in *Ingest) Run(ctx context.Context) error {
	tok := in.client.Connect()
	go func() {
		<-tok.Done()
		if tok.Error() != nil {
			in.log.Error("ingest connect", "err", tok.Error())
		}
	}()
	defer in.client.Disconnect(250)
	dctx, stopDecoding := context.WithCancel(ctx)
	defer stopDecoding()
	dec := make(chan decoded, 4096)
	go in.decodeLoop(dctx, dec)
	p := newPending()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			// What is pending is not acknowledged: it comes again.
			return nil
		case d := <-dec:
			if p.empty() {
				timer.Reset(in.cfg.FlushEvery)
			}
			in.take(p, d)
			for p.records < in.cfg.FlushRecords {
				select {
				case d := <-dec:
					in.take(p, d)
					continue
				default:
				}
				break
			}
			if p.records < in.cfg.FlushRecords {
				continue
			}
		case <-timer.C:
		}
		timer.Stop()
		if p.empty() {
			continue
		}
		if err := in.flush(ctx, p); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p = newPending()
	}
}

// pending is what the next transaction stores, and the messages it
// acknowledges.
type pending struct {
	w       store.Write
	msgs    []mqtt.Message
	records int
}

func newPending() *pending { return &pending{w: store.Write{Rejects: map[string]uint64{}}} }

func (p *pending) empty() bool { return len(p.msgs) == 0 }

func (in *Ingest) reject(p *pending, reason string) {
	p.w.Rejects[reason]++
	in.rejMu.Lock()
	in.rejects[reason]++
	in.rejMu.Unlock()
}

// decoded is a message decoded: what it holds, or why it is refused.
type decoded struct {
	m      mqtt.Message
	reject string
	batch  *store.Batch
	status *store.Status
	audit  *store.Audit
}

// decode opens and decodes a message. It runs on its own goroutine
// (decodeLoop), beside the transaction being stored.
func (in *Ingest) decode(m mqtt.Message) decoded {
	vehicle, kind, ok := uplink.SplitTopic(m.Topic())
	if !ok || kind == uplink.KindNamePolicy {
		return decoded{m: m, reject: RejectForeignTopic}
	}
	payload := m.Payload()
	if len(payload) > in.cfg.MaxPayload {
		return decoded{m: m, reject: RejectOversized}
	}
	if kind == uplink.KindNameStatus && (string(payload) == uplink.StatusOnline || string(payload) == uplink.StatusOffline) {
		in.statuses.Add(1)
		return decoded{m: m, status: &store.Status{Vehicle: vehicle, Word: string(payload)}}
	}
	plain, sealed, err := in.cfg.Opener.Open(m.Topic(), payload)
	switch {
	case errors.Is(err, uplink.ErrSealUnknownKey):
		return decoded{m: m, reject: RejectSealUnknown}
	case err != nil:
		return decoded{m: m, reject: RejectSealOpen}
	case !sealed && in.cfg.RequireSealed:
		return decoded{m: m, reject: RejectUnsealed}
	}
	if sealed {
		in.sealed.Add(1)
	}
	switch kind {
	case uplink.KindNameTelemetry, uplink.KindNameAlarm:
		recs, err := in.dec.Decode(plain, nil)
		if err != nil {
			return decoded{m: m, reject: RejectUndecodable}
		}
		alarm := kind == uplink.KindNameAlarm
		for i := range recs {
			if (recs[i].Alarm != "") != alarm {
				return decoded{m: m, reject: RejectWrongTopic}
			}
		}
		return decoded{m: m, batch: &store.Batch{Vehicle: vehicle, Alarm: alarm, Records: recs}}
	case uplink.KindNameStatus:
		s, err := uplink.ParseStatusRecord(plain)
		if err != nil {
			return decoded{m: m, reject: RejectUndecodable}
		}
		in.statuses.Add(1)
		return decoded{m: m, status: &store.Status{Vehicle: vehicle, Drops: &s}}
	case uplink.KindNameAudit:
		s, err := uplink.ParseAuditSummary(plain)
		if err != nil {
			return decoded{m: m, reject: RejectUndecodable}
		}
		in.audits.Add(1)
		return decoded{m: m, audit: &store.Audit{Vehicle: vehicle, Summary: s}}
	}
	return decoded{m: m, reject: RejectForeignTopic}
}

// take adds a decoded message to the pending transaction.
func (in *Ingest) take(p *pending, d decoded) {
	p.msgs = append(p.msgs, d.m)
	switch {
	case d.reject != "":
		in.reject(p, d.reject)
	case d.batch != nil:
		p.w.Batches = append(p.w.Batches, *d.batch)
		p.records += len(d.batch.Records)
	case d.status != nil:
		p.w.Statuses = append(p.w.Statuses, *d.status)
	case d.audit != nil:
		p.w.Audits = append(p.w.Audits, *d.audit)
	}
}

// decodeLoop decodes what arrives, in order, until ctx is done.
func (in *Ingest) decodeLoop(ctx context.Context, out chan<- decoded) {
	defer in.dec.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-in.in:
			select {
			case out <- in.decode(m):
			case <-ctx.Done():
				return
			}
		}
	}
}

// flush stores the pending transaction, retrying with a backoff until it
// commits or ctx is done, then acknowledges its messages.
func (in *Ingest) flush(ctx context.Context, p *pending) error {
	backoff := 100 * time.Millisecond
	for {
		p.w.Received = time.Now()
		p.w.Ingest = in.cfg.ClientID
		res, err := in.st.WriteBatch(ctx, &p.w)
		if err == nil {
			in.flushes.Add(1)
			in.batches.Add(uint64(len(p.w.Batches)))
			in.records.Add(uint64(res.Records))
			in.repeats.Add(uint64(res.Repeats))
			in.breaks.Add(uint64(len(res.Breaks)))
			if len(res.Breaks) > 0 {
				in.log.Warn("audit chains broke", "vehicles", len(res.Breaks)) // how many, never which, at warn
			}
			for _, m := range p.msgs {
				m.Ack()
			}
			return nil
		}
		in.failures.Add(1)
		in.log.Error("ingest could not store; will retry", "messages", len(p.msgs), "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// Stats returns the counters.
func (in *Ingest) Stats() Stats {
	in.rejMu.Lock()
	rej := maps.Clone(in.rejects)
	in.rejMu.Unlock()
	return Stats{
		Messages: in.messages.Load(), Batches: in.batches.Load(), Records: in.records.Load(), Repeats: in.repeats.Load(),
		Statuses: in.statuses.Load(), Audits: in.audits.Load(), Sealed: in.sealed.Load(), Flushes: in.flushes.Load(),
		Failures: in.failures.Load(), Breaks: in.breaks.Load(), Rejects: rej,
	}
}
