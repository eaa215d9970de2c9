//go:build !unix

package uplink

import (
	"io"
	"io/fs"
)

func lockDir(string) (io.Closer, error) { return nil, ErrNotSupported }

func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
