//go:build !windows

package autostart

import (
	"errors"
	"os"
	"path/filepath"
)

// Where entries are files (everywhere but Windows), these write them; the
// platform file says where the entry goes and what it holds.

// Enable makes args start at login.
func Enable(args []string) error {
	p, err := entryPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeAtomically(p, []byte(entryText(args)))
}

// Disable removes the entry; there being none is not an error.
func Disable() error {
	p, err := entryPath()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Enabled reports whether the entry exists.
func Enabled() (bool, error) {
	p, err := entryPath()
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Where says where the entry goes, for the Settings page.
func Where() string {
	p, err := entryPath()
	if err != nil {
		return "your desktop's autostart folder"
	}
	return p
}
