// Package runnable finds what a run by path starts: the latest version of
// the script or flow there. Every way of starting one by path (the run
// routes, HTTP routes, schedules and their failure handlers, the exists
// routes) asks here, so they all find the same thing and say the same
// thing when nothing is there. It sits above scripts and flows because a
// flow's check reaches the scripts it calls.
package runnable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Kind is what a path names.
type Kind string

const (
	Script Kind = "script"
	Flow   Kind = "flow"
)

// KindOf is the kind of a stored is_flow flag.
func KindOf(isFlow bool) Kind {
	if isFlow {
		return Flow
	}
	return Script
}

// Target is one version a run starts, with the options it runs with.
type Target struct {
	Kind             Kind
	Path, Hash, Lang string
	TimeoutS         int
	ConcurrencyLimit int
	Priority         int
	// NotRunnable says why it cannot run (a library, a flow with one as a
	// step): the caller's to fix. Resolve finds the target anyway, so a
	// run route can check the caller's scope before telling it more.
	NotRunnable error
}

// Resolver looks paths up in the script and flow catalogs.
type Resolver struct {
	Scripts *scripts.Catalog
	Flows   *flows.Catalog
}

// Resolve returns the latest version of the script or flow at path. When
// there is none, the error is an *errs.NotFound (wrapping
// store.ErrNotFound) in Windmill's words, which its clients compare.
func (r Resolver) Resolve(ctx context.Context, ws string, kind Kind, path string) (*Target, error) {
	if kind == Flow {
		f, err := r.Flows.Latest(ctx, ws, path)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &errs.NotFound{Msg: fmt.Sprintf("flow not found at path %s", path), Err: err}
		}
		if err != nil {
			return nil, err
		}
		t := FlowTarget(f)
		t.NotRunnable = r.Flows.Runnable(ctx, f)
		var inv *errs.Invalid
		if t.NotRunnable != nil && !errors.As(t.NotRunnable, &inv) {
			return nil, t.NotRunnable // the database failed, not the flow
		}
		return t, nil
	}
	v, err := r.Scripts.Latest(ctx, ws, path)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errs.NotFound{Msg: fmt.Sprintf("script not found at name %s", path), Err: err}
	}
	if err != nil {
		return nil, err
	}
	return ScriptTarget(v), nil
}

// Runnable is Resolve for a caller that starts the target at once: one
// that cannot run is an error.
func (r Resolver) Runnable(ctx context.Context, ws string, kind Kind, path string) (*Target, error) {
	t, err := r.Resolve(ctx, ws, kind, path)
	if err != nil {
		return nil, err
	}
	if t.NotRunnable != nil {
		return nil, t.NotRunnable
	}
	return t, nil
}

// ScriptTarget is the target of one script version (a run by hash).
func ScriptTarget(v *scripts.Version) *Target {
	return &Target{Kind: Script, Path: v.Path, Hash: v.Hash, Lang: v.Language, TimeoutS: v.TimeoutS,
		ConcurrencyLimit: v.ConcurrencyLimit, Priority: v.Options.Priority, NotRunnable: v.Runnable()}
}

// FlowTarget is the target of one flow version; whether it can run is
// the catalog's to say (Resolve asks).
func FlowTarget(f *flows.Flow) *Target {
	timeout, priority := FlowOptions(f.Extra)
	return &Target{Kind: Flow, Path: f.Path, Hash: f.Hash, TimeoutS: timeout, ConcurrencyLimit: f.ConcurrencyLimit(),
		Priority: priority}
}

// Fill sets what job runs, and with which options.
func (t *Target) Fill(job *store.Job) {
	job.Kind, job.ScriptPath, job.ScriptHash, job.Language = string(t.Kind), t.Path, t.Hash, t.Lang
	job.TimeoutS, job.ConcurrencyLimit, job.Priority = t.TimeoutS, t.ConcurrencyLimit, t.Priority
}

// FlowOptions are a flow's Windmill timeout (seconds: the flow job is
// stopped past it, as a script's is) and priority, kept with the flow.
func FlowOptions(extra string) (timeout, priority int) {
	var f struct {
		Timeout  int `json:"timeout"`
		Priority int `json:"priority"`
	}
	if extra != "" && json.Unmarshal([]byte(extra), &f) == nil {
		return max(f.Timeout, 0), f.Priority
	}
	return 0, 0
}
