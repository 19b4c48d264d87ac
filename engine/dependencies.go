package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/wmillpy"
)

// openPackages sets up where jobs' packages come from: a cache in the
// data folder (removed with it; packages may carry a private index's
// credentials, so it is the user's alone), resolved and installed with
// the user's own index configuration, and millrun's built-in wmill.
func (e *Engine) openPackages(dataDir string) error {
	env := e.cfg.PackageEnv
	if env == nil {
		env = os.Environ()
	}
	tools := deps.FindTools(env)
	cache := deps.NewCache(filepath.Join(dataDir, "packages"), tools)
	cache.Compile = true
	if err := cache.Sweep(); err != nil {
		e.log.Warn("packages cache: leftovers of an interrupted install stay", "err", err)
	}
	// An older millrun kept the built-in wmill in <data>/wmill, shared by
	// every job; each job that needs it now gets its own copy.
	if err := os.RemoveAll(filepath.Join(dataDir, "wmill")); err != nil {
		e.log.Warn("the built-in wmill's old folder stays", "err", err)
	}
	e.runner.Packages = &runtime.Packages{Cache: cache, Tools: tools, Wmill: wmillpy.Module()}
	// TypeScript's packages share the folder: engine/deps keeps to its
	// python_* folders, npm to npm/ (Settings' size and clear cover both).
	e.runner.NPM = e.runner.NewNPMCache(filepath.Join(dataDir, "packages"), env)
	return nil
}

// specFor is how a script version runs: its content, lock and the
// current versions of the workspace scripts it imports.
func (e *Engine) specFor(ctx context.Context, v *scripts.Version) (runtime.Spec, error) {
	spec := runtime.Spec{Language: v.Language, Path: v.Path, Content: v.Content, Order: v.Parsed.Order, Lock: v.Lock}
	mods, err := e.importedScripts(ctx, v.Workspace, v.Language, v.Path, v.Content)
	spec.Modules = mods
	return spec, err
}

// importedScripts loads the workspace scripts a script imports, and
// theirs, at their latest versions (Windmill's rule: a change to a
// library reaches the next run of everything that imports it). One that
// does not exist is left out; the runtime says so in words.
func (e *Engine) importedScripts(ctx context.Context, workspace, lang, path, content string) (map[string]string, error) {
	return e.importedScriptsOver(ctx, workspace, lang, path, content, nil)
}

// importedScriptsOver is importedScripts where the code in local (by
// path) wins over the saved versions: the local scripts wmill sends with
// a preview or a lock request, in the importer's language.
func (e *Engine) importedScriptsOver(ctx context.Context, workspace, lang, path, content string, local map[string]string) (map[string]string, error) {
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
		v, err := e.catalog.Latest(ctx, workspace, p)
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

// scriptSaved starts the dependency job of a new version that imports
// packages or workspace scripts and came without a lock, so that its
// first call finds them installed (or its page says why they cannot be).
func (e *Engine) scriptSaved(ctx context.Context, hash string) {
	v, err := e.catalog.ByHash(ctx, e.cfg.Workspace, hash)
	if err != nil || v.Lock != "" || v.NoMainFunc {
		return
	}
	if !e.runner.NeedsDependencies(runtime.Spec{Language: v.Language, Path: v.Path, Content: v.Content}) {
		return
	}
	job := &store.Job{Workspace: v.Workspace, Kind: "dependencies", ScriptPath: v.Path, ScriptHash: v.Hash, Language: v.Language,
		Trigger: "save", CreatedBy: "millrun"}
	if err := e.queue.Enqueue(ctx, job); err != nil {
		e.log.Warn("dependency job not started; the first run resolves instead", "path", v.Path, "err", err)
	}
}

// lockVersion makes sure a version runs with a lock when it needs one:
// resolved once (every job asking at the same time waits for the same
// resolution), kept with the version, and its failure recorded there for
// the script's page. It answers the spec to run.
func (e *Engine) lockVersion(ctx context.Context, v *scripts.Version, spec runtime.Spec, logs io.Writer) (runtime.Spec, error) {
	lock, err := e.runner.Dependencies(ctx, spec, logs)
	if err != nil {
		if ctx.Err() == nil {
			_ = e.catalog.SetLock(context.WithoutCancel(ctx), v.Workspace, v.Hash, "", err.Error())
		}
		return spec, err
	}
	if lock != v.Lock {
		if err := e.catalog.SetLock(context.WithoutCancel(ctx), v.Workspace, v.Hash, lock, ""); err != nil {
			e.log.Warn("the resolved lock is not kept; the next run resolves again", "path", v.Path, "err", err)
		}
	}
	spec.Lock = lock
	return spec, nil
}

// runDependencies is a dependency job: resolve and install a version's
// packages; its result is the lock, as Windmill's dependency jobs answer.
func (x *executor) runDependencies(ctx context.Context, job *store.Job, logs io.Writer) jobs.Outcome {
	v, err := x.e.catalog.ByHash(ctx, job.Workspace, job.ScriptHash)
	if err != nil {
		return runtime.Failure("NotFound", "script version "+job.ScriptHash+" no longer exists", nil)
	}
	spec, err := x.e.specFor(ctx, v)
	if err != nil {
		return runtime.Failure("InternalError", "loading the scripts it imports: "+err.Error(), nil)
	}
	spec, err = x.e.lockVersion(ctx, v, spec, logs)
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
