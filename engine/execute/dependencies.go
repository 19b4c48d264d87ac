package execute

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// specFor is how a script version runs: its content, lock and the
// current versions of the workspace scripts it imports.
func (x *Executor) specFor(ctx context.Context, v *scripts.Version) (runtime.Spec, error) {
	spec := runtime.Spec{Language: v.Language, Path: v.Path, Content: v.Content, Order: v.Parsed.Order, Lock: v.Lock}
	mods, err := x.importedScripts(ctx, v.Workspace, v.Language, v.Path, v.Content)
	spec.Modules = mods
	return spec, err
}

// importedScripts loads the workspace scripts a script imports, and
// theirs, at their latest versions (Windmill's rule: a change to a
// library reaches the next run of everything that imports it). One that
// does not exist is left out; the runtime says so in words.
func (x *Executor) importedScripts(ctx context.Context, workspace, lang, path, content string) (map[string]string, error) {
	return x.importedScriptsOver(ctx, workspace, lang, path, content, nil)
}

// importedScriptsOver is importedScripts where the code in local (by
// path) wins over the saved versions: the local scripts wmill sends with
// a preview or a lock request, in the importer's language.
func (x *Executor) importedScriptsOver(ctx context.Context, workspace, lang, path, content string, local map[string]string) (map[string]string, error) {
	queue := runtime.WorkspaceImports(lang, path, content)
	if len(queue) == 0 {
		return nil, nil
	}
	mods := map[string]string{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if _, seen := mods[p]; seen || p == path {
			continue
		}
		if code, ok := local[p]; ok {
			mods[p] = code
			queue = append(queue, runtime.WorkspaceImports(lang, p, code)...)
			continue
		}
		v, err := x.Scripts.Latest(ctx, workspace, p)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		mods[p] = v.Content
		queue = append(queue, runtime.WorkspaceImports(v.Language, p, v.Content)...)
	}
	return mods, nil
}

// Saved starts the dependency job of a new version that imports
// packages or workspace scripts and came without a lock, so that its
// first call finds them installed (or its page says why they cannot be).
func (x *Executor) Saved(ctx context.Context, hash string) {
	v, err := x.Scripts.ByHash(ctx, x.Workspace, hash)
	if err != nil || v.Lock != "" || v.NoMainFunc {
		return
	}
	if !x.Runner.NeedsDependencies(runtime.Spec{Language: v.Language, Path: v.Path, Content: v.Content}) {
		return
	}
	job := &store.Job{Workspace: v.Workspace, Kind: "dependencies", ScriptPath: v.Path, ScriptHash: v.Hash, Language: v.Language,
		Trigger: "save", CreatedBy: "millrun"}
	if err := x.Queue.Enqueue(ctx, job); err != nil {
		x.Log.Warn("dependency job not started; the first run resolves instead", "path", v.Path, "err", err)
	}
}

// lockVersion makes sure a version runs with a lock when it needs one:
// resolved once (every job asking at the same time waits for the same
// resolution), kept with the version, and its failure recorded there for
// the script's page. It answers the spec to run.
func (x *Executor) lockVersion(ctx context.Context, v *scripts.Version, spec runtime.Spec, logs io.Writer) (runtime.Spec, error) {
	lock, err := x.Runner.Dependencies(ctx, spec, logs)
	if err != nil {
		if ctx.Err() == nil {
			_ = x.Scripts.SetLock(context.WithoutCancel(ctx), v.Workspace, v.Hash, "", err.Error())
		}
		return spec, err
	}
	if lock != v.Lock {
		if err := x.Scripts.SetLock(context.WithoutCancel(ctx), v.Workspace, v.Hash, lock, ""); err != nil {
			x.Log.Warn("the resolved lock is not kept; the next run resolves again", "path", v.Path, "err", err)
		}
	}
	spec.Lock = lock
	return spec, nil
}

// runDependencies is a dependency job: resolve and install a version's
// packages; its result is the lock, as Windmill's dependency jobs answer.
func (x *Executor) runDependencies(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	v, err := x.Scripts.ByHash(ctx, job.Workspace, job.ScriptHash)
	if err != nil {
		return runtime.Failure("NotFound", "script version "+job.ScriptHash+" no longer exists", nil)
	}
	spec, err := x.specFor(ctx, v)
	if err != nil {
		return runtime.Failure("InternalError", "loading the scripts it imports: "+err.Error(), nil)
	}
	spec, err = x.lockVersion(ctx, v, spec, logs)
	if err != nil {
		return dependencyFailure(err)
	}
	b, _ := json.Marshal(map[string]string{"lock": spec.Lock})
	return jobs.Outcome{Result: b, Success: true}
}

// dependencyFailure is a failed resolution or install in Windmill's error
// shape, with what pip or uv said last.
func dependencyFailure(err error) jobs.Outcome {
	var de *deps.Error
	if errors.As(err, &de) && de.Tail != "" {
		return runtime.Failure("DependenciesError", err.Error(), map[string]any{"log": de.Tail})
	}
	return runtime.Failure("DependenciesError", err.Error(), nil)
}
