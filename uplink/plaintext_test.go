package uplink

import (
	"crypto/tls"
	"errors"
	"net/url"
	"strings"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestPlaintextBroker: a broker without TLS is refused unless asked for
// explicitly, and then only to a literal loopback address; TLS settings
// with a plain broker (they would not be used) are refused too.
func TestPlaintextBroker(t *testing.T) {
	for _, tc := range []struct {
		broker   string
		insecure bool
		tls      bool
		want     string // "" for accepted
	}{
		{"ssl://telemetry.example:8883", false, true, ""},
		{"mqtts://telemetry.example:8883", false, false, ""},
		{"tcp://127.0.0.1:1883", true, false, ""},
		{"tcp://127.9.8.7:1883", true, false, ""},
		{"mqtt://[::1]:1883", true, false, ""},
		{"tcp://127.0.0.1:1883", false, false, "plain TCP only when"},
		{"tcp://127.0.0.1:1883", false, true, "plain TCP only when"},
		{"tcp://127.0.0.1:1883", true, true, "a TLS configuration is set that it would not use"},
		{"tcp://telemetry.example:1883", true, false, "only to a loopback address"},
		{"tcp://10.1.2.3:1883", true, false, "only to a loopback address"},
		{"tcp://localhost:1883", true, false, "only to a loopback address"},
		{"tcp://0.0.0.0:1883", true, false, "only to a loopback address"},
		{"tcp://:1883", true, false, "no host"},
		{"ssl://telemetry.example:8883", true, true, "insecure plaintext is for a tcp:// broker only"},
		{"ws://127.0.0.1:1883", true, false, "want ssl://"},
	} {
		cfg := MQTTConfig{Broker: tc.broker, Pseudonym: "x", InsecurePlaintext: tc.insecure}
		if tc.tls {
			cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		_, err := NewPublisher(cfg, NewMemQueue(), nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s (insecure %v, tls %v): %v", tc.broker, tc.insecure, tc.tls, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s (insecure %v, tls %v): error %v, want %q", tc.broker, tc.insecure, tc.tls, err, tc.want)
		}
	}
}

// The dial checks again, whatever URL paho hands it: a plain connection
// that was not allowed is never opened.
func TestDialRefusesPlaintext(t *testing.T) {
	for _, tc := range []struct {
		broker   string
		insecure bool
	}{
		{"tcp://127.0.0.1:1", false},
		{"tcp://192.0.2.1:1883", true},
		{"mqtt://localhost:1883", true},
	} {
		p := &Publisher{cfg: MQTTConfig{Broker: tc.broker, InsecurePlaintext: tc.insecure}, stop: make(chan struct{})}
		u, err := url.Parse(tc.broker)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := p.dial(u, *mqtt.NewClientOptions())
		if conn != nil {
			conn.Close()
		}
		if !errors.Is(err, ErrPlaintext) || p.Stats().Dials != 1 {
			t.Errorf("%s (insecure %v): dial %v, want ErrPlaintext", tc.broker, tc.insecure, err)
		}
	}
}
