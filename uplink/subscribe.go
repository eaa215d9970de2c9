package uplink

import (
	"bytes"
	"context"
	"errors"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// subscription is a topic the publisher subscribes to on every
// connection (the session is clean, so the broker forgets them).
type subscription struct {
	topic  string
	handle func(payload []byte)
}

// Subscribe asks for the messages on the vehicle's topic of kind (such
// as "policy": quietzone/v1/<pseudonym>/policy) at QoS 1, from the next
// connection on; a retained message arrives on every connection. handle
// gets a copy of each payload on paho's goroutine: it must not block.
// Call it before Run.
func (p *Publisher) Subscribe(kind string, handle func(payload []byte)) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	p.subs = append(p.subs, subscription{topic: Topic(p.cfg.Pseudonym, kind), handle: handle})
}

// subscribeAll subscribes to every topic asked for; it runs in the
// connect handler, so it does not wait for the broker's answer.
func (p *Publisher) subscribeAll(c mqtt.Client) {
	p.subMu.Lock()
	subs := p.subs
	p.subMu.Unlock()
	for _, s := range subs {
		tok := c.Subscribe(s.topic, 1, func(_ mqtt.Client, m mqtt.Message) {
			s.handle(bytes.Clone(m.Payload()))
		})
		go func() {
			if tok.WaitTimeout(p.cfg.PublishTimeout) && tok.Error() != nil {
				p.log.Warn("uplink subscription refused", "err", tok.Error())
			}
		}()
	}
}

// PublishRetained publishes payload, retained, on the vehicle's topic of
// kind at QoS 1, sealed if the publisher has the fleet's key, and waits
// for the PUBACK: for summaries whose latest
// says everything (the audit summary). It does not queue: if there is no
// connection it fails, and the caller sends a newer one later.
func (p *Publisher) PublishRetained(ctx context.Context, kind string, payload []byte) error {
	if !p.client.IsConnectionOpen() {
		return errors.New("publish " + kind + ": not connected")
	}
	topic := Topic(p.cfg.Pseudonym, kind)
	payload, err := p.sealFor(topic, payload)
	if err != nil {
		return err
	}
	tok := p.client.Publish(topic, 1, true, payload)
	t := time.NewTimer(p.cfg.PublishTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-t.C:
		return errors.New("publish " + kind + ": no PUBACK in time")
	case <-ctx.Done():
		return ctx.Err()
	}
}
