package flows

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is Windmill's flow_status (windmill-types' FlowStatus): the
// current step and each module's state, in the shapes `jobs_u/get`
// readers (Windmill's UI, the wmill CLI) expect. It is also the whole of
// a flow's progress on disk: a flow resumes from it after a restart.
type Status struct {
	Step               int            `json:"step"`
	Modules            []ModuleStatus `json:"modules"`
	FailureModule      ModuleStatus   `json:"failure_module"`
	PreprocessorModule *ModuleStatus  `json:"preprocessor_module"`
	CleanupModule      struct{}       `json:"cleanup_module"`
	Retry              *RetryStatus   `json:"retry,omitempty"`
	// Millrun's own, absent from Windmill's status:
	// EarlyAnswer is what a sync caller received before the flow ended.
	EarlyAnswer *EarlyAnswer `json:"early_answer,omitempty"`
	// StoppedEarly says which step's stop_after_if (or the flow's
	// skip_expr) ended the flow, and whether the run counts as skipped.
	StoppedEarly *StoppedEarly `json:"stopped_early,omitempty"`
}

// RetryStatus counts the failed attempts of the step being retried.
type RetryStatus struct {
	FailCount  int      `json:"fail_count"`
	FailedJobs []string `json:"failed_jobs"`
}

// EarlyAnswer is the answer an early_return step gave the caller.
type EarlyAnswer struct {
	Step    string          `json:"step"`
	AfterMs int64           `json:"after_ms"` // since the flow started
	Result  json.RawMessage `json:"result"`
}

// StoppedEarly records an early stop.
type StoppedEarly struct {
	Step    string `json:"step"`
	Skipped bool   `json:"skipped"`
}

// Module status types, Windmill's.
const (
	WaitingForPriorSteps = "WaitingForPriorSteps"
	WaitingForEvents     = "WaitingForEvents"
	WaitingForExecutor   = "WaitingForExecutor"
	InProgress           = "InProgress"
	Success              = "Success"
	Failure              = "Failure"
)

// NilJob is the job of a module that ran none (an empty loop or branch),
// as Windmill writes it.
const NilJob = "00000000-0000-0000-0000-000000000000"

// ModuleStatus is one module's state: Windmill's FlowStatusModule, whose
// fields depend on Type, plus millrun's timing and restart notes.
type ModuleStatus struct {
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	Job              string          `json:"job,omitempty"`
	Count            int             `json:"count,omitempty"`
	Iterator         *Iterator       `json:"iterator,omitempty"`
	FlowJobs         []string        `json:"flow_jobs,omitzero"`
	FlowJobsSuccess  []*bool         `json:"flow_jobs_success,omitzero"`
	FlowJobsDuration *FlowJobsTiming `json:"flow_jobs_duration,omitempty"`
	BranchChosen     *BranchChosen   `json:"branch_chosen,omitempty"`
	BranchAll        *BranchAll      `json:"branchall,omitempty"`
	Parallel         bool            `json:"parallel,omitempty"`
	WhileLoop        bool            `json:"while_loop,omitempty"`
	Approvers        []Approval      `json:"approvers,omitempty"`
	FailedRetries    []string        `json:"failed_retries,omitempty"`
	// Skipped is set (true or false) on Success only, as Windmill does.
	Skipped *bool `json:"skipped,omitempty"`
	// ParentModule is set on the failure module: the step that failed.
	ParentModule string `json:"parent_module,omitempty"`

	// Millrun's own:
	StartedAt  string `json:"started_at,omitempty"`
	DurationMs int64  `json:"duration_ms,omitempty"`
	// ScheduledFor is when a step waiting for its time (after a sleep,
	// before a retry) starts.
	ScheduledFor string `json:"scheduled_for,omitempty"`
	// Interrupted lists the jobs of this step that millrun's exit
	// (a crash, a quit) interrupted; each was run again.
	Interrupted []string `json:"interrupted,omitempty"`
	// SuspendUntil is when a wait for approvals times out; Resumes are
	// the answers received so far.
	SuspendUntil string   `json:"suspend_until,omitempty"`
	Resumes      []Resume `json:"resumes,omitempty"`
	// Error is what the failure module was given: the failed step's
	// error, with its step_id.
	Error json.RawMessage `json:"error,omitempty"`
}

