package flows

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Step is where a step's job sits in its flow, for its environment
// (Windmill's WM_FLOW_PATH, WM_FLOW_STEP_ID, WM_ROOT_FLOW_JOB_ID and the
// state path).
type Step struct {
	FlowPath string
	ID       string
	// SchedulePath is the schedule that started the flow, if one did.
	SchedulePath string
	// RootJob is the top-level flow job: steps inside loops and branches
	// have a loop iteration or a branch as their parent job.
	RootJob string
}

// Clock is the time the executor waits by (sleeps, retry delays); tests
// give it a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Slots lends a flow the worker slots its parallel branches run on
// (jobs.Queue's TryBorrow and SlotFreed).
type Slots interface {
	TryBorrow() (release func(), ok bool)
	SlotFreed() <-chan struct{}
}

// Executor runs flow jobs. A flow runs in its own worker slot, its steps
// one after another (each recorded as a child job), and the branches of
// a parallel loop or branchall on slots it borrows from the queue: a
// flow waiting on queued children could otherwise fill every worker with
// waiting parents and deadlock. Every step's start and result is
// committed with the flow's status before the flow goes on, so after a
// crash or a quit the flow resumes from the first step that had not
// finished (a step that was running runs again). A flow that waits (a
// sleep, a retry's delay, an approval) longer than WaitInline gives its
// worker back and is queued again for when it is due.
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
	// Secrets serves variable() and resource() in expressions.
	Secrets Secrets
	// Slots lends parallel branches worker slots; nil runs them one at
	// a time.
	Slots Slots
	// Clock is real time unless a test sets it.
	Clock Clock
	// WaitInline is the longest wait a flow spends holding its worker
	// (default 5 s).
	WaitInline time.Duration

	// crashAt is a test's kill -9: at a point ("ran <step>": its process
	// ended, its result not yet recorded; "after <step>": its result
	// recorded, the next step not started) true stops the flow dead.
	crashAt func(point string) bool
}

// maxDepth bounds flows run as steps of flows run as steps...
const maxDepth = 10

func (x *Executor) clock() Clock {
	if x.Clock == nil {
		return realClock{}
	}
	return x.Clock
}

func (x *Executor) waitInline() time.Duration {
	if x.WaitInline <= 0 {
		return 5 * time.Second
	}
	return x.WaitInline
}

// outcome is how a flow, a module or a step ended, or why it stopped
// short of ending.
type outcome struct {
	result json.RawMessage
	ok     bool
	// until is set when the flow waits: it runs again then, from its
	// recorded status.
	until time.Time
	// halted is set when the flow's context ended (a cancel, its
	// timeout, millrun stopping).
	halted bool
	// stopped is set when a stop_after_if ended the flow.
	stopped *StoppedEarly
	// step is the step that failed, raw its own error (result is the
	// flow's error, naming the step).
	step string
	raw  json.RawMessage
}

func (o outcome) pending() bool { return !o.until.IsZero() || o.halted }

func failed(name, msg string) outcome {
	out := runtime.Failure(name, msg, nil)
	return outcome{result: out.Result, raw: out.Result}
}

// root is one execution of a top-level flow job.
type root struct {
	x    *Executor
	run  *jobs.Execution
	job  *store.Job
	flow *Flow
	d    store.Durability
}

// frame is one flow-level job being run: the top-level flow, or a
// sub-flow (a loop iteration, a branch, a flow step) with its own job and
// flow_status.
type frame struct {
	r      *root
	job    *store.Job
	value  *Value
	input  json.RawMessage
	status *Status
	outer  *frame
	// path is the runnable path the paths of this frame's jobs start
	// with; flowPath the path of the flow whose steps these are.
	path, flowPath string
	top            bool // the top-level flow
	// scope ends the lookup of results.<id> (a flow run as a step is a
	// flow of its own); ids are the ids results.<id> may name.
	scope bool
	ids   []string
	// quiet keeps step output out of the top-level flow's log (parallel
	// branches would interleave it).
	quiet bool
	depth int

	mu      sync.Mutex // guards status and results against parallel branches
	results map[string]json.RawMessage
	// saving orders saves: parallel branches each save their loop's
	// status, and an older snapshot must not commit after a newer one.
	saving sync.Mutex
}

// Execute runs (or resumes) the flow job in run.
func (x *Executor) Execute(ctx context.Context, run *jobs.Execution) jobs.Outcome {
	job := run.Job
	flow, err := x.load(ctx, job)
	if err != nil {
		return runtime.Failure("NotFound", err.Error(), nil)
	}
	input, err := withDefaults(json.RawMessage(job.Args), flow.Schema)
	if err != nil {
		return runtime.Failure("BadArguments", "the flow's arguments are not a JSON object", nil)
	}
	if job.FlowStatus != "" {
		// Resumed: the status on disk may hold answers to an approval
		// recorded while the flow waited.
		if fresh, err := x.DB.GetJob(ctx, job.Workspace, job.ID); err == nil && fresh.FlowStatus != "" {
			job.FlowStatus = fresh.FlowStatus
		}
	}
	r := &root{x: x, run: run, job: job, flow: flow, d: job.Durability}
	f := &frame{r: r, job: job, value: &flow.Def, input: input, status: parseStatus(job.FlowStatus, &flow.Def),
		path: flow.Path, flowPath: flow.Path, top: true, scope: true, ids: stepIDs(&flow.Def), results: map[string]json.RawMessage{}}
	fresh := job.FlowStatus == ""
	if !fresh {
		fmt.Fprintf(run.Logs, "--- the flow resumes from its recorded progress: %s ---\n", f.status.next(&flow.Def))
	}
	if fresh && flow.Hash != "" && flow.Def.CacheTTL != nil && *flow.Def.CacheTTL > 0 {
		ttl := time.Duration(*flow.Def.CacheTTL * float64(time.Second))
		if c, err := x.DB.CachedJob(ctx, job.Workspace, "flow", flow.Path, flow.Hash, job.Args, time.Now().Add(-ttl)); err == nil {
			fmt.Fprintf(run.Logs, "result from the cache: run %s of the same flow with the same arguments (cache_ttl %s)\n", c.ID, ttl)
			return jobs.Outcome{Result: json.RawMessage(c.Result), Success: true}
		}
	}
	out := f.runFlow(ctx)
	return r.end(ctx, f, out)
}

// end turns the top-level flow's outcome into the job's: its result, or
// a requeue when it waits or millrun stops.
func (r *root) end(ctx context.Context, f *frame, out outcome) jobs.Outcome {
	switch {
	case !out.until.IsZero():
		at := time.Now().Add(out.until.Sub(r.x.clock().Now()))
		fmt.Fprintf(r.run.Logs, "--- the flow waits until %s; its worker is free meanwhile ---\n", at.UTC().Format(time.RFC3339))
		f.save(ctx)
		r.run.Requeue(at)
		return jobs.Outcome{}
	case out.halted:
		if jobs.ShuttingDown(ctx) {
			fmt.Fprintf(r.run.Logs, "--- millrun is stopping: the flow goes on from %s when millrun starts again ---\n", f.status.next(f.value))
			f.save(ctx)
			r.run.Requeue(time.Now())
		}
		return jobs.Outcome{} // the queue words the timeout or the cancel
	}
	if out.stopped != nil {
		f.status.StoppedEarly = out.stopped
	}
	f.save(ctx)
	return jobs.Outcome{Result: out.result, Success: out.ok}
}

// withDefaults fills in the fields of args a caller left out that the
// flow's schema gives a default, as a script's signature does.
func withDefaults(args json.RawMessage, schema string) (json.RawMessage, error) {
	in := map[string]json.RawMessage{}
	if len(args) > 0 {
		if err := json.Unmarshal(args, &in); err != nil {
			return nil, err
		}
	}
	var s struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
	}
	added := false
	if json.Unmarshal([]byte(schema), &s) == nil {
		for name, p := range s.Properties {
			if _, ok := in[name]; !ok && len(p.Default) > 0 && string(p.Default) != "null" {
				in[name] = p.Default
				added = true
			}
		}
	}
	if !added && len(args) > 0 {
		return args, nil
	}
	return json.Marshal(in)
}

