package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"quietzone/gateway"
	"quietzone/gateway/gatewaytest"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/gateway/config"
	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

// The daemon's uplink, configured from files as a vehicle would be (CA,
// client certificate and key, state directory), delivers over mutual TLS
// to a broker that requires a certificate of the fleet's CA; with a
// certificate of another CA it never connects, and keeps everything
// queued on disk.
func TestUplinkMutualTLSFromConfig(t *testing.T) {
	pki := uplinktest.NewPKI(t, "quietzone vehicle")
	m := uplinktest.StartMosquitto(t, uplinktest.WithPKI(pki))
	for _, tc := range []struct {
		name      string
		cert, key string
		deliver   bool
	}{
		{"fleet certificate", pki.ClientCert, pki.ClientKey, true},
		{"certificate of another CA", pki.WrongCert, pki.WrongKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{"zones.geojson", "policy.yaml", "vehicle.identity"} {
				data, err := gatewaytest.ReadGood(name)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := fmt.Sprintf(`vehicle: {profile: builtin:quietzone, identity_file: vehicle.identity, interfaces: [vcan0]}
zones: {file: zones.geojson}
policy: policy.yaml
cameras: [{name: front, class: exterior}]
uplink:
  broker: %s
  ca_file: %s
  cert_file: %s
  key_file: %s
  state_dir: state
`, m.URL(), pki.CAFile, tc.cert, tc.key)
			path := filepath.Join(dir, "quietzone.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var got []uplink.Record
			sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("tls-test-sub-" + tc.name[:5]).
				SetTLSConfig(pki.ClientTLS()).SetProtocolVersion(4))
			if tok := sub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			defer sub.Disconnect(250)
			topic := uplink.Topic(s.Pseudonym, "telemetry")
			if tok := sub.Subscribe(topic, 1, func(_ mqtt.Client, msg mqtt.Message) {
				recs, _ := uplink.DecodeBatch(msg.Payload())
				mu.Lock()
				got = append(got, recs...)
				mu.Unlock()
			}); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}

			p, err := newUplinkStack(s, nil, gateway.SystemClock{}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer p.queue.Close()
			ctx, cancel := context.WithCancel(context.Background())
			runErr := make(chan error, 1)
			go func() { runErr <- p.Run(ctx) }()
			t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
			for i := 0; i < 120; i++ {
				p.Offer(uplink.Snapshot{Time: t0.Add(time.Duration(i) * time.Second),
					Samples: []uplink.Sample{{Role: "vehicle.speed", Value: 50, Class: uplink.ClassVehicle}}})
			}
			if err := p.Flush(t0.Add(2 * time.Minute)); err != nil {
				t.Fatal(err)
			}
			wait := 60 * time.Second
			if !tc.deliver {
				wait = 3 * time.Second
			}
			dctx, dcancel := context.WithTimeout(context.Background(), wait)
			derr := p.Drain(dctx)
			dcancel()
			cancel()
			if err := <-runErr; err != nil {
				t.Errorf("Run: %v", err)
			}
			st := p.pub.Stats()
			if !tc.deliver {
				if derr == nil || st.Published != 0 || st.Dials < 2 || p.queue.Len() == 0 {
					t.Errorf("with another CA's certificate: drain %v, %+v, %d batches queued", derr, st, p.queue.Len())
				}
				return
			}
			if derr != nil {
				t.Fatalf("Drain: %v (%+v)", derr, st)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n >= 120 || time.Now().After(deadline) {
					if n != 120 {
						t.Errorf("%d records arrived over TLS, want 120", n)
					}
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
