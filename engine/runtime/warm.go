package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// WarmSpec is a run on a warm worker: the script version it belongs to and
// the job's arguments.
type WarmSpec struct {
	Spec
	Path string // script path: a new version at the path retires the old workers
	Hash string // the version the workers were started for
}

// WarmSupported reports whether a language can run on warm workers.
func WarmSupported(lang string) bool { return lang == Python || IsTypeScript(lang) }

// WarmPool keeps long-lived interpreters per script version: each imports
// the script once and then runs job after job, so a run costs a pipe round
// trip instead of an interpreter start.
type WarmPool struct {
	r *Runner

	mu      sync.Mutex
	pools   map[string]*scriptPool // by version hash
	current map[string]string      // script path → hash its workers run
	size    int
	idle    time.Duration
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

type scriptPool struct {
	hash, path string
	spec       Spec
	slots      chan struct{} // one per allowed worker
	mu         sync.Mutex
	free       []*warmProc
	retired    bool
	failures   int
	retryAt    time.Time
}

// NewWarmPool returns a pool running up to size workers per script version
// and stopping workers idle for longer than idle.
func NewWarmPool(r *Runner, size int, idle time.Duration) *WarmPool {
	p := &WarmPool{r: r, pools: map[string]*scriptPool{}, current: map[string]string{}, size: max(size, 1), idle: idle,
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.reap()
	return p
}

// SetLimits changes the per-script size and idle timeout (the settings).
func (p *WarmPool) SetLimits(size int, idle time.Duration) {
	p.mu.Lock()
	p.size, p.idle = max(size, 1), idle
	p.mu.Unlock()
}

// Count returns how many warm processes are alive (for tests and status).
func (p *WarmPool) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, sp := range p.pools {
		sp.mu.Lock()
		n += len(sp.free)
		sp.mu.Unlock()
		n += len(sp.slots) // busy workers hold a slot
	}
	return n
}

func (p *WarmPool) pool(spec WarmSpec) (*scriptPool, []*scriptPool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, errors.New("millrun is shutting down")
	}
	var retired []*scriptPool
	if old, ok := p.current[spec.Path]; ok && old != spec.Hash {
		// A new version replaces the old one's workers; pinned-hash runs
		// of the old version start them again if they come.
		if sp := p.pools[old]; sp != nil {
			retired = append(retired, sp)
			delete(p.pools, old)
		}
	}
	p.current[spec.Path] = spec.Hash
	sp, ok := p.pools[spec.Hash]
	if !ok {
		sp = &scriptPool{hash: spec.Hash, path: spec.Path, spec: spec.Spec, slots: make(chan struct{}, p.size)}
		p.pools[spec.Hash] = sp
	}
	return sp, retired, nil
}

// Run runs spec on a warm worker. Logs, results and errors follow the cold
// rules; a timeout or cancel (ctx) kills that worker, and a crashed worker
// fails only the job it was running.
func (p *WarmPool) Run(ctx context.Context, spec WarmSpec, logs io.Writer) Outcome {
	sp, retired, err := p.pool(spec)
	for _, old := range retired {
		old.retire()
	}
	if err != nil {
		return Failure("WorkerStopped", err.Error(), nil)
	}
	select {
	case sp.slots <- struct{}{}:
	case <-ctx.Done():
		return Outcome{}
	}
	defer func() { <-sp.slots }()

	proc, out := p.take(ctx, sp, logs)
	if proc == nil {
		return out
	}
	out, healthy := proc.run(ctx, spec.Spec, logs)
	if healthy && ctx.Err() == nil {
		sp.put(proc)
	} else {
		proc.kill()
		if !healthy && ctx.Err() == nil {
			sp.noteFailure()
		}
	}
	return compact(out)
}

// compact makes results compact JSON, as for cold runs.
func compact(out Outcome) Outcome {
	if len(out.Result) > 0 {
		if b, err := json.Marshal(json.RawMessage(out.Result)); err == nil {
			out.Result = b
		}
	}
	return out
}

// take returns an idle worker or starts one.
func (p *WarmPool) take(ctx context.Context, sp *scriptPool, logs io.Writer) (*warmProc, Outcome) {
	sp.mu.Lock()
	for len(sp.free) > 0 {
		proc := sp.free[len(sp.free)-1]
		sp.free = sp.free[:len(sp.free)-1]
		if proc.alive() {
			sp.mu.Unlock()
			return proc, Outcome{}
		}
		proc.kill()
	}
	wait := time.Until(sp.retryAt)
	sp.mu.Unlock()
	if wait > 0 {
		// Restart backoff after crashes: a script that kills its worker
		// every time must not make millrun spawn interpreters in a loop.
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, Outcome{}
		}
	}
	proc, out := p.r.startWarm(ctx, sp.spec, logs)
	if proc == nil {
		sp.noteFailure()
	}
	return proc, out
}

