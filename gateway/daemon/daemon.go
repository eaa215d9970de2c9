package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/gateway/audit"
	"quietzone/uplink"
)

// Bus is a CAN connection the daemon reads and writes.
type Bus interface {
	can.Source
	WriteFrame(f *can.Frame) error
}

// Hardware opens the vehicle's buses and GPIO lines. The daemon passes
// SocketCAN and periph's host drivers; the simulator passes a virtual bus
// and fake pins; the wiring code is the same.
type Hardware struct {
	// OpenBus opens a bus; filters are the identifiers the signal map
	// needs, for a bus that can filter in the kernel.
	OpenBus func(iface string, filters []can.Filter) (Bus, error)
	OpenPin func(line string) (gpio.PinOut, error)
	// OpenInput opens a GPIO input (a trigger, the privacy switch); it
	// may be nil when the configuration names none.
	OpenInput func(line string) (gpio.PinIn, error)
}

func (hw Hardware) input(line string) (gpio.PinIn, error) {
	if hw.OpenInput == nil {
		return nil, fmt.Errorf("gpio input %s: this hardware has no GPIO inputs", line)
	}
	return hw.OpenInput(line)
}

// Options are the parts of a daemon that are not configuration.
type Options struct {
	Clock  gateway.Clock
	Logger *slog.Logger
	// queue holds telemetry until it is acknowledged. Nil means the
	// durable queue in uplink.state_dir, or, without a state directory
	// (no broker), one in memory.
	queue uplink.Queue
	// StatusSocket, when set, is the unix socket Run serves the status
	// on (`quietzone status`).
	StatusSocket string
	// Rand is the source of the random privacy margins (privacy.go); nil
	// means crypto/rand. The test bench passes one seeded from the
	// scenario, so that a trip replays exactly.
	Rand io.Reader
}

// Daemon is a gateway wired to its buses, cameras and uplink.
type Daemon struct {
	gw        *gateway.Gateway
	cams      *camera.Controller
	up        *uplink.Uplink
	pub       *uplink.Publisher // nil without a broker
	queue     *uplink.DiskQueue // nil unless the daemon opened one
	pseudonym string
	// auditLog is the hash-chained audit log; nil without one.
	auditLog *audit.Log
	// fleet takes signed bundles; nil without pinned keys.
	fleet *Fleet
	buses []Bus
	pipe  *pipe
	run   daemonRun // daemonrun.go
}

// The parts the daemon wired, for reading their counters and states; the
// daemon owns them, and Run drives them.

// Gateway is the decision loop.
func (d *Daemon) Gateway() *gateway.Gateway { return d.gw }

// Cameras is the camera controller.
func (d *Daemon) Cameras() *camera.Controller { return d.cams }

// Uplink is the redaction and batching stage.
func (d *Daemon) Uplink() *uplink.Uplink { return d.up }

// Publisher is the MQTT publisher; nil without a broker.
func (d *Daemon) Publisher() *uplink.Publisher { return d.pub }

// UplinkIdle reports whether the uplink has taken every snapshot, alarm
// and policy the decision loop handed it (a bench's lock-step waits for
// it before letting the clock on).
func (d *Daemon) UplinkIdle() bool { return d.pipe == nil || d.pipe.idle() }

// Queue is the durable queue; nil unless the daemon opened one.
func (d *Daemon) Queue() *uplink.DiskQueue { return d.queue }

