//go:build windows

package runtime

import (
	"os/exec"
	"strconv"
	"syscall"
)

func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// setSession: Windows has no sessions to give; the new process group
// still keeps console signals from reaching it.
func setSession(cmd *exec.Cmd) { setProcessGroup(cmd) }

// killProcessGroup ends the process tree; Windows has no process groups to
// signal, so taskkill walks the tree.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid)).Run()
	_ = cmd.Process.Kill()
}

// lowerPriority is not applied on Windows.
func lowerPriority(int) {}
