package jobs

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/store"
)

// Enqueue and claim: jobs go on disk, then into the pending list ordered by
// due time; a worker claims the first due job its script's limit allows.

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
	// A schedule's run keeps the due time it is for, also one that starts
	// late (the catch-up after a sleep). Any other past time becomes now,
	// so a caller's scheduled_for cannot put a job ahead of the queue.
	if job.ScheduledFor.IsZero() || job.ScheduledFor.Before(now) && job.SchedulePath == "" {
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
	}
	q.mu.Unlock()
	// The insert is handed to the committer before a worker is woken: the
	// goroutine made ready last runs first when this one blocks, and that
	// must be the worker (it then asks for the running mark before the
	// insert is written, and the two go as one). Woken first, the worker
	// waited behind the committer's transaction, ~60 us a sync call here.
	submit()
	if err == nil {
		q.mu.Lock()
		q.signal()
		q.mu.Unlock()
	}
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
	if job.Priority != 0 {
		q.prioritized++
	}
}

// signal wakes one idle worker; the caller holds q.mu. A full buffer
// means every worker has a wake-up coming, and a worker looks for a job
// before it waits, so none is lost.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next blocks until a job may run and claims it, or returns nil on shutdown.
func (q *Queue) next() *store.Job {
	for {
		q.mu.Lock()
		if q.stopping {
			q.mu.Unlock()
			return nil
		}
		stop := q.stop
		now := time.Now()
		var wake time.Time
		pick := -1
		for i, j := range q.pending {
			if len(q.running)+q.borrowed >= q.cfg.Workers {
				break // flows' parallel branches hold the free slots
			}
			if j.ScheduledFor.After(now) {
				wake = j.ScheduledFor
				break // ordered by schedule: nothing later is due either
			}
			if j.ConcurrencyLimit > 0 && q.perKey[j.ScriptPath] >= j.ConcurrencyLimit {
				continue // waits its turn; later jobs of other scripts may go
			}
			if pick < 0 || j.Priority > q.pending[pick].Priority {
				pick = i // a higher priority goes first among due jobs (Windmill's priority)
			}
			if q.prioritized == 0 {
				break // no priorities: the first due job
			}
		}
		if len(q.pending) == 0 {
			q.prioritized = 0
		}
		if pick >= 0 {
			j := q.pending[pick]
			if j.Priority != 0 {
				q.prioritized = max(0, q.prioritized-1)
			}
			q.pending = append(q.pending[:pick], q.pending[pick+1:]...)
			if j.ConcurrencyLimit > 0 {
				q.perKey[j.ScriptPath]++
			}
			// The cancel func exists from the moment of the claim, so a
			// Cancel arriving before the process starts is not lost.
			ctx, cancel := context.WithCancelCause(context.Background())
			logs := NewLogBuffer(q.cfg.LogLimit)
			logs.Write([]byte(j.Logs)) // a flow that resumes goes on with its log
			q.running[j.ID] = &active{job: j, ctx: ctx, cancel: cancel, logs: logs}
			q.mu.Unlock()
			return j
		}
		q.mu.Unlock()
		var timer *time.Timer
		var due <-chan time.Time
		if !wake.IsZero() {
			timer = time.NewTimer(time.Until(wake))
			due = timer.C
		}
		select {
		case <-q.wake:
		case <-due:
		case <-stop:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

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

// SetMaxQueued changes the queue bound at run time (the setting).
func (q *Queue) SetMaxQueued(n int) {
	q.mu.Lock()
	q.cfg.MaxQueued = n
	q.mu.Unlock()
}
