//go:build unix

package app

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyUpgrade: SIGHUP, from the package's maintainer scripts, means
// "look at your program now".
func notifyUpgrade(c chan os.Signal) { signal.Notify(c, syscall.SIGHUP) }