func stepIDs(v *Value) []string {
	var ids []string
	_ = walk(v, func(m *Module) error {
		ids = append(ids, m.ID)
		return nil
	})
	return ids
}

// save commits this frame's status with ops (a step's start or end):
// the flow's progress and what it says happened land together.
func (f *frame) save(ctx context.Context, ops ...func(*sql.Tx) error) error {
	f.saving.Lock()
	defer f.saving.Unlock()
	f.mu.Lock()
	b, _ := json.Marshal(f.status)
	f.mu.Unlock()
	if f.top {
		f.r.run.ShowFlowStatus(b)
	}
	ops = append(ops, store.SetFlowStatusOp(f.job.ID, string(b)))
	err := f.r.x.DB.Commit(context.WithoutCancel(ctx), f.r.d, ops...)
	if err != nil {
		fmt.Fprintf(f.r.run.Logs, "millrun could not record the flow's progress: %s\n", err)
	}
	return err
}

func (f *frame) setResult(id string, v json.RawMessage) {
	f.mu.Lock()
	f.results[id] = v
	f.mu.Unlock()
}

// lookup is results.<id>: this flow's steps, then its enclosing flow's
// (from inside a loop or a branch), up to a flow of its own.
func (f *frame) lookup(id string) (json.RawMessage, bool) {
	for fr := f; fr != nil; fr = fr.outer {
		fr.mu.Lock()
		v, ok := fr.results[id]
		fr.mu.Unlock()
		if ok {
			return v, true
		}
		if fr.scope {
			break
		}
	}
	return nil, false
}

func (f *frame) env(ctx context.Context, prev json.RawMessage) *exprEnv {
	return &exprEnv{ctx: ctx, workspace: f.job.Workspace, secrets: f.r.x.Secrets, input: f.input, result: f.lookup, ids: f.ids,
		vars: map[string]json.RawMessage{"previous_result": prev, "resume": json.RawMessage("null"), "resumes": json.RawMessage("[]"),
			"approvers": json.RawMessage("[]")}}
}

// runFlow runs a flow's steps, then its failure module if a step failed.
func (f *frame) runFlow(ctx context.Context) outcome {
	if f.top || f.scope {
		if out, done := f.prepare(ctx); done {
			return out
		}
	}
	var out outcome
	if fm := f.status.FailureModule; fm.Type == WaitingForPriorSteps || f.value.FailureModule == nil {
		out = f.runModules(ctx)
		if out.ok || out.pending() || out.stopped != nil || !f.scope || f.value.FailureModule == nil {
			return out
		}
	} else {
		out = outcome{step: fm.ParentModule, raw: fm.Error}
	}
	return f.runFailureModule(ctx, out)
}

// prepare runs what comes before a flow's first step: its preprocessor
// and its skip_expr. done says the flow ended there.
func (f *frame) prepare(ctx context.Context) (outcome, bool) {
	v := f.value
	if pm := v.PreprocessorModule; pm != nil && f.top {
		if f.status.PreprocessorModule == nil {
			f.status.PreprocessorModule = &ModuleStatus{Type: WaitingForPriorSteps, ID: pm.ID}
		}
		if ms := f.status.PreprocessorModule; ms.Type != Success {
			f.status.Step = -1
			out := f.attempt(ctx, pm, ms, f.input, f.env(ctx, f.input))
			if out.pending() {
				return out, true
			}
			if !out.ok {
				ms.finish(false, parseTime(ms.StartedAt), time.Now())
				out = stepFailed(pm.ID, out, ms.Job)
				f.status.Step = 0
				if f.value.FailureModule != nil {
					return f.runFailureModule(ctx, out), true
				}
				return out, true
			}
			input := out.result
			var obj map[string]json.RawMessage
			if json.Unmarshal(input, &obj) != nil {
				input, _ = json.Marshal(map[string]json.RawMessage{"value": out.result})
			}
			if string(input) == "null" {
				input = json.RawMessage("{}")
			}
			f.input = input
			ms.finish(true, parseTime(ms.StartedAt), time.Now())
			f.status.Step = 0
			f.save(ctx, store.SetArgsOp(f.job.ID, string(input)))
			fmt.Fprintf(f.r.run.Logs, "--- the preprocessor's result is the flow's input ---\n")
		}
	}
	if v.SkipExpr != "" && f.status.Step == 0 && len(f.status.Modules) > 0 && f.status.Modules[0].Type == WaitingForPriorSteps {
		skip, err := f.env(ctx, f.input).evalBool(v.SkipExpr)
		if err != nil {
			return failed("ExpressionError", fmt.Sprintf("the flow's skip_expr (%s): %s", v.SkipExpr, err)), true
		}
		if skip {
			fmt.Fprintf(f.r.run.Logs, "--- skip_expr is true: the flow stops before its first step ---\n")
			return outcome{ok: true, result: json.RawMessage(`"stopped early"`), stopped: &StoppedEarly{Skipped: true}}, true
		}
	}
	return outcome{}, false
}

// runModules runs a flow's modules from the first unfinished one.
func (f *frame) runModules(ctx context.Context) outcome {
	mods := f.value.Modules
	if len(mods) == 0 {
		return outcome{ok: true, result: f.input}
	}
	prev := f.input
	last := outcome{ok: true, result: f.input}
	for i := range mods {
		m, ms := &mods[i], &f.status.Modules[i]
		if ms.Type == Success || (ms.Type == Failure && m.ContinueOnError) {
			res, err := f.moduleResult(ctx, ms)
			if err != nil {
				return failed("InternalError", fmt.Sprintf("reading the result of step %s: %s", m.ID, err))
			}
			f.setResult(m.ID, res)
			prev, last = res, outcome{ok: ms.Type == Success, result: res}
			continue
		}
		f.mu.Lock()
		f.status.Step = i
		f.mu.Unlock()
		out := f.runModule(ctx, i, prev)
		if out.pending() {
			return out
		}
		if !out.ok {
			if m.ContinueOnError {
				fmt.Fprintf(f.r.run.Logs, "step %s failed; continue_on_error: its error is its result and the flow goes on\n", m.ID)
				f.setResult(m.ID, out.raw)
				prev, last = out.raw, outcome{result: out.raw, raw: out.raw, step: m.ID}
				continue
			}
			return out
		}
		f.setResult(m.ID, out.result)
		prev, last = out.result, out
		if x := f.r.x; x.crashAt != nil && x.crashAt("after "+m.ID) {
			return outcome{halted: true}
		}
		f.mu.Lock()
		f.status.Step = i + 1
		f.mu.Unlock()
		if f.top && f.value.EarlyReturn == m.ID && f.status.EarlyAnswer == nil {
			f.r.run.EarlyReturn(out.result)
			f.status.EarlyAnswer = &EarlyAnswer{Step: m.ID, AfterMs: time.Since(f.r.job.StartedAt).Milliseconds(), Result: out.result}
			f.save(ctx)
		}
		if out.stopped != nil {
			f.status.Step = i + 1
			return out
		}
	}
	f.mu.Lock()
	f.status.Step = len(mods)
	f.mu.Unlock()
	return last
}

// moduleResult reads a finished module's result back: its job's, or the
// list of its iterations' or branches' results.
func (f *frame) moduleResult(ctx context.Context, ms *ModuleStatus) (json.RawMessage, error) {
	ids := ms.FlowJobs
	if ids == nil {
		if ms.Job == "" || ms.Job == NilJob {
			return json.RawMessage("null"), nil
		}
		ids = []string{ms.Job}
	}
	found, err := f.r.x.DB.JobsByID(ctx, f.job.Workspace, ids)
	if err != nil {
		return nil, err
	}
	list := make([]json.RawMessage, len(ids))
	for i, id := range ids {
		j, ok := found[id]
		if !ok || j.Result == "" {
			list[i] = json.RawMessage("null")
			continue
		}
		list[i] = json.RawMessage(j.Result)
	}
	if ms.FlowJobs == nil {
		return list[0], nil
	}
	return json.Marshal(list)
}

