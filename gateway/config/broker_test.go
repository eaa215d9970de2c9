package config_test

import (
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"
)

// TestPlaintextBrokerRefused: a tcp:// broker is refused unless the
// configuration opts in with insecure_plaintext, and then only at a
// literal loopback address; TLS files beside a tcp:// broker, which it
// would silently not use, are refused as well.
func TestPlaintextBrokerRefused(t *testing.T) {
	for _, tc := range []struct{ name, uplink, want string }{
		{"tcp with TLS files", "  broker: tcp://127.0.0.1:1883\n  insecure_plaintext: true\n  ca_file: ca.pem\n  cert_file: c.pem\n  key_file: k.pem\n",
			"quietzone.yaml:10: uplink.broker tcp://127.0.0.1:1883 is plain TCP: ca_file, cert_file and key_file would not be used"},
		{"tcp with TLS files, no opt-in", "  broker: tcp://127.0.0.1:1883\n  ca_file: ca.pem\n  cert_file: c.pem\n  key_file: k.pem\n",
			"quietzone.yaml:10: uplink.broker tcp://127.0.0.1:1883 is plain TCP: ca_file, cert_file and key_file would not be used"},
		{"tcp without the opt-in", "  broker: tcp://127.0.0.1:1883\n",
			"quietzone.yaml:10: uplink.broker tcp://127.0.0.1:1883 sends everything in the clear"},
		{"tcp to another host", "  broker: tcp://10.0.0.7:1883\n  insecure_plaintext: true\n",
			"quietzone.yaml:10: uplink.broker tcp://10.0.0.7:1883: insecure_plaintext is only for a broker on this machine"},
		{"tcp to a name", "  broker: mqtt://localhost:1883\n  insecure_plaintext: true\n",
			"quietzone.yaml:10: uplink.broker mqtt://localhost:1883: insecure_plaintext is only for a broker on this machine"},
		{"opt-in with TLS", "  broker: ssl://telemetry.example:8883\n  insecure_plaintext: true\n",
			"quietzone.yaml:11: uplink.insecure_plaintext is for a tcp:// broker"},
		{"opt-in without a broker", "  insecure_plaintext: true\n",
			"quietzone.yaml:10: uplink.insecure_plaintext without a broker"},
		{"unknown scheme", "  broker: ws://127.0.0.1:1883\n",
			"quietzone.yaml:10: uplink.broker \"ws://127.0.0.1:1883\": want ssl://HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": withIdentity(withUplink(tc.uplink + "  state_dir: s\n"))})
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := strings.ReplaceAll(err.Error(), path[:strings.LastIndex(path, "/")+1], ""); !strings.Contains(got, tc.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", got, tc.want)
			}
		})
	}
	for _, uplink := range []string{
		"  broker: tcp://127.0.0.1:1883\n  insecure_plaintext: true\n",
		"  broker: tcp://[::1]:1883\n  insecure_plaintext: true\n",
		"  broker: ssl://telemetry.example:8883\n",
	} {
		s, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": withIdentity(withUplink(uplink + "  state_dir: s\n"))}))
		if err != nil {
			t.Errorf("%q: %v", uplink, err)
			continue
		}
		if s.Config.Uplink.InsecurePlaintext != strings.Contains(uplink, "insecure") {
			t.Errorf("%q: insecure_plaintext read as %v", uplink, s.Config.Uplink.InsecurePlaintext)
		}
	}
}

// withIdentity names the vehicle's identity (test data) in a config made
// from gatewaytest.GoodHead: a broker needs one.
func withIdentity(cfg string) string {
	return strings.Replace(cfg, "  vin: QZTEST00000000042\n", "  vin: QZTEST00000000042\n  identity_file: vehicle.identity\n", 1)
}
