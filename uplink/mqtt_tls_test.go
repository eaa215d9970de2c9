package uplink_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/can/cantest"
	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

// The publisher delivers over TLS with a client certificate, to a broker
// that requires one (uplinktest.WithTLS).
func TestPublisherTLS(t *testing.T) {
	noLeaks(t)
	pki := uplinktest.NewPKI(t, testPseudonym)
	m := uplinktest.StartMosquitto(t, uplinktest.WithPKI(pki))
	sub := subscribe(t, m.URL(), telemetryTopic, pki.ClientTLS())

	q := uplink.NewMemQueue()
	batches := makeBatches(t, 1, 5)
	for _, b := range batches {
		q.Put(b)
	}
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.TLS = pki.ClientTLS()
	pub := startPublisher(t, cfg, q)
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain over TLS: %v", err)
	}
	cantest.WaitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(sub.messages(), batches) == len(batches)
	})
	checkDelivered(t, telemetryTopic, sub.messages(), batches)

	// The broker refuses a client without a certificate or with one
	// another CA signed, and a client refuses a broker its CA did not sign.
	for name, cfg := range map[string]*tls.Config{
		"no client certificate":            {RootCAs: pki.Roots, MinVersion: tls.VersionTLS12},
		"client certificate of another CA": {RootCAs: pki.Roots, Certificates: []tls.Certificate{pki.Wrong}, MinVersion: tls.VersionTLS12},
		"unknown broker CA":                {RootCAs: pki.OtherRoots, Certificates: []tls.Certificate{pki.Client}, MinVersion: tls.VersionTLS12},
	} {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("quietzone-test-" + name).
			SetProtocolVersion(4).SetTLSConfig(cfg).SetConnectTimeout(10 * time.Second))
		tok := c.Connect()
		if !tok.WaitTimeout(connectWait) {
			t.Fatalf("%s: connect neither failed nor succeeded in %v", name, connectWait)
		}
		if tok.Error() == nil {
			c.Disconnect(250)
			t.Errorf("%s: connected", name)
			continue
		}
		t.Logf("%s: %v", name, tok.Error())
	}
}

// A publisher with a client certificate the fleet CA did not sign never
// gets a connection: it keeps trying, with backoff, and its queue keeps
// everything.
func TestPublisherWrongClientCertificate(t *testing.T) {
	noLeaks(t)
	pki := uplinktest.NewPKI(t, testPseudonym)
	m := uplinktest.StartMosquitto(t, uplinktest.WithPKI(pki))
	sub := subscribe(t, m.URL(), "quietzone/#", pki.ClientTLS())
	q := uplink.NewMemQueue()
	for _, b := range makeBatches(t, 1, 3) {
		q.Put(b)
	}
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.TLS = &tls.Config{RootCAs: pki.Roots, Certificates: []tls.Certificate{pki.Wrong}, MinVersion: tls.VersionTLS12}
	pub := startPublisher(t, cfg, q)
	cantest.WaitFor(t, connectWait, "three connection attempts", func() bool { return pub.Stats().Dials >= 3 })
	pub.stop()
	if st := pub.Stats(); st.Published != 0 || q.Len() != 3 {
		t.Errorf("with a certificate of another CA: %+v, queue %d", st, q.Len())
	}
	if n := len(sub.messages()); n != 0 {
		t.Errorf("%d messages reached the broker", n)
	}
}
