package jobs

import (
	"encoding/json"
	"github.com/millrun/millrun/engine/store"
)

// Waiters and watchers: sync callers wait for one job (or its early
// return), live views watch every change; both are served from memory.

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
