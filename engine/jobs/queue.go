// Package jobs is millrun's durable job queue: it records every job in the
// store before acknowledging it, runs jobs on a bounded worker pool, wakes
// sync waiters in-process, enforces timeouts, cancels, per-script
// concurrency limits and retention, and recovers after a crash.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/store"
)

// Outcome is what executing a job produced: the script's value on success,
// Windmill's {"error": {...}} object on failure.
type Outcome struct {
	Result  json.RawMessage
	Success bool
}

// Executor runs one job. It must return when ctx is cancelled.
type Executor interface {
	Execute(ctx context.Context, run *Execution) Outcome
}

// Execution is one job being run, with the ways an executor reports on it.
type Execution struct {
	Job  *store.Job // a copy: the executor may read it freely
	Logs io.Writer
	q    *Queue
}

// SetFlowStatus records a flow's progress, visible at once to job reads.
func (x *Execution) SetFlowStatus(status json.RawMessage) {
	x.q.mu.Lock()
	if a, ok := x.q.running[x.Job.ID]; ok {
		a.job.FlowStatus = string(status)
	}
	x.q.mu.Unlock()
	x.q.db.SetFlowStatusAsync(x.Job.ID, string(status), func(err error) {
		if err != nil {
			x.q.log.Error("record flow status", "job", x.Job.ID, "err", err)
		}
	})
}

// EarlyReturn answers the job's sync waiters now, with result, while the
// job goes on (a flow's early_return step). Later waiters get the final job.
func (x *Execution) EarlyReturn(result json.RawMessage) {
	x.q.mu.Lock()
	defer x.q.mu.Unlock()
	early := *x.Job
	early.Status = store.StatusSuccess
	early.Result = string(result)
	for _, ch := range x.q.waiters[x.Job.ID] {
		ch <- &early
	}
	delete(x.q.waiters, x.Job.ID)
}

// Config tunes the queue. Zero values mean the defaults.
type Config struct {
	Workers        int           // default: number of CPUs
	MaxQueued      int           // jobs waiting beyond this are refused (default 10,000)
	DefaultTimeout time.Duration // default 15 minutes
	LogLimit       int           // bytes of log kept per job (default 2 MiB)
	RetentionAge   time.Duration // default 30 days
	RetentionMax   int           // default 100,000 finished jobs
	ShutdownGrace  time.Duration // how long running jobs may finish on Close (default 10 s)
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
		c.Workers = runtime.NumCPU()
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

	mu       sync.Mutex
	pending  []*store.Job // ordered by scheduled_for, then arrival
	reserved int          // enqueues past the size check, not yet in pending
	running  map[string]*active
	// finishing holds finished jobs whose final write is not committed
	// yet, so reads never see a job go back from finished to running.
	finishing map[string]*store.Job
	perKey    map[string]int // running jobs per concurrency key
	waiters   map[string][]chan *store.Job
	watchers  map[chan *store.Job]struct{}
	changed   chan struct{} // closed and replaced whenever pending or running changes
	stopping  bool

	starts *startLog // nil without Config.StartLogDir

	workers sync.WaitGroup
	bg      sync.WaitGroup
	stop    chan struct{}
}

type active struct {
	job    *store.Job
	ctx    context.Context
	cancel context.CancelCauseFunc
	logs   *LogBuffer
}

// New builds a queue; Start recovers state and starts the workers.
func New(db *store.DB, exec Executor, cfg Config) *Queue {
	cfg = cfg.withDefaults()
	return &Queue{
		db: db, exec: exec, cfg: cfg, log: cfg.Logger,
		running: map[string]*active{}, finishing: map[string]*store.Job{}, perKey: map[string]int{}, waiters: map[string][]chan *store.Job{}, watchers: map[chan *store.Job]struct{}{},
		changed: make(chan struct{}), stop: make(chan struct{}),
	}
}

// Start fails the jobs a crash left running, reloads the queued ones and
// starts the worker pool and the retention pruner.
func (q *Queue) Start(ctx context.Context) error {
	if dir := q.cfg.StartLogDir; dir != "" {
		started, err := readStartLogs(dir)
		if err != nil {
			return err
		}
		if err := q.db.MarkStarted(ctx, started); err != nil {
			return err
		}
		if q.starts, err = openStartLog(dir, q.db.AfterWrites); err != nil {
			return err
		}
	}
	res, _ := json.Marshal(map[string]any{"error": map[string]string{"name": "WorkerStopped", "message": CrashReason}})
	n, err := q.db.FailRunning(ctx, string(res), time.Now())
	if err != nil {
		return err
	}
	if n > 0 {
		q.log.Warn("jobs interrupted by the last exit marked failed", "count", n)
	}
	queued, err := q.db.UnfinishedJobs(ctx)
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.pending = append(q.pending, queued...)
	q.mu.Unlock()
	for range q.cfg.Workers {
		q.workers.Add(1)
		go q.worker()
	}
	q.bg.Add(1)
	go q.pruneLoop()
	return nil
}

