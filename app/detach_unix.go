//go:build !windows

package app

import (
	"os/exec"
	"syscall"
)

// detach puts the engine in a session of its own: the terminal or the
// launcher that started it closing does not signal it.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }
