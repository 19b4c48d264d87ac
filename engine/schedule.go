package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/millrun/millrun/engine/alerts"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/runnable"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/store"
)

// enqueueScheduled starts the run of a schedule for one due time: the
// latest version of what it names, with its arguments, as a durable job
// that records the due time as its scheduled time.
func (e *Engine) enqueueScheduled(ctx context.Context, sc *store.Schedule, due time.Time, id string) error {
	job := &store.Job{ID: id, Workspace: sc.Workspace, Args: sc.Args, Trigger: "schedule", CreatedBy: "schedule",
		SchedulePath: sc.Path, ScheduledFor: due}
	if err := e.resolveRunnable(ctx, job, sc.IsFlow, sc.ScriptPath); err != nil {
		return err
	}
	err := e.queue.Enqueue(ctx, job)
	if !errors.Is(err, store.ErrDuplicateJob) {
		return err
	}
	// The id is taken: by this run, started before a crash (the scheduler
	// passes on), or by some other job, and then this due time never ran
	// and the schedule must say so.
	held, gerr := e.db.GetJob(ctx, sc.Workspace, id)
	if gerr != nil {
		return fmt.Errorf("job %s exists but cannot be read: %w", id, gerr)
	}
	if held.SchedulePath != sc.Path || !held.ScheduledFor.Equal(due) {
		return fmt.Errorf("%w (job %s, of %s)", schedules.ErrIDTaken, id, held.ScriptPath)
	}
	return err
}

// resolveRunnable fills in what job runs: the latest version of the
// script or flow at path.
func (e *Engine) resolveRunnable(ctx context.Context, job *store.Job, isFlow bool, path string) error {
	t, err := runnable.Resolver{Scripts: e.catalog, Flows: e.flowCat}.Runnable(ctx, job.Workspace, runnable.KindOf(isFlow), path)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", schedules.ErrTargetGone, err)
	}
	if err != nil {
		return cannotRun(err)
	}
	t.Fill(job)
	return nil
}

// cannotRun marks why a schedule's target cannot run (a library) as
// lasting like a deleted target: the due time is recorded as failed with
// this message and passed, not retried every tick. Other errors (the
// database) pass through to be retried.
func cannotRun(err error) error {
	var inv *errs.Invalid
	if errors.As(err, &inv) {
		return notRunnable{err}
	}
	return err
}

type notRunnable struct{ error }

func (notRunnable) Is(target error) bool { return target == schedules.ErrTargetGone }

func (n notRunnable) Unwrap() error { return n.error }

// jobFinished is told of every job that ends (on its worker).
func (e *Engine) jobFinished(job *store.Job) {
	e.tokens.RevokeJobTokens(job.ID)
	e.forgetIfAsked(job)
	if job.Kind == "flow" && job.ParentJob == "" {
		// A flow canceled while it waited leaves its loop iterations and
		// branches unfinished: they end with it.
		e.db.CloseDescendantsAsync(job.ID, job.Status, job.Result, time.Now())
	}
	e.scheduledJobFinished(job)
	e.alerts.JobFinished(job)
	if job.Status == store.StatusFailure && job.ParentJob == "" {
		e.lastFailure.Store(&Failure{JobID: job.ID, Path: job.ScriptPath, Reason: alerts.Reason(job.Result), At: time.Now()})
	}
}

// alertTunnel tells the alerter when the tunnel goes offline or fails.
func (e *Engine) alertTunnel(stop <-chan struct{}) {
	ch, cancel := e.tunnel.Subscribe()
	defer cancel()
	was := ""
	for {
		select {
		case <-stop:
			return
		case st := <-ch:
			if was != "" && string(st.State) != was {
				e.alerts.TunnelChanged(was, string(st.State), st.Error)
			}
			was = string(st.State)
		}
	}
}

// scheduledJobFinished records how a schedule's run ended on the schedule,
// and starts its on_failure handler when the run failed. It is called on a
// worker, so the writes go elsewhere.
func (e *Engine) scheduledJobFinished(job *store.Job) {
	if job.SchedulePath == "" {
		return
	}
	failed := job.Status != store.StatusSuccess
	go func() {
		ctx := context.Background()
		if !failed {
			_ = e.db.SetScheduleError(ctx, job.Workspace, job.SchedulePath, nil)
			return
		}
		reason := job.Status
		var r struct {
			Error struct{ Name, Message string } `json:"error"`
		}
		if json.Unmarshal([]byte(job.Result), &r) == nil && r.Error.Message != "" {
			reason = r.Error.Name + ": " + r.Error.Message
		}
		msg := fmt.Sprintf("run %s failed at %s: %s", job.ID, job.CompletedAt.UTC().Format(time.RFC3339), reason)
		_ = e.db.SetScheduleError(ctx, job.Workspace, job.SchedulePath, &msg)
		sc, err := e.db.GetSchedule(ctx, job.Workspace, job.SchedulePath)
		if err != nil || sc.OnFailure == nil || *sc.OnFailure == "" {
			return
		}
		if err := e.runOnFailure(ctx, sc, job); err != nil {
			e.log.Warn("schedule on_failure handler", "schedule", sc.Path, "err", err)
		}
	}()
}

// runOnFailure starts a schedule's failure handler ("script/<path>",
// "flow/<path>" or a bare script path, as Windmill stores it) with the
// arguments Windmill gives one. Its own failure starts nothing more.
func (e *Engine) runOnFailure(ctx context.Context, sc *store.Schedule, failed *store.Job) error {
	target, isFlow := *sc.OnFailure, false
	if rest, ok := strings.CutPrefix(target, "flow/"); ok {
		target, isFlow = rest, true
	} else if rest, ok := strings.CutPrefix(target, "script/"); ok {
		target = rest
	}
	var errValue any = json.RawMessage(failed.Result)
	if !json.Valid([]byte(failed.Result)) {
		errValue = failed.Result
	}
	args, _ := json.Marshal(map[string]any{
		"workspace_id": failed.Workspace, "job_id": failed.ID, "path": failed.ScriptPath, "is_flow": failed.Kind == "flow",
		"schedule_path": sc.Path, "error": errValue, "started_at": failed.StartedAt.UTC().Format(time.RFC3339Nano), "failed_times": 1,
	})
	job := &store.Job{Workspace: failed.Workspace, Args: string(args), Trigger: "schedule_on_failure", CreatedBy: "schedule"}
	if err := e.resolveRunnable(ctx, job, isFlow, target); err != nil {
		return err
	}
	return e.queue.Enqueue(ctx, job)
}
