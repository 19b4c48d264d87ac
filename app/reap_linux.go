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

	"golang.org/x/sys/unix"
)

// The engine is a child subreaper (the job runner makes it one, so that
// what a job abandons comes back to it to be killed). The windows it
// opens for clicked notifications then hand it their WebKit helpers when
// they close first, and those become zombies unless the engine reaps
// them. Each window gets a process group of its own, and what is left of
// those groups is reaped here. Nothing else is waited for: a job's
// process and a window itself belong to whoever started them.
type reaper struct {
	mu     sync.Mutex
	groups map[int]bool // process groups of the windows opened
	once   sync.Once
}

// prepare puts a window about to start in a process group of its own.
func (r *reaper) prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// started watches the group of a window that started.
func (r *reaper) started(pid int) {
	r.mu.Lock()
	if r.groups == nil {
		r.groups = map[int]bool{}
	}
	r.groups[pid] = true
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
	r.reap()
}

// reap waits for the zombies among this process's children that were in
// a window's group, and forgets the groups with nothing left in them.
func (r *reaper) reap() {
	self := os.Getpid()
	r.mu.Lock()
	defer r.mu.Unlock()
	alive := map[int]bool{}
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(self) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(field)
			if err != nil || r.groups[pid] { // a window itself: its Wait reaps it
				alive[pid] = true
				continue
			}
			state, pgid, ok := stat(pid)
			if !ok || !r.groups[pgid] {
				continue
			}
			if state == 'Z' {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
				continue
			}
			alive[pgid] = true
		}
	}
	for g := range r.groups {
		if !alive[g] {
			delete(r.groups, g)
		}
	}
}

func stat(pid int) (state byte, pgid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 3 || f[0] == "" {
		return 0, 0, false
	}
	pgid, _ = strconv.Atoi(f[2])
	return f[0][0], pgid, true
}
