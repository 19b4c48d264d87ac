//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly || windows)

package instance

import "os"

// Elsewhere there is no lock: one millrun per directory is on the user.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
