//go:build unix

package deps

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the tool in its own process group and makes
// cancellation kill the whole group: pip runs build backends as children.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
