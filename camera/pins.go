package camera

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

var hostInit = sync.OnceValue(func() error {
	_, err := host.Init()
	return err
})

// OpenPin returns the real GPIO line called name (as the kernel's GPIO
// character device or the board's driver names it), initialising periph's
// host drivers on first use.
func OpenPin(name string) (gpio.PinIO, error) {
	if err := hostInit(); err != nil {
		return nil, fmt.Errorf("open gpio %s: init host drivers: %w", name, err)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("open gpio %s: no such line", name)
	}
	return p, nil
}
