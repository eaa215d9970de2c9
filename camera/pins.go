package camera

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"
)

var hostInit = sync.OnceValue(func() error {
	_, err := host.Init()
	return err
})

// OpenPin returns the real GPIO line called name, initialising periph's
// host drivers on first use. The name is looked up first among the lines
// of the Linux GPIO character devices (gpioioctl, the names the kernel and
// the device tree give, such as "GPIO17" on a Raspberry Pi), then among
// the names other drivers registered. The line serves as a power line or
// indicator (Out) and as a trigger or switch input (In, WaitForEdge).
func OpenPin(name string) (gpio.PinIO, error) {
	if err := hostInit(); err != nil {
		return nil, fmt.Errorf("open gpio %s: init host drivers: %w", name, err)
	}
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
