package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"periph.io/x/conn/v3/gpio"

	"quietzone/gateway/audit"
	"quietzone/geofence"
	"quietzone/uplink"
)

// daemonRun is what Daemon.Run needs beyond the wiring.
type daemonRun struct {
	setup *config.Setup
	opts  Options
	// holdPin keeps the unit powered while high (vehicle.power_hold_line);
	// nil without one.
	holdPin gpio.PinOut
	// auditor records the daemon's own events (queue drops); nil for none.
	auditor gateway.Auditor
	// bundles carries bundles from the MQTT subscription to Run: the
	// newest waits, an older one not yet taken is replaced.
	bundles chan []byte
	// framesPerS is the frame rate over the last second (float64 bits).
	framesPerS atomic.Uint64
	// drops is the queue's drop count last audited.
	drops uplink.Drops
	// summary is the audit summary last acknowledged by the broker.
	summaryMu sync.Mutex
	summary   []byte
	// counted is the audit log's part of the summary (counts, the chain's
	// head and tail) as of the last scheduled summary, or the start:
	// a summary sent between them (a bundle applied or refused) carries
	// it, not the log as it is then (issue 14).
	counted AuditSummary
	// audited is what the audit log says of the bundles applied, read
	// when it was opened: the version floor's stand-in.
	audited Applied
}

// openAudit opens the audit log the configuration names, if any.
func (d *Daemon) openAudit(s *config.Setup, o Options) (gateway.Auditor, error) {
	path := s.Config.AuditFile()
	if path == "" {
		return nil, nil
	}
	clock := o.Clock
	if clock == nil {
		clock = gateway.SystemClock{}
	}
	l, err := audit.Open(path, audit.Options{Now: clock.Now, Logger: o.Logger, Key: s.Keys.Audit,
		Each: func(e audit.Entry, authentic bool) {
			if v, ok := appliedVersion(e); ok && authentic {
				d.run.audited.Version = max(d.run.audited.Version, v)
				d.run.audited.Keyed = d.run.audited.Keyed || e.Keyed
			}
		}})
	if err != nil {
		return nil, err
	}
	d.auditLog = l
	return AuditLog{Log: l}, nil
}

// appliedVersion is the version of a policy.applied entry ("version N
// from SOURCE", Fleet.applied); ok is false for any other entry.
func appliedVersion(e audit.Entry) (uint64, bool) {
	if e.Kind != string(gateway.AuditPolicyApplied) {
		return 0, false
	}
	rest, ok := strings.CutPrefix(e.Reason, "version ")
	if !ok {
		return 0, false
	}
	num, _, _ := strings.Cut(rest, " ")
	v, err := strconv.ParseUint(num, 10, 64)
	return v, err == nil
}

// openFleet, under pinned keys, applies the last good bundle and then the
// bundle file, if they are good, and returns the setup to start with.
func (d *Daemon) openFleet(s *config.Setup, o Options, auditor gateway.Auditor) (*config.Setup, error) {
	cfg := s.Config
	if !cfg.Fleet.Pinned() {
		return s, nil
	}
	start := *s
	f, err := NewFleet(FleetOptions{
		Keys:         s.FleetKeys,
		Profile:      s.Profile.Name,
		Vehicle:      s.Profile,
		Dir:          cfg.FleetStateDir(),
		StoreKey:     s.Keys.Fleet,
		OldStoreKeys: [][]byte{s.Keys.OldStore},
		Audited:      d.run.audited,
		MaxBundle:    cfg.MaxBundleBytes(),
		Clock:        o.Clock,
		Audit:        auditor,
		Logger:       o.Logger,
		ZoneOptions:  cfg.ZoneOptions,
		Apply: func(_ context.Context, ix *geofence.Index, p *uplink.Policy) error {
			start.Zones, start.Policy = ix, p
			return nil
		},
		SealKey: func(k *uplink.SealKey) { start.SealKey = k }, // the publisher starts with it
		BodyKey: s.BundleKey,
	})
	if err != nil {
		return nil, err
	}
	d.fleet = f
	ctx := context.Background()
	if _, err := f.LoadStored(ctx); err != nil {
		o.Logger.Warn("no stored bundle applied", "err", rejectCause(err))
	}
	if cfg.Fleet.Bundle != "" {
		if err := f.OfferFile(ctx, cfg.Resolve(cfg.Fleet.Bundle)); err != nil {
			o.Logger.Warn("bundle file not applied", "cause", rejectCause(err))
		}
	}
	if start.Zones == nil {
		o.Logger.Warn("no zones: the gateway stays suppressed until a good bundle comes")
	}
	return &start, nil
}

// connectFleet hands bundles to the running gateway from now on, and
// subscribes to the vehicle's policy topic.
func (d *Daemon) connectFleet() {
	if d.fleet == nil {
		return
	}
	d.fleet.SetApply(d.gw.SetBundle)
	d.run.bundles = make(chan []byte, 1)
	if d.pub != nil {
		d.fleet.SetSealKeyFunc(d.pub.SetSealKey)
		d.pub.Subscribe("policy", d.offerBundle)
	}
}

