package jobs

import (
	"context"
	"encoding/json"
	"time"
)

// Maintenance: recovery after a crash at start, and retention.

// recover fails the jobs a crash left running (those whose start was
// recorded: they may have run) and reloads the queued ones.
func (q *Queue) recover(ctx context.Context) error {
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
	// A flow resumes from its recorded progress (its interrupted step
	// runs again); any other job that was running may have run: it fails.
	flows, err := q.db.RequeueInterruptedFlows(ctx)
	if err != nil {
		return err
	}
	if flows > 0 {
		q.log.Warn("flows interrupted by the last exit resume", "count", flows)
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
	return nil
}

func (q *Queue) pruneLoop(stop <-chan struct{}) {
	defer q.bg.Done()
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-stop:
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
