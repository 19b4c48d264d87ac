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

func entryText(args []string) string { return launchAgent(args) }
