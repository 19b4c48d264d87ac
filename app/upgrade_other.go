//go:build !unix

package app

import "os"

// Windows has no SIGHUP: the periodic check finds a new program.
func notifyUpgrade(chan os.Signal) {}