// runModule runs module i: after the previous one's sleep and approvals,
// with its retries, skip_if and stop_after_if.
func (f *frame) runModule(ctx context.Context, i int, prev json.RawMessage) outcome {
	mods := f.value.Modules
	m, ms := &mods[i], &f.status.Modules[i]
	env := f.env(ctx, prev)
	now := f.r.x.clock().Now()
	// The approvals come before the sleep: the sleep counts from the
	// approval, and a sleep recorded first would make the wait look over.
	if i > 0 && mods[i-1].Suspend != nil && mods[i-1].Suspend.RequiredEvents > 0 {
		out, resumed := f.approvals(ctx, i, now)
		if resumed == nil {
			return out
		}
		env = env.with(resumed.vars)
	}
	if i > 0 && mods[i-1].Sleep != nil && ms.Type == WaitingForPriorSteps {
		secs, err := f.number(env.with(map[string]json.RawMessage{"result": prev}), *mods[i-1].Sleep)
		if err != nil {
			return stepFailed(mods[i-1].ID, failed("ExpressionError", fmt.Sprintf("step %s, sleep: %s", mods[i-1].ID, err)), "")
		}
		if secs > 0 {
			ms.Type, ms.Job = WaitingForExecutor, uuid.NewString()
			ms.ScheduledFor = timeText(now.Add(time.Duration(secs * float64(time.Second))))
			fmt.Fprintf(f.r.run.Logs, "step %s sleeps %gs before step %s\n", mods[i-1].ID, secs, m.ID)
			f.save(ctx)
		}
	}
	if ms.Type == WaitingForExecutor && ms.ScheduledFor != "" {
		if w := f.waitUntil(ctx, parseTime(ms.ScheduledFor)); w != nil {
			return *w
		}
	}
	out := f.withRetries(ctx, m, ms, prev, env)
	if out.pending() || !out.ok {
		return out
	}
	if m.StopAfterIf != nil && !loops[m.Value.Type] && m.Value.Type != "branchall" {
		stop, err := env.with(map[string]json.RawMessage{"result": out.result}).evalBool(m.StopAfterIf.Expr)
		if err != nil {
			return stepFailed(m.ID, failed("ExpressionError", fmt.Sprintf("step %s, stop_after_if (%s): %s", m.ID, m.StopAfterIf.Expr, err)), ms.Job)
		}
		if stop {
			return f.stopEarly(m, m.StopAfterIf, out)
		}
	}
	return out
}

var loops = map[string]bool{"forloopflow": true, "whileloopflow": true}

// stopEarly ends the flow after a step whose stop predicate held:
// successfully with the step's result, or with an error when the
// predicate carries an error_message.
func (f *frame) stopEarly(m *Module, s *StopAfterIf, out outcome) outcome {
	fmt.Fprintf(f.r.run.Logs, "--- step %s's stop predicate (%s) is true: the flow stops early ---\n", m.ID, s.Expr)
	if s.ErrorMessage != nil {
		msg := *s.ErrorMessage
		if msg == "" {
			msg = s.Expr
		}
		b, _ := json.Marshal("Flow early stop: " + msg)
		return outcome{result: b, raw: b, step: m.ID, stopped: &StoppedEarly{Step: m.ID}}
	}
	out.stopped = &StoppedEarly{Step: m.ID, Skipped: s.SkipIfStopped}
	return out
}

// retryDelay is Windmill's Retry.interval: constant attempts first, then
// exponential ones, multiplier * seconds^(attempt+1).
func retryDelay(r *Retry, failures int) (time.Duration, bool) {
	if r == nil {
		return 0, false
	}
	if failures < r.Constant.Attempts {
		return time.Duration(r.Constant.Seconds) * time.Second, true
	}
	if failures-r.Constant.Attempts < r.Exponential.Attempts {
		mult := 1
		if r.Exponential.Multiplier != nil {
			mult = *r.Exponential.Multiplier
		}
		secs := float64(mult)
		for range failures + 1 {
			secs *= float64(r.Exponential.Seconds)
			if secs > 6*3600 {
				break
			}
		}
		return min(time.Duration(secs*float64(time.Second)), 6*time.Hour), true
	}
	return 0, false
}

// withRetries runs a module, again after each failure its retry allows.
func (f *frame) withRetries(ctx context.Context, m *Module, ms *ModuleStatus, prev json.RawMessage, env *exprEnv) outcome {
	for {
		out := f.attempt(ctx, m, ms, prev, env)
		if out.pending() {
			return out
		}
		started := parseTime(ms.StartedAt)
		if out.ok {
			f.mu.Lock()
			ms.finish(true, started, time.Now())
			f.status.Retry = nil
			f.mu.Unlock()
			f.save(ctx)
			return out
		}
		fails := 0
		if f.status.Retry != nil {
			fails = f.status.Retry.FailCount
		}
		delay, again := retryDelay(m.Retry, fails)
		if !again {
			f.mu.Lock()
			ms.finish(false, started, time.Now())
			f.status.Retry = nil
			f.mu.Unlock()
			f.save(ctx)
			return stepFailed(m.ID, out, ms.Job)
		}
		at := f.r.x.clock().Now().Add(delay)
		f.mu.Lock()
		if f.status.Retry == nil {
			f.status.Retry = &RetryStatus{FailedJobs: []string{}}
		}
		f.status.Retry.FailCount++
		f.status.Retry.FailedJobs = append(f.status.Retry.FailedJobs, ms.Job)
		ms.FailedRetries = append(ms.FailedRetries, ms.Job)
		*ms = ModuleStatus{Type: WaitingForExecutor, ID: ms.ID, Job: uuid.NewString(), ScheduledFor: timeText(at),
			FailedRetries: ms.FailedRetries, Interrupted: ms.Interrupted}
		f.mu.Unlock()
		fmt.Fprintf(f.r.run.Logs, "step %s failed (attempt %d); it runs again in %s\n", m.ID, fails+1, delay)
		f.save(ctx)
		if w := f.waitUntil(ctx, at); w != nil {
			return *w
		}
	}
}

// waitUntil waits for at, holding the worker for short waits; for longer
// ones it returns the outcome that requeues the flow (nil: go on).
func (f *frame) waitUntil(ctx context.Context, at time.Time) *outcome {
	c := f.r.x.clock()
	d := at.Sub(c.Now())
	if d <= 0 {
		return nil
	}
	if d >= f.r.x.waitInline() {
		return &outcome{until: at}
	}
	select {
	case <-c.After(d):
		return nil
	case <-ctx.Done():
		return &outcome{halted: true}
	}
}

// number evaluates a transform that must give a number (a sleep, a
// timeout, a parallelism).
func (f *frame) number(env *exprEnv, t Transform) (float64, error) {
	raw := t.Value
	if t.Type == "javascript" {
		var err error
		if raw, err = env.eval(t.Expr); err != nil {
			return 0, fmt.Errorf("(%s): %s", t.Expr, err)
		}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("expected a number, found %s", raw)
	}
	return n, nil
}

