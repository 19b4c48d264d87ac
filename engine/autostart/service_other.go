//go:build windows || darwin

package autostart

import "errors"

// ServiceFor reports whether a supervisor's service runs the engine of
// dataDir; there is none of millrun's here.
func ServiceFor(string) bool { return false }

// StartService has no service to start here.
func StartService() error { return errors.New("no start-at-login service on this platform") }
