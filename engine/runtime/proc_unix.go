//go:build !windows

package runtime

import (
	"os/exec"
	goruntime "runtime"
	"syscall"
)

func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// setSession starts cmd in a session of its own, which is also its own
// process group: nothing it starts can join millrun's group (a group is
// joined only within a session), and everything it starts stays outside
// millrun's session, where the sweep finds it.
func setSession(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// killProcessGroup kills the job's whole process group, so children the
// script forked die with it.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// jobNice is how much lower than millrun's own a job's CPU priority is:
// enough that the UI, the API and webhook accepts stay responsive while
// many CPU-heavy jobs run; nothing changes on an idle machine.
const jobNice = 5

// niceOf converts getpriority's answer to a nice value: Linux's system
// call returns 20 - nice, other systems the nice itself.
func niceOf(raw int) int {
	if goruntime.GOOS == "linux" {
		return 20 - raw
	}
	return raw
}

// lowerPriority lowers a started process's priority (its later children
// inherit it); where startLow can start it lower from the outset, that is
// used instead.
func lowerPriority(pid int) {
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, min(19, niceOf(raw)+jobNice))
}
