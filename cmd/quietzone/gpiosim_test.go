package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// simChip is a GPIO chip of the kernel's gpio-sim, made through configfs:
// one bank of lines, some named. Its lines are read and moved through the
// sysfs attributes gpio-sim gives each line (sim_gpioN/value, pull), while
// the code under test uses the real character device, /dev/gpiochipN.
type simChip struct {
	devName  string // the platform device, gpio-sim.0
	chipName string // gpiochip0
	sysfs    string // /sys/devices/platform/gpio-sim.0/gpiochip0
}

// newSimChip makes a live chip called name with n lines, named as given
// (offset → name).
func newSimChip(name string, n int, names map[int]string) (*simChip, error) {
	root := "/sys/kernel/config/gpio-sim"
	if _, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("gpio-sim's configfs (is configfs mounted, gpio-sim loaded?): %w", err)
	}
	dev := filepath.Join(root, name)
	bank := filepath.Join(dev, "bank0")
	if err := os.MkdirAll(bank, 0o755); err != nil {
		return nil, fmt.Errorf("gpio-sim: %w", err)
	}
	write := func(path, v string) error {
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			return fmt.Errorf("gpio-sim: %w", err)
		}
		return nil
	}
	if err := write(filepath.Join(bank, "num_lines"), strconv.Itoa(n)); err != nil {
		return nil, err
	}
	if err := write(filepath.Join(bank, "label"), name); err != nil {
		return nil, err
	}
	for off, ln := range names {
		line := filepath.Join(bank, "line"+strconv.Itoa(off))
		if err := os.Mkdir(line, 0o755); err != nil {
			return nil, fmt.Errorf("gpio-sim: %w", err)
		}
		if err := write(filepath.Join(line, "name"), ln); err != nil {
			return nil, err
		}
	}
	if err := write(filepath.Join(dev, "live"), "1"); err != nil {
		return nil, err
	}
	read := func(path string) (string, error) {
		b, err := os.ReadFile(path)
		return strings.TrimSpace(string(b)), err
	}
	c := &simChip{}
	var err error
	if c.devName, err = read(filepath.Join(dev, "dev_name")); err != nil {
		return nil, fmt.Errorf("gpio-sim: %w", err)
	}
	if c.chipName, err = read(filepath.Join(bank, "chip_name")); err != nil {
		return nil, fmt.Errorf("gpio-sim: %w", err)
	}
	c.sysfs = filepath.Join("/sys/devices/platform", c.devName, c.chipName)
	if _, err := os.Stat(c.sysfs); err != nil {
		return nil, fmt.Errorf("gpio-sim: %w", err)
	}
	return c, nil
}

// value reads a line's value: what a consumer drives on an output, what
// the pull makes of an input.
func (c *simChip) value(line int) (int, error) {
	b, err := os.ReadFile(filepath.Join(c.sysfs, fmt.Sprintf("sim_gpio%d", line), "value"))
	if err != nil {
		return 0, fmt.Errorf("gpio-sim line %d: %w", line, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// setPull pulls a line up or down: an input follows, with an edge.
func (c *simChip) setPull(line int, up bool) error {
	v := "pull-down"
	if up {
		v = "pull-up"
	}
	if err := os.WriteFile(filepath.Join(c.sysfs, fmt.Sprintf("sim_gpio%d", line), "pull"), []byte(v), 0o644); err != nil {
		return fmt.Errorf("gpio-sim line %d: %w", line, err)
	}
	return nil
}
