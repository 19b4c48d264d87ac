//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package instance

import (
	"errors"
	"os"
	"syscall"
)

func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

// unlockFile drops the lock itself rather than leaving that to close: a
// child forked a moment ago (a job starting) still shares the descriptor
// until it execs, and the lock would live on with it.
func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
