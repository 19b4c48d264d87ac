// Package execute runs each kind of job the queue hands it: a saved
// script at its exact version (cold, or on a warm worker), a flow (through
// the flow executor), code sent with a preview request, and the
// dependency jobs that resolve and keep a script's or a flow's package
// locks. It also gives every job its Windmill environment.
package execute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Executor runs jobs (jobs.Executor): it finds each job's exact version
// and hands it to the runtime.
type Executor struct {
	Workspace string
	DB        *store.DB
	Scripts   *scripts.Catalog
	Flows     *flows.Executor
	Runner    *runtime.Runner
	Warm      *runtime.WarmPool
	Tokens    *auth.Tokens // issues each job's WM_TOKEN
	// Queue takes the dependency jobs Saved starts.
	Queue *jobs.Queue
	Log   *slog.Logger
	// User is the person running millrun (the trigger of scheduled runs'
	// state paths).
	User string
	// BaseURL is where jobs reach millrun (WM_BASE_URL); "" when unknown.
	BaseURL string
	// DefaultTimeout is the timeout of a job that sets none (the setting).
	DefaultTimeout func() time.Duration
}

// Execute runs one job of any kind (jobs.Executor).
func (x *Executor) Execute(ctx context.Context, run *jobs.Execution) jobs.Outcome {
	switch run.Job.Kind {
	case "flow", flows.KindPreview:
		return x.Flows.Execute(ctx, run)
	case "dependencies":
		if run.Job.ScriptHash == "" {
			return x.runCodeDependencies(ctx, run.Job, run.Logs)
		}
		return x.runDependencies(ctx, run.Job, run.Logs)
	case "preview":
		return x.runPreview(ctx, run.Job, run.Logs)
	}
	return x.runScript(ctx, run.Job, run.Logs)
}

// codeSpec is how the code a job was sent with runs: with the current
// versions of the workspace scripts it imports.
func (x *Executor) codeSpec(ctx context.Context, job *store.Job) (runtime.Spec, jobs.Outcome, bool) {
	code, err := x.DB.GetJobCode(ctx, job.ID)
	if err != nil {
		return runtime.Spec{}, runtime.Failure("NotFound", "the code of job "+job.ID+" is gone: "+err.Error(), nil), false
	}
	spec := runtime.Spec{Language: code.Language, Path: job.ScriptPath, Content: code.Content, Lock: code.Lock}
	if sch, err := scripts.InferSchema(code.Language, code.Content); err == nil {
		spec.Order = sch.Order
	}
	if spec.Modules, err = x.importedScriptsOver(ctx, job.Workspace, code.Language, job.ScriptPath, code.Content, code.Modules); err != nil {
		return spec, runtime.Failure("InternalError", "loading the scripts it imports: "+err.Error(), nil), false
	}
	return spec, jobs.Outcome{}, true
}

// runPreview runs code sent with its request (Windmill's preview job),
// its packages resolved as a saved script's are.
func (x *Executor) runPreview(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	spec, failed, ok := x.codeSpec(ctx, job)
	if !ok {
		return failed
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal([]byte(job.Args), &args); err != nil {
		return runtime.Failure("BadArguments", "the job's arguments are not a JSON object: "+err.Error(), nil)
	}
	lock, err := x.Runner.Dependencies(ctx, spec, logs)
	if err != nil {
		return dependencyFailure(err)
	}
	spec.Lock = lock
	env, revoke := x.Env(job, flows.Step{})
	defer revoke()
	spec.Args, spec.Env = args, env
	return x.Runner.Run(ctx, spec, logs)
}

// runCodeDependencies resolves the lock of code sent with its request
// (`wmill generate-metadata`): the result is {"lock": ...}, as Windmill's.
func (x *Executor) runCodeDependencies(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	if code, err := x.DB.GetJobCode(ctx, job.ID); err == nil && code.Language == store.FlowCode {
		return x.lockFlow(ctx, job, code, logs)
	}
	spec, failed, ok := x.codeSpec(ctx, job)
	if !ok {
		return failed
	}
	lock, err := x.lockOf(ctx, spec, logs)
	if err != nil {
		return dependencyFailure(err)
	}
	b, _ := json.Marshal(map[string]string{"lock": lock})
	return jobs.Outcome{Result: b, Success: true}
}

// lockOf resolves the lock of code as Windmill's dependency job writes it.
func (x *Executor) lockOf(ctx context.Context, spec runtime.Spec, logs io.Writer) (string, error) {
	lock, err := x.Runner.Dependencies(ctx, spec, logs)
	if err != nil {
		return "", err
	}
	if lock == "" {
		// wmill writes a lock file only when there is text.
		lock = x.Runner.EmptyLock(spec.Language)
	}
	return lock, nil
}

// lockFlow gives each inline script of a flow value (in loops and
// branches too: any rawscript object) the lock of its packages; the
// result is {"updated_flow_value": ...}, as Windmill's flow dependency job.
func (x *Executor) lockFlow(ctx context.Context, job *store.Job, code store.JobCode, logs io.Writer) jobs.Outcome {
	dec := json.NewDecoder(strings.NewReader(code.Content))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return runtime.Failure("BadRequest", "the flow value is not JSON: "+err.Error(), nil)
	}
	var failed error
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			content, _ := t["content"].(string)
			lang, _ := t["language"].(string)
			if t["type"] == "rawscript" && content != "" && failed == nil {
				if l, err := scripts.NormalizeLanguage(lang); err == nil && runtime.LocksFlowSteps(l) {
					spec := runtime.Spec{Language: l, Path: job.ScriptPath, Content: content}
					spec.Modules, failed = x.importedScriptsOver(ctx, job.Workspace, l, job.ScriptPath, content, code.Modules)
					if failed == nil {
						fmt.Fprintf(logs, "locking an inline %s script\n", lang)
						t["lock"], failed = x.lockOf(ctx, spec, logs)
					}
				}
			}
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(value)
	if failed != nil {
		return dependencyFailure(failed)
	}
	b, err := json.Marshal(map[string]any{"updated_flow_value": value})
	if err != nil {
		return runtime.Failure("InternalError", err.Error(), nil)
	}
	return jobs.Outcome{Result: b, Success: true}
}