// stepFailed makes a step's error the flow's: its message names the step
// and the step's job.
func stepFailed(stepID string, out outcome, childID string) outcome {
	raw := out.raw
	if raw == nil {
		raw = out.result
	}
	if out.step != "" && out.step != stepID {
		// A step inside a loop or a branch failed: its own error, naming
		// it, is the flow's.
		out.raw = raw
		return out
	}
	var wrapped struct {
		Error map[string]any `json:"error"`
	}
	if json.Unmarshal(raw, &wrapped) != nil || wrapped.Error == nil {
		wrapped.Error = map[string]any{"name": "StepFailed", "message": string(raw)}
	}
	e := wrapped.Error
	e["message"] = fmt.Sprintf("step %s failed: %v", stepID, e["message"])
	e["step_id"] = stepID
	if childID != "" {
		e["step_job"] = childID
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return outcome{result: b, raw: raw, step: stepID, stopped: out.stopped}
}

// attempt runs a module once, by its type.
func (f *frame) attempt(ctx context.Context, m *Module, ms *ModuleStatus, prev json.RawMessage, env *exprEnv) outcome {
	if ctx.Err() != nil {
		return outcome{halted: true}
	}
	if ms.waiting() {
		if m.SkipIf != nil {
			skip, err := env.evalBool(m.SkipIf.Expr)
			if err != nil {
				return failed("ExpressionError", fmt.Sprintf("step %s, skip_if (%s): %s", m.ID, m.SkipIf.Expr, err))
			}
			if skip {
				ms.Skipped = boolPtr(true)
				return f.identity(ctx, m, ms, prev, "skip_if is true: the step passes its previous result on")
			}
		}
		if m.Mock != nil && m.Mock.Enabled {
			v := m.Mock.ReturnValue
			if len(v) == 0 {
				v = json.RawMessage("null")
			}
			return f.identity(ctx, m, ms, v, "mocked: the step returns its mock value")
		}
	} else if ms.Type == InProgress && ms.Skipped != nil && *ms.Skipped {
		return f.identity(ctx, m, ms, prev, "skip_if is true: the step passes its previous result on")
	}
	switch m.Value.Type {
	case "identity":
		return f.identity(ctx, m, ms, prev, "")
	case "rawscript", "script":
		return f.leaf(ctx, m, ms, env)
	case "flow":
		return f.flowStep(ctx, m, ms, env)
	case "forloopflow":
		return f.forLoop(ctx, m, ms, prev, env)
	case "whileloopflow":
		return f.whileLoop(ctx, m, ms, env)
	case "branchone":
		return f.branchOne(ctx, m, ms, prev, env)
	case "branchall":
		return f.branchAll(ctx, m, ms, env)
	}
	return failed("InvalidStep", fmt.Sprintf("step %s: module type %q cannot run", m.ID, m.Value.Type))
}

// childJob is a new step job of this frame's flow job.
func (f *frame) childJob(id, kind, path string) *store.Job {
	now := time.Now().UTC()
	p := f.r.job
	return &store.Job{ID: id, Workspace: p.Workspace, Kind: kind, Status: store.StatusRunning, Trigger: "flow", ScriptPath: path,
		CreatedBy: p.CreatedBy, TokenID: p.TokenID, ParentJob: f.job.ID, Args: "{}", CreatedAt: now, ScheduledFor: now, StartedAt: now,
		Durability: f.r.d}
}

// identity records a step that runs nothing: its result is value.
func (f *frame) identity(ctx context.Context, m *Module, ms *ModuleStatus, value json.RawMessage, why string) outcome {
	id := ms.Job
	if id == "" || ms.Type == InProgress {
		id = uuid.NewString()
	}
	child := f.childJob(id, "identity", f.path+"/"+m.ID)
	args, _ := json.Marshal(map[string]json.RawMessage{"previous_result": value})
	child.Args = string(args)
	done := *child
	done.Status, done.Result, done.CompletedAt = store.StatusSuccess, string(value), time.Now().UTC()
	if why != "" {
		done.Logs = why + "\n"
		fmt.Fprintf(f.r.run.Logs, "step %s: %s\n", m.ID, why)
	}
	f.mu.Lock()
	ms.Type, ms.Job, ms.StartedAt = InProgress, id, timeText(child.StartedAt)
	f.mu.Unlock()
	f.save(ctx, f.r.x.DB.InsertJobOp(child), f.r.x.DB.FinishJobOp(&done))
	return outcome{ok: true, result: value}
}

// interrupted reports whether a step's job ended because millrun
// stopped while it ran (a crash, a quit): it runs again.
func interrupted(j *store.Job) bool {
	if !j.Finished() {
		return true
	}
	var r struct {
		Error struct {
			Name string `json:"name"`
		} `json:"error"`
	}
	return j.Status == store.StatusFailure && json.Unmarshal([]byte(j.Result), &r) == nil && r.Error.Name == "WorkerStopped"
}

// resumeJob is what became of a step's job a previous run of the flow
// started: its outcome when it finished, or ok false to run it (again).
func (f *frame) resumeJob(ctx context.Context, m *Module, ms *ModuleStatus) (outcome, bool) {
	if ms.Type != InProgress || ms.Job == "" {
		return outcome{}, false
	}
	j, err := f.r.x.DB.GetJob(ctx, f.job.Workspace, ms.Job)
	if errors.Is(err, store.ErrNotFound) {
		return outcome{}, false // its start was never recorded: it did not run
	}
	if err != nil {
		return failed("InternalError", fmt.Sprintf("reading step %s's job: %s", m.ID, err)), true
	}
	if interrupted(j) {
		f.mu.Lock()
		ms.Interrupted = append(ms.Interrupted, ms.Job)
		ms.Job = uuid.NewString()
		f.mu.Unlock()
		fmt.Fprintf(f.r.run.Logs, "--- step %s was running when millrun stopped (job %s): it runs again ---\n", m.ID, j.ID)
		return outcome{}, false
	}
	res := json.RawMessage(j.Result)
	if j.Status == store.StatusSuccess {
		return outcome{ok: true, result: res}, true
	}
	return outcome{result: res, raw: res}, true
}

// leaf runs a script step (inline or saved) as a child job.
func (f *frame) leaf(ctx context.Context, m *Module, ms *ModuleStatus, env *exprEnv) outcome {
	if out, done := f.resumeJob(ctx, m, ms); done {
		return out
	}
	id := ms.Job
	if id == "" {
		id = uuid.NewString()
	}
	r := f.r
	child := f.childJob(id, "script", "")
	spec, err := f.stepSpec(ctx, m, child)
	var out runtime.Outcome
	if err != nil {
		out = runtime.Failure("InvalidStep", err.Error(), nil)
	} else if args, err := f.stepArgs(m, env); err != nil {
		out = runtime.Failure("ExpressionError", err.Error(), nil)
	} else {
		b, _ := json.Marshal(args)
		child.Args, spec.Args = string(b), args
	}
	var timeout time.Duration
	if out.Result == nil && m.Timeout != nil {
		secs, err := f.number(env, *m.Timeout)
		if err != nil {
			out = runtime.Failure("ExpressionError", fmt.Sprintf("step %s, timeout %s", m.ID, err), nil)
		} else if secs > 0 {
			timeout = time.Duration(secs * float64(time.Second))
			child.TimeoutS = int(secs)
		}
	}
	f.mu.Lock()
	ms.Type, ms.Job, ms.StartedAt = InProgress, id, timeText(child.StartedAt)
	f.mu.Unlock()
	// The step's start is on disk before its process starts: after a
	// crash the flow knows it was running, and runs it again.
	f.save(ctx, r.x.DB.InsertJobOp(child))
	logs := jobs.NewLogBuffer(r.x.StepLogLimit)
	var w io.Writer = logs
	if !f.quiet {
		fmt.Fprintf(r.run.Logs, "--- step %s (%s) ---\n", m.ID, child.ScriptPath)
		w = io.MultiWriter(r.run.Logs, logs)
	}
	if out.Result == nil {
		if c, ok := f.cached(ctx, m, child); ok {
			fmt.Fprintf(w, "result from the cache: job %s ran this step with the same arguments (cache_ttl %gs)\n", c.ID, *m.CacheTTL)
			out = runtime.Outcome{Result: json.RawMessage(c.Result), Success: true}
		}
	}
	if out.Result == nil {
		stepCtx, cancel := ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			stepCtx, cancel = context.WithTimeout(ctx, timeout)
		}
		var release func()
		spec.Env, release = r.x.Env(child, Step{FlowPath: f.flowPath, ID: m.ID, SchedulePath: r.job.SchedulePath, RootJob: r.job.ID})
		out = r.x.Runner.Run(stepCtx, spec, w)
		release()
		cancel()
		if r.x.crashAt != nil && r.x.crashAt("ran "+m.ID) {
			return outcome{halted: true}
		}
		switch {
		case ctx.Err() != nil && jobs.ShuttingDown(ctx):
			out = runtime.Failure("WorkerStopped", "millrun stopped while this step ran; the flow runs it again when millrun starts", nil)
		case ctx.Err() != nil:
			out = runtime.Failure("Canceled", "the flow was stopped while this step ran", nil)
		case stepCtx.Err() != nil:
			out = runtime.Failure("TimeoutError", fmt.Sprintf("step %s timed out after %s (its timeout); its process and children were killed", m.ID, timeout), nil)
		}
	}
	done := *child
	done.CompletedAt = time.Now().UTC()
	done.DurationMs = done.CompletedAt.Sub(done.StartedAt).Milliseconds()
	done.Status, done.Result, done.Logs = store.StatusFailure, string(out.Result), logs.String()
	if out.Success {
		done.Status = store.StatusSuccess
	}
	if err := r.x.DB.Commit(context.WithoutCancel(ctx), r.d, r.x.DB.FinishJobOp(&done)); err != nil {
		fmt.Fprintf(r.run.Logs, "millrun could not record step %s's result: %s\n", m.ID, err)
	}
	if ctx.Err() != nil {
		if !jobs.ShuttingDown(ctx) {
			f.mu.Lock()
			ms.Type = Failure
			f.mu.Unlock()
		}
		return outcome{halted: true}
	}
	if out.Success {
		return outcome{ok: true, result: out.Result}
	}
	return outcome{result: out.Result, raw: out.Result}
}

