//go:build !unix

package atrest

import (
	"io"
	"io/fs"
)

// Lock is not supported here: there is no flock.
func Lock(string) (io.Closer, error) { return nil, ErrNotSupported }

func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