// New wires a loaded Setup to hardware.
func New(s *config.Setup, hw Hardware, o Options) (*Daemon, error) {
	cfg := s.Config
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = gateway.SystemClock{}
	}
	if len(cfg.Vehicle.Interfaces) == 0 {
		return nil, errors.New("new daemon: vehicle.interfaces: no CAN interface to read")
	}
	dec, err := s.Profile.NewDecoder()
	if err != nil {
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d := &Daemon{}
	d.run.setup, d.run.opts = s, o
	auditor, err := d.openAudit(s, o)
	d.run.auditor = auditor
	if err != nil {
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	if s, err = d.openFleet(s, o, auditor); err != nil {
		d.Close()
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	if line := cfg.Vehicle.PowerHoldLine; line != "" {
		if d.run.holdPin, err = hw.OpenPin(line); err == nil {
			err = d.run.holdPin.Out(gpio.High) // held from the start
		}
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("new daemon: power hold line: %w", err)
		}
	}
	var sources []can.Source
	for _, iface := range cfg.Vehicle.Interfaces {
		b, err := hw.OpenBus(iface, dec.Filters())
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("new daemon: %w", err)
		}
		d.buses = append(d.buses, b)
		sources = append(sources, b)
	}
	enf, specs, err := openEnforcement(s, hw)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	ec := cfg.Enforcement
	writers := make([]camera.FrameWriter, len(d.buses))
	for i, b := range d.buses {
		writers[i] = b
	}
	cams, err := camera.NewController(specs, writers, s.Profile.CameraOptions(specs, camera.Options{
		Grace: ec.Grace, StatusTimeout: ec.StatusTimeout, Resend: ec.Resend,
	}))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d.cams = cams
	cams.AllowCabin(s.Policy.CabinCameras) // both the vehicle and the fleet; a new policy switches it
	if d.pipe, err = newUplinkStack(s, o.queue, o.Clock, o.Logger); err != nil {
		d.Close()
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d.up, d.pub, d.queue, d.pseudonym = d.pipe.up, d.pipe.pub, d.pipe.queue, d.pipe.pseudonym
	enf.Alarms = d.pipe
	dcs := cfg.Decision
	dcs.TelemetryPeriod = s.Policy.TelemetryPeriod
	dcs.WithholdMarginM = s.Policy.PositionMarginM()
	d.gw, err = gateway.New(gateway.Options{
		Decoder:      dec,
		Sources:      sources,
		Zones:        s.Zones,
		Cameras:      cams,
		Telemetry:    d.pipe,
		Publisher:    d.pipe,
		DrainTimeout: cfg.Uplink.DrainTimeout,
		Clock:        o.Clock,
		Logger:       o.Logger,
		Decision:     dcs,
		Privacy: gateway.Privacy{JitterM: s.Policy.NearZones.JitterM, TripEndM: s.Policy.NearZones.TripEndM,
			TripEndSpreadM: s.Policy.NearZones.TripEndSpreadM, EndCoverOffsetM: s.Policy.NearZones.CoverOffsetM,
			EndLinger: s.Policy.NearZones.EndLinger, Rand: o.Rand},
		Enforcement: enf,
		Audit:       auditor,
		Turning:     s.Profile.Turning,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	d.connectFleet()
	return d, nil
}

// openEnforcement opens the cameras' lines and the enforcement's inputs
// and indicator, and names the state file. The alarms go to the uplink
// pipe; New sets them once it has one.
func openEnforcement(s *config.Setup, hw Hardware) (gateway.Enforcement, []camera.Spec, error) {
	cfg := s.Config
	ec := cfg.Enforcement
	var e gateway.Enforcement
	specs := make([]camera.Spec, 0, len(cfg.Cameras))
	for _, cc := range cfg.Cameras {
		sp := camera.Spec{
			Name:           cc.Name,
			Class:          camera.Class(cc.Class),
			PowerActiveLow: cc.PowerActiveLow,
			Command:        s.Profile.Commands[cc.Name],
			Enabled:        cc.Enabled, // the vehicle's consent; the policy's is AllowCabin
			PurgeOnEntry:   cc.PurgeOnEntry,
			HasStatus:      s.Profile.Signal(gateway.CameraRolePrefix+cc.Name+".status") != nil,
		}
		for _, iface := range cc.Interfaces { // none: every bus
			sp.Buses = append(sp.Buses, slices.Index(cfg.Vehicle.Interfaces, iface))
		}
		if cc.PowerLine != "" {
			p, err := hw.OpenPin(cc.PowerLine)
			if err != nil {
				return e, nil, fmt.Errorf("camera %s: %w", cc.Name, err)
			}
			sp.Power = p
		}
		if cc.TriggerLine != "" {
			p, err := hw.input(cc.TriggerLine)
			if err != nil {
				return e, nil, fmt.Errorf("camera %s trigger: %w", cc.Name, err)
			}
			if e.Triggers == nil {
				e.Triggers = map[string]gateway.Input{}
			}
			e.Triggers[cc.Name] = gateway.Input{Pin: p, ActiveLow: cc.TriggerActiveLow}
		}
		specs = append(specs, sp)
	}
	var err error
	if e.SwitchMode, err = gateway.ParseSwitchMode(ec.SwitchMode); err != nil {
		return e, nil, err
	}
	if ec.SwitchLine != "" {
		p, err := hw.input(ec.SwitchLine)
		if err != nil {
			return e, nil, fmt.Errorf("privacy switch: %w", err)
		}
		e.Switch = &gateway.Input{Pin: p, ActiveLow: ec.SwitchActiveLow}
	}
	if ec.IndicatorLine != "" {
		p, err := hw.OpenPin(ec.IndicatorLine)
		if err != nil {
			return e, nil, fmt.Errorf("privacy indicator: %w", err)
		}
		e.Indicator, e.IndicatorActiveLow = p, ec.IndicatorActiveLow
	}
	if path := cfg.StateFilePath(); path != "" {
		e.State = NewStateFile(path)
		if key := s.Keys.State; key != nil {
			sf, err := NewSealedStateFile(path, key)
			if err != nil {
				return e, nil, err
			}
			e.State = sf
		}
	}
	return e, specs, nil
}

// newUplinkStack wires the uplink half of a daemon: the queue (q, or the
// durable one in uplink.state_dir, or one in memory), the uplink
// continuing the queue's sequence, the publisher if there is a broker, and
// the pipe from the decision loop to them. The SIGKILL test runs exactly
// this in a child process.
func newUplinkStack(s *config.Setup, q uplink.Queue, clock gateway.Clock, log *slog.Logger) (*pipe, error) {
	cfg := s.Config
	var dq *uplink.DiskQueue
	if q == nil && cfg.Uplink.StateDir != "" {
		dir, do := cfg.DiskOptions(s.Keys)
		do.Logger = log
		var err error
		if dq, err = uplink.OpenDiskQueue(dir, do); err != nil {
			return nil, err
		}
		q = dq
	}
	if q == nil {
		q = uplink.NewMemQueue()
	}
	firstSeq := q.NextSeq() // a restart continues the vehicle's sequence
	fail := func(err error) (*pipe, error) {
		if dq != nil {
			dq.Close()
		}
		return nil, err
	}
	up, err := uplink.New(s.Policy, q, firstSeq)
	if err != nil {
		return fail(err)
	}
	pseudonym := s.Pseudonym
	var pub *uplink.Publisher
	if cfg.Uplink.Broker != "" {
		if pseudonym == "" {
			return fail(errors.New("uplink: no pseudonym to publish under: the vehicle has no identity (vehicle.identity_file)"))
		}
		pub, err = uplink.NewPublisher(uplink.MQTTConfig{
			Broker:            cfg.Uplink.Broker,
			InsecurePlaintext: cfg.Uplink.InsecurePlaintext,
			Pseudonym:         pseudonym,
			TLS:               s.TLS,
			After:             func(d time.Duration) <-chan time.Time { return clock.NewTimer(d).C() },
			Now:               clock.Now,
			Seal:              s.SealKey,
		}, q, log)
		if err != nil {
			return fail(err)
		}
		// The constant cadence (issue 14): the uplink fills a slot at
		// the vehicle's phase, the publisher sends one payload a slot.
		up.SetPhase(uplink.SlotPhase(pseudonym, s.Policy.Cadence.Slot()))
		pub.SetCadence(s.Policy.Cadence)
	}
	p := newPipe(up, pub, log)
	p.queue, p.pseudonym = dq, pseudonym
	return p, nil
}

// Alarm hands an alarm to the uplink without waiting; see uplink.Alarm.
// Call it from the decision loop, like the snapshots.
func (d *Daemon) Alarm(a uplink.Alarm) error { return d.pipe.Alarm(a) }

// UplinkErrors counts snapshots the uplink could not take (the pipe to it
// was full, or it failed) since the daemon started.
func (d *Daemon) UplinkErrors() uint64 { return d.pipe.refused.Load() + d.pipe.failed.Load() }

// Close closes the buses (Run closes them too when it ends) and the
// queue. Call it after the gateway's Run has returned.
func (d *Daemon) Close() error {
	for _, b := range d.buses {
		b.Close()
	}
	var errs []error
	if d.queue != nil {
		errs = append(errs, d.queue.Close())
	}
	if d.auditLog != nil {
		errs = append(errs, d.auditLog.Close())
	}
	return errors.Join(errs...)
}
