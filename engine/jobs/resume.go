package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/millrun/millrun/engine/store"
)

// What flows need of the queue beyond running a job to its end: to give
// their worker back while they wait (a sleep, an approval) and be picked
// up again when due, to go on after millrun's exit instead of failing,
// and to run parallel branches on worker slots they borrow.

// Requeue asks that, when Execute returns, the job go back in the queue
// due at at, instead of finishing: it gives its worker slot back and
// runs again, from where it recorded it was, when due. Millrun's exit
// (a quit) requeues it too; a cancel or a timeout ends it as usual.
func (x *Execution) Requeue(at time.Time) {
	x.requeueAt = at
	x.requeue = true
}

// ShowFlowStatus makes a flow's progress visible to job reads at once,
// without writing it: the executor commits it itself, with the steps it
// describes.
func (x *Execution) ShowFlowStatus(status json.RawMessage) {
	x.q.mu.Lock()
	if a, ok := x.q.running[x.Job.ID]; ok {
		a.job.FlowStatus = string(status)
	}
	x.q.mu.Unlock()
}

// ShuttingDown reports whether ctx (a job's) ended because millrun is
// stopping, not because the job was canceled or timed out.
func ShuttingDown(ctx context.Context) bool {
	var cause *cancelCause
	return errors.As(context.Cause(ctx), &cause) && cause.name == "WorkerStopped"
}

// requeue puts a job that asked for it back in the queue; see Requeue.
func (q *Queue) requeue(job *store.Job, at time.Time, logs string) {
	job.Status, job.ScheduledFor, job.Logs = store.StatusQueued, at.UTC(), logs
	if err := q.db.RequeueJob(context.Background(), job); err != nil {
		q.log.Error("requeue waiting job", "job", job.ID, "err", err)
	}
	q.mu.Lock()
	if a, ok := q.running[job.ID]; ok {
		if now := time.Now().UTC(); a.woken && job.ScheduledFor.After(now) {
			job.ScheduledFor = now
			q.db.WakeJobAsync(job.ID, now)
		}
		delete(q.running, job.ID)
		if job.ConcurrencyLimit > 0 {
			if q.perKey[job.ScriptPath]--; q.perKey[job.ScriptPath] <= 0 {
				delete(q.perKey, job.ScriptPath)
			}
		}
	}
	if !q.stopping {
		q.insertPending(job)
	}
	q.publish(job)
	q.slotFreed()
	q.signal()
	q.mu.Unlock()
}

// Wake makes a waiting job due now (an approval arrived); it reports
// whether the job was waiting here. A job running now goes back in the
// queue due now if it asks to wait: it may have looked for the approval
// just before it arrived.
func (q *Queue) Wake(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if a, ok := q.running[id]; ok {
		a.woken = true
		return true
	}
	for i, j := range q.pending {
		if j.ID == id {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			j.ScheduledFor = time.Now().UTC()
			q.insertPending(j)
			q.db.WakeJobAsync(id, j.ScheduledFor)
			q.signal()
			return true
		}
	}
	return false
}

// TryBorrow takes a free worker slot for a flow's parallel branch, if
// there is one: a flow holds one slot while it runs, and each branch it
// runs beside it holds another, so flows and jobs together never run
// more at once than the worker count. Call release once the branch ends.
func (q *Queue) TryBorrow() (release func(), ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopping || len(q.running)+q.borrowed >= q.cfg.Workers {
		return nil, false
	}
	q.borrowed++
	done := false
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if done {
			return
		}
		done = true
		q.borrowed--
		q.slotFreed()
		q.signal()
	}, true
}

// SlotFreed returns a channel closed the next time a worker slot frees:
// take it before a TryBorrow that fails, then wait on it.
func (q *Queue) SlotFreed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.freed
}

// slotFreed wakes who waits for a free slot; the caller holds q.mu.
func (q *Queue) slotFreed() {
	close(q.freed)
	q.freed = make(chan struct{})
}
