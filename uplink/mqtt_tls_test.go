package uplink_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

// testPKI is a CA, a broker certificate for 127.0.0.1 and a vehicle's
// client certificate, as PEM files in a temporary directory.
type testPKI struct {
	caFile, serverCert, serverKey string
	roots                         *x509.CertPool
	client                        tls.Certificate
	otherRoots                    *x509.CertPool // a CA that signed nothing here
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	sign := func(tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey) {
		k := newKey()
		return sign(&x509.Certificate{
			Subject:               pkix.Name{CommonName: name},
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}, nil, &k.PublicKey, k), k
	}

	ca, caKey := newCA("quietzone test fleet CA")
	serverKey := newKey()
	server := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "quietzone test broker"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &serverKey.PublicKey, caKey)
	clientKey := newKey()
	client := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: testPseudonym},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, &clientKey.PublicKey, caKey)
	other, _ := newCA("some other CA")

	p := &testPKI{
		caFile:     write("ca.pem", "CERTIFICATE", ca.Raw),
		serverCert: write("broker.pem", "CERTIFICATE", server.Raw),
		serverKey:  write("broker.key", "PRIVATE KEY", keyDER(serverKey)),
		roots:      x509.NewCertPool(),
		client:     tls.Certificate{Certificate: [][]byte{client.Raw}, PrivateKey: clientKey, Leaf: client},
		otherRoots: x509.NewCertPool(),
	}
	p.roots.AddCert(ca)
	p.otherRoots.AddCert(other)
	return p
}

func (p *testPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.client}, MinVersion: tls.VersionTLS12}
}

// The publisher delivers over TLS with a client certificate, to a broker
// that requires one (uplinktest.WithTLS).
func TestPublisherTLS(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	m := uplinktest.StartMosquitto(t, uplinktest.WithTLS(pki.caFile, pki.serverCert, pki.serverKey, true))
	sub := subscribe(t, m.URL(), telemetryTopic, pki.clientTLS())

	q := uplink.NewMemQueue()
	batches := makeBatches(t, 1, 5)
	for _, b := range batches {
		q.Put(b)
	}
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.TLS = pki.clientTLS()
	pub := startPublisher(t, cfg, q)
	ctx, cancel := context.WithTimeout(context.Background(), deliverWait)
	defer cancel()
	if err := pub.Drain(ctx); err != nil {
		t.Fatalf("Drain over TLS: %v", err)
	}
	waitFor(t, deliverWait, "every batch at the subscriber", func() bool {
		return deliveredOnce(sub.messages(), batches) == len(batches)
	})
	checkDelivered(t, telemetryTopic, sub.messages(), batches)

	// The broker refuses a client without a certificate, and a client
	// refuses a broker its CA did not sign.
	for name, cfg := range map[string]*tls.Config{
		"no client certificate": {RootCAs: pki.roots, MinVersion: tls.VersionTLS12},
		"unknown broker CA":     {RootCAs: pki.otherRoots, Certificates: []tls.Certificate{pki.client}, MinVersion: tls.VersionTLS12},
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
