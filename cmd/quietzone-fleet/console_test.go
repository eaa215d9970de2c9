package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/gateway/bundle"
	"quietzone/uplink"
	"quietzone/uplink/store"
	"quietzone/uplink/uplinktest"
)

const chromiumEnv = "QUIETZONE_REQUIRE_CHROMIUM"

func findChromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("QUIETZONE_TEST_EXEC") != "" {
		t.Skip("the browser test does not run under emulation")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(chromiumEnv) == "1" {
		t.Fatalf("chromium not installed, and %s=1 requires it: apt-get install chromium", chromiumEnv)
	}
	t.Skip("chromium not installed: `make test` installs it (apt-get install chromium)")
	return ""
}

// seed fills a database as an ingest would: vehicles, records, alarms,
// statuses, audit summaries (one chain broken), and a rollout whose
// bundle carries the demo's zones.
func seed(t *testing.T, dsn string, names []string) {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := &store.Write{Ingest: "seed", Received: time.Now()}
	for i, p := range names {
		var recs []uplink.Record
		for s := uint64(1); s <= 20; s++ {
			recs = append(recs, uplink.Record{Seq: s, Time: 1_780_000_000 + int64(s), Signals: map[string]float64{"vehicle.speed": float64(40 + i)}})
		}
		w.Batches = append(w.Batches, store.Batch{Vehicle: p, Records: recs})
		w.Statuses = append(w.Statuses, store.Status{Vehicle: p, Word: "online"})
		w.Audits = append(w.Audits, store.Audit{Vehicle: p, Summary: uplink.AuditSummary{V: 1, Intact: true, Policy: 1, Head: "5:" + strings.Repeat("a", 64)}})
	}
	w.Batches = append(w.Batches, store.Batch{Vehicle: names[0], Alarm: true,
		Records: []uplink.Record{{Seq: 21, Time: 1_780_000_060, Alarm: "camera.disobeyed", Signals: map[string]float64{"camera.index": 0}}}})
	if _, err := db.WriteBatch(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	// A chain that went back.
	if _, err := db.WriteBatch(context.Background(), &store.Write{Ingest: "seed", Received: time.Now(),
		Audits: []store.Audit{{Vehicle: names[1], Summary: uplink.AuditSummary{V: 1, Intact: true, Policy: 1, Head: "2:" + strings.Repeat("b", 64)}}}}); err != nil {
		t.Fatal(err)
	}
	zones, err := os.ReadFile("../../testbench/scenario/assets/demo-zones.geojson")
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	b, err := bundle.Sign(priv, bundle.Manifest{Version: 1, Issued: time.Now(), Expires: time.Now().Add(time.Hour)},
		map[string][]byte{"zones": zones, "policy": []byte("signals: {}\n")})
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.AddRollout(context.Background(), 1, "seed", b, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddTargets(context.Background(), id, 1, names); err != nil {
		t.Fatal(err)
	}
	_ = db.SetRolloutState(context.Background(), id, "done", "")
}

// TestConsoleInChromium loads every page of the console in a real
// headless Chromium: tables fill from a seeded database, the zones are
// drawn, and a rollout started from the page (with the token) reaches
// the vehicles. Screenshots go to the test's directory.
func TestConsoleInChromium(t *testing.T) {
	chromium := findChromium(t)
	m := uplinktest.StartMosquitto(t, uplinktest.WithConfig("max_inflight_messages 1000", "max_queued_messages 0"))
	dir := t.TempDir()
	shots := filepath.Join(dir, "screenshots")
	if d := os.Getenv("QUIETZONE_SCREENSHOTS"); d != "" {
		shots = d
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	dsn := filepath.Join(dir, "fleet.db")
	const n = 6
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, pseudonymN(i))
	}
	seed(t, dsn, names)
	startTestIngest(t, m.URL(), dsn)
	time.Sleep(300 * time.Millisecond)
	f := startFakeFleet(t, m.URL(), n, map[string]string{})

	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const token = "a-console-token-for-the-test"
	pc := mqttClient(t, m.URL(), "console-test")
	c := &console{db: db, token: []byte(token), log: slog.New(slog.DiscardHandler),
		plan: rolloutPlan{stages: []int{50, 100}, confirm: 1, wait: 30 * time.Second, poll: 200 * time.Millisecond},
		publish: func(p string, data []byte) error {
			tok := pc.Publish(uplink.Topic(p, "policy"), 1, true, data)
			tok.Wait()
			return tok.Error()
		}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.serve(sctx, l) }()
	defer func() { stopServer(); <-served }()
	base := "http://" + l.Addr().String()

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	visit := func(path, sel string) {
		t.Helper()
		do(chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	visit("/", "#vehicles")
	vehicles, summary, chain := count("#vehicles tr.vehicle"), text("#summary"), text("#vehicles")
	shot("compliance")
	visit("/alarms", "#alarms")
	alarms := count("#alarms tr.alarm")
	shot("alarms")
	visit("/vehicle/"+names[0], "#events")
	events := count("#events tr.event")
	shot("vehicle")
	visit("/map", "#zonemap")
	zones := count("#zonemap path.zone")
	shot("map")
	if vehicles != n || alarms != 1 || events < 2 || zones < 2 {
		t.Errorf("pages show %d vehicles, %d alarms, %d events, %d zones", vehicles, alarms, events, zones)
	}
	if !strings.Contains(summary, "1 audit chains broken") || !strings.Contains(chain, "broken: the head went back") {
		t.Errorf("compliance: %q", summary)
	}

	// A rollout from the page: without the token it is refused, with it
	// it reaches every vehicle.
	bundlePath := signTestBundle(t, dir, 2)
	visit("/rollouts", "#start")
	do(chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{bundlePath}),
		chromedp.SendKeys(chromedp.CSS("#token"), "wrong-token-wrong-token"),
		chromedp.Click(chromedp.CSS("#go")), chromedp.Sleep(300*time.Millisecond), chromedp.WaitReady(chromedp.CSS("body")))
	if status := text("body"); !strings.Contains(status, "needs the console's token") || len(f.received()) != 0 {
		t.Fatalf("a rollout without the token: %q, %d vehicles got it", status, len(f.received()))
	}
	visit("/rollouts", "#start")
	do(chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{bundlePath}),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#go")), chromedp.WaitVisible(chromedp.CSS("#msg")))
	deadline := time.Now().Add(60 * time.Second)
	var state string
	for {
		visit("/rollouts", "#rollouts")
		state = text("#rollouts tr.rollout td.state")
		if state == "done" || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	shot("rollouts")
	if state != "done" || len(f.received()) != n {
		t.Errorf("rollout from the page: state %q, %d of %d vehicles got the bundle", state, len(f.received()), n)
	}
	t.Logf("screenshots in %s", shots)
}

func mqttClient(t *testing.T, broker, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetProtocolVersion(4))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}
