package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/api"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// executor runs script jobs: it finds the job's exact version and hands it
// to the runtime.
type executor struct{ e *Engine }

func (x *executor) Execute(ctx context.Context, run *jobs.Execution) jobs.Outcome {
	switch run.Job.Kind {
	case "flow", flows.KindPreview:
		return x.e.flows.Execute(ctx, run)
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
func (x *executor) codeSpec(ctx context.Context, job *store.Job) (runtime.Spec, jobs.Outcome, bool) {
	code, err := x.e.db.GetJobCode(ctx, job.ID)
	if err != nil {
		return runtime.Spec{}, runtime.Failure("NotFound", "the code of job "+job.ID+" is gone: "+err.Error(), nil), false
	}
	spec := runtime.Spec{Language: code.Language, Path: job.ScriptPath, Content: code.Content, Lock: code.Lock}
	if sch, err := scripts.InferSchema(code.Language, code.Content); err == nil {
		spec.Order = sch.Order
	}
	if spec.Modules, err = x.e.importedScriptsOver(ctx, job.Workspace, code.Language, job.ScriptPath, code.Content, code.Modules); err != nil {
		return spec, runtime.Failure("InternalError", "loading the scripts it imports: "+err.Error(), nil), false
	}
	return spec, jobs.Outcome{}, true
}

// runPreview runs code sent with its request (Windmill's preview job),
// its packages resolved as a saved script's are.
func (x *executor) runPreview(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	spec, failed, ok := x.codeSpec(ctx, job)
	if !ok {
		return failed
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal([]byte(job.Args), &args); err != nil {
		return runtime.Failure("BadArguments", "the job's arguments are not a JSON object: "+err.Error(), nil)
	}
	lock, err := x.e.runner.Dependencies(ctx, spec, logs)
	if err != nil {
		return dependencyFailure(err)
	}
	spec.Lock = lock
	env, revoke := x.e.jobEnv(job, flows.Step{})
	defer revoke()
	spec.Args, spec.Env = args, env
	return x.e.runner.Run(ctx, spec, logs)
}

// runCodeDependencies resolves the lock of code sent with its request
// (`wmill generate-metadata`): the result is {"lock": ...}, as Windmill's.
func (x *executor) runCodeDependencies(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	if code, err := x.e.db.GetJobCode(ctx, job.ID); err == nil && code.Language == api.FlowCode {
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
func (x *executor) lockOf(ctx context.Context, spec runtime.Spec, logs io.Writer) (string, error) {
	lock, err := x.e.runner.Dependencies(ctx, spec, logs)
	if err != nil {
		return "", err
	}
	if lock == "" {
		// wmill writes a lock file only when there is text.
		lock = x.e.runner.EmptyLock(spec.Language)
	}
	return lock, nil
}

// lockFlow gives each inline script of a flow value (in loops and
// branches too: any rawscript object) the lock of its packages; the
// result is {"updated_flow_value": ...}, as Windmill's flow dependency job.
func (x *executor) lockFlow(ctx context.Context, job *store.Job, code store.JobCode, logs io.Writer) jobs.Outcome {
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
					spec.Modules, failed = x.e.importedScriptsOver(ctx, job.Workspace, l, job.ScriptPath, content, code.Modules)
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

func (x *executor) runScript(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	v, err := x.e.catalog.ByHash(ctx, job.Workspace, job.ScriptHash)
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
	spec, err := x.e.specFor(ctx, v)
	if err != nil {
		return runtime.Failure("InternalError", "loading the scripts it imports: "+err.Error(), nil)
	}
	// A version without a lock that needs one gets it first, and keeps it;
	// one with a lock is planned by the run alone (planning costs a run
	// ~15 us each time).
	if spec.Lock == "" && x.e.runner.NeedsDependencies(spec) {
		if spec, err = x.e.lockVersion(ctx, v, spec, logs); err != nil {
			return dependencyFailure(err)
		}
	}
	env, revoke := x.e.jobEnv(job, flows.Step{})
	defer revoke()
	// The script's own envs (Windmill's KEY=value) come first, so millrun's
	// WM_* variables, set after them, are the ones the job sees.
	spec.Args, spec.Env = args, append(slices.Clone(v.Options.Envs), env...)
	if v.DedicatedWorker && runtime.WarmSupported(v.Language) {
		return x.e.warm.Run(ctx, runtime.WarmSpec{Spec: spec, Path: v.Path, Hash: v.Hash}, logs)
	}
	return x.e.runner.Run(ctx, spec, logs)
}

// jobEnv is the Windmill environment of a job, with WM_TOKEN for calling
// back into millrun (windmill-client's getResource and friends); revoke
// ends the token when the job ends. A flow step's token also ends with
// its flow (jobFinished), whatever happens to the step. step is the
// step's place in its flow; zero for a script job.
func (e *Engine) jobEnv(job *store.Job, step flows.Step) ([]string, func()) {
	timeout := time.Duration(job.TimeoutS) * time.Second
	if timeout <= 0 {
		timeout = time.Duration(e.settings.Load().DefaultTimeoutS) * time.Second
	}
	root := job.ID
	if step.RootJob != "" {
		root = step.RootJob
	} else if job.ParentJob != "" {
		root = job.ParentJob
	}
	token, revoke := e.tokens.IssueJobToken("job "+job.ID, root, timeout+time.Minute)
	return append(e.baseJobEnv(job, step), "WM_TOKEN="+token), revoke
}

func (e *Engine) baseJobEnv(job *store.Job, step flows.Step) []string {
	schedule := job.SchedulePath
	if step.FlowPath != "" {
		schedule = step.SchedulePath
	}
	state := statePath(e.user, job.ScriptPath, schedule, step)
	env := []string{
		"WM_WORKSPACE=" + job.Workspace,
		"WM_JOB_ID=" + job.ID,
		"WM_JOB_PATH=" + job.ScriptPath,
		"WM_SCRIPT_HASH=" + job.ScriptHash,
		// Windmill sets these for every job, empty when they do not apply.
		"WM_SCHEDULE_PATH=" + schedule,
		"WM_FLOW_PATH=" + step.FlowPath,
		"WM_FLOW_STEP_ID=" + step.ID,
		// Older wmill clients read WM_STATE_PATH, newer ones
		// WM_STATE_PATH_NEW first; Windmill gives both the same value.
		"WM_STATE_PATH=" + state,
		"WM_STATE_PATH_NEW=" + state,
	}
	if job.ParentJob != "" {
		root := job.ParentJob
		if step.RootJob != "" {
			root = step.RootJob
		}
		env = append(env, "WM_FLOW_JOB_ID="+job.ParentJob, "WM_ROOT_FLOW_JOB_ID="+root)
	}
	if e.cfg.BaseURL != "" {
		// Windmill's clients add /api themselves (windmill-client's
		// setClient, wmill's Python client), so these name the root.
		root := strings.TrimSuffix(e.cfg.BaseURL, "/api")
		env = append(env, "WM_BASE_URL="+root, "BASE_URL="+root, "BASE_INTERNAL_URL="+root)
	}
	return env
}

// statePath is the resource path where wmill's get_state/set_state keep
// a job's state, by Windmill's rule (get_reserved_variables in
// backend/windmill-common/src/variables.rs): the trigger is the user's
// name for a scheduled run and "user" for any other, so a script keeps
// one state for its manual and webhook runs and one for its scheduled
// runs; a flow step keeps "<flow path>/<step id>_<trigger>", a script
// "<script path>/<trigger>", and a job without a path
// "u/<user>/tmp_state".
func statePath(user, scriptPath, schedulePath string, step flows.Step) string {
	trigger := "user"
	if schedulePath != "" {
		trigger = user
	}
	switch {
	case step.FlowPath != "":
		id := step.ID
		if id == "" {
			id = "nostep"
		}
		return step.FlowPath + "/" + id + "_" + trigger
	case scriptPath != "":
		if strings.HasSuffix(scriptPath, "/") {
			scriptPath += "state"
		}
		return scriptPath + "/" + trigger
	}
	return "u/" + user + "/tmp_state"
}

// forgetIfAsked empties a finished job's arguments, result and logs when
// its script asks so (Windmill's delete_after_use), once its final write
// is committed; its waiters have had the result already.
func (e *Engine) forgetIfAsked(job *store.Job) {
	if job.Kind != "script" || job.ScriptHash == "" {
		return
	}
	v, err := e.catalog.ByHash(context.Background(), job.Workspace, job.ScriptHash)
	if err != nil || !v.Options.DeleteAfterUse {
		return
	}
	e.db.AfterWrites(func() {
		go func() {
			if err := e.db.ForgetJobData(context.Background(), job.ID); err != nil {
				e.log.Warn("delete_after_use: the job's data stays", "job", job.ID, "err", err)
			}
		}()
	})
}
