//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// restartAs runs program in place of this process, with the same
// arguments: the same pid, so a supervisor (a systemd user service) and
// whoever waits on it see the engine go on.
func restartAs(program string) error {
	args := append([]string{program}, os.Args[1:]...)
	if err := syscall.Exec(program, args, os.Environ()); err != nil {
		return fmt.Errorf("restart as %s: %w", program, err)
	}
	return nil
}
