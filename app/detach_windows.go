//go:build windows

package app

import (
	"os/exec"
	"syscall"
)

// detach starts the engine without a console and outside the launcher's
// process group, so closing either does not end it.
func detach(cmd *exec.Cmd) {
	const detachedProcess, newProcessGroup = 0x00000008, 0x00000200
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: detachedProcess | newProcessGroup, HideWindow: true}
}