// cached finds a result for a step with a cache_ttl: a job of the same
// script version, with the same arguments, that succeeded within it.
func (f *frame) cached(ctx context.Context, m *Module, child *store.Job) (*store.Job, bool) {
	if m.CacheTTL == nil || *m.CacheTTL <= 0 {
		return nil, false
	}
	since := time.Now().Add(-time.Duration(*m.CacheTTL * float64(time.Second)))
	c, err := f.r.x.DB.CachedJob(ctx, child.Workspace, child.Kind, child.ScriptPath, child.ScriptHash, child.Args, since)
	return c, err == nil
}

// stepArgs are a script step's arguments: its input transforms', or a
// preprocessor's, which gets the flow's input as it arrived (Windmill's
// event: the trigger's kind and the body; older preprocessors take the
// fields and wm_trigger).
func (f *frame) stepArgs(m *Module, env *exprEnv) (map[string]json.RawMessage, error) {
	if pm := f.value.PreprocessorModule; pm == nil || m != pm || len(m.Value.InputTransforms) > 0 {
		return evalArgs(m, env)
	}
	args := map[string]json.RawMessage{}
	_ = json.Unmarshal(f.input, &args)
	kind := f.r.job.Trigger
	if kind == "" || kind == "tunnel" {
		kind = "webhook"
	}
	headers := json.RawMessage("{}")
	if f.r.job.Headers != "" {
		headers = json.RawMessage(f.r.job.Headers)
	}
	args["event"], _ = json.Marshal(map[string]any{"kind": kind, "body": f.input, "query": map[string]string{}, "headers": headers})
	args["wm_trigger"], _ = json.Marshal(map[string]string{"kind": kind})
	return args, nil
}

