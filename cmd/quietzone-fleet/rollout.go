package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/term"

	"quietzone/cmd/internal/cli"
	"quietzone/gateway/bundle"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
	"quietzone/uplink/store"
)

// rolloutPlan is a rollout's settings.
type rolloutPlan struct {
	stages  []int         // cumulative percents of the fleet, rising
	confirm float64       // share of a stage's vehicles that must apply it before the next
	wait    time.Duration // longest wait for a stage
	poll    time.Duration
}

func rollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("rollout", stderr)
	dsn := dbFlag(fs)
	broker := fs.String("broker", "", "broker URL")
	plain := fs.Bool("insecure-plaintext", false, "allow a tcp:// broker on a loopback address")
	pub := fs.String("pub", "", "the fleet's bundle signing key (PEM): check the bundle before it goes out")
	percent := fs.Int("percent", 100, "stop after this share of the fleet (percent)")
	stagesFlag := fs.String("stages", "1,10,50,100", "cumulative percents of the fleet, stage by stage")
	confirm := fs.Float64("confirm", 0.95, "share of a stage's vehicles that must apply the bundle before the next stage")
	wait := fs.Duration("wait", 15*time.Minute, "longest wait for a stage's vehicles")
	tf := addTLSFlags(fs)
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *broker == "" {
		fs.Usage()
		return cli.UsageError("rollout: a bundle and --broker are required")
	}
	if *percent < 1 || *percent > 100 || *confirm <= 0 || *confirm > 1 {
		return cli.UsageError("rollout: --percent is 1 to 100, --confirm above 0 and at most 1")
	}
	plan := rolloutPlan{confirm: *confirm, wait: *wait, poll: 500 * time.Millisecond}
	for _, s := range strings.Split(*stagesFlag, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p < 1 || p > 100 || (len(plan.stages) > 0 && p <= plan.stages[len(plan.stages)-1]) {
			return cli.UsageError("rollout: --stages: rising percents from 1 to 100")
		}
		if p >= *percent {
			plan.stages = append(plan.stages, *percent)
			break
		}
		plan.stages = append(plan.stages, p)
	}
	if plan.stages[len(plan.stages)-1] < *percent {
		plan.stages = append(plan.stages, *percent)
	}
	data, err := atrest.Read(fs.Arg(0), atrest.Bundle)
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	var b *bundle.Bundle
	if *pub != "" {
		k, err := bundle.LoadPublicKey(*pub)
		if err != nil {
			return fmt.Errorf("rollout: %w", err)
		}
		if b, err = bundle.Open(data, []bundle.PublicKey{k}); err != nil {
			return fmt.Errorf("rollout: the bundle does not verify: %w", err)
		}
	} else if b, err = bundle.ParseManifest(data); err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	tc, err := tf.config()
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	if _, err := uplink.CheckBroker(*broker, *plain); err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	defer db.Close()
	opts := mqtt.NewClientOptions().AddBroker(*broker).SetClientID(fmt.Sprintf("quietzone-rollout-%d", os.Getpid())).
		SetProtocolVersion(4).SetCleanSession(true).SetConnectTimeout(10 * time.Second)
	if tc != nil {
		opts.SetTLSConfig(tc)
	}
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return fmt.Errorf("rollout: connect %s: %v", *broker, tok.Error())
	}
	defer c.Disconnect(250)
	pubf := func(p string) error {
		tok := c.Publish(uplink.Topic(p, uplink.KindNamePolicy), 1, true, data)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			return fmt.Errorf("publish to %s: %v", p, tok.Error())
		}
		return nil
	}
	return runRollout(ctx, db, b.Version, data, plan, pubf, stdout, stderr)
}

