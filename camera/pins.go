package camera

import (
	"fmt"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"
)

// InitHost loads periph's host drivers: the Linux GPIO character devices
// (gpioioctl) and the others. The vehicle's command calls it once at
// start, before OpenPin; it is not done behind anyone's back.
func InitHost() error {
	if _, err := host.Init(); err != nil {
		return fmt.Errorf("init gpio host drivers: %w", err)
	}
	return nil
}

// OpenPin returns the real GPIO line called name, once InitHost has loaded
// the host drivers. The name is looked up first among the lines
// of the Linux GPIO character devices (gpioioctl, the names the kernel and
// the device tree give, such as "GPIO17" on a Raspberry Pi), then among
// the names other drivers registered. The line serves as a power line or
// indicator (Out) and as a trigger or switch input (In, WaitForEdge).
func OpenPin(name string) (gpio.PinIO, error) {
	for _, chip := range gpioioctl.Chips {
		if l := chip.ByName(name); l != nil {
			return l, nil
		}
	}
	if p := gpioreg.ByName(name); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("open gpio %s: no such line", name)
}
