package daemon

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/can/cantest"
	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

// TestSealedUplinkAndRotation: a vehicle whose configuration pins the
// fleet's sealing key publishes nothing the broker can read (its audit
// summary here); a signed bundle carrying seal.pub rotates the key, and
// what goes up after it opens only under the new key.
func TestSealedUplinkAndRotation(t *testing.T) {
	m := uplinktest.StartMosquitto(t)
	k1, err := uplink.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := uplink.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "seal.pub"), k1.Public().MarshalPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	v := startFleetVehicleWith(t, dir, m.URL(), pub, "  fleet_public_key: seal.pub\n")
	defer v.stop(t)
	if got := v.d.pub.SealKey(); !got.Equal(k1.Public()) {
		t.Fatalf("publisher seals to %v, want the pinned key", got)
	}

	fleet := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("fleet-seal-test").SetProtocolVersion(4))
	if tok := fleet.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer fleet.Disconnect(250)
	var mu sync.Mutex
	var summaries [][]byte
	auditTopic := uplink.Topic(v.d.pseudonym, "audit")
	if tok := fleet.Subscribe(auditTopic, 1, func(_ mqtt.Client, msg mqtt.Message) {
		mu.Lock()
		summaries = append(summaries, bytes.Clone(msg.Payload()))
		mu.Unlock()
	}); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	// opens returns the newest summary that opens under keys.
	opens := func(keys ...*uplink.OpenKey) (uplink.AuditSummary, bool) {
		mu.Lock()
		defer mu.Unlock()
		o := uplink.NewOpener(keys...)
		for i := len(summaries) - 1; i >= 0; i-- {
			if !uplink.Sealed(summaries[i]) {
				t.Fatalf("an unsealed summary went up: %s", summaries[i])
			}
			plain, _, err := o.Open(auditTopic, summaries[i])
			if err != nil {
				continue
			}
			as, err := uplink.ParseAuditSummary(plain)
			return as, err == nil
		}
		return uplink.AuditSummary{}, false
	}
	cantest.WaitFor(t, 30*time.Second, "a summary sealed to the pinned key", func() bool { _, ok := opens(k1); return ok })

	files := fleetFiles(t)
	files[bundleSeal] = k2.Public().MarshalPEM()
	b := signBundle(t, priv, 2, time.Now().Add(time.Hour), files)
	if tok := fleet.Publish(uplink.Topic(v.d.pseudonym, "policy"), 1, true, b); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	cantest.WaitFor(t, 30*time.Second, "a summary under the rotated key saying bundle 2", func() bool {
		as, ok := opens(k2)
		return ok && as.Policy == 2
	})
	if as, ok := opens(k1); ok && as.Policy == 2 {
		t.Error("a summary after the rotation opened under the old key")
	}
	if !v.d.pub.SealKey().Equal(k2.Public()) {
		t.Error("the publisher does not seal to the rotated key")
	}
}
