package atrest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TmpSuffix ends the name of a file WriteFile is writing. A file with it
// that is left over after a crash was never renamed into place, so
// nothing refers to it; its owner may remove it at start.
const TmpSuffix = ".tmp"

// WriteFile replaces path with data, whole or not at all, durably: data
// goes to path+TmpSuffix, is fsynced, renamed over path, and the directory
// is fsynced. After a crash path holds the old or the new content.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + TmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	err = WriteSync(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// WriteSync writes b at f's offset and fsyncs f.
func WriteSync(f *os.File, b []byte) error {
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// SyncDir fsyncs a directory, so that a rename or a new file in it
// survives a power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	return nil
}

// ErrNotSupported: the platform lacks what a function needs (flock, file
// ownership).
var ErrNotSupported = errors.New("not supported on this platform")
