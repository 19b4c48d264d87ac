//go:build !(desktop || dev)

package app

import (
	"errors"
	"log/slog"
)

// LaunchOptions say what a launch of the desktop app does.
type LaunchOptions struct {
	DataDir  string
	Listen   string
	Logger   *slog.Logger
	Hidden   bool
	OpenPath string
	Version  string
}

// Launch needs the desktop build (-tags desktop).
func Launch(LaunchOptions) error {
	return errors.New("this millrun was built without the desktop window; run 'millrun serve', or build with make build")
}
