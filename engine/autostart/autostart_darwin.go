//go:build darwin

package autostart

import (
	"errors"
	"os"
	"path/filepath"
)

// entryPath is ~/Library/LaunchAgents/<label>.plist, loaded at login.
func entryPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "LaunchAgents", agentLabel+".plist"), nil
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
	return writeAtomically(p, []byte(launchAgent(args)))
}

// Disable removes the agent; there being none is not an error.
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

// Enabled reports whether the agent exists.
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
		return "your LaunchAgents folder"
	}
	return p
}
