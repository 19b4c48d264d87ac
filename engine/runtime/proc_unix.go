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

// lowerPriority lowers a started job process's priority (its children
// inherit it).
func lowerPriority(pid int) {
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return
	}
	// Linux's getpriority returns 20 - nice; other systems the nice itself.
	nice := cur
	if goruntime.GOOS == "linux" {
		nice = 20 - cur
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, min(19, nice+jobNice))
}
