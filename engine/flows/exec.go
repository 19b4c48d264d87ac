package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Status is Windmill's flow_status: the current step and each module's state.
type Status struct {
	Step          int            `json:"step"`
	Modules       []ModuleStatus `json:"modules"`
	FailureModule *ModuleStatus  `json:"failure_module,omitempty"`
	// EarlyAnswer is what a sync caller received before the flow ended
	// (millrun's; Windmill's status has no such field).
	EarlyAnswer *EarlyAnswer `json:"early_answer,omitempty"`
}

// EarlyAnswer is the answer an early_return step gave the caller.
type EarlyAnswer struct {
	Step    string          `json:"step"`
	AfterMs int64           `json:"after_ms"` // since the flow started
	Result  json.RawMessage `json:"result"`
}

// ModuleStatus is one step's state.
type ModuleStatus struct {
	ID         string `json:"id"`
	Type       string `json:"type"` // WaitingForPriorSteps, InProgress, Success, Failure
	Job        string `json:"job,omitempty"`
	StartedAt  string `json:"started_at,omitempty"`
	DurationMs int64  `json:"duration_ms,omitempty"`
}

// Step is where a step's job sits in its flow, for its environment
// (Windmill's WM_FLOW_PATH, WM_FLOW_STEP_ID and the state path).
type Step struct {
	FlowPath string
	ID       string
	// SchedulePath is the schedule that started the flow, if one did.
	SchedulePath string
}

// Executor runs flow jobs. Steps run one after another inside the flow's
// own worker slot, not as queued jobs: a flow waiting on queued children
// could otherwise fill every worker with waiting parents and deadlock.
// Each step is still recorded as a child job, so it shows with its args,
// logs and result.
type Executor struct {
	DB      *store.DB
	Flows   *Catalog
	Scripts *scripts.Catalog
	Runner  *runtime.Runner
	// Env is the environment a step's process gets; release ends what it
	// grants (the step's token) when the step ends.
	Env func(job *store.Job, step Step) (env []string, release func())
	// StepLogLimit caps each step's stored log.
	StepLogLimit int
}

func failure(name, msg string, extra map[string]any) jobs.Outcome {
	return runtime.Failure(name, msg, extra)
}

// Execute runs the flow job in run.
func (x *Executor) Execute(ctx context.Context, run *jobs.Execution) jobs.Outcome {
	job := run.Job
	flow, err := x.Flows.ByHash(ctx, job.Workspace, job.ScriptHash)
	if err != nil {
		return failure("NotFound", "flow version "+job.ScriptHash+" cannot be loaded: "+err.Error(), nil)
	}
	var flowInput map[string]any
	if err := json.Unmarshal([]byte(job.Args), &flowInput); err != nil {
		return failure("BadArguments", "the flow's arguments are not a JSON object", nil)
	}
	status := Status{Modules: make([]ModuleStatus, len(flow.Def.Modules))}
	for i, m := range flow.Def.Modules {
		status.Modules[i] = ModuleStatus{ID: m.ID, Type: "WaitingForPriorSteps"}
	}
	report := func() {
		b, _ := json.Marshal(status)
		run.SetFlowStatus(b)
	}
	results := map[string]any{}
	var previous any
	last := json.RawMessage("null")
	for i, m := range flow.Def.Modules {
		status.Step = i
		ms := &status.Modules[i]
		ms.Type, ms.Job = "InProgress", uuid.NewString()
		started := time.Now().UTC()
		ms.StartedAt = started.Format(time.RFC3339Nano)
		report()

		out, child := x.runStep(ctx, run, flow, m, ms.Job, flowInput, results, previous)
		ms.DurationMs = time.Since(started).Milliseconds()
		if ctx.Err() != nil {
			ms.Type = "Failure"
			report()
			return jobs.Outcome{} // the queue words the timeout or cancel
		}
		if !out.Success {
			ms.Type = "Failure"
			status.FailureModule = ms
			report()
			return stepFailed(m.ID, out.Result, child)
		}
		ms.Type = "Success"
		report()
		var v any
		_ = json.Unmarshal(out.Result, &v)
		results[m.ID], previous, last = v, v, out.Result
		if flow.Def.EarlyReturn == m.ID {
			run.EarlyReturn(out.Result)
			status.EarlyAnswer = &EarlyAnswer{Step: m.ID, AfterMs: time.Since(job.StartedAt).Milliseconds(), Result: out.Result}
			report()
		}
	}
	return jobs.Outcome{Result: last, Success: true}
}

// stepFailed wraps a step's error so the flow's error names the step.
func stepFailed(stepID string, result json.RawMessage, childID string) jobs.Outcome {
	var wrapped struct {
		Error map[string]any `json:"error"`
	}
	if json.Unmarshal(result, &wrapped) != nil || wrapped.Error == nil {
		wrapped.Error = map[string]any{"name": "StepFailed", "message": string(result)}
	}
	e := wrapped.Error
	e["message"] = fmt.Sprintf("step %s failed: %v", stepID, e["message"])
	e["step_id"] = stepID
	e["step_job"] = childID
	b, _ := json.Marshal(map[string]any{"error": e})
	return jobs.Outcome{Result: b}
}

