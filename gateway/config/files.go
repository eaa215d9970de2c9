package config

import (
	"fmt"
	"io/fs"

	"quietzone/geofence"
	"quietzone/uplink/atrest"
)

// Every file the daemon reads goes through atrest.Read (or atrest.Open
// for the audit log, which is streamed): opened without blocking, refused
// unless it is a regular file, bounded by its kind, and, for a secret,
// refused unless it is the daemon's alone. A FIFO, a device or a file the
// size of the disk is a clear error, never a hang or an exhausted memory.

// LoadZoneFile reads and validates a zone file.
func LoadZoneFile(path string, opts geofence.Options) (*geofence.Index, error) {
	data, err := atrest.Read(path, atrest.Zones)
	if err != nil {
		return nil, fmt.Errorf("load zones: %w", err)
	}
	return geofence.Parse(path, data, opts)
}

// readProfile reads a profile: from the embedded profiles when fsys is
// set, else the file name.
func readProfile(fsys fs.FS, name string) ([]byte, error) {
	if fsys != nil {
		return fs.ReadFile(fsys, name)
	}
	return atrest.Read(name, atrest.Profile)
}
