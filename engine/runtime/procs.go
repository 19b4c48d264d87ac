package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"slices"
	"sync"
)

// procs knows which of millrun's children the runtime started and still
// has to wait for, so that sweeping up after a job never reaps a process
// whose exit status exec.Cmd.Wait is about to collect, nor kills a server
// the runtime keeps; and which jobs are running, so that a sweep spares
// what is theirs. There is one for the whole process, shared by every
// Runner: the subreaper is the process's, and so are the orphans a sweep
// looks at (two Runners, as in tests, must not reap each other's jobs).
type procs struct {
	mu   sync.Mutex
	ours map[int]struct{}
	live map[*liveJob]struct{}
}

// liveJob is a running job, as a process it left can show it belongs to
// it: by the job's session or process group (ids), or, for a process that
// made a session of its own (a daemon the job started and still uses), by
// the job's marker (newJobKey) in its starting environment. Either only
// spares a process while the job runs: nothing needs to carry anything
// for a sweep to kill it.
type liveJob struct {
	marker string
	ids    []int
}

var children = &procs{ours: map[int]struct{}{}, live: map[*liveJob]struct{}{}}

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

// begin records a job as running, before its first process starts.
func (p *procs) begin(marker string, ids ...int) *liveJob {
	j := &liveJob{marker: marker, ids: ids}
	p.mu.Lock()
	p.live[j] = struct{}{}
	p.mu.Unlock()
	return j
}

// add records the session or group ids a running job got once started.
func (p *procs) add(j *liveJob, ids ...int) {
	p.mu.Lock()
	j.ids = append(j.ids, ids...)
	p.mu.Unlock()
}

// end records that the job ended: what it left is no longer spared.
func (p *procs) end(j *liveJob) {
	p.mu.Lock()
	delete(p.live, j)
	p.mu.Unlock()
}

// running reports whether a process in session sid and group pgid belongs
// to a running job, asking markers only when the ids do not tell.
func (p *procs) running(sid, pgid int, markers func(...string) bool) bool {
	p.mu.Lock()
	var ms []string
	for j := range p.live {
		if slices.Contains(j.ids, sid) || slices.Contains(j.ids, pgid) {
			p.mu.Unlock()
			return true
		}
		if j.marker != "" {
			ms = append(ms, j.marker)
		}
	}
	p.mu.Unlock()
	return len(ms) > 0 && markers(ms...)
}

// jobKeyEnv names the variable that marks a job's processes.
const jobKeyEnv = "MILLRUN_JOB_KEY"

// newJobKey returns a job's marker, a fresh random value millrun shows to
// no one but the job's own processes (in their environment). It is not
// WM_JOB_ID, which any job can learn from the API with its WM_TOKEN: a
// leftover that carried another running job's WM_JOB_ID was spared until
// that job ended.
func newJobKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return jobKeyEnv + "=" + hex.EncodeToString(b)
}
