package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

// Approvals: a step with a suspend makes its flow wait, after the step,
// for answers (approvals or a cancel). The answers are rows of their own
// (store.AddResume), keyed by the wait, so one may arrive at any moment:
// while the step still runs (it posted its links to Slack), while the
// flow runs to count an earlier answer, across a restart. The flow reads
// them when it runs and ends the wait in the same transaction, so an
// answer is either counted or refused, never silently dropped. The flow
// waits queued, its worker free, and an answer wakes it.

// ErrNotWaiting is AddResume's answer for a flow that waits for no
// approval (it never did, it timed out, or it goes on already).
var ErrNotWaiting = errors.New("the flow is not waiting for an approval")

// Wait is one open wait for approvals.
type Wait struct {
	// FlowJob is the top-level flow; FrameJob the flow job whose step
	// waits (FlowJob, or a loop iteration, a branch, a flow run as a step).
	FlowJob, FrameJob string
	Step              string // the suspended step's id
	// StepJob is its job: the job id of the wait's resume links.
	StepJob  string
	Required int
	Until    time.Time
	Resumes  []store.Resume
}

// waitKey names a wait: the suspended step's job, which its links carry.
// A loop or branchall run in parallel has no job of its own (its job is
// the flow's), nor has an empty loop, so their waits are named by the
// flow job and the step.
func waitKey(frameJob, step, job string) string {
	if job == "" || job == NilJob || job == frameJob {
		return frameJob + "/" + step
	}
	return job
}

// Waits returns the open waits for approvals of the flow job flowID, at
// any depth (a parallel loop may wait in several iterations at once).
func Waits(ctx context.Context, db *store.DB, workspace, flowID string) ([]Wait, error) {
	root, err := db.GetJob(ctx, workspace, flowID)
	if err != nil || root.Finished() {
		return nil, err
	}
	frames, err := db.OpenFrames(ctx, workspace, flowID)
	if err != nil {
		return nil, err
	}
	var out []Wait
	for _, fr := range frames {
		var s Status
		if json.Unmarshal([]byte(fr.FlowStatus), &s) != nil {
			continue
		}
		for i, m := range s.Modules {
			if m.Type != WaitingForEvents || i == 0 {
				continue
			}
			step := s.Modules[i-1].ID
			key := waitKey(fr.ID, step, m.Job)
			rs, end, err := db.Resumes(ctx, key)
			if err != nil {
				return nil, err
			}
			if end != nil {
				continue // the flow counted enough answers and goes on
			}
			out = append(out, Wait{FlowJob: flowID, FrameJob: fr.ID, Step: step, StepJob: key, Required: m.Count,
				Until: parseTime(m.SuspendUntil), Resumes: rs})
		}
	}
	return out, nil
}

// AddResume records an answer to the first open wait of the flow job
// flowID; ErrNotWaiting when it has none. Wake the flow after it
// (jobs.Queue.Wake).
func AddResume(ctx context.Context, db *store.DB, workspace, flowID string, r Resume) error {
	_, err := AnswerWait(ctx, db, workspace, flowID, "", r)
	var conflict *errs.Conflict
	if errors.Is(err, store.ErrNotFound) || errors.As(err, &conflict) {
		return ErrNotWaiting
	}
	return err
}

// AnswerWait records an answer to an open wait of the flow job flowID:
// the one whose StepJob is key, or the first for "". Wake the flow after
// it (jobs.Queue.Wake).
func AnswerWait(ctx context.Context, db *store.DB, workspace, flowID, key string, r Resume) (*Answered, error) {
	root, err := db.GetJob(ctx, workspace, flowID)
	if err != nil {
		return nil, fmt.Errorf("flow job %s: %w", flowID, err)
	}
	if (root.Kind != "flow" && root.Kind != KindPreview) || root.ParentJob != "" {
		return nil, errs.Invalidf("job %s is a %s job, not a flow run: it has nothing to approve", root.ID, root.Kind)
	}
	if root.Finished() {
		return nil, errs.Conflictf("the flow %s (run %s) has ended (%s): this link no longer does anything", root.ScriptPath, root.ID, root.Status)
	}
	waits, err := Waits(ctx, db, workspace, flowID)
	if err != nil {
		return nil, err
	}
	for _, w := range waits {
		if key == "" || w.StepJob == key {
			return record(ctx, db, w, root.ScriptPath, r)
		}
	}
	if key != "" {
		return nil, errs.Conflictf("the flow %s (run %s) does not wait on %s now", root.ScriptPath, root.ID, key)
	}
	return nil, errs.Conflictf("the flow %s (run %s) does not wait for an approval now", root.ScriptPath, root.ID)
}

