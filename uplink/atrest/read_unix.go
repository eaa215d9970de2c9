//go:build unix

package atrest

import (
	"os"
	"syscall"
)

// openFlags open without blocking: opening a FIFO for reading would
// otherwise wait for a writer, for ever.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
