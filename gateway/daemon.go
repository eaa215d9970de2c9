package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera"
	"quietzone/can"
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
}

// DaemonOptions are the parts of a daemon that are not configuration.
type DaemonOptions struct {
	Clock  Clock
	Logger *slog.Logger
	// Queue holds telemetry until it is acknowledged; nil means in memory.
	Queue uplink.Queue
}

// Daemon is a gateway wired to its buses, cameras and uplink.
type Daemon struct {
	Gateway   *Gateway
	Cameras   *camera.Controller
	Uplink    *uplink.Uplink
	Publisher *uplink.Publisher // nil without a broker
	Pseudonym string
	buses     []Bus
}

// NewDaemon wires a loaded Setup to hardware.
func NewDaemon(s *Setup, hw Hardware, o DaemonOptions) (*Daemon, error) {
	cfg := s.Config
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Vehicle.Interfaces) == 0 {
		return nil, errors.New("new daemon: vehicle.interfaces: no CAN interface to read")
	}
	dec, err := s.Profile.NewDecoder()
	if err != nil {
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d := &Daemon{}
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
	specs := make([]camera.Spec, 0, len(cfg.Cameras))
	for _, cc := range cfg.Cameras {
		sp := camera.Spec{
			Name:           cc.Name,
			Class:          camera.Class(cc.Class),
			PowerActiveLow: cc.PowerActiveLow,
			Command:        s.Profile.Commands[cc.Name],
			Enabled:        cc.Enabled,
		}
		if cc.PowerLine != "" {
			p, err := hw.OpenPin(cc.PowerLine)
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("new daemon: camera %s: %w", cc.Name, err)
			}
			sp.Power = p
		}
		specs = append(specs, sp)
	}
	cams, err := camera.NewController(specs, d.buses[0], camera.Options{Codes: s.Profile.Codes})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d.Cameras = cams
	q := o.Queue
	if q == nil {
		q = uplink.NewMemQueue()
	}
	if d.Uplink, err = uplink.New(s.Policy, q, 1); err != nil {
		d.Close()
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d.Pseudonym = uplink.Pseudonym(s.VIN, s.FleetKey)
	var pub Publisher
	if cfg.Uplink.Broker != "" {
		d.Publisher, err = uplink.NewPublisher(uplink.MQTTConfig{
			Broker:    cfg.Uplink.Broker,
			Pseudonym: d.Pseudonym,
			TLS:       s.TLS,
		}, q, o.Logger)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("new daemon: %w", err)
		}
		pub = d.Publisher
	}
	dcs := cfg.Decision
	dcs.TelemetryPeriod = s.Policy.TelemetryPeriod
	dcs.WithholdMarginM = s.Policy.PositionMarginM()
	d.Gateway, err = New(Options{
		Decoder:      dec,
		Sources:      sources,
		Zones:        s.Zones,
		Cameras:      cams,
		Telemetry:    d.Uplink,
		Publisher:    pub,
		DrainTimeout: cfg.Uplink.DrainTimeout,
		Clock:        o.Clock,
		Logger:       o.Logger,
		Decision:     dcs,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the buses (Run closes them too when it ends).
func (d *Daemon) Close() {
	for _, b := range d.buses {
		b.Close()
	}
}

// loadIdentity reads the VIN and the fleet key named by the config.
func loadIdentity(cfg *Config, doc *yamlDoc) (vin string, key []byte, err error) {
	vin = cfg.Vehicle.VIN
	if cfg.Vehicle.VINFile != "" {
		b, err := os.ReadFile(cfg.Resolve(cfg.Vehicle.VINFile))
		if err != nil {
			return "", nil, doc.errorf([]any{"vehicle", "vin_file"}, "%v", err)
		}
		vin = strings.TrimSpace(string(b))
	}
	if vin == "" {
		return "", nil, doc.errorf([]any{"vehicle"}, "vehicle.vin or vehicle.vin_file is required")
	}
	if cfg.Uplink.FleetKeyFile != "" {
		if key, err = os.ReadFile(cfg.Resolve(cfg.Uplink.FleetKeyFile)); err != nil {
			return "", nil, doc.errorf([]any{"uplink", "fleet_key_file"}, "%v", err)
		}
		if len(key) < 16 {
			return "", nil, doc.errorf([]any{"uplink", "fleet_key_file"}, "fleet key shorter than 16 bytes")
		}
	}
	return vin, key, nil
}

// loadTLS builds the client TLS configuration named by the config.
func loadTLS(cfg *Config, doc *yamlDoc) (*tls.Config, error) {
	u := cfg.Uplink
	if u.CAFile == "" && u.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if u.CAFile != "" {
		pem, err := os.ReadFile(cfg.Resolve(u.CAFile))
		if err != nil {
			return nil, doc.errorf([]any{"uplink", "ca_file"}, "%v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, doc.errorf([]any{"uplink", "ca_file"}, "no PEM certificate in %s", u.CAFile)
		}
	}
	if u.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Resolve(u.CertFile), cfg.Resolve(u.KeyFile))
		if err != nil {
			return nil, doc.errorf([]any{"uplink", "cert_file"}, "%v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
