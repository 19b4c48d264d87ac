package schedules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/runnable"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Queue is where the runs a schedule starts go.
type Queue interface {
	Enqueue(ctx context.Context, job *store.Job) error
}

// Service owns the rules of schedules: what one may say, when it next runs,
// what it starts when due, and what happens when that run fails. The HTTP
// routes only translate to it.
type Service struct {
	DB      *store.DB
	Targets runnable.Resolver
	Queue   Queue
	// Scheduler is told of every change, and its clock gives a schedule's
	// first due time: the clock its passes read.
	Scheduler *Scheduler
	Log       *slog.Logger
}

// Input is what a caller sets on a schedule, in Windmill's field names.
// Nil fields are left as they are by an update (create: the defaults).
type Input struct {
	Path        string          `json:"path"`
	Schedule    string          `json:"schedule"`
	Timezone    string          `json:"timezone"`
	ScriptPath  string          `json:"script_path"`
	IsFlow      bool            `json:"is_flow"`
	Args        json.RawMessage `json:"args"`
	Enabled     *bool           `json:"enabled"`
	Summary     *string         `json:"summary"`
	Description *string         `json:"description"`
	OnFailure   *string         `json:"on_failure"`
	Missed      *string         `json:"missed"`
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// notFound is the answer for a schedule path that names none.
func notFound(path string) error {
	return &errs.NotFound{Msg: "schedule " + path, Err: store.ErrNotFound}
}

func storeErr(err error, path string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(path)
	case errors.Is(err, store.ErrDuplicate):
		return errs.Invalidf("a schedule already exists at %s", path)
	}
	return err
}

// Get returns the schedule at path.
func (s *Service) Get(ctx context.Context, ws, path string) (*store.Schedule, error) {
	sc, err := s.DB.GetSchedule(ctx, ws, path)
	if err != nil {
		return nil, storeErr(err, path)
	}
	return sc, nil
}

// Exists reports whether a schedule is at path.
func (s *Service) Exists(ctx context.Context, ws, path string) bool {
	_, err := s.DB.GetSchedule(ctx, ws, path)
	return err == nil
}

// Filter narrows a list to the schedules of one script or flow (Windmill's
// path and is_flow filters); zero values match everything.
type Filter struct {
	ScriptPath string
	IsFlow     *bool
}

