//go:build !windows && !darwin

package autostart

import (
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

func entryText(args []string) string { return desktopEntry(args) }
