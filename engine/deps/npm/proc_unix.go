//go:build unix

package npm

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the tool in its own process group and makes
// cancellation kill the whole group: npm runs its work in children.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
