//go:build darwin

package autostart

import (
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

// Enable makes e start at login.
func Enable(e Entry) error {
	p, err := entryPath()
	if err != nil {
		return err
	}
	return writeEntry(p, launchAgent(e.Command))
}

// Disable removes the entry; there being none is not an error.
func Disable() error {
	p, err := entryPath()
	if err != nil {
		return err
	}
	return removeEntry(p)
}

// Enabled reports whether the entry exists.
func Enabled() (bool, error) {
	p, err := entryPath()
	if err != nil {
		return false, err
	}
	return exists(p)
}

// Matches reports whether the entry is the one Enable(e) writes.
func Matches(e Entry) bool {
	p, err := entryPath()
	return err == nil && holds(p, launchAgent(e.Command))
}

// Where says where the entry goes, for the Settings page.
func Where() string {
	p, err := entryPath()
	if err != nil {
		return "your LaunchAgents folder"
	}
	return p
}