// Workers returns the size of the worker pool.
func (q *Queue) Workers() int { return q.cfg.Workers }

// Watch returns a channel of job snapshots, one whenever any job is
// queued, starts or finishes, for live views. A slow reader misses events
// rather than slowing the queue. Call the returned func to stop.
func (q *Queue) Watch() (<-chan *store.Job, func()) {
	ch := make(chan *store.Job, 256)
	q.mu.Lock()
	q.watchers[ch] = struct{}{}
	q.mu.Unlock()
	return ch, func() {
		q.mu.Lock()
		delete(q.watchers, ch)
		q.mu.Unlock()
	}
}

// publish tells watchers about a job; the caller holds q.mu.
func (q *Queue) publish(j *store.Job) {
	if len(q.watchers) == 0 {
		return
	}
	snap := *j
	snap.Logs, snap.Result = "", "" // lists show neither; the job page reads them
	for ch := range q.watchers {
		select {
		case ch <- &snap:
		default:
		}
	}
}

// signal wakes workers; the caller holds q.mu.
func (q *Queue) signal() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Enqueue durably records job and queues it. It fills in the ID (unless the
// caller chose one), status and timestamps. When it returns nil the job is
// on disk.
func (q *Queue) Enqueue(ctx context.Context, job *store.Job) error {
	return q.enqueue(ctx, job, true)
}

// EnqueueForWaiter queues a job whose caller waits for its result (a sync
// webhook). The insert is ordered before the job's later writes but not
// awaited, and none of the job's writes wait for an fsync: the caller's
// answer comes from memory. Before the script starts its running mark is
// with the OS, so a kill -9 of millrun never runs it twice; a power loss
// can lose the job's record, or find it queued and run it at the next
// start, like any request whose caller never got an answer.
func (q *Queue) EnqueueForWaiter(ctx context.Context, job *store.Job) error {
	return q.enqueue(ctx, job, false)
}

func (q *Queue) enqueue(ctx context.Context, job *store.Job, durable bool) error {
	q.mu.Lock()
	if q.stopping {
		q.mu.Unlock()
		return ErrShuttingDown
	}
	if len(q.pending)+q.reserved >= q.cfg.MaxQueued {
		q.mu.Unlock()
		return ErrQueueFull
	}
	q.reserved++
	q.mu.Unlock()

	now := time.Now().UTC()
	if job.ID == "" {
		job.ID = uuid.NewString()
	}
	job.Status = store.StatusQueued
	job.CreatedAt = now
	if job.ScheduledFor.IsZero() || job.ScheduledFor.Before(now) {
		job.ScheduledFor = now
	}
	if job.Args == "" {
		job.Args = "{}"
	}
	var err error
	submit := func() {}
	if durable {
		job.Durability = store.SurvivesPowerLoss
		err = q.db.InsertJob(ctx, job)
	} else {
		job.Durability = store.SurvivesCrash
		submit = q.db.InsertJobLater(job, func(err error) {
			if err != nil {
				q.log.Error("record queued job", "job", job.ID, "err", err)
			}
		})
	}

	q.mu.Lock()
	q.reserved--
	if err == nil {
		q.insertPending(job)
		q.publish(job)
		q.signal()
	}
	q.mu.Unlock()
	// After the worker is woken, so that on an idle queue it asks for the
	// running mark before the insert is written and the two go as one.
	submit()
	return err
}

// insertPending keeps pending ordered by scheduled time; the caller holds q.mu.
func (q *Queue) insertPending(job *store.Job) {
	i := len(q.pending)
	for i > 0 && q.pending[i-1].ScheduledFor.After(job.ScheduledFor) {
		i--
	}
	q.pending = append(q.pending, nil)
	copy(q.pending[i+1:], q.pending[i:])
	q.pending[i] = job
}

// Subscribe returns a channel that receives the job once it finishes.
// Subscribe before Enqueue so the finish cannot be missed; always call
// Unsubscribe.
func (q *Queue) Subscribe(id string) chan *store.Job {
	ch := make(chan *store.Job, 1)
	q.mu.Lock()
	q.waiters[id] = append(q.waiters[id], ch)
	q.mu.Unlock()
	return ch
}

// Unsubscribe removes a channel added by Subscribe.
func (q *Queue) Unsubscribe(id string, ch chan *store.Job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	list := q.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(q.waiters, id)
	} else {
		q.waiters[id] = list
	}
}