// offerBundle queues a delivered bundle for Run without waiting: paho
// calls it on its own goroutine.
func (d *Daemon) offerBundle(data []byte) {
	for {
		select {
		case d.run.bundles <- data:
			return
		default:
		}
		select {
		case <-d.run.bundles: // an older one not yet taken: the newer wins
		default:
		}
	}
}

// Run runs the gateway with everything around it until ctx is done: the
// audit log's writer, bundles from the broker, the queue's drop watch,
// the audit summary and the status socket. On the way out the gateway
// stops first (cameras suppressed, the batch flushed, the queue given
// its drain time), then the rest, the audit log last, so that the
// gateway's last events are written. Close the daemon after Run.
func (d *Daemon) Run(ctx context.Context) error {
	releaseMemory() // what loading the zones took and no longer needs
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAudit()
	auditDone := make(chan error, 1)
	if d.auditLog != nil {
		go func() { auditDone <- d.auditLog.Run(auditCtx) }()
	} else {
		auditDone <- nil
	}
	aux, auxCtx := errgroup.WithContext(context.WithoutCancel(ctx))
	auxCtx, stopAux := context.WithCancel(auxCtx)
	defer stopAux()
	if d.run.opts.StatusSocket != "" {
		// The status is for people: without it the gateway still runs,
		// and a gateway that does not run suppresses nothing.
		if ln, err := listenStatus(d.run.opts.StatusSocket); err != nil {
			d.run.opts.Logger.Error("no status socket; running without", "err", err)
		} else {
			aux.Go(func() error { return serveStatus(auxCtx, ln, d.Status) })
		}
	}
	if d.run.bundles != nil {
		aux.Go(func() error { d.takeBundles(auxCtx); return nil })
	}
	aux.Go(func() error { d.watch(auxCtx); return nil })

	err := d.gw.Run(ctx)
	stopAux()
	if aerr := aux.Wait(); aerr != nil {
		err = errors.Join(err, aerr)
	}
	d.noteDrops(d.clock().Now()) // the last drops before the audit log closes
	stopAudit()
	return errors.Join(err, <-auditDone)
}

// holdPower drives the power hold line from the gateway's PowerHold.
func (d *Daemon) holdPower() {
	if d.run.holdPin == nil {
		return
	}
	level := gpio.Low
	if d.gw.PowerHold() {
		level = gpio.High
	}
	if err := d.run.holdPin.Out(level); err != nil {
		d.run.opts.Logger.Error("power hold line", "err", err)
	}
}

func (d *Daemon) takeBundles(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-d.run.bundles:
			if err := d.fleet.Offer(ctx, b, SourceMQTT); err != nil && ctx.Err() == nil {
				d.run.opts.Logger.Debug("bundle from the broker not applied", "err", err)
			}
			b = nil
			releaseMemory()
		}
	}
}

// DefaultSummaryEvery is how often, in running time, the audit summary
// goes up when the configuration does not say (audit.summary_every).
const DefaultSummaryEvery = 6 * time.Hour

// watch samples the frame rate every second, audits queue drops and
// sends the audit summary up.
//
// The summary goes up on a fixed schedule, every audit.summary_every of
// running (6 h by default), whatever changed: its counts and chain head
// are taken then, so that they date an event (a suppression, a queue
// drop) to a stretch of that length, never to when it happened. A
// bundle applied or refused goes up at once for the rollout, with the
// audit part as of the last scheduled summary (or the start): the fleet,
// which chooses when bundles come, cannot read the log at times of its
// choosing.
func (d *Daemon) watch(ctx context.Context) {
	t := d.clock().NewTicker(time.Second)
	defer t.Stop()
	every := d.run.setup.Config.Audit.SummaryEvery
	if every <= 0 {
		every = DefaultSummaryEvery
	}
	var lastFrames uint64
	var lastAt time.Time
	d.countAudit()
	nextSummary := d.clock().Now().Add(every) // the schedule: running time
	var bundlesSeen uint64                    // bundles applied and refused when the summary last went
	bundleDue := time.Time{}                  // a bundle's summary waits to go up
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			d.holdPower()
			frames := d.gw.Stats().Frames
			if !lastAt.IsZero() {
				rate := float64(frames-lastFrames) / now.Sub(lastAt).Seconds()
				d.run.framesPerS.Store(math.Float64bits(rate))
			}
			lastFrames, lastAt = frames, now
			d.noteDrops(d.clock().Now())
			if d.fleet != nil {
				// A rollout waits for the vehicle to say it applied or
				// refused a bundle: that goes up at once.
				if fs := d.fleet.Stats(); fs.Applied+fs.Rejected != bundlesSeen {
					bundlesSeen = fs.Applied + fs.Rejected
					bundleDue = now
				}
			}
			if !now.Before(nextSummary) {
				d.countAudit()
				nextSummary = nextSummary.Add(every)
				bundleDue = now // goes up now, or retried every 5 s until it does
			}
			if !bundleDue.IsZero() && !now.Before(bundleDue) {
				if err := d.sendSummary(ctx); err != nil {
					bundleDue = now.Add(5 * time.Second) // not connected: try again soon
				} else {
					bundleDue = time.Time{}
				}
			}
		}
	}
}

