package runtime

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// On Linux millrun makes itself a child subreaper: whatever a job starts
// and then abandons (a setsid'd daemon, a double fork) is re-parented to
// millrun instead of to init, where millrun can find it, kill it and reap
// it when the job ends.
var becomeSubreaper = sync.OnceValue(func() bool {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == nil
})

// sweep kills what a finished job left behind outside its process group
// pgid (already sent SIGKILL): millrun's children that carry the job's
// marker. Members of the group die asynchronously, and only then are
// their own escaped children re-parented to millrun, so the sweep repeats
// until the group is gone, reaping abandoned children that exited.
func (p *procs) sweep(pgid int, marker string) {
	if marker == "" || !becomeSubreaper() {
		return
	}
	deadline := time.Now().Add(time.Second)
	for syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline) {
		p.sweepOnce(marker)
		time.Sleep(time.Millisecond)
	}
	// Killing an escaped process re-parents its children in turn.
	for round := 0; round < 8 && p.sweepOnce(marker); round++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// sweepOnce kills millrun's abandoned children that carry marker and
// reaps those that exited; it reports whether it killed any.
func (p *procs) sweepOnce(marker string) bool {
	self := os.Getpid()
	ownGroup := syscall.Getpgrp()
	killed := false
	for _, pid := range orphansOf(self) {
		p.mu.Lock()
		_, ours := p.ours[pid]
		p.mu.Unlock()
		if ours {
			continue
		}
		state, pgid := procState(pid)
		if pgid == ownGroup || pgid == 0 {
			continue // not a job's: the window's helpers live in millrun's group
		}
		if state == 'Z' {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			continue
		}
		// A process forked from a Bash server without an exec shows the
		// server's environment, not the job's: one of those that left its
		// job's group and was abandoned is killed at the next sweep,
		// whichever job's end runs it.
		if hasMarker(pid, marker, forkedMarker) {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // its own group, if it made one
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = true
		}
	}
	return killed
}

// killChildren kills the children of pid (a single-threaded server of
// millrun's) with their process groups.
func killChildren(pid int) {
	for _, child := range orphansOf(pid) {
		_ = syscall.Kill(-child, syscall.SIGKILL)
		_ = syscall.Kill(child, syscall.SIGKILL)
	}
}

// orphansOf lists the children of pid's main thread, which is where the
// kernel re-parents orphans when pid is their subreaper (the first live
// thread of the process, and Go's main thread lives as long as millrun).
// Children the runtime started belong to whichever thread forked them and
// are not listed; they are waited for, not swept. One file instead of one
// per thread keeps the sweep after every job at a few microseconds.
func orphansOf(pid int) []int {
	id := strconv.Itoa(pid)
	b, err := os.ReadFile("/proc/" + id + "/task/" + id + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// procState reads a process's state letter and process group id.
func procState(pid int) (byte, int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0
	}
	pgid, _ := strconv.Atoi(f[2])
	return f[0][0], pgid
}

// hasMarker reports whether pid's starting environment holds one of
// markers.
func hasMarker(pid int, markers ...string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if slices.Contains(markers, string(kv)) {
			return true
		}
	}
	return false
}

// KillLeftovers kills every process of this user that carries owner's
// marker: jobs a previous millrun on the same data folder started before
// it was killed (kill -9, a crash), with whatever they spawned. It
// returns how many it killed.
func KillLeftovers(owner string) int {
	if owner == "" {
		return 0
	}
	marker := ownerEnv + "=" + owner
	uid := os.Getuid()
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if info, err := e.Info(); err != nil || int(info.Sys().(*syscall.Stat_t).Uid) != uid {
			continue
		}
		if hasMarker(pid, marker) {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // the job's group, when pid led one
			_ = syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}
