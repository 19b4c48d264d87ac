package jobs

import (
	"context"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/store"
)

// Get returns the job with id in workspace, running or finished.
func (q *Queue) Get(ctx context.Context, workspace, id string) (*store.Job, error) {
	return q.db.GetJob(ctx, workspace, id)
}

// List returns the jobs f selects, newest first.
func (q *Queue) List(ctx context.Context, f store.JobFilter) ([]*store.Job, error) {
	return q.db.ListJobs(ctx, f)
}

// Count returns how many jobs f selects.
func (q *Queue) Count(ctx context.Context, f store.JobFilter) (int, error) {
	return q.db.CountJobs(ctx, f)
}

// EnqueueCode queues a job that runs code sent with it rather than a
// saved script (a preview, wmill's script run): the code is recorded
// first, so the worker that picks the job finds it.
func (q *Queue) EnqueueCode(ctx context.Context, job *store.Job, code store.JobCode) error {
	if job.ID == "" {
		job.ID = uuid.NewString()
	}
	if err := q.db.PutJobCode(ctx, job.ID, code); err != nil {
		return err
	}
	return q.Enqueue(ctx, job)
}