// evalArgs evaluates a step's input transforms: static ones first, then
// expressions in name order, each seeing the others so far as params.
func evalArgs(m *Module, env *exprEnv) (map[string]json.RawMessage, error) {
	args := map[string]json.RawMessage{}
	names := sortedKeys(m.Value.InputTransforms)
	for _, name := range names {
		if t := m.Value.InputTransforms[name]; t.Type != "javascript" {
			args[name] = t.Value
			if len(t.Value) == 0 {
				args[name] = json.RawMessage("null")
			}
		}
	}
	for _, name := range names {
		t := m.Value.InputTransforms[name]
		if t.Type != "javascript" {
			continue
		}
		params, _ := json.Marshal(args)
		v, err := env.with(map[string]json.RawMessage{"params": params}).eval(t.Expr)
		if err != nil {
			return nil, fmt.Errorf("step %s, input %s (%s): %s", m.ID, name, t.Expr, err)
		}
		args[name] = v
	}
	return args, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stepSpec finds what a script step runs and fills in its job's identity.
func (f *frame) stepSpec(ctx context.Context, m *Module, child *store.Job) (runtime.Spec, error) {
	ws := child.Workspace
	if m.Value.Type == "rawscript" {
		lang, err := scripts.NormalizeLanguage(m.Value.Language)
		if err != nil {
			return runtime.Spec{}, err
		}
		content := m.Value.Content
		if f.value.PreprocessorModule != nil && m == f.value.PreprocessorModule {
			content = runtime.PreprocessorAsMain(lang, content)
		}
		child.Kind, child.Language = "flowscript", lang
		child.ScriptPath = m.Value.Path
		if child.ScriptPath == "" {
			child.ScriptPath = f.path + "/" + m.ID
		}
		child.ScriptHash = scripts.Hash(ws, child.ScriptPath, lang, content)
		schema, err := scripts.InferSchema(lang, content)
		if err != nil {
			return runtime.Spec{}, err
		}
		return runtime.Spec{Language: lang, Content: content, Order: schema.Order}, nil
	}
	child.Kind, child.ScriptPath = "script", m.Value.Path
	v, err := stepScript(ctx, f.r.x.Scripts, ws, m)
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

// sub runs a sub-flow (a loop iteration, a branch, a flow step) as a
// child flow job with its own status, or resumes it, or reads back how
// it ended.
func (f *frame) sub(ctx context.Context, id, kind, path, hash string, value *Value, input json.RawMessage, own, quiet bool) outcome {
	x := f.r.x
	ws := f.job.Workspace
	row, err := x.DB.GetJob(ctx, ws, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		row = f.childJob(id, kind, path)
		row.ScriptHash, row.Args = hash, string(input)
		st, _ := json.Marshal(newStatus(value))
		row.FlowStatus = string(st)
		if err := x.DB.Commit(context.WithoutCancel(ctx), f.r.d, x.DB.InsertJobOp(row)); err != nil {
			return failed("InternalError", fmt.Sprintf("recording %s: %s", path, err))
		}
	case err != nil:
		return failed("InternalError", fmt.Sprintf("reading %s: %s", path, err))
	case row.Finished():
		res := json.RawMessage(row.Result)
		return outcome{ok: row.Status == store.StatusSuccess, result: res, raw: res}
	}
	row.Durability = f.r.d
	s := &frame{r: f.r, job: row, value: value, input: json.RawMessage(row.Args), status: parseStatus(row.FlowStatus, value),
		outer: f, path: path, flowPath: f.flowPath, quiet: f.quiet || quiet, depth: f.depth + 1, ids: f.ids, results: map[string]json.RawMessage{}}
	if own {
		s.scope, s.flowPath, s.ids = true, path, stepIDs(value)
	}
	out := s.runFlow(ctx)
	if out.pending() {
		s.save(ctx)
		return out
	}
	done := *row
	done.CompletedAt = time.Now().UTC()
	done.DurationMs = done.CompletedAt.Sub(done.StartedAt).Milliseconds()
	done.Status, done.Result, done.Logs = store.StatusFailure, string(out.result), "Flow job completed with error\n"
	if out.ok {
		done.Status, done.Logs = store.StatusSuccess, "Flow job completed with success\n"
	}
	if out.stopped != nil {
		s.status.StoppedEarly = out.stopped
		done.Logs = "Flow job stopped early because of a stop early predicate returning true\n"
	}
	b, _ := json.Marshal(s.status)
	done.FlowStatus = string(b)
	if err := x.DB.Commit(context.WithoutCancel(ctx), f.r.d, x.DB.FinishJobOp(&done)); err != nil {
		fmt.Fprintf(f.r.run.Logs, "millrun could not record the end of %s: %s\n", path, err)
	}
	return out
}

// flowStep runs a saved flow as a step, with the arguments its input
// transforms give.
func (f *frame) flowStep(ctx context.Context, m *Module, ms *ModuleStatus, env *exprEnv) outcome {
	if f.depth >= maxDepth {
		return failed("InvalidStep", fmt.Sprintf("step %s: flows run as steps nest deeper than %d levels", m.ID, maxDepth))
	}
	target, err := f.r.x.Flows.Latest(ctx, f.job.Workspace, m.Value.Path)
	if err != nil {
		return failed("InvalidStep", fmt.Sprintf("step %s: no flow at %s", m.ID, m.Value.Path))
	}
	// The arguments are evaluated again on a resume: the job they went
	// into may not have been recorded when millrun stopped.
	args, err := evalArgs(m, env)
	if err != nil {
		return failed("ExpressionError", err.Error())
	}
	b, _ := json.Marshal(args)
	input, err := withDefaults(b, target.Schema)
	if err != nil {
		return failed("BadArguments", err.Error())
	}
	if ms.waiting() || ms.Job == "" {
		f.mu.Lock()
		ms.Type, ms.Job, ms.StartedAt = InProgress, uuid.NewString(), timeText(time.Now())
		f.mu.Unlock()
		f.save(ctx)
	}
	out := f.sub(ctx, ms.Job, "flow", target.Path, target.Hash, &target.Def, input, true, false)
	out.stopped = nil // a stop inside the called flow ends that flow, not this one
	return out
}

// iterInput is a loop iteration's flow input: the enclosing flow's, with
// iter = {index, value} (an enclosing loop's iter becomes iter_parent).
func iterInput(input json.RawMessage, index int, value json.RawMessage) json.RawMessage {
	args := map[string]json.RawMessage{}
	_ = json.Unmarshal(input, &args)
	it, _ := json.Marshal(map[string]any{"index": index, "value": value})
	key, v := "iter", json.RawMessage(it)
	for {
		old, ok := args[key]
		args[key] = v
		if !ok {
			break
		}
		key, v = key+"_parent", old
	}
	b, _ := json.Marshal(args)
	return b
}

func (f *frame) startLoop(ms *ModuleStatus) {
	f.mu.Lock()
	ms.Type, ms.Job, ms.StartedAt = InProgress, NilJob, timeText(time.Now())
	ms.FlowJobs, ms.FlowJobsSuccess = []string{}, []*bool{}
	ms.FlowJobsDuration = &FlowJobsTiming{StartedAt: []*string{}, DurationMs: []*int64{}}
	f.mu.Unlock()
}

// addFlowJob appends a new iteration or branch job to a module's status.
func (f *frame) addFlowJob(ms *ModuleStatus) string {
	id := uuid.NewString()
	f.mu.Lock()
	padBranches(ms)
	ms.FlowJobs = append(ms.FlowJobs, id)
	ms.FlowJobsSuccess = append(ms.FlowJobsSuccess, nil)
	ms.FlowJobsDuration.StartedAt = append(ms.FlowJobsDuration.StartedAt, nil)
	ms.FlowJobsDuration.DurationMs = append(ms.FlowJobsDuration.DurationMs, nil)
	ms.Job = id
	f.mu.Unlock()
	return id
}

// runBranch runs iteration or branch k of a module as a sub-flow and
// records how it went in the module's status. quiet keeps its steps'
// output out of the flow's log (parallel branches would interleave it).
func (f *frame) runBranch(ctx context.Context, ms *ModuleStatus, k int, path string, value *Value, input json.RawMessage, quiet bool) outcome {
	started := time.Now()
	f.mu.Lock()
	padBranches(ms)
	id := ms.FlowJobs[k]
	if ms.FlowJobsDuration.StartedAt[k] == nil {
		s := timeText(started)
		ms.FlowJobsDuration.StartedAt[k] = &s
	}
	f.mu.Unlock()
	out := f.sub(ctx, id, "flownode", path, "", value, input, false, quiet)
	if out.pending() {
		return out
	}
	d := time.Since(started).Milliseconds()
	f.mu.Lock()
	ms.FlowJobsSuccess[k] = boolPtr(out.ok)
	ms.FlowJobsDuration.DurationMs[k] = &d
	f.mu.Unlock()
	f.save(ctx)
	return out
}

// padBranches sizes the per-branch lists of a module's status to its
// flow_jobs: a status from elsewhere may lack them.
func padBranches(ms *ModuleStatus) {
	n := len(ms.FlowJobs)
	if ms.FlowJobsDuration == nil {
		ms.FlowJobsDuration = &FlowJobsTiming{}
	}
	for len(ms.FlowJobsSuccess) < n {
		ms.FlowJobsSuccess = append(ms.FlowJobsSuccess, nil)
	}
	for len(ms.FlowJobsDuration.StartedAt) < n {
		ms.FlowJobsDuration.StartedAt = append(ms.FlowJobsDuration.StartedAt, nil)
	}
	for len(ms.FlowJobsDuration.DurationMs) < n {
		ms.FlowJobsDuration.DurationMs = append(ms.FlowJobsDuration.DurationMs, nil)
	}
}

// forLoop runs a forloopflow: its iterator's items one after another, or
// several at once (parallel, up to parallelism and the free workers).
func (f *frame) forLoop(ctx context.Context, m *Module, ms *ModuleStatus, prev json.RawMessage, env *exprEnv) outcome {
	v := &m.Value
	parallel := v.Parallel != nil && *v.Parallel
	skip := v.SkipFailures == nil || *v.SkipFailures
	if ms.Iterator == nil {
		if v.Iterator == nil {
			return failed("InvalidStep", fmt.Sprintf("step %s: a for loop needs an iterator", m.ID))
		}
		var raw json.RawMessage
		if v.Iterator.Type == "javascript" {
			var err error
			raw, err = env.with(map[string]json.RawMessage{"result": prev}).eval(v.Iterator.Expr)
			if err != nil {
				return failed("ExpressionError", fmt.Sprintf("step %s, iterator (%s): %s", m.ID, v.Iterator.Expr, err))
			}
		} else {
			raw = v.Iterator.Value
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil || items == nil {
			return failed("ExpressionError", fmt.Sprintf("step %s, iterator: expected an array value in the iterator expression, found: %s", m.ID, raw))
		}
		f.startLoop(ms)
		f.mu.Lock()
		ms.Iterator, ms.Parallel = &Iterator{Index: 0, Itered: items}, parallel
		f.mu.Unlock()
		if parallel {
			for range items {
				f.addFlowJob(ms)
			}
			f.mu.Lock()
			ms.Job = f.job.ID
			f.mu.Unlock()
		}
		f.save(ctx)
	}
	items := ms.Iterator.Itered
	if len(items) == 0 {
		return outcome{ok: true, result: json.RawMessage("[]")}
	}
	body := &Value{Modules: v.Modules}
	results := make([]json.RawMessage, len(items))
	if parallel {
		limit := len(items)
		if v.Parallelism != nil {
			n, err := f.number(env, *v.Parallelism)
			if err != nil {
				return failed("ExpressionError", fmt.Sprintf("step %s, parallelism %s", m.ID, err))
			}
			if n >= 1 && int(n) < limit {
				limit = int(n)
			}
		}
		outs := f.parallel(ctx, len(items), limit, func(ctx context.Context, k int) outcome {
			return f.runBranch(ctx, ms, k, fmt.Sprintf("%s/forloop-%d", f.path, k), body, iterInput(f.input, k, items[k]), true)
		})
		if out, stop := pendingOf(outs); stop {
			return out
		}
		for k, o := range outs {
			results[k] = o.result
			if !o.ok && !skip {
				return o
			}
		}
		return f.afterLoop(m, env, results)
	}
	for k := range items {
		if k >= len(ms.FlowJobs) {
			f.addFlowJob(ms)
			f.mu.Lock()
			ms.Iterator.Index = k
			f.mu.Unlock()
			f.save(ctx)
		}
		out := f.runBranch(ctx, ms, k, fmt.Sprintf("%s/loop-%d", f.path, k), body, iterInput(f.input, k, items[k]), false)
		if out.pending() {
			return out
		}
		results[k] = out.result
		if !out.ok && !skip {
			return out
		}
		if out.stopped != nil { // a step inside stopped: the loop breaks, as in Windmill
			results = results[:k+1]
			break
		}
		if m.StopAfterIf != nil {
			stop, fail := f.iterStop(m, env, out.result, results[:k+1])
			if fail != nil {
				return *fail
			}
			if stop {
				results = results[:k+1]
				break
			}
		}
	}
	return f.afterLoop(m, env, results)
}

// iterStop is a loop's stop_after_if after one iteration: it breaks the
// loop, not the flow. fail is set when the predicate throws.
func (f *frame) iterStop(m *Module, env *exprEnv, result json.RawMessage, all []json.RawMessage) (stop bool, fail *outcome) {
	allIters, _ := json.Marshal(all)
	stop, err := env.with(map[string]json.RawMessage{"result": result, "all_iters": allIters}).evalBool(m.StopAfterIf.Expr)
	if err != nil {
		out := failed("ExpressionError", fmt.Sprintf("step %s, stop_after_if (%s): %s", m.ID, m.StopAfterIf.Expr, err))
		return false, &out
	}
	if stop {
		fmt.Fprintf(f.r.run.Logs, "step %s: stop_after_if (%s) is true: the loop stops\n", m.ID, m.StopAfterIf.Expr)
	}
	return stop, nil
}

// afterLoop is a finished loop's result, the list of its iterations'
// results, and its stop_after_all_iters_if.
func (f *frame) afterLoop(m *Module, env *exprEnv, results []json.RawMessage) outcome {
	for i, r := range results {
		if r == nil {
			results[i] = json.RawMessage("null")
		}
	}
	list, _ := json.Marshal(results)
	out := outcome{ok: true, result: list}
	if s := m.StopAfterAllItersIf; s != nil {
		stop, err := env.with(map[string]json.RawMessage{"result": list}).evalBool(s.Expr)
		if err != nil {
			return failed("ExpressionError", fmt.Sprintf("step %s, stop_after_all_iters_if (%s): %s", m.ID, s.Expr, err))
		}
		if stop {
			return f.stopEarly(m, s, out)
		}
	}
	return out
}

// whileLoop runs a whileloopflow's body until its stop_after_if holds
// (or an iteration fails, unless skip_failures).
func (f *frame) whileLoop(ctx context.Context, m *Module, ms *ModuleStatus, env *exprEnv) outcome {
	v := &m.Value
	skip := v.SkipFailures != nil && *v.SkipFailures
	if ms.Iterator == nil {
		f.startLoop(ms)
		f.mu.Lock()
		ms.Iterator, ms.WhileLoop = &Iterator{Index: 0, Itered: []json.RawMessage{}}, true
		f.mu.Unlock()
		f.save(ctx)
	}
	body := &Value{Modules: v.Modules}
	var results []json.RawMessage
	for k := 0; ; k++ {
		if ctx.Err() != nil {
			return outcome{halted: true}
		}
		if k >= len(ms.FlowJobs) {
			f.addFlowJob(ms)
			f.mu.Lock()
			ms.Iterator.Index = k
			f.mu.Unlock()
			f.save(ctx)
		}
		idx, _ := json.Marshal(k)
		out := f.runBranch(ctx, ms, k, fmt.Sprintf("%s/loop-%d", f.path, k), body, iterInput(f.input, k, idx), false)
		if out.pending() {
			return out
		}
		results = append(results, out.result)
		if !out.ok && !skip {
			return out
		}
		if out.stopped != nil { // a step inside stopped: the loop breaks
			return f.afterLoop(m, env, results)
		}
		if m.StopAfterIf == nil {
			continue
		}
		stop, fail := f.iterStop(m, env, out.result, results)
		if fail != nil {
			return *fail
		}
		if stop {
			return f.afterLoop(m, env, results)
		}
	}
}

// branchOne runs the first branch whose expression holds, else the
// default one.
func (f *frame) branchOne(ctx context.Context, m *Module, ms *ModuleStatus, prev json.RawMessage, env *exprEnv) outcome {
	v := &m.Value
	if ms.BranchChosen == nil {
		chosen := &BranchChosen{Type: "default"}
		penv := env.with(map[string]json.RawMessage{"result": prev})
		for i, b := range v.Branches {
			ok, err := penv.evalBool(b.Expr)
			if err != nil {
				return failed("ExpressionError", fmt.Sprintf("step %s, branch %d (%s): %s", m.ID, i, b.Expr, err))
			}
			if ok {
				chosen = &BranchChosen{Type: "branch", Branch: &i}
				break
			}
		}
		f.mu.Lock()
		ms.Type, ms.BranchChosen, ms.StartedAt = InProgress, chosen, timeText(time.Now())
		ms.Job = uuid.NewString()
		f.mu.Unlock()
		f.save(ctx)
	}
	modules, path := v.Default, f.path+"/branchone-0"
	if ms.BranchChosen.Branch != nil && *ms.BranchChosen.Branch < len(v.Branches) {
		modules = v.Branches[*ms.BranchChosen.Branch].Modules
		path = fmt.Sprintf("%s/branchone-%d", f.path, *ms.BranchChosen.Branch+1)
	}
	if len(modules) == 0 {
		// Windmill's result for a branch with no steps.
		f.mu.Lock()
		ms.Job, ms.FlowJobs, ms.FlowJobsSuccess = NilJob, []string{}, []*bool{}
		f.mu.Unlock()
		return outcome{ok: true, result: json.RawMessage("[]")}
	}
	return f.sub(ctx, ms.Job, "flownode", path, "", &Value{Modules: modules}, f.input, false, false)
}

// branchAll runs every branch, at once (parallel, the default) or in
// turn; its result is the list of the branches' results.
func (f *frame) branchAll(ctx context.Context, m *Module, ms *ModuleStatus, env *exprEnv) outcome {
	v := &m.Value
	parallel := v.Parallel == nil || *v.Parallel
	n := len(v.Branches)
	if ms.BranchAll == nil {
		f.startLoop(ms)
		f.mu.Lock()
		ms.BranchAll, ms.Parallel = &BranchAll{Branch: 0, Len: n}, parallel
		f.mu.Unlock()
		if parallel {
			for range n {
				f.addFlowJob(ms)
			}
			f.mu.Lock()
			ms.Job = f.job.ID
			f.mu.Unlock()
		}
		f.save(ctx)
	}
	if n == 0 {
		return outcome{ok: true, result: json.RawMessage("[]")}
	}
	skip := func(b int) bool { return v.Branches[b].SkipFailure != nil && *v.Branches[b].SkipFailure }
	branch := func(ctx context.Context, b int, quiet bool) outcome {
		return f.runBranch(ctx, ms, b, fmt.Sprintf("%s/branchall-%d", f.path, b), &Value{Modules: v.Branches[b].Modules}, f.input, quiet)
	}
	results := make([]json.RawMessage, n)
	stops := make([]*StoppedEarly, n)
	if parallel {
		outs := f.parallel(ctx, n, n, func(ctx context.Context, b int) outcome { return branch(ctx, b, true) })
		if out, stop := pendingOf(outs); stop {
			return out
		}
		for b, o := range outs {
			results[b], stops[b] = o.result, o.stopped
			if !o.ok && !skip(b) {
				return o
			}
		}
	} else {
		for b := range n {
			if b >= len(ms.FlowJobs) {
				f.addFlowJob(ms)
				f.mu.Lock()
				ms.BranchAll.Branch = b
				f.mu.Unlock()
				f.save(ctx)
			}
			out := branch(ctx, b, false)
			if out.pending() {
				return out
			}
			results[b], stops[b] = out.result, out.stopped
			if !out.ok && !skip(b) {
				return out
			}
		}
	}
	out := f.afterLoop(m, env, results)
	if out.ok && out.stopped == nil {
		for _, o := range stops {
			if o != nil {
				out.stopped = o
			}
		}
	}
	return out
}

// pendingOf is the outcome of parallel branches some of which wait or
// were halted: the earliest wake-up, or halted.
func pendingOf(outs []outcome) (outcome, bool) {
	var w outcome
	for _, o := range outs {
		switch {
		case o.halted:
			return outcome{halted: true}, true
		case !o.until.IsZero() && (w.until.IsZero() || o.until.Before(w.until)):
			w.until = o.until
		}
	}
	return w, !w.until.IsZero()
}

// parallel runs run(k) for k in [0, n), at most limit at once: the first
// on the flow's own worker slot, each other one on a slot borrowed from
// the queue while one is free. Once a branch waits (a sleep, an
// approval) no more start: the flow will resume the rest.
func (f *frame) parallel(ctx context.Context, n, limit int, run func(ctx context.Context, k int) outcome) []outcome {
	type done struct {
		k       int
		out     outcome
		release func()
	}
	outs := make([]outcome, n)
	ch := make(chan done)
	slots := f.r.x.Slots
	next, active, ownFree, stop := 0, 0, true, false
	for {
		var freed <-chan struct{}
		for !stop && next < n && active < limit && ctx.Err() == nil {
			var release func()
			if ownFree {
				ownFree = false
				release = func() { ownFree = true }
			} else if slots != nil {
				// Taken before trying: a slot that frees after a failed
				// try closes it.
				freed = slots.SlotFreed()
				rel, ok := slots.TryBorrow()
				if !ok {
					break
				}
				freed, release = nil, rel
			} else {
				break
			}
			active++
			go func(k int, release func()) { ch <- done{k, run(ctx, k), release} }(next, release)
			next++
		}
		if active == 0 {
			break
		}
		select {
		case d := <-ch:
			active--
			d.release()
			outs[d.k] = d.out
			stop = stop || d.out.pending()
		case <-freed:
		}
	}
	for k := next; k < n; k++ {
		if ctx.Err() != nil {
			outs[k] = outcome{halted: true}
		} else {
			outs[k] = outcome{until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} // resumed with the rest
		}
	}
	return outs
}

// runFailureModule runs the flow's failure module with the error of the
// step that failed; its result is the flow's, and the flow still fails
// unless that result says {"recover": true}.
func (f *frame) runFailureModule(ctx context.Context, failure outcome) outcome {
	fm := f.value.FailureModule
	ms := &f.status.FailureModule
	raw := failure.raw
	if raw == nil {
		raw = failure.result
	}
	if ms.Type == WaitingForPriorSteps {
		var e struct {
			Error map[string]any `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == nil {
			e.Error = map[string]any{"name": "StepFailed", "message": string(raw)}
		}
		if _, ok := e.Error["step_id"]; !ok && failure.step != "" {
			e.Error["step_id"] = failure.step
		}
		b, _ := json.Marshal(e)
		f.mu.Lock()
		f.status.Step = len(f.value.Modules)
		ms.ID, ms.ParentModule, ms.Error = fm.ID, failure.step, b
		f.mu.Unlock()
		fmt.Fprintf(f.r.run.Logs, "--- step %s failed: the failure module %s runs ---\n", failure.step, fm.ID)
		f.save(ctx)
	}
	prev := ms.Error
	out := f.withRetries(ctx, fm, ms, prev, f.env(ctx, prev))
	if out.pending() {
		return out
	}
	if !out.ok {
		return out
	}
	var rec struct {
		Recover bool `json:"recover"`
	}
	_ = json.Unmarshal(out.result, &rec)
	return outcome{ok: rec.Recover, result: out.result, raw: out.result, step: failure.step}
}

// approvals is the wait for the approvals of the step before module i
// (its suspend): it returns resumed with the answers once there are
// enough, or the outcome that makes the flow wait for them (its worker
// free) or fail on a cancel or a timeout.
func (f *frame) approvals(ctx context.Context, i int, now time.Time) (outcome, *exprEnv) {
	mods := f.value.Modules
	s := mods[i-1].Suspend
	ms, prevMs := &f.status.Modules[i], &f.status.Modules[i-1]
	db := f.r.x.DB
	key := waitKey(f.job.ID, prevMs.ID, prevMs.Job)
	switch ms.Type {
	case WaitingForPriorSteps:
		// The wait begins, unless this flow ended it already and stopped
		// before the next step started.
		rs, end, err := db.Resumes(ctx, key)
		if err != nil {
			return failed("InternalError", fmt.Sprintf("reading the answers to step %s: %s", prevMs.ID, err)), nil
		}
		if end != nil {
			return f.afterWait(ctx, i, rs, end, true)
		}
		timeout := time.Duration(s.Timeout) * time.Second
		if s.Timeout <= 0 {
			timeout = 30 * time.Minute
		}
		f.mu.Lock()
		ms.Type, ms.Count, ms.Job = WaitingForEvents, s.RequiredEvents, prevMs.Job
		ms.SuspendUntil = timeText(now.Add(timeout))
		f.mu.Unlock()
		fmt.Fprintf(f.r.run.Logs, "step %s waits for %d approval(s) until %s\n", mods[i-1].ID, s.RequiredEvents, ms.SuspendUntil)
		f.save(ctx)
		fallthrough
	case WaitingForEvents:
		until := parseTime(ms.SuspendUntil)
		rs, end, err := db.EndWait(ctx, key, now, func(rs []store.Resume) string { return verdict(rs, s.RequiredEvents, until, now) })
		if err != nil {
			return failed("InternalError", fmt.Sprintf("reading the answers to step %s: %s", prevMs.ID, err)), nil
		}
		if end != nil {
			return f.afterWait(ctx, i, rs, end, true)
		}
		if len(rs) != len(ms.Resumes) {
			f.mu.Lock()
			ms.Resumes = flowResumes(rs)
			f.mu.Unlock()
			f.save(ctx)
		}
		return outcome{until: until}, nil
	}
	// The wait ended in an earlier run of the flow, which went on to the
	// next step: the answers are still what that step is given.
	rs, end, err := db.Resumes(ctx, key)
	if err != nil {
		return failed("InternalError", fmt.Sprintf("reading the answers to step %s: %s", prevMs.ID, err)), nil
	}
	if end == nil { // recorded by an older millrun, in the status only
		return outcome{}, f.resumeEnv(ms.Resumes)
	}
	return f.afterWait(ctx, i, rs, end, false)
}

// afterWait is the end of the wait before module i: the flow fails on a
// cancel or a timeout (unless continue_on_disapprove_timeout), else the
// next step gets the answers. first records the end in the flow's status.
func (f *frame) afterWait(ctx context.Context, i int, rs []store.Resume, end *store.WaitEnd, first bool) (outcome, *exprEnv) {
	mods := f.value.Modules
	s := mods[i-1].Suspend
	ms, prevMs := &f.status.Modules[i], &f.status.Modules[i-1]
	var bad outcome
	switch end.How {
	case "canceled":
		by := "anonymous"
		for _, r := range rs {
			if !r.Approved {
				by = r.Approver
				break
			}
		}
		bad = failed("SuspendedDisapproved", "Disapproved by "+by)
	case "timed out":
		bad = failed("SuspendedTimedOut", "Timed out waiting to be resumed")
	}
	if bad.raw != nil && !s.ContinueOnDisapproveTimeout {
		if first {
			fmt.Fprintf(f.r.run.Logs, "step %s's wait for approvals ended: %s\n", prevMs.ID, end.How)
		}
		return stepFailed(mods[i-1].ID, bad, prevMs.Job), nil
	}
	resumes := flowResumes(rs)
	env := f.resumeEnv(resumes)
	if bad.raw != nil {
		env.vars["resume"] = bad.raw
	}
	if first {
		fmt.Fprintf(f.r.run.Logs, "step %s's wait for approvals ended: %s; the flow goes on\n", prevMs.ID, end.How)
		f.mu.Lock()
		prevMs.Approvers = nil
		for _, r := range resumes {
			prevMs.Approvers = append(prevMs.Approvers, Approval{ResumeID: r.ResumeID, Approver: r.Approver})
		}
		*ms = ModuleStatus{Type: WaitingForPriorSteps, ID: ms.ID, Resumes: resumes}
		f.mu.Unlock()
		f.save(ctx)
	}
	return outcome{}, env
}

// resumeEnv gives the step after an approval its answers: resume (the
// last), resumes (all) and approvers.
func (f *frame) resumeEnv(rs []Resume) *exprEnv {
	values, approvers := []json.RawMessage{}, []string{}
	for _, r := range rs {
		v := r.Value
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		values = append(values, v)
		approvers = append(approvers, r.Approver)
	}
	vars := map[string]json.RawMessage{}
	vars["resumes"], _ = json.Marshal(values)
	vars["approvers"], _ = json.Marshal(approvers)
	vars["resume"] = json.RawMessage("null")
	if len(values) > 0 {
		vars["resume"] = values[len(values)-1]
	}
	return &exprEnv{vars: vars}
}
