package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/millrun/millrun/engine/store"
)

// Run, finish and cancel: a claimed job is marked running durably before
// its process starts, runs under its timeout, and ends once: finished,
// timed out, or canceled.

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
	if job.StartedAt.IsZero() { // a flow that resumes keeps its start
		job.StartedAt = time.Now().UTC()
	}
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
	exec := &Execution{Job: &snapshot, Logs: logs, q: q}
	if err := q.markRunning(&snapshot); err != nil {
		q.log.Error("mark job running", "job", job.ID, "err", err)
		res, _ := json.Marshal(map[string]any{"error": map[string]string{"name": "InternalError", "message": "the job could not be recorded as running, so it was not started: " + err.Error()}})
		out = Outcome{Result: res}
	} else if ctx.Err() == nil {
		// Not for a job canceled or timed out since its claim (the running
		// mark is a write waited for): nothing of it starts, and it ends
		// as its cause says.
		out = q.exec.Execute(ctx, exec)
	}

	q.mu.Lock()
	done := *job // includes the flow status the executor reported
	q.mu.Unlock()
	if exec.requeue && (ctx.Err() == nil || ShuttingDown(ctx)) {
		q.requeue(&done, exec.requeueAt, logs.String())
		return
	}
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
	q.slotFreed()
	q.signal()
	q.mu.Unlock()
	q.db.FinishJobAsync(job, func(err error) {
		if err != nil {
			q.log.Error("record finished job", "job", job.ID, "err", err)
		}
		q.mu.Lock()
		delete(q.finishing, job.ID)
		close(q.settled)
		q.settled = make(chan struct{})
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

// Settle returns once every job that had finished when it was called has
// its final state committed, so a read of the database that follows sees
// each job a caller may already have seen finish (waiters and watchers get
// jobs before their write commits).
func (q *Queue) Settle(ctx context.Context) error {
	q.mu.Lock()
	pending := make([]string, 0, len(q.finishing))
	for id := range q.finishing {
		pending = append(pending, id)
	}
	for {
		for len(pending) > 0 {
			if _, ok := q.finishing[pending[0]]; ok {
				break
			}
			pending = pending[1:]
		}
		if len(pending) == 0 {
			q.mu.Unlock()
			return nil
		}
		settled := q.settled
		q.mu.Unlock()
		select {
		case <-settled:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		q.mu.Lock()
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