// runRollout sends the bundle to the fleet stage by stage, each stage
// waiting until the share of its vehicles the plan asks for applied it;
// a vehicle that refuses it stops the rollout, which says why.
func runRollout(ctx context.Context, db *store.DB, version uint64, data []byte, plan rolloutPlan,
	publish func(pseudonym string) error, stdout, stderr io.Writer) error {
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	vs, err := db.Vehicles(ctx)
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	if len(vs) == 0 {
		return errors.New("rollout: no vehicles known yet: the ingest has heard from none")
	}
	// A fixed random order per version: the first stage of the next
	// rollout falls on other vehicles.
	order := make([]string, len(vs))
	for i, v := range vs {
		order[i] = v.Pseudonym
	}
	rank := func(p string) uint64 {
		h := sha256.New()
		binary.Write(h, binary.BigEndian, version)
		h.Write([]byte(p))
		return binary.BigEndian.Uint64(h.Sum(nil))
	}
	slices.SortFunc(order, func(a, b string) int {
		ra, rb := rank(a), rank(b)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return strings.Compare(a, b)
	})
	id, err := db.AddRollout(ctx, version, digest, data, plan.stages[len(plan.stages)-1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rollout %d: bundle version %d to %d%% of %d vehicles in %d stages\n", id, version, plan.stages[len(plan.stages)-1], len(order), len(plan.stages))
	sent := 0
	for si, pct := range plan.stages {
		upto := int(math.Ceil(float64(len(order)) * float64(pct) / 100))
		for _, p := range order[sent:upto] {
			if err := publish(p); err != nil {
				_ = db.SetRolloutState(ctx, id, "stopped", err.Error())
				return fmt.Errorf("rollout: %w", err)
			}
		}
		if err := db.AddTargets(ctx, id, si+1, order[sent:upto]); err != nil {
			return err
		}
		sent = upto
		fmt.Fprintf(stdout, "stage %d: %d%% (%d vehicles) sent\n", si+1, pct, sent)
		r, err := waitStage(ctx, db, id, sent, plan, stdout)
		if err != nil {
			_ = db.SetRolloutState(ctx, id, "stopped", err.Error())
			return err
		}
		fmt.Fprintf(stdout, "stage %d: %d of %d applied\n", si+1, r.Applied, r.Targets)
	}
	_ = db.SetRolloutState(ctx, id, "done", "")
	fmt.Fprintf(stdout, "rollout %d done\n", id)
	return nil
}

// waitStage waits until plan.confirm of the targets applied the bundle;
// a refusal or the wait running out stops it with the reason.
func waitStage(ctx context.Context, db *store.DB, id int64, targets int, plan rolloutPlan, stdout io.Writer) (store.Rollout, error) {
	deadline := time.Now().Add(plan.wait)
	bar := isTerminal(stdout)
	defer func() {
		if bar {
			fmt.Fprint(stdout, "\r\033[K")
		}
	}()
	for {
		rs, err := db.Rollouts(ctx)
		if err != nil {
			return store.Rollout{}, err
		}
		var r store.Rollout
		for _, x := range rs {
			if x.ID == id {
				r = x
			}
		}
		if bar {
			fmt.Fprint(stdout, "\r"+progressBar(r.Applied, targets, r.Refused))
		}
		if r.Refused > 0 {
			var causes []string
			for _, c := range slices.Sorted(maps.Keys(r.Causes)) {
				causes = append(causes, fmt.Sprintf("%d %s", r.Causes[c], c))
			}
			return r, fmt.Errorf("%w: stage stopped: %d of %d vehicles refused the bundle (%s)", errNotCompliant, r.Refused, targets, strings.Join(causes, ", "))
		}
		if float64(r.Applied) >= plan.confirm*float64(targets) {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%w: stage stopped: %d of %d vehicles applied the bundle in %v", errNotCompliant, r.Applied, targets, plan.wait)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(plan.poll):
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar draws "[#####.....] 12/40 applied, 1 refused".
func progressBar(done, total, refused int) string {
	const width = 30
	n := 0
	if total > 0 {
		n = min(width, done*width/total)
	}
	s := "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + fmt.Sprintf("] %d/%d applied", done, total)
	if refused > 0 {
		s += fmt.Sprintf(", %d refused", refused)
	}
	return s
}