func (d *Daemon) clock() gateway.Clock { return d.run.opts.Clock }

// noteDrops audits what the queue dropped since it last looked.
func (d *Daemon) noteDrops(now time.Time) {
	if d.queue == nil || d.auditLog == nil {
		return
	}
	cur := d.queue.Drops()
	prev := d.run.drops
	if cur.Batches > prev.Batches {
		d.audit(now, gateway.AuditQueueDrop, fmt.Sprintf("%d batches (%d records) dropped by the queue's quota",
			cur.Batches-prev.Batches, cur.Records-prev.Records))
	}
	if cur.CorruptBytes > prev.CorruptBytes || cur.TornBytes > prev.TornBytes {
		d.audit(now, gateway.AuditQueueDrop, fmt.Sprintf("%d damaged and %d torn bytes skipped in the queue",
			cur.CorruptBytes-prev.CorruptBytes, cur.TornBytes-prev.TornBytes))
	}
	d.run.drops = cur
}

// AuditSummary is what goes up on the audit topic (retained, QoS 1):
// counts per kind, the chain's head and tail, the bundle in force and
// the last one refused. Its format is the uplink's, which the fleet reads
// (uplink/fleetmsg.go).
type AuditSummary = uplink.AuditSummary

// countAudit takes the audit log's part of the summary, for the
// summaries until the next scheduled one.
func (d *Daemon) countAudit() {
	if d.auditLog == nil {
		return
	}
	s := d.auditLog.Summary()
	as := AuditSummary{V: 1, Counts: s.Counts, Intact: s.Intact, Lost: s.Lost}
	if s.Head.Seq > 0 {
		as.Head = s.Head.String()
	}
	for _, h := range s.Tail {
		as.Tail = append(as.Tail, fmt.Sprintf("%d:%x", h.Seq, h.Hash[:uplink.TailHashLen/2]))
	}
	d.run.summaryMu.Lock()
	d.run.counted = as
	d.run.summaryMu.Unlock()
}

// summaryJSON is the audit summary, as it goes up: the audit part last
// counted (countAudit) and the bundle in force now.
func (d *Daemon) summaryJSON() ([]byte, error) {
	d.run.summaryMu.Lock()
	as := d.run.counted
	d.run.summaryMu.Unlock()
	if d.fleet != nil {
		fs := d.fleet.Stats()
		as.Policy = fs.Version
		if fs.Refused.Version > 0 || fs.Refused.Cause != "" {
			r := fs.Refused
			as.Refused = &r
		}
	}
	return json.Marshal(as)
}

// sendSummary publishes the audit summary if it changed since the broker
// last acknowledged one (a scheduled one that did not change says nothing
// new, and its absence says nothing either: the schedule is fixed).
func (d *Daemon) sendSummary(ctx context.Context) error {
	if d.auditLog == nil || d.pub == nil {
		return nil
	}
	b, err := d.summaryJSON()
	if err != nil {
		return err
	}
	d.run.summaryMu.Lock()
	same := string(b) == string(d.run.summary)
	d.run.summaryMu.Unlock()
	if same {
		return nil
	}
	if err := d.pub.PublishRetained(ctx, "audit", b); err != nil {
		return err
	}
	d.run.summaryMu.Lock()
	d.run.summary = b
	d.run.summaryMu.Unlock()
	return nil
}

// Reload re-reads what may change while running (SIGHUP): under pinned
// keys the bundle file, if one is configured; otherwise the zone file and
// the policy, switched to together. Anything that does not load is
// refused and the gateway keeps what it has.
func (d *Daemon) Reload(ctx context.Context) error {
	cfg := d.run.setup.Config
	now := d.clock().Now()
	if d.fleet != nil {
		if cfg.Fleet.Bundle == "" {
			return nil
		}
		defer releaseMemory()
		return d.fleet.OfferFile(ctx, cfg.Resolve(cfg.Fleet.Bundle))
	}
	pol, ix, _, err := cfg.LoadZonesPolicy(d.run.setup.Profile)
	if err != nil {
		d.audit(now, gateway.AuditPolicyRejected, "reload: the zone file or the policy does not load")
		return fmt.Errorf("reload: %w", err)
	}
	if err := d.gw.SetBundle(ctx, ix, pol); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	d.audit(now, gateway.AuditPolicyApplied, "reload from the configured files")
	releaseMemory()
	return nil
}

// releaseMemory hands the memory a zone list's loading took back to the
// system. Parsing a large zone file or bundle peaks at several times the
// index it builds; the runtime would return the rest only over minutes,
// and a head unit's budget is tight. Never on the frame path: only after
// a zone list was loaded.
func releaseMemory() { debug.FreeOSMemory() }

// audit records an event of the daemon's own (queue drops, bundles) with
// the auditor the gateway has too.
func (d *Daemon) audit(now time.Time, kind gateway.AuditKind, reason string) {
	if a := d.run.auditor; a != nil {
		a.Audit(gateway.AuditEvent{Time: now, Kind: kind, Reason: reason})
	}
}
