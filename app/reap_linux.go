package app

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The engine is a child subreaper (the job runner makes it one, so that
// what a job abandons comes back to it to be killed). The windows it
// opens for clicked notifications then hand it their WebKit helpers when
// they close first, and those become zombies unless the engine reaps
// them. What is reaped here is only what can be a window's: a zombie
// child in the engine's own session (jobs and their servers run in
// sessions of their own, and the runner reaps those) outside the
// engine's process group (what the engine starts itself stays in it, for
// its Wait), and not a window itself (its Wait reaps it).
type reaper struct {
	mu      sync.Mutex
	windows map[int]bool // windows opened and not yet waited for
	once    sync.Once
}

// prepare puts a window about to start in a process group of its own.
func (r *reaper) prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// started begins reaping for a window that started.
func (r *reaper) started(pid int) {
	r.mu.Lock()
	if r.windows == nil {
		r.windows = map[int]bool{}
	}
	r.windows[pid] = true
	r.mu.Unlock()
	r.once.Do(func() {
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, syscall.SIGCHLD)
		go func() {
			for range ch {
				r.reap()
			}
		}()
	})
}

// exited is told that a window's Wait returned.
func (r *reaper) exited(pid int) {
	r.mu.Lock()
	delete(r.windows, pid)
	r.mu.Unlock()
	r.reap()
	// Helpers end a moment after the window; SIGCHLD tells of each, and
	// these looks are for one whose signal merged with another's.
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 15 * time.Second} {
		time.AfterFunc(d, r.reap)
	}
}

// reap waits for the zombies among this process's children that a
// window left.
func (r *reaper) reap() {
	self := os.Getpid()
	sid, err := unix.Getsid(0)
	if err != nil {
		return
	}
	group := syscall.Getpgrp()
	r.mu.Lock()
	defer r.mu.Unlock()
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(self) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(field)
			if err != nil || r.windows[pid] {
				continue
			}
			st, ok := stat(pid)
			if ok && st.state == 'Z' && st.sid == sid && st.pgid != group {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			}
		}
	}
}

type procStat struct {
	state     byte
	pgid, sid int
}

func stat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 || f[0] == "" {
		return procStat{}, false
	}
	pgid, _ := strconv.Atoi(f[2])
	sid, _ := strconv.Atoi(f[3])
	return procStat{state: f[0][0], pgid: pgid, sid: sid}, true
}
