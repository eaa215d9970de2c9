package gateway_test

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/uplink/atrest"
	"strings"
	"testing"
	"time"
)

// The upgrade to authenticated state files: the file an earlier version
// wrote (version 2, a CRC) does not load under the key, so the gateway
// starts held and distrusted; but the privacy switch's manual mode it
// says was on holds, across the upgrade.
func TestUnauthenticatedStateKeepsManual(t *testing.T) {
	state := filepath.Join(t.TempDir(), config.StateFileName)
	if err := os.WriteFile(state, []byte(v2Doc(`"state":"manual","manual":true,"need_clear":3,"held":false`)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sf, err := daemon.NewSealedStateFile(state, bytes.Repeat([]byte{1}, atrest.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 },
		func(o *gateway.Options) { o.Enforcement.State = sf })
	lat, lon := south(20000)
	for range 8 {
		r.step(time.Second, lat, lon, 50)
	}
	if r.state() != gateway.Manual || r.powered("front") || r.stats().Enforcement.StateErrors != 1 {
		t.Errorf("state %v, powered %v, %d state errors; want manual, off, one error", r.state(), r.powered("front"), r.stats().Enforcement.StateErrors)
	}
}

// v2Doc is a state file of version 2 with fields, its CRC right.
func v2Doc(fields string) string {
	doc := `{"format":"quietzone.suppression","version":2,` + fields + `,"crc32c":""}`
	sum := crc32.Checksum([]byte(doc), crc32.MakeTable(crc32.Castagnoli))
	return strings.Replace(doc, `"crc32c":""`, fmt.Sprintf(`"crc32c":"%08x"`, sum), 1)
}