// Live returns a snapshot of a queued or running job held in memory, with
// the logs written so far.
func (q *Queue) Live(id string) (*store.Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if a, ok := q.running[id]; ok {
		j := *a.job
		j.Logs = a.logs.String()
		return &j, true
	}
	if j, ok := q.finishing[id]; ok {
		return j, true
	}
	return nil, false
}

// Stopping is closed when the queue begins to shut down.
func (q *Queue) Stopping() <-chan struct{} { return q.stop }

// Queued reports whether a job is waiting for a worker (it has not started).
func (q *Queue) Queued(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range q.pending {
		if j.ID == id {
			return true
		}
	}
	return false
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

// next blocks until a job may run and claims it, or returns nil on shutdown.
func (q *Queue) next() *store.Job {
	for {
		q.mu.Lock()
		if q.stopping {
			q.mu.Unlock()
			return nil
		}
		now := time.Now()
		var wake time.Time
		for i, j := range q.pending {
			if j.ScheduledFor.After(now) {
				wake = j.ScheduledFor
				break // ordered by schedule: nothing later is due either
			}
			if j.ConcurrencyLimit > 0 && q.perKey[j.ScriptPath] >= j.ConcurrencyLimit {
				continue // waits its turn; later jobs of other scripts may go
			}
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			if j.ConcurrencyLimit > 0 {
				q.perKey[j.ScriptPath]++
			}
			// The cancel func exists from the moment of the claim, so a
			// Cancel arriving before the process starts is not lost.
			ctx, cancel := context.WithCancelCause(context.Background())
			q.running[j.ID] = &active{job: j, ctx: ctx, cancel: cancel, logs: NewLogBuffer(q.cfg.LogLimit)}
			q.mu.Unlock()
			return j
		}
		changed := q.changed
		q.mu.Unlock()
		var timer *time.Timer
		var due <-chan time.Time
		if !wake.IsZero() {
			timer = time.NewTimer(time.Until(wake))
			due = timer.C
		}
		select {
		case <-changed:
		case <-due:
		case <-q.stop:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (q *Queue) worker() {
	defer q.workers.Done()
	for {
		job := q.next()
		if job == nil {
			return
		}
		q.run(job)
	}
}

// cancelCause is why a running job's context ended.
type cancelCause struct {
	status string // canceled or failure
	name   string
	msg    string
	by     string
	reason string
}

func (c *cancelCause) Error() string { return c.msg }

func (q *Queue) run(job *store.Job) {
	q.mu.Lock()
	a := q.running[job.ID]
	ctx, cancel, logs := a.ctx, a.cancel, a.logs
	job.StartedAt = time.Now().UTC()
	job.Status = store.StatusRunning
	snapshot := *job
	q.publish(job)
	q.mu.Unlock()
	defer cancel(nil)

	timeout := q.cfg.DefaultTimeout
	if job.TimeoutS > 0 {
		timeout = time.Duration(job.TimeoutS) * time.Second
	}
	timer := time.AfterFunc(timeout, func() {
		cancel(&cancelCause{status: store.StatusFailure, name: "TimeoutError",
			msg: fmt.Sprintf("job timed out after %s (its timeout); the process and its children were killed", timeout)})
	})
	defer timer.Stop()

	var out Outcome
	if err := q.markRunning(&snapshot); err != nil {
		q.log.Error("mark job running", "job", job.ID, "err", err)
		res, _ := json.Marshal(map[string]any{"error": map[string]string{"name": "InternalError", "message": "the job could not be recorded as running, so it was not started: " + err.Error()}})
		out = Outcome{Result: res}
	} else {
		out = q.exec.Execute(ctx, &Execution{Job: &snapshot, Logs: logs, q: q})
	}

	q.mu.Lock()
	done := *job // includes the flow status the executor reported
	q.mu.Unlock()
	done.CompletedAt = time.Now().UTC()
	done.DurationMs = done.CompletedAt.Sub(done.StartedAt).Milliseconds()
	var cause *cancelCause
	if errors.As(context.Cause(ctx), &cause) {
		done.Status = cause.status
		done.CanceledBy, done.CanceledReason = cause.by, cause.reason
		res, _ := json.Marshal(map[string]any{"error": map[string]string{"name": cause.name, "message": cause.msg}})
		done.Result = string(res)
	} else {
		done.Status = store.StatusFailure
		if out.Success {
			done.Status = store.StatusSuccess
		}
		done.Result = string(out.Result)
	}
	done.Logs = logs.String()
	q.finish(&done)
}

// markRunning makes the job's start survive a crash before its process
// starts: after a crash a job found queued has not run, so running it then
// is not a second run. Jobs accepted durably wait for their mark to be on
// disk (a share of one grouped fsync); for jobs whose caller waits on them
// a line in the start log does, and the database mark follows.
func (q *Queue) markRunning(job *store.Job) error {
	if job.Durability == store.SurvivesCrash && q.starts != nil {
		return q.starts.started(job.ID, func() { q.db.MarkRunningAsync(job) })
	}
	return q.db.MarkRunning(context.Background(), job)
}

// finish stores a final state, releases the job's slot and wakes waiters.
// Waiters get the job from memory at once; the write commits with the next
// group.
func (q *Queue) finish(job *store.Job) {
	q.mu.Lock()
	q.finishing[job.ID] = job
	if _, ok := q.running[job.ID]; ok {
		delete(q.running, job.ID)
		if job.ConcurrencyLimit > 0 {
			if q.perKey[job.ScriptPath]--; q.perKey[job.ScriptPath] <= 0 {
				delete(q.perKey, job.ScriptPath)
			}
		}
	}
	waiters := q.waiters[job.ID]
	delete(q.waiters, job.ID)
	q.publish(job)
	q.signal()
	q.mu.Unlock()
	q.db.FinishJobAsync(job, func(err error) {
		if err != nil {
			q.log.Error("record finished job", "job", job.ID, "err", err)
		}
		q.mu.Lock()
		delete(q.finishing, job.ID)
		q.mu.Unlock()
	})
	// Waiters are woken last: each wake-up above (watchers, workers, the
	// committer) would otherwise push the waiting caller behind it on the
	// scheduler, and it is the one someone is waiting on. Their channels
	// hold one job and, taken off the map, get no other.
	for _, ch := range waiters {
		ch <- job
	}
	if q.cfg.OnFinish != nil {
		q.cfg.OnFinish(job)
	}
}

// Cancel stops a queued or running job. A running job's process group is
// killed; the job ends as canceled with reason.
func (q *Queue) Cancel(ctx context.Context, workspace, id, by, reason string) error {
	msg := "Job canceled"
	if reason != "" {
		msg += ": " + reason
	}
	if by != "" {
		msg += " by " + by
	}
	q.mu.Lock()
	for i, j := range q.pending {
		if j.ID == id && j.Workspace == workspace {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			q.mu.Unlock()
			done := *j
			done.Status = store.StatusCanceled
			done.CompletedAt = time.Now().UTC()
			done.CanceledBy, done.CanceledReason = by, reason
			res, _ := json.Marshal(map[string]any{"error": map[string]string{"name": "Canceled", "message": msg}})
			done.Result = string(res)
			q.finish(&done)
			return nil
		}
	}
	if _, ok := q.finishing[id]; ok {
		q.mu.Unlock()
		return ErrAlreadyCompleted
	}
	if a, ok := q.running[id]; ok && a.job.Workspace == workspace {
		a.cancel(&cancelCause{status: store.StatusCanceled, name: "Canceled", msg: msg, by: by, reason: reason})
		q.mu.Unlock()
		return nil
	}
	q.mu.Unlock()
	j, err := q.db.GetJob(ctx, workspace, id)
	if err != nil {
		return err
	}
	if j.Finished() {
		return ErrAlreadyCompleted
	}
	return fmt.Errorf("job %s is neither queued nor running here", id)
}

// Close stops taking jobs, lets running ones finish within the grace
// period, then kills the rest (they end failed, saying why). Queued jobs
// stay queued on disk and run on the next start.
func (q *Queue) Close(ctx context.Context) {
	q.mu.Lock()
	if q.stopping {
		q.mu.Unlock()
		return
	}
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
		{
			a.cancel(&cancelCause{status: store.StatusFailure, name: "WorkerStopped", msg: "millrun shut down before the job finished"})
		}
	}
	q.mu.Unlock()
	<-done
	q.bg.Wait()
	if q.starts != nil {
		q.starts.close()
	}
}

func (q *Queue) pruneLoop() {
	defer q.bg.Done()
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		if _, err := q.Prune(context.Background()); err != nil {
			q.log.Error("prune old jobs", "err", err)
		}
		t.Reset(10 * time.Minute)
	}
}

// Prune applies the retention settings now.
func (q *Queue) Prune(ctx context.Context) (int64, error) {
	return q.db.PruneJobs(ctx, time.Now().Add(-q.cfg.RetentionAge), q.cfg.RetentionMax)
}

// SetMaxQueued changes the queue bound at run time (the setting).
func (q *Queue) SetMaxQueued(n int) {
	q.mu.Lock()
	q.cfg.MaxQueued = n
	q.mu.Unlock()
}