// Iterator is a loop's progress: the items and the current index.
type Iterator struct {
	Index  int               `json:"index"`
	Itered []json.RawMessage `json:"itered"`
}

// FlowJobsTiming is when each iteration or branch started and how long
// it took, in flow_jobs order.
type FlowJobsTiming struct {
	StartedAt  []*string `json:"started_at"`
	DurationMs []*int64  `json:"duration_ms"`
}

// BranchChosen is the branch a branchone took.
type BranchChosen struct {
	Type   string `json:"type"` // branch or default
	Branch *int   `json:"branch,omitempty"`
}

// BranchAll is a branchall's progress.
type BranchAll struct {
	Branch int `json:"branch"`
	Len    int `json:"len"`
}

// Approval is one approval of a suspended step.
type Approval struct {
	ResumeID int    `json:"resume_id"`
	Approver string `json:"approver"`
}

// Resume is one answer to a suspended step.
type Resume struct {
	ResumeID int             `json:"resume_id"`
	Approver string          `json:"approver"`
	Approved bool            `json:"approved"`
	Value    json.RawMessage `json:"value"`
}

func newStatus(v *Value) *Status {
	s := &Status{Modules: make([]ModuleStatus, len(v.Modules))}
	for i, m := range v.Modules {
		s.Modules[i] = ModuleStatus{Type: WaitingForPriorSteps, ID: m.ID}
	}
	s.FailureModule = ModuleStatus{Type: WaitingForPriorSteps, ID: "failure"}
	if v.FailureModule != nil {
		s.FailureModule.ID = v.FailureModule.ID
	}
	return s
}

// parseStatus reads a stored status for v, or starts a new one. A status
// that does not match v's modules (none stored yet) starts anew.
func parseStatus(raw string, v *Value) *Status {
	if raw != "" {
		var s Status
		if json.Unmarshal([]byte(raw), &s) == nil && len(s.Modules) == len(v.Modules) {
			ok := true
			for i, m := range v.Modules {
				ok = ok && s.Modules[i].ID == m.ID
			}
			if ok {
				if s.FailureModule.Type == "" { // written by an older millrun
					s.FailureModule = newStatus(v).FailureModule
				}
				return &s
			}
		}
	}
	return newStatus(v)
}

// next names the first module not done, for logs.
func (s *Status) next(v *Value) string {
	for i, m := range s.Modules {
		if m.Type != Success && !(m.Type == Failure && v.Modules[i].ContinueOnError) {
			return fmt.Sprintf("step %s (%d of %d)", m.ID, i+1, len(s.Modules))
		}
	}
	if s.FailureModule.Type != WaitingForPriorSteps {
		return "its failure module " + s.FailureModule.ID
	}
	return "its end"
}

func (m *ModuleStatus) waiting() bool {
	return m.Type == WaitingForPriorSteps || m.Type == WaitingForEvents || m.Type == WaitingForExecutor
}

// finish marks m done, keeping what it recorded of its jobs.
func (m *ModuleStatus) finish(ok bool, started time.Time, now time.Time) {
	if ok {
		m.Type = Success
		f := false
		if m.Skipped == nil {
			m.Skipped = &f
		}
	} else {
		m.Type = Failure
		m.Skipped = nil
	}
	m.Iterator, m.BranchAll, m.Parallel, m.WhileLoop = nil, nil, false, false
	m.ScheduledFor, m.SuspendUntil, m.Count = "", "", 0
	if !started.IsZero() {
		m.DurationMs = now.Sub(started).Milliseconds()
	}
	if m.Job == "" {
		m.Job = NilJob
	}
}

func boolPtr(b bool) *bool { return &b }

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
