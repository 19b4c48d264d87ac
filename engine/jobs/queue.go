// Package jobs is millrun's durable job queue: it records every job in the
// store before acknowledging it, runs jobs on a bounded worker pool, wakes
// sync waiters in-process, enforces timeouts, cancels, per-script
// concurrency limits and retention, and recovers after a crash.
package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/millrun/millrun/engine/lifecycle"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/store"
)

// Outcome is what executing a job produced: the runner's outcome, the
// script's value on success, Windmill's {"error": {...}} object on failure.
type Outcome = runtime.Outcome

// Executor runs one job. It must return when ctx is cancelled.
type Executor interface {
	Execute(ctx context.Context, run *Execution) Outcome
}

// Execution is one job being run, with the ways an executor reports on it.
type Execution struct {
	Job  *store.Job // a copy: the executor may read it freely
	Logs io.Writer
	q    *Queue

	requeue   bool // see Requeue
	requeueAt time.Time
}

// Config tunes the queue. Zero values mean the defaults.
type Config struct {
	Workers        int           // default: number of CPUs
	MaxQueued      int           // jobs waiting beyond this are refused (default 10,000)
	DefaultTimeout time.Duration // default 15 minutes
	LogLimit       int           // bytes of log kept per job (default 2 MiB)
	RetentionAge   time.Duration // default 30 days
	RetentionMax   int           // default 100,000 finished jobs
	ShutdownGrace  time.Duration // how long running jobs may finish on Stop (default 10 s)
	Logger         *slog.Logger
	// OnFinish, when set, is told of every job that ends, result included
	// (schedules record failures with it). It runs on the worker: keep it
	// short or hand the work to another goroutine.
	OnFinish func(*store.Job)
	// StartLogDir holds the start log of jobs whose caller waits on them
	// (see startLog); "" makes their running mark a database write the
	// worker waits for.
	StartLogDir string
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = goruntime.NumCPU()
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = 10000
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = 15 * time.Minute
	}
	if c.LogLimit <= 0 {
		c.LogLimit = 2 << 20
	}
	if c.RetentionAge <= 0 {
		c.RetentionAge = 30 * 24 * time.Hour
	}
	if c.RetentionMax <= 0 {
		c.RetentionMax = 100000
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Errors callers turn into HTTP answers.
var (
	ErrQueueFull        = errors.New("the job queue is full")
	ErrShuttingDown     = errors.New("millrun is shutting down")
	ErrAlreadyCompleted = errors.New("job is already completed")
)

// CrashReason is the error message given to jobs found running at start.
const CrashReason = "worker stopped: millrun exited while the job ran"

// Queue is the job queue and worker pool.
type Queue struct {
	db   *store.DB
	exec Executor
	cfg  Config
	log  *slog.Logger

	mu      sync.Mutex
	pending []*store.Job // ordered by scheduled_for, then arrival
	// prioritized is at least the number of pending jobs with a priority
	// (it may overcount a canceled one): while it is 0 a worker takes the
	// first due job without looking further.
	prioritized int
	reserved    int // enqueues past the size check, not yet in pending
	running     map[string]*active
	// finishing holds finished jobs whose final write is not committed
	// yet, so reads never see a job go back from finished to running.
	finishing map[string]*store.Job
	settled   chan struct{}  // closed and replaced whenever a finishing job's write commits
	perKey    map[string]int // running jobs per concurrency key
	waiters   map[string][]chan *store.Job
	watchers  map[chan *store.Job]struct{}
	// wake holds one token per change that may let an idle worker claim
	// a job (a job queued, a slot freed): one worker wakes for it, not
	// every idle one, which on two cores pushed the worker that got the
	// job and its waiting caller behind the others.
	wake     chan struct{}
	stopping bool
	// borrowed counts the worker slots flows hold for parallel branches
	// (TryBorrow); freed is closed and replaced when a slot frees.
	borrowed int
	freed    chan struct{}

	starts *startLog // nil without Config.StartLogDir

	workers sync.WaitGroup
	bg      sync.WaitGroup
	stop    chan struct{} // closed by Stop; a new one on each Start after it
	sw      lifecycle.Switch
}

type active struct {
	job    *store.Job
	ctx    context.Context
	cancel context.CancelCauseFunc
	logs   *LogBuffer
	// woken: Wake came while the job ran, so a requeue makes it due now.
	woken bool
}

// New builds a queue; Start recovers state and starts the workers.
func New(db *store.DB, exec Executor, cfg Config) *Queue {
	cfg = cfg.withDefaults()
	return &Queue{
		db: db, exec: exec, cfg: cfg, log: cfg.Logger,
		running: map[string]*active{}, finishing: map[string]*store.Job{}, perKey: map[string]int{}, waiters: map[string][]chan *store.Job{}, watchers: map[chan *store.Job]struct{}{},
		wake: make(chan struct{}, cfg.Workers), settled: make(chan struct{}), stop: make(chan struct{}), freed: make(chan struct{}),
	}
}

// Start fails the jobs a crash left running, reloads the queued ones and
// starts the worker pool and the retention pruner. A queue started again
// after Stop begins as millrun does after a restart: from the store.
func (q *Queue) Start(ctx context.Context) error { return q.sw.Start(ctx, q.start) }

func (q *Queue) start(ctx context.Context) error {
	q.mu.Lock()
	if q.stopping {
		q.stopping = false
		q.stop = make(chan struct{})
		q.pending, q.prioritized = nil, 0 // all in the store: recover reads them back
	}
	stop := q.stop
	q.mu.Unlock()
	if err := q.recover(ctx); err != nil {
		return err
	}
	for range q.cfg.Workers {
		q.workers.Add(1)
		go q.worker()
	}
	q.bg.Add(1)
	go q.pruneLoop(stop)
	return nil
}

// Workers returns the size of the worker pool.
func (q *Queue) Workers() int { return q.cfg.Workers }

// Stopping is closed when the queue begins to shut down.
func (q *Queue) Stopping() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stop
}

// Stats reports the queue's current load.
type Stats struct {
	Queued  int `json:"queued"`
	Running int `json:"running"`
	Workers int `json:"workers"`
}

// Stats returns the current load.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Queued: len(q.pending), Running: len(q.running), Workers: q.cfg.Workers}
}

// Stop stops taking jobs, lets running ones finish within the grace
// period, then kills the rest (they end failed, saying why). Queued jobs
// stay queued on disk and run on the next start.
func (q *Queue) Stop(ctx context.Context) { q.sw.Stop(ctx, q.shutDown) }

func (q *Queue) shutDown(ctx context.Context) {
	q.mu.Lock()
	q.stopping = true
	close(q.stop)
	q.signal()
	q.mu.Unlock()

	done := make(chan struct{})
	go func() { q.workers.Wait(); close(done) }()
	grace := time.NewTimer(q.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
	case <-ctx.Done():
	}
	q.mu.Lock()
	for _, a := range q.running {
		a.cancel(&cancelCause{status: store.StatusFailure, name: "WorkerStopped", msg: "millrun shut down before the job finished"})
	}
	q.mu.Unlock()
	<-done
	q.bg.Wait()
	if q.starts != nil {
		q.starts.close()
	}
}