func (sp *scriptPool) put(proc *warmProc) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.failures = 0
	if sp.retired {
		proc.kill()
		return
	}
	proc.lastUsed = time.Now()
	sp.free = append(sp.free, proc)
}

func (sp *scriptPool) noteFailure() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.failures++
	sp.retryAt = time.Now().Add(min(time.Duration(1<<min(sp.failures-1, 5))*250*time.Millisecond, 8*time.Second))
}

func (sp *scriptPool) retire() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.retired = true
	for _, proc := range sp.free {
		proc.kill()
	}
	sp.free = nil
}

// reap stops workers that sat idle past the idle timeout.
func (p *WarmPool) reap() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		idle := p.idle
		pools := make([]*scriptPool, 0, len(p.pools))
		for _, sp := range p.pools {
			pools = append(pools, sp)
		}
		p.mu.Unlock()
		for _, sp := range pools {
			sp.mu.Lock()
			kept := sp.free[:0]
			for _, proc := range sp.free {
				if time.Since(proc.lastUsed) > idle {
					proc.kill()
				} else {
					kept = append(kept, proc)
				}
			}
			sp.free = kept
			sp.mu.Unlock()
		}
	}
}

// Close stops every warm worker.
func (p *WarmPool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	pools := p.pools
	p.pools = map[string]*scriptPool{}
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, sp := range pools {
		sp.retire()
	}
}

// warmProc is one long-lived interpreter.
type warmProc struct {
	cmd      *exec.Cmd
	dir      string
	jobs     *os.File // we write job lines (its fd 3)
	answers  chan []byte
	stdout   *demux
	stderr   *demux
	exited   chan struct{}
	exitErr  error
	lastUsed time.Time
	killOnce sync.Once
}

const jobEndMarker = "\x1emillrun-job-end "

func (r *Runner) startWarm(ctx context.Context, spec Spec, logs io.Writer) (*warmProc, Outcome) {
	dir, err := os.MkdirTemp(r.TempRoot, "millrun-warm-*")
	if err != nil {
		return nil, Failure("InternalError", "cannot create the worker directory: "+err.Error(), nil)
	}
	var cmd *exec.Cmd
	env := append([]string{}, r.processEnv()...)
	switch {
	case spec.Language == Python:
		if r.interp.Python == "" {
			os.RemoveAll(dir)
			return nil, Failure("RuntimeMissing", "python3 is not installed", nil)
		}
		if err := writeFiles(dir, map[string]string{"main.py": spec.Content, "warm.py": wrapper("python_warm.py")}); err != nil {
			os.RemoveAll(dir)
			return nil, Failure("InternalError", err.Error(), nil)
		}
		cmd = exec.Command(r.interp.Python, "-u", "warm.py")
		env = append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	case IsTypeScript(spec.Language):
		if r.interp.Node == "" {
			os.RemoveAll(dir)
			return nil, Failure("RuntimeMissing", "warm TypeScript workers need Node.js", nil)
		}
		js, err := r.stripTypes(spec.Content)
		if err != nil {
			os.RemoveAll(dir)
			return nil, Failure("CompileError", err.Error(), nil)
		}
		if err := writeFiles(dir, map[string]string{"main.mjs": js, "warm.mjs": wrapper("node_warm.mjs")}); err != nil {
			os.RemoveAll(dir)
			return nil, Failure("InternalError", err.Error(), nil)
		}
		cmd = exec.Command(r.interp.Node, "warm.mjs")
		env = append(env, "MILLRUN_MAIN=main.mjs")
	default:
		os.RemoveAll(dir)
		return nil, Failure("UnsupportedLanguage", spec.Language+" has no warm workers", nil)
	}
	jobsR, jobsW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, Failure("InternalError", err.Error(), nil)
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		jobsR.Close()
		jobsW.Close()
		os.RemoveAll(dir)
		return nil, Failure("InternalError", err.Error(), nil)
	}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	cmd.Dir, cmd.Env = dir, append(env, "TMPDIR="+dir)
	cmd.ExtraFiles = []*os.File{jobsR, ansW} // fds 3 and 4
	setProcessGroup(cmd)
	if err := r.procs.start(cmd); err != nil {
		jobsR.Close()
		jobsW.Close()
		ansR.Close()
		ansW.Close()
		os.RemoveAll(dir)
		return nil, Failure("ExecutionErr", "cannot start the interpreter: "+err.Error(), nil)
	}
	jobsR.Close()
	ansW.Close()
	p := &warmProc{cmd: cmd, dir: dir, jobs: jobsW, answers: make(chan []byte, 1), exited: make(chan struct{}),
		stdout: newDemux(stdout), stderr: newDemux(stderr), lastUsed: time.Now()}
	// Output while importing (module-level prints, import errors) belongs
	// to the job that started the worker.
	p.stdout.attach(logs)
	p.stderr.attach(logs)
	go func() {
		br := bufio.NewReaderSize(ansR, 1<<16)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				p.answers <- line
			}
			if err != nil {
				close(p.answers)
				ansR.Close()
				return
			}
		}
	}()
	go func() {
		p.stdout.wait()
		p.stderr.wait()
		p.exitErr = r.procs.wait(cmd)
		close(p.exited)
	}()

	select {
	case line, ok := <-p.answers:
		var ready struct {
			Ready bool            `json:"ready"`
			Error json.RawMessage `json:"error"`
		}
		if ok && json.Unmarshal(line, &ready) == nil && ready.Ready {
			p.stdout.detach()
			p.stderr.detach()
			return p, Outcome{}
		}
		p.kill()
		if ok && len(ready.Error) > 0 {
			res, _ := json.Marshal(map[string]json.RawMessage{"error": ready.Error})
			return nil, Outcome{Result: res}
		}
		return nil, Failure("WorkerCrashed", "the warm worker exited while loading the script", nil)
	case <-ctx.Done():
		p.kill()
		return nil, Outcome{}
	}
}

