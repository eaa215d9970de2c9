package main

import (
	"context"
	"errors"
	"io"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/gateway"
)

func daemon(ctx context.Context, args []string, _, stderr io.Writer) error {
	path, fs, err := configFlag("run", args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, fs.Lookup("log").Value.String())
	if err != nil {
		return err
	}
	s, err := gateway.Load(path)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		log.Warn("configuration", "warning", w)
	}
	hw := gateway.Hardware{
		OpenBus: func(iface string, filters []can.Filter) (gateway.Bus, error) {
			return can.DialSocketCAN(iface, can.SocketCANOptions{Filters: filters, Logger: log})
		},
		OpenPin:   func(line string) (gpio.PinOut, error) { return camera.OpenPin(line) },
		OpenInput: func(line string) (gpio.PinIn, error) { return camera.OpenPin(line) },
	}
	d, err := gateway.NewDaemon(s, hw, gateway.DaemonOptions{Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	log.Info("quietzone running", "version", version, "zones", s.Zones.Len(), "interfaces", len(s.Config.Vehicle.Interfaces))
	if err := d.Gateway.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
