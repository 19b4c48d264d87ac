package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"
)

// The warm pool: per script version, a few long-lived interpreters that
// import the script once and run many jobs (warm_proc.go), their output
// split per job (demux.go).

// WarmSpec is a run on a warm worker: the script version it belongs to and
// the job's arguments.
type WarmSpec struct {
	Spec
	Path string // script path: a new version at the path retires the old workers
	Hash string // the version the workers were started for
}

// WarmSupported reports whether a language can run on warm workers.
func WarmSupported(lang string) bool {
	l := LanguageNamed(lang)
	return l != nil && l.warm != nil
}

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
	started bool
	stop    chan struct{} // ends the reaper started last
	done    chan struct{} // closed when it has ended

	// life takes Start and Stop one at a time, so that a Stop returns
	// only once the pool has stopped, whoever else is stopping it.
	life sync.Mutex
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
	return &WarmPool{r: r, pools: map[string]*scriptPool{}, current: map[string]string{}, size: max(size, 1), idle: idle}
}

// Start runs the reaper of idle workers until Stop; a stopped pool takes
// jobs again.
func (p *WarmPool) Start(context.Context) error {
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.started, p.closed = true, false
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.reap(p.stop, p.done)
	}
	return nil
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
	if ctx.Err() != nil {
		// Cancelled while waiting for a worker: it was handed nothing,
		// and stays for the next job.
		sp.put(proc)
		return Outcome{}
	}
	// What the job starts that makes a session of its own (a daemon it
	// uses) is the job's, not a leftover, while it runs.
	key := newJobKey()
	live := p.r.procs.begin(key)
	defer p.r.procs.end(live)
	job := spec.Spec
	job.Env = append(append([]string{}, job.Env...), key)
	out, healthy := proc.run(ctx, job, logs)
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
	if proc == nil && ctx.Err() == nil { // a cancel is no crash to back off from
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
func (p *WarmPool) reap(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
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

// Stop stops every warm worker, and refuses jobs until Start. Run works
// before Start too (only idle workers are not reaped), so Stop stops the
// workers of a pool never started as well.
func (p *WarmPool) Stop(context.Context) {
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	p.closed = true
	pools := p.pools
	p.pools = map[string]*scriptPool{}
	started, stop, done := p.started, p.stop, p.done
	p.started = false
	p.mu.Unlock()
	if started {
		close(stop)
		<-done
	}
	for _, sp := range pools {
		sp.retire()
	}
}
