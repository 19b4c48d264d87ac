//go:build !windows && !darwin

package autostart

import (
	"errors"
	"os"
	"path/filepath"
)

// entryPath is $XDG_CONFIG_HOME/autostart/millrun.desktop (by default
// ~/.config/autostart/), where GNOME, KDE, Xfce and the others look.
func entryPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "autostart", Name+".desktop"), nil
}

// Enable makes args start at login.
func Enable(args []string) error {
	p, err := entryPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeAtomically(p, []byte(desktopEntry(args)))
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