func (x *Executor) runScript(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	v, err := x.Scripts.ByHash(ctx, job.Workspace, job.ScriptHash)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return runtime.Failure("NotFound", "script version "+job.ScriptHash+" no longer exists", nil)
		}
		return runtime.Failure("InternalError", "loading the script: "+err.Error(), nil)
	}
	if err := v.Runnable(); err != nil {
		// Every route refuses to start a library; a job for one (queued
		// by a caller millrun does not know of) fails the same way.
		return runtime.Failure("NotRunnable", err.Error(), nil)
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal([]byte(job.Args), &args); err != nil {
		return runtime.Failure("BadArguments", "the job's arguments are not a JSON object: "+err.Error(), nil)
	}
	spec, err := x.specFor(ctx, v)
	if err != nil {
		return runtime.Failure("InternalError", "loading the scripts it imports: "+err.Error(), nil)
	}
	// A version without a lock that needs one gets it first, and keeps it;
	// one with a lock is planned by the run alone (planning costs a run
	// ~15 us each time).
	if spec.Lock == "" && x.Runner.NeedsDependencies(spec) {
		if spec, err = x.lockVersion(ctx, v, spec, logs); err != nil {
			return dependencyFailure(err)
		}
	}
	env, revoke := x.Env(job, flows.Step{})
	defer revoke()
	// The script's own envs (Windmill's KEY=value) come first, so millrun's
	// WM_* variables, set after them, are the ones the job sees.
	spec.Args, spec.Env = args, append(slices.Clone(v.Options.Envs), env...)
	if v.DedicatedWorker && runtime.WarmSupported(v.Language) {
		return x.Warm.Run(ctx, runtime.WarmSpec{Spec: spec, Path: v.Path, Hash: v.Hash}, logs)
	}
	return x.Runner.Run(ctx, spec, logs)
}

// Env is the Windmill environment of a job, with WM_TOKEN for calling
// back into millrun (windmill-client's getResource and friends); revoke
// ends the token when the job ends. A flow step's token also ends with
// its flow (the engine revokes a finished job's tokens), whatever happens
// to the step. step is the step's place in its flow; zero for a script
// job.
func (x *Executor) Env(job *store.Job, step flows.Step) ([]string, func()) {
	timeout := time.Duration(job.TimeoutS) * time.Second
	if timeout <= 0 {
		timeout = x.DefaultTimeout()
	}
	root := job.ID
	if step.RootJob != "" {
		root = step.RootJob
	} else if job.ParentJob != "" {
		root = job.ParentJob
	}
	token, revoke := x.Tokens.IssueJobToken("job "+job.ID, root, timeout+time.Minute)
	env := x.baseEnv(job, step)
	env.Token = token
	return env.Vars(), revoke
}

func (x *Executor) baseEnv(job *store.Job, step flows.Step) runtime.JobEnv {
	env := runtime.JobEnv{Workspace: job.Workspace, JobID: job.ID, Path: job.ScriptPath, Hash: job.ScriptHash,
		SchedulePath: job.SchedulePath, FlowPath: step.FlowPath, StepID: step.ID, User: x.User, BaseURL: x.BaseURL}
	if step.FlowPath != "" {
		env.SchedulePath = step.SchedulePath
	}
	if job.ParentJob != "" {
		env.FlowJobID, env.RootFlowJobID = job.ParentJob, job.ParentJob
		if step.RootJob != "" {
			env.RootFlowJobID = step.RootJob
		}
	}
	return env
}

// ForgetIfAsked empties a finished job's arguments, result and logs when
// its script asks so (Windmill's delete_after_use), once its final write
// is committed; its waiters have had the result already.
func (x *Executor) ForgetIfAsked(job *store.Job) {
	if job.Kind != "script" || job.ScriptHash == "" {
		return
	}
	v, err := x.Scripts.ByHash(context.Background(), job.Workspace, job.ScriptHash)
	if err != nil || !v.Options.DeleteAfterUse {
		return
	}
	x.DB.AfterWrites(func() {
		go func() {
			if err := x.DB.ForgetJobData(context.Background(), job.ID); err != nil {
				x.Log.Warn("delete_after_use: the job's data stays", "job", job.ID, "err", err)
			}
		}()
	})
}