func storeResume(w Wait, r Resume) store.Resume {
	v := string(r.Value)
	if v == "" {
		v = "null"
	}
	return store.Resume{StepJob: w.StepJob, ResumeID: int64(r.ResumeID), FlowJob: w.FlowJob, Approver: r.Approver,
		Approved: r.Approved, Value: v, At: time.Now()}
}

// Answered is what an answer did: the wait it joined, its answers so far
// (the new one included).
type Answered struct {
	Wait
	FlowPath string
}

// Answer records an answer given by a resume or cancel link: jobID is the
// job the link names (a suspended step's, or a whole flow's: then the
// flow's open wait). It says in words why an answer is refused: the flow
// has moved on, the link was used, the job is no such step. Wake the flow
// after it (jobs.Queue.Wake on FlowJob).
func Answer(ctx context.Context, db *store.DB, cat *Catalog, workspace, jobID string, r Resume) (*Answered, error) {
	job, err := db.GetJob(ctx, workspace, jobID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("job %s: %w (its run was deleted, or the link is from another millrun)", jobID, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if job.ParentJob == "" {
		// A link for a whole flow (Windmill's flow_level): it answers
		// whichever step of it waits.
		return AnswerWait(ctx, db, workspace, jobID, "", r)
	}
	chain, err := ancestors(ctx, db, workspace, job)
	if err != nil {
		return nil, err
	}
	frame, root := chain[0], chain[len(chain)-1]
	if root.Finished() {
		return nil, errs.Conflictf("the flow %s (run %s) has ended (%s): this link no longer does anything", root.ScriptPath, root.ID, root.Status)
	}
	var s Status
	if err := json.Unmarshal([]byte(frame.FlowStatus), &s); err != nil {
		return nil, fmt.Errorf("flow job %s's status: %w", frame.ID, err)
	}
	k := slices.IndexFunc(s.Modules, func(m ModuleStatus) bool { return m.Job == jobID })
	if k < 0 {
		for _, m := range s.Modules {
			if slices.Contains(m.FailedRetries, jobID) || slices.Contains(m.Interrupted, jobID) {
				return nil, errs.Conflictf("job %s was an attempt of step %s that did not finish; the step ran again and the flow waits on that run's links", jobID, m.ID)
			}
		}
		return nil, errs.Invalidf("job %s is not a step of flow %s that waits for approvals", jobID, root.ScriptPath)
	}
	step := s.Modules[k].ID
	mod, err := stepModule(ctx, cat, chain, step)
	if err != nil {
		return nil, err
	}
	if mod == nil || mod.Suspend == nil || mod.Suspend.RequiredEvents <= 0 || k+1 >= len(s.Modules) {
		return nil, errs.Invalidf("step %s of flow %s does not wait for approvals (it has no suspend)", step, root.ScriptPath)
	}
	w := Wait{FlowJob: root.ID, FrameJob: frame.ID, Step: step, StepJob: waitKey(frame.ID, step, jobID), Required: mod.Suspend.RequiredEvents}
	if next := s.Modules[k+1]; next.Type == WaitingForEvents {
		w.Until = parseTime(next.SuspendUntil)
	}
	return record(ctx, db, w, root.ScriptPath, r)
}

func record(ctx context.Context, db *store.DB, w Wait, flowPath string, r Resume) (*Answered, error) {
	err := db.AddResume(ctx, storeResume(w, r))
	var ended *store.WaitEndedError
	switch {
	case errors.As(err, &ended):
		next := "the flow " + flowPath + " went on"
		if ended.How != "approved" {
			next = "the flow " + flowPath + " was told"
		}
		return nil, errs.Conflictf("step %s's wait for approvals ended (%s) at %s and %s: this link no longer does anything",
			w.Step, ended.How, ended.At.Format(time.RFC3339), next)
	case errors.Is(err, store.ErrResumeUsed):
		return nil, errs.Conflictf("this link (resume_id %d) was used already: each link answers once; ask for new links (wmill.get_resume_urls())", r.ResumeID)
	case err != nil:
		return nil, err
	}
	rs, _, err := db.Resumes(ctx, w.StepJob)
	if err != nil {
		return nil, err
	}
	w.Resumes = rs
	return &Answered{Wait: w, FlowPath: flowPath}, nil
}

// ancestors returns the flow jobs above a step's job, its own flow job
// first, the top-level flow last.
func ancestors(ctx context.Context, db *store.DB, workspace string, job *store.Job) ([]*store.Job, error) {
	var chain []*store.Job
	for id := job.ParentJob; id != ""; {
		if len(chain) > 4*maxDepth+4 {
			return nil, fmt.Errorf("job %s: its flow jobs nest too deep", job.ID)
		}
		j, err := db.GetJob(ctx, workspace, id)
		if err != nil {
			return nil, fmt.Errorf("job %s's flow %s: %w", job.ID, id, err)
		}
		chain = append(chain, j)
		id = j.ParentJob
	}
	return chain, nil
}

// stepModule finds the definition of step id run by chain[0]: in the
// nearest flow job's definition (a flow run as a step has its own ids).
func stepModule(ctx context.Context, cat *Catalog, chain []*store.Job, id string) (*Module, error) {
	for _, j := range chain {
		// A flow run as a step is a "flow" job too; a draft's steps are
		// in the preview job's own definition.
		if (j.Kind != "flow" || j.ScriptHash == "") && j.Kind != KindPreview {
			continue
		}
		f, err := cat.ofJob(ctx, j)
		if err != nil {
			return nil, err
		}
		var found *Module
		_ = walk(&f.Def, func(m *Module) error {
			if found == nil && m.ID == id {
				found = m
			}
			return nil
		})
		return found, nil
	}
	return nil, nil
}

// verdict is how the answers so far end a wait: "" while it goes on.
func verdict(rs []store.Resume, required int, until, now time.Time) string {
	approved := 0
	for _, r := range rs {
		if !r.Approved {
			return "canceled"
		}
		approved++
	}
	switch {
	case approved >= required:
		return "approved"
	case !now.Before(until):
		return "timed out"
	}
	return ""
}

// flowResumes turns stored answers into the status's.
func flowResumes(rs []store.Resume) []Resume {
	out := make([]Resume, 0, len(rs))
	for _, r := range rs {
		out = append(out, Resume{ResumeID: int(r.ResumeID), Approver: r.Approver, Approved: r.Approved, Value: json.RawMessage(r.Value)})
	}
	return out
}

// Waits returns the open waits for approvals of the flow job flowID (see
// the function Waits).
func (c *Catalog) Waits(ctx context.Context, workspace, flowID string) ([]Wait, error) {
	return Waits(ctx, c.db, workspace, flowID)
}

// AnswerWait records an answer to an open wait of the flow job flowID
// (see the function AnswerWait).
func (c *Catalog) AnswerWait(ctx context.Context, workspace, flowID, key string, r Resume) (*Answered, error) {
	return AnswerWait(ctx, c.db, workspace, flowID, key, r)
}

// Answer records an answer given by a resume or cancel link (see the
// function Answer).
func (c *Catalog) Answer(ctx context.Context, workspace, jobID string, r Resume) (*Answered, error) {
	return Answer(ctx, c.db, c, workspace, jobID, r)
}
