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

// sweep kills what finished jobs left behind outside their process
// groups, once the group pgid (already sent SIGKILL; 0 for none) is gone.
//
// Nothing a job could scrub decides it: every job, and every fork server,
// runs in a session other than millrun's, and no process can enter
// another session, so each process millrun adopted as the subreaper that
// is outside millrun's session comes from a job. It is killed unless it
// still belongs to a running job (its session or group, or that job's
// marker). Members of the group die asynchronously, and only then are
// their escaped children re-parented to millrun; a killed process's
// children are too, by the time it is a zombie; so the sweep repeats until
// the group is gone and what it killed is dead.
func (p *procs) sweep(pgid int) {
	if !becomeSubreaper() {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	var dying []int
	for {
		dying = append(slices.DeleteFunc(dying, dead), p.sweepOnce()...)
		if len(dying) == 0 && (pgid <= 0 || syscall.Kill(-pgid, 0) != nil) {
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// sweepOnce kills millrun's adopted children that no running job owns,
// reaps those that exited, and returns those it killed.
func (p *procs) sweepOnce() []int {
	self := os.Getpid()
	own, err := unix.Getsid(0)
	if err != nil {
		return nil
	}
	ownGroup := syscall.Getpgrp()
	var killed []int
	for _, pid := range orphansOf(self) {
		p.mu.Lock()
		_, ours := p.ours[pid]
		p.mu.Unlock()
		st, ok := readStat(pid)
		if ours || !ok {
			continue
		}
		if st.state == 'Z' {
			// What exec started on this thread elsewhere in millrun is in
			// millrun's group: its exit status is its Wait's.
			if st.pgid != ownGroup {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			}
			continue
		}
		if st.sid == own {
			continue // not a job's: the window's helpers live in millrun's session
		}
		if p.running(st.sid, st.pgid, func(markers ...string) bool { return hasMarker(pid, markers...) }) {
			continue
		}
		if st.pgid == pid {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // the group it leads
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		killed = append(killed, pid)
	}
	return killed
}

// dead reports whether pid has exited (a zombie, or reaped).
func dead(pid int) bool {
	st, ok := readStat(pid)
	return !ok || st.state == 'Z'
}

// exitedUnreaped reports whether pid has exited and its parent has not
// reaped it: a fork server that does not answer for its job.
func exitedUnreaped(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state == 'Z'
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

// procStat is what the sweep reads of a process.
type procStat struct {
	state     byte
	pgid, sid int
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
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