// List returns the schedules of ws that match f.
func (s *Service) List(ctx context.Context, ws string, f Filter) ([]*store.Schedule, error) {
	list, err := s.DB.ListSchedules(ctx, ws)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, sc := range list {
		if (f.ScriptPath == "" || sc.ScriptPath == f.ScriptPath) && (f.IsFlow == nil || *f.IsFlow == sc.IsFlow) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// Create saves a new schedule; what it runs must exist and be runnable.
func (s *Service) Create(ctx context.Context, ws string, in Input, editedBy string) (*store.Schedule, error) {
	sc := &store.Schedule{Workspace: ws, Path: in.Path, ScriptPath: in.ScriptPath, IsFlow: in.IsFlow,
		Args: "{}", Enabled: true, Missed: MissedSkip}
	return s.save(ctx, sc, in, editedBy, true)
}

// Update changes the schedule at path. It keeps what in does not name;
// what a schedule runs stays fixed, as in Windmill (delete and create to
// change it).
func (s *Service) Update(ctx context.Context, ws, path string, in Input, editedBy string) (*store.Schedule, error) {
	cur, err := s.Get(ctx, ws, path)
	if err != nil {
		return nil, err
	}
	if in.Schedule == "" {
		in.Schedule = cur.Schedule
	}
	if in.Timezone == "" {
		in.Timezone = cur.Timezone
	}
	return s.save(ctx, cur, in, editedBy, false)
}

func (s *Service) save(ctx context.Context, sc *store.Schedule, in Input, editedBy string, create bool) (*store.Schedule, error) {
	if err := scripts.ValidatePath(sc.Path); err != nil {
		return nil, errs.Invalidf("schedule path: %s", err)
	}
	if create {
		if err := s.checkRunnable(ctx, sc.Workspace, runnable.KindOf(sc.IsFlow), sc.ScriptPath); err != nil {
			return nil, err
		}
	}
	c, err := Parse(in.Schedule, in.Timezone)
	if err != nil {
		return nil, err
	}
	sc.Schedule, sc.Timezone = c.Expr, c.Location.String()
	if len(in.Args) > 0 && string(in.Args) != "null" {
		var obj map[string]any
		if json.Unmarshal(in.Args, &obj) != nil {
			return nil, errs.Invalidf("args must be a JSON object of the arguments by name")
		}
		sc.Args = string(in.Args)
	}
	if in.Enabled != nil {
		sc.Enabled = *in.Enabled
	}
	if in.Summary != nil {
		sc.Summary = in.Summary
	}
	if in.Description != nil {
		sc.Description = *in.Description
	}
	if in.OnFailure != nil {
		sc.OnFailure = in.OnFailure
		if *in.OnFailure != "" {
			kind, path := OnFailureTarget(*in.OnFailure)
			if err := s.checkRunnable(ctx, sc.Workspace, kind, path); err != nil {
				return nil, errs.Invalidf("on_failure: %s", err)
			}
		}
	}
	if in.Missed != nil {
		if *in.Missed != MissedSkip && *in.Missed != MissedRunOnce {
			return nil, errs.Invalidf("missed must be %q (runs missed while the computer slept are skipped) or %q (one run on waking)", MissedSkip, MissedRunOnce)
		}
		sc.Missed = *in.Missed
	}
	sc.NextDue = s.nextDue(c, sc.Enabled)
	sc.EditedBy = editedBy
	if err := s.DB.PutSchedule(ctx, *sc, create); err != nil {
		return nil, storeErr(err, sc.Path)
	}
	s.Scheduler.Changed()
	return sc, nil
}

// Now is the scheduler's wall clock, which previews of due times read.
func (s *Service) Now() time.Time { return s.Scheduler.Now() }

// nextDue is a schedule's first due time from now on the scheduler's
// clock; none while it is off, so the time it was off is not caught up.
func (s *Service) nextDue(c *Cron, enabled bool) time.Time {
	if !enabled {
		return time.Time{}
	}
	return c.Next(s.Scheduler.Now())
}

// checkRunnable refuses a target that is not there or cannot run (a
// library, or a flow with a library as a step) as the caller's to fix.
func (s *Service) checkRunnable(ctx context.Context, ws string, kind runnable.Kind, path string) error {
	_, err := s.Targets.Runnable(ctx, ws, kind, path)
	var missing *errs.NotFound
	if errors.As(err, &missing) {
		return errs.Invalidf("%s", missing.Msg)
	}
	return err
}

// Delete removes the schedule at path; a run it already started goes on.
func (s *Service) Delete(ctx context.Context, ws, path string) error {
	if err := s.DB.DeleteSchedule(ctx, ws, path); err != nil {
		return storeErr(err, path)
	}
	return nil
}

// SetEnabled turns a schedule on (its next due time counted from now: the
// time it was off is not caught up) or off.
func (s *Service) SetEnabled(ctx context.Context, ws, path string, enabled bool) error {
	sc, err := s.Get(ctx, ws, path)
	if err != nil {
		return err
	}
	var next time.Time
	if enabled {
		c, err := Parse(sc.Schedule, sc.Timezone)
		if err != nil {
			return err
		}
		next = s.nextDue(c, true)
	}
	if err := s.DB.SetScheduleEnabled(ctx, ws, path, enabled, next); err != nil {
		return storeErr(err, path)
	}
	s.Scheduler.Changed()
	return nil
}

// OnFailureTarget reads a schedule's on_failure: "script/<path>",
// "flow/<path>" or a bare script path, as Windmill stores it.
func OnFailureTarget(onFailure string) (runnable.Kind, string) {
	if rest, ok := strings.CutPrefix(onFailure, "flow/"); ok {
		return runnable.Flow, rest
	}
	if rest, ok := strings.CutPrefix(onFailure, "script/"); ok {
		return runnable.Script, rest
	}
	return runnable.Script, onFailure
}

// EnqueueDue starts the run of a schedule for one due time (the
// scheduler's Enqueue): the latest version of what it names, with its
// arguments, as a durable job that records the due time as its scheduled
// time.
func (s *Service) EnqueueDue(ctx context.Context, sc *store.Schedule, due time.Time, id string) error {
	job := &store.Job{ID: id, Workspace: sc.Workspace, Args: sc.Args, Trigger: "schedule", CreatedBy: "schedule",
		SchedulePath: sc.Path, ScheduledFor: due}
	if err := s.fill(ctx, job, runnable.KindOf(sc.IsFlow), sc.ScriptPath); err != nil {
		return err
	}
	err := s.Queue.Enqueue(ctx, job)
	if !errors.Is(err, store.ErrDuplicateJob) {
		return err
	}
	// The id is taken: by this run, started before a crash (the scheduler
	// passes on), or by some other job, and then this due time never ran
	// and the schedule must say so.
	held, gerr := s.DB.GetJob(ctx, sc.Workspace, id)
	if gerr != nil {
		return fmt.Errorf("job %s exists but cannot be read: %w", id, gerr)
	}
	if held.SchedulePath != sc.Path || !held.ScheduledFor.Equal(due) {
		return fmt.Errorf("%w (job %s, of %s)", ErrIDTaken, id, held.ScriptPath)
	}
	return err
}

// fill sets what job runs: the latest version of the script or flow at
// path. One that is gone or cannot run (a library) is ErrTargetGone: the
// due time is recorded as failed and passed, not retried every tick.
// Other errors (the database) pass through to be retried.
func (s *Service) fill(ctx context.Context, job *store.Job, kind runnable.Kind, path string) error {
	t, err := s.Targets.Runnable(ctx, job.Workspace, kind, path)
	var inv *errs.Invalid
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w (deleted or archived)", ErrTargetGone, err)
	case errors.As(err, &inv):
		return cannotRun{err}
	case err != nil:
		return err
	}
	t.Fill(job)
	return nil
}

// cannotRun is a target that exists but cannot run: it lasts like a
// deleted one, and says why in its own words.
type cannotRun struct{ error }

func (cannotRun) Is(target error) bool { return target == ErrTargetGone }

func (c cannotRun) Unwrap() error { return c.error }

// JobFinished records how a schedule's run ended on the schedule, and
// starts its on_failure handler when the run failed. It is called on a
// worker, so the writes go elsewhere.
func (s *Service) JobFinished(job *store.Job) {
	if job.SchedulePath == "" {
		return
	}
	go s.recordRun(context.Background(), job)
}

func (s *Service) recordRun(ctx context.Context, job *store.Job) {
	if job.Status == store.StatusSuccess {
		_ = s.DB.SetScheduleError(ctx, job.Workspace, job.SchedulePath, nil)
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
	_ = s.DB.SetScheduleError(ctx, job.Workspace, job.SchedulePath, &msg)
	sc, err := s.DB.GetSchedule(ctx, job.Workspace, job.SchedulePath)
	if err != nil || sc.OnFailure == nil || *sc.OnFailure == "" {
		return
	}
	if err := s.runOnFailure(ctx, sc, job); err != nil {
		s.log().Warn("schedule on_failure handler", "schedule", sc.Path, "err", err)
	}
}

// runOnFailure starts a schedule's failure handler with the arguments
// Windmill gives one. Its own failure starts nothing more.
func (s *Service) runOnFailure(ctx context.Context, sc *store.Schedule, failed *store.Job) error {
	kind, path := OnFailureTarget(*sc.OnFailure)
	var errValue any = json.RawMessage(failed.Result)
	if !json.Valid([]byte(failed.Result)) {
		errValue = failed.Result
	}
	args, _ := json.Marshal(map[string]any{
		"workspace_id": failed.Workspace, "job_id": failed.ID, "path": failed.ScriptPath, "is_flow": failed.Kind == "flow",
		"schedule_path": sc.Path, "error": errValue, "started_at": failed.StartedAt.UTC().Format(time.RFC3339Nano), "failed_times": 1,
	})
	job := &store.Job{Workspace: failed.Workspace, Args: string(args), Trigger: "schedule_on_failure", CreatedBy: "schedule"}
	if err := s.fill(ctx, job, kind, path); err != nil {
		return err
	}
	return s.Queue.Enqueue(ctx, job)
}
