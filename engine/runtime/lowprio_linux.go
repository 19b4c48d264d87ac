//go:build linux

package runtime

import (
	"os/exec"
	goruntime "runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// On Linux a nice value belongs to a thread, and a forked child takes its
// parent thread's. Every job process is started from one thread kept at
// the jobs' lower priority, so the child starts lower before it runs a
// single instruction of the script (lowering it after the start loses to a
// script that quickly starts its own children).
var spawns = make(chan func())

var startSpawner = sync.OnceFunc(func() {
	ready := make(chan struct{})
	go func() {
		goruntime.LockOSThread() // for good: the thread keeps the lower priority
		if raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, unix.Gettid(), min(19, niceOf(raw)+jobNice))
		}
		close(ready)
		for f := range spawns {
			f()
		}
	}()
	<-ready
})

// startLow starts cmd at the jobs' priority.
func startLow(cmd *exec.Cmd) error {
	startSpawner()
	done := make(chan error, 1)
	spawns <- func() { done <- cmd.Start() }
	return <-done
}