func (p *warmProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// run sends one job and waits for its answer and for both log streams to
// reach the job's end marker. healthy is false when the worker must not be
// reused.
func (p *warmProc) run(ctx context.Context, spec Spec, logs io.Writer) (Outcome, bool) {
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	env := map[string]string{}
	for _, kv := range spec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	args := spec.Args
	if args == nil {
		args = map[string]json.RawMessage{}
	}
	msg, _ := json.Marshal(map[string]any{"id": id, "args": args, "order": orderOrEmpty(spec.Order), "env": env})
	p.stdout.attach(logs)
	p.stderr.attach(logs)
	defer p.stdout.detach()
	defer p.stderr.detach()
	if _, err := p.jobs.Write(append(msg, '\n')); err != nil {
		return Failure("WorkerCrashed", "the warm worker is gone: "+err.Error(), nil), false
	}
	select {
	case line, ok := <-p.answers:
		if !ok {
			<-p.exited
			return Failure("WorkerCrashed", fmt.Sprintf("the warm worker exited while running the job (%v); a fresh one starts for the next job", p.exitErr), nil), false
		}
		var ans struct {
			ID     string          `json:"id"`
			OK     bool            `json:"ok"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(line, &ans); err != nil || ans.ID != id {
			return Failure("WorkerCrashed", "the warm worker answered out of turn", nil), false
		}
		// The markers come before the answer is written, so both streams
		// already hold them; this only waits for our readers to catch up.
		if !p.stdout.waitMarker(id, 2*time.Second) || !p.stderr.waitMarker(id, 2*time.Second) {
			return Failure("WorkerCrashed", "the warm worker's logs did not end cleanly", nil), false
		}
		if !ans.OK {
			res, _ := json.Marshal(map[string]json.RawMessage{"error": ans.Error})
			return Outcome{Result: res}, true
		}
		if len(ans.Result) == 0 {
			ans.Result = json.RawMessage("null")
		}
		return Outcome{Result: ans.Result, Success: true}, true
	case <-ctx.Done():
		return Outcome{}, false
	}
}

func (p *warmProc) kill() {
	p.killOnce.Do(func() {
		killProcessGroup(p.cmd)
		p.jobs.Close()
		go func() {
			<-p.exited
			os.RemoveAll(p.dir)
		}()
	})
}

// demux copies a worker's output stream to the current job's log and
// spots the job-end markers in it.
type demux struct {
	mu      sync.Mutex
	w       io.Writer
	markers chan string
	done    chan struct{}
}

func newDemux(r io.Reader) *demux {
	d := &demux{markers: make(chan string, 16), done: make(chan struct{})}
	go d.loop(r)
	return d
}

func (d *demux) attach(w io.Writer) { d.mu.Lock(); d.w = w; d.mu.Unlock() }
func (d *demux) detach()            { d.mu.Lock(); d.w = nil; d.mu.Unlock() }
func (d *demux) wait()              { <-d.done }

func (d *demux) write(b []byte) {
	d.mu.Lock()
	if d.w != nil && len(b) > 0 {
		_, _ = d.w.Write(b)
	}
	d.mu.Unlock()
}

func (d *demux) loop(r io.Reader) {
	defer close(d.done)
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := br.ReadSlice('\n')
		if i := strings.Index(string(line), jobEndMarker); i >= 0 {
			d.write(line[:i])
			d.markers <- strings.TrimSpace(string(line[i+len(jobEndMarker):]))
		} else {
			d.write(line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (d *demux) waitMarker(id string, limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case m := <-d.markers:
			if m == id {
				return true
			}
		case <-d.done:
			return false
		case <-timer.C:
			return false
		}
	}
}
