package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/gateway/config"
	"quietzone/testbench/scenario"
)

// TestVCANDaemon runs `quietzone run` on vcan0 and talks to it only with
// can-utils: cansend feeds it GNSS frames, candump logs its camera command
// frames. It starts denying, allows once the fixes are clear, goes back to
// denying when the interface goes down (it must not exit), and allows
// again when the bus is back.
func TestVCANDaemon(t *testing.T) {
	if _, err := net.InterfaceByName("vcan0"); err != nil {
		if os.Getenv("QUIETZONE_REQUIRE_VCAN") == "1" {
			t.Fatalf("vcan0 required (QUIETZONE_REQUIRE_VCAN=1) but not present: %v", err)
		}
		t.Skip("vcan0 not present: run `make test-vcan` to run SocketCAN tests in a VM with vcan")
	}
	cansend, err1 := exec.LookPath("cansend")
	candump, err2 := exec.LookPath("candump")
	if err1 != nil || err2 != nil {
		t.Skip("can-utils (cansend, candump) not installed")
	}
	// The VM holds this package's directory only: take the demo's zones
	// and policy, which the binary embeds.
	dir := t.TempDir()
	sc := scenario.BuiltIn()
	for name, data := range map[string][]byte{"zones.geojson": sc.Zones, "policy.yaml": sc.Policy} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "quietzone.yaml")
	if err := os.WriteFile(cfgPath, []byte(`vehicle:
  profile: builtin:quietzone
  vin: QZTEST00000000042
  interfaces: [vcan0]
zones: {file: zones.geojson}
policy: policy.yaml
cameras:
  - {name: front, class: exterior}
decision: {clear_fixes: 2, max_fix_age: 500ms}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	prof, err := config.LoadProfile("builtin:quietzone")
	if err != nil {
		t.Fatal(err)
	}
	encode := func(msg string, vals map[string]float64) string {
		m := prof.DB.Message(msg)
		f := m.NewFrame()
		for sig, v := range vals {
			if err := m.Signal(sig).Encode(&f.Data, v); err != nil {
				t.Fatal(err)
			}
		}
		return f.String()
	}
	status := encode("GNSS_Status", map[string]float64{"GNSS_FixType": 3, "GNSS_HAccuracy": 2, "GNSS_Speed": 30})
	position := encode("GNSS_Position", map[string]float64{"GNSS_Latitude": 48.1, "GNSS_Longitude": 11.5})
	cmdSig := prof.Commands["front"]

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // deadlock guard
	defer cancel()
	// allowed reports each command frame candump logs: true for allow,
	// false for deny. candump exits when the interface goes down, so it
	// is started again afterwards.
	allowed := make(chan bool, 4096)
	startDump := func() {
		t.Helper()
		dctx, stop := context.WithCancel(ctx)
		dump := exec.CommandContext(dctx, candump, "-L", "vcan0,300:7FF")
		stdout, err := dump.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := dump.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stop(); dump.Wait() })
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				r := can.NewLogReader(strings.NewReader(sc.Text()+"\n"), "")
				var f can.Frame
				if r.ReadFrame(&f) == nil {
					allowed <- cmdSig.Raw(&f.Data) == prof.Codes.Allow
				}
			}
		}()
		time.Sleep(200 * time.Millisecond) // let it bind; the gateway resends every second anyway
	}
	startDump()

	runDone := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() { runDone <- run(ctx, []string{"run", "--config", cfgPath, "--log", "warn"}, &out, &errOut) }()

	send := func() {
		for _, text := range []string{status, position} {
			if b, err := exec.Command(cansend, "vcan0", text).CombinedOutput(); err != nil {
				t.Logf("cansend %s: %v: %s", text, err, b) // fails while vcan0 is down
			}
		}
	}
	// waitFor reads command frames, sending fixes when fix is set, until
	// one says want; it fails if the daemon exits first.
	waitFor := func(want, fix bool, what string) {
		t.Helper()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case a := <-allowed:
				if a == want {
					return
				}
			case <-tick.C:
				if fix {
					send()
				}
			case err := <-runDone:
				t.Fatalf("the daemon exited while waiting for %s: %v\n%s", what, err, errOut.String())
			case <-ctx.Done():
				t.Fatalf("no %s command frame\n%s", what, errOut.String())
			}
		}
	}
	waitFor(false, false, "a deny at start")
	waitFor(true, true, "an allow after clear fixes")
	if b, err := exec.Command("ip", "link", "set", "vcan0", "down").CombinedOutput(); err != nil {
		t.Fatalf("ip link set vcan0 down: %v: %s", err, b)
	}
	time.Sleep(time.Second) // the fix goes stale (500ms); the daemon must stay up
	if b, err := exec.Command("ip", "link", "set", "vcan0", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set vcan0 up: %v: %s", err, b)
	}
	startDump()
	waitFor(false, false, "a deny after the bus was down")
	waitFor(true, true, "an allow once the bus is back")
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("run: %v\n%s", err, errOut.String())
	}
	if strings.Contains(errOut.String(), "48.1") || strings.Contains(errOut.String(), "QZTEST") {
		t.Errorf("the daemon logged a position or the VIN:\n%s", errOut.String())
	}
}
