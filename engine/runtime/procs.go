package runtime

import (
	"os/exec"
	"strings"
	"sync"
)

// procs knows which of millrun's children the runtime started and still
// has to wait for, so that sweeping up after a job never reaps a process
// whose exit status exec.Cmd.Wait is about to collect, nor kills a server
// the runtime keeps. There is one for the whole process, shared by every
// Runner: the subreaper is the process's, and so are the orphans a sweep
// looks at (two Runners, as in tests, must not reap each other's jobs).
type procs struct {
	mu   sync.Mutex
	ours map[int]struct{}
}

var children = &procs{ours: map[int]struct{}{}}

func newProcs() *procs {
	becomeSubreaper() // before the first job, so nothing it abandons goes to init
	return children
}

// start starts cmd and remembers it, atomically with respect to sweeps.
func (p *procs) start(cmd *exec.Cmd) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := startLow(cmd); err != nil {
		return err
	}
	p.ours[cmd.Process.Pid] = struct{}{}
	return nil
}

// wait waits for cmd and forgets it.
func (p *procs) wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	p.mu.Lock()
	delete(p.ours, cmd.Process.Pid)
	p.mu.Unlock()
	return err
}

// jobMarker is the environment entry that marks a job's processes; it
// survives setsid and double forks, which leave the job's process group.
func jobMarker(env []string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "WM_JOB_ID=") {
			return kv
		}
	}
	return ""
}