func (x *Executor) runStep(ctx context.Context, run *jobs.Execution, flow *Flow, m Module, childID string,
	flowInput, results map[string]any, previous any) (jobs.Outcome, string) {
	job := run.Job
	now := time.Now().UTC()
	child := &store.Job{ID: childID, Workspace: job.Workspace, Kind: "preview", Status: store.StatusRunning, Trigger: "flow",
		CreatedBy: job.CreatedBy, TokenID: job.TokenID, ParentJob: job.ID, Args: "{}", CreatedAt: now, ScheduledFor: now, StartedAt: now,
		Durability: job.Durability}
	spec, err := x.stepSpec(ctx, job.Workspace, flow, m, child)
	var out jobs.Outcome
	if err != nil {
		out = failure("InvalidStep", err.Error(), nil)
	} else if args, err := x.stepArgs(m, flowInput, results, previous); err != nil {
		out = failure("ExpressionError", err.Error(), nil)
	} else {
		b, _ := json.Marshal(args)
		child.Args, spec.Args = string(b), args
	}
	// The step is recorded before it runs, failed or not, so the run page
	// can show every step the flow reached.
	x.DB.InsertJobAsync(child, nil)
	logs := jobs.NewLogBuffer(x.StepLogLimit)
	if out.Result == nil {
		fmt.Fprintf(run.Logs, "--- step %s (%s) ---\n", m.ID, child.ScriptPath)
		var release func()
		spec.Env, release = x.Env(child, Step{FlowPath: flow.Path, ID: m.ID, SchedulePath: job.SchedulePath})
		out = x.Runner.Run(ctx, spec, io.MultiWriter(run.Logs, logs))
		release()
		if ctx.Err() != nil {
			out = failure("Canceled", "the flow was stopped while this step ran", nil)
		}
	}
	done := *child
	done.CompletedAt = time.Now().UTC()
	done.DurationMs = done.CompletedAt.Sub(done.StartedAt).Milliseconds()
	done.Status, done.Result, done.Logs = store.StatusFailure, string(out.Result), logs.String()
	if out.Success {
		done.Status = store.StatusSuccess
	}
	x.DB.FinishJobAsync(&done, nil)
	return out, childID
}

// stepSpec finds what a step runs and fills in the child job's identity.
func (x *Executor) stepSpec(ctx context.Context, workspace string, flow *Flow, m Module, child *store.Job) (runtime.Spec, error) {
	if m.Value.Type == "rawscript" {
		lang, err := scripts.NormalizeLanguage(m.Value.Language)
		if err != nil {
			return runtime.Spec{}, err
		}
		child.ScriptPath, child.Language = flow.Path+"/"+m.ID, lang
		child.ScriptHash = scripts.Hash(workspace, child.ScriptPath, lang, m.Value.Content)
		schema, err := scripts.InferSchema(lang, m.Value.Content)
		if err != nil {
			return runtime.Spec{}, err
		}
		return runtime.Spec{Language: lang, Content: m.Value.Content, Order: schema.Order}, nil
	}
	child.Kind, child.ScriptPath = "script", m.Value.Path
	v, err := stepScript(ctx, x.Scripts, workspace, m)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return runtime.Spec{}, fmt.Errorf("no script at %s", m.Value.Path)
		}
		return runtime.Spec{}, err
	}
	child.ScriptHash, child.Language = v.Hash, v.Language
	if err := v.Runnable(); err != nil {
		return runtime.Spec{}, err
	}
	return runtime.Spec{Language: v.Language, Content: v.Content, Order: v.Parsed.Order}, nil
}

// stepArgs evaluates a step's input transforms in a stable order.
func (x *Executor) stepArgs(m Module, flowInput, results map[string]any, previous any) (map[string]json.RawMessage, error) {
	args := map[string]json.RawMessage{}
	names := make([]string, 0, len(m.Value.InputTransforms))
	for name := range m.Value.InputTransforms {
		names = append(names, name)
	}
	sort.Strings(names)
	var ev *evaluator
	for _, name := range names {
		t := m.Value.InputTransforms[name]
		if t.Type == "static" {
			if len(t.Value) == 0 {
				args[name] = json.RawMessage("null")
			} else {
				args[name] = t.Value
			}
			continue
		}
		if ev == nil {
			ev = newEvaluator(flowInput, results, previous)
		}
		v, err := ev.eval(t.Expr)
		if err != nil {
			return nil, fmt.Errorf("step %s, input %s (%s): %s", m.ID, name, t.Expr, err)
		}
		args[name] = v
	}
	return args, nil
}
