package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/millrun/millrun/engine/deps"
)

// Packages gives Python scripts the third-party packages and workspace
// scripts they import, Windmill's way: requirements inferred from the
// imports (or the script's #requirements: / PEP 723 block), resolved once
// into a lock, each pinned package installed once into a shared cache,
// and the folders put on the job's path. A run whose lock is cached makes
// no network call.
type Packages struct {
	// Cache holds the installed packages.
	Cache *deps.Cache
	// Tools resolves and installs, in the user's own environment (their
	// index configuration and proxies).
	Tools deps.Tools
	// Wmill is the source of millrun's built-in wmill module
	// (wmill/__init__.py), given to a job that names wmill when its lock
	// installs none (a wmill installed from the index wins); nil gives
	// none.
	Wmill []byte

	mu      sync.Mutex
	interps map[string]deps.Python // by configured path
	stdlib  map[string]func(string) bool
	locks   map[string]*lockFlight // by requirements key
	chosen  map[string]chosenPython
}

type lockFlight struct {
	done chan struct{}
	lock deps.Lock
	err  error
}

// pyPlan is how one Python job runs: which interpreter, what goes on its
// path, and (for a script that imports its siblings with `from .x`) the
// module name main is imported as.
type pyPlan struct {
	Interp string
	Path   []string
	Module string
	// Unmet says which Python the script asked for when no installed
	// interpreter has it ("" when it runs on what it asked for).
	Unmet string
}

// noteVersion adds to a syntax error that the script asked for another
// Python than the one it ran on: the likely cause.
func noteVersion(o Outcome, unmet string) Outcome {
	var wrapped struct {
		Error map[string]any `json:"error"`
	}
	if o.Success || json.Unmarshal(o.Result, &wrapped) != nil || wrapped.Error == nil || wrapped.Error["name"] != "SyntaxError" {
		return o
	}
	msg, _ := wrapped.Error["message"].(string)
	wrapped.Error["message"] = msg + " (" + unmet + ")"
	b, err := json.Marshal(wrapped)
	if err != nil {
		return o
	}
	o.Result = b
	return o
}

// env is the plan as environment variables for the job.
func (p pyPlan) env() []string {
	var env []string
	if len(p.Path) > 0 {
		env = append(env, "PYTHONPATH="+strings.Join(p.Path, string(os.PathListSeparator)))
	}
	if p.Module != "" {
		env = append(env, "MILLRUN_MODULE="+p.Module)
	}
	return env
}

// relativeFrom matches `from .x import y` / `from ..x import y`: main must
// then be a module of its folder's package, as on Windmill.
var relativeFrom = regexp.MustCompile(`(?m)^\s*from\s+\.`)

func (p *Packages) python(ctx context.Context, path string) (deps.Python, func(string) bool, error) {
	p.mu.Lock()
	py, ok := p.interps[path]
	isStd := p.stdlib[path]
	p.mu.Unlock()
	if ok {
		return py, isStd, nil
	}
	py, err := p.Tools.Probe(ctx, path)
	if err != nil {
		return deps.Python{}, nil, err
	}
	isStd, err = p.Tools.Stdlib(ctx, py)
	if err != nil {
		isStd = nil // deps' own list of the standard library
	}
	p.mu.Lock()
	if p.interps == nil {
		p.interps, p.stdlib = map[string]deps.Python{}, map[string]func(string) bool{}
	}
	p.interps[path], p.stdlib[path] = py, isStd
	p.mu.Unlock()
	return py, isStd, nil
}

// requirementsOf infers what spec and the workspace scripts it imports
// ask for, and which scripts those are. A missing imported script is an
// error in words.
func requirementsOf(spec Spec, isStd func(string) bool) (deps.Requirements, []string, error) {
	reqs := deps.Infer(spec.Path, spec.Content, isStd)
	mods := closure(spec, reqs.Relative, isStd)
	if err := checkModules(spec, mods); err != nil {
		return reqs, mods, err
	}
	// Windmill: a manual list is the whole list; imported scripts'
	// imports do not join it.
	if !reqs.Manual {
		var more []deps.Requirements
		for _, m := range mods {
			more = append(more, deps.Infer(m, spec.Modules[m], isStd))
		}
		reqs = deps.Merge(reqs, more...)
	}
	// A refused line is not in the list: resolving without it would
	// install something else than the script asks for.
	return reqs, mods, reqs.Err()
}

// closure is every workspace script reached from roots through imports.
func closure(spec Spec, roots []string, isStd func(string) bool) []string {
	seen := map[string]bool{}
	var out []string
	queue := append([]string{}, roots...)
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		if seen[m] || m == spec.Path {
			continue
		}
		seen[m] = true
		out = append(out, m)
		if content, ok := spec.Modules[m]; ok {
			queue = append(queue, deps.Infer(m, content, isStd).Relative...)
		}
	}
	sort.Strings(out)
	return out
}

func checkModules(spec Spec, mods []string) error {
	for _, m := range mods {
		if _, ok := spec.Modules[m]; !ok {
			return fmt.Errorf("%s imports %s, which is not a script of this workspace: save it first (a script without main is a library)", orScript(spec.Path), m)
		}
	}
	return nil
}

func orScript(path string) string {
	if path == "" {
		return "the script"
	}
	return path
}

// planPython prepares a Python job: resolves its lock if it has none
// (or one that no longer pins everything it imports), installs what the
// lock pins (once, into the cache), writes the workspace scripts it
// imports and the built-in wmill, when it needs them, into lib, and says
// how to run it, with the lock it runs with.
//
// lib is a folder of the job's own, made fresh for it ("" for a
// dependency job, which runs nothing): what goes on a job's path comes
// before the standard library, so a folder shared by jobs there would let
// one job's write (a planted traceback.py, an edited module) reach every
// later job. The shared package folders are the exception, as on
// Windmill: read-only once installed (deps.Cache).
func (p *Packages) planPython(ctx context.Context, defaultInterp string, spec Spec, lib string, logs io.Writer) (plan pyPlan, lock deps.Lock, err error) {
	plan.Interp = defaultInterp
	py, isStd, err := p.python(ctx, defaultInterp)
	if err != nil {
		return plan, lock, fmt.Errorf("the Python interpreter %s does not answer: %w", defaultInterp, err)
	}
	reqs, mods, err := requirementsOf(spec, isStd)
	if err != nil {
		return plan, lock, err
	}
	lock = deps.ParseLock(spec.Lock)
	if err := lock.Err(); err != nil {
		// A pushed lock is used as it is or not at all: resolving a new
		// one in its place would hide what is wrong with it.
		return plan, lock, err
	}
	specs := reqs.Python
	if spec.Lock != "" {
		specs = deps.LockSpec(lock)
	}
	if len(specs) > 0 {
		py, plan.Unmet = p.choose(ctx, py, specs, logs)
		plan.Interp = py.Path
	}
	if spec.Lock == "" || !covers(lock, reqs) {
		lock = deps.Lock{}
		if len(reqs.List) > 0 {
			if lock, err = p.resolve(ctx, py, reqs, logs); err != nil {
				return plan, lock, err
			}
		}
	}
	installedWmill := false
	if !lock.Empty() {
		paths, err := p.Cache.Install(ctx, py, lock, logs)
		if deps.FailedFor(err, "wmill") {
			fmt.Fprintln(logs, "wmill could not be installed from the index: using millrun's built-in wmill module")
			paths, err = p.Cache.Install(ctx, py, lock.Without("wmill"), logs)
		} else if err == nil {
			installedWmill = lock.Has("wmill")
		}
		if err != nil {
			return plan, lock, err
		}
		plan.Path = paths
	}
	if lib == "" {
		return plan, lock, nil
	}
	module, written, err := p.writeLib(lib, spec, mods, !installedWmill && namesWmill(spec, mods))
	if err != nil {
		return plan, lock, err
	}
	plan.Module = module
	if written {
		// After the packages, as the built-in wmill must be: a wmill
		// installed from the index wins.
		plan.Path = append(plan.Path, lib)
	}
	return plan, lock, nil
}

// namesWmill reports whether the script or a workspace script it imports
// names wmill anywhere (an import, importlib's, a comment): a job that
// might import it gets the built-in module; a false positive costs one
// small file.
func namesWmill(spec Spec, mods []string) bool {
	if strings.Contains(spec.Content, "wmill") {
		return true
	}
	for _, m := range mods {
		if strings.Contains(spec.Modules[m], "wmill") {
			return true
		}
	}
	return false
}

// choose picks the interpreter a script asks for, once per set of
// specifiers (the search probes every pythonX.Y on PATH); every job that
// runs on another one says so in its log.
func (p *Packages) choose(ctx context.Context, def deps.Python, specs []string, logs io.Writer) (deps.Python, string) {
	key := def.Path + "\x00" + strings.Join(specs, "\x00")
	p.mu.Lock()
	c, ok := p.chosen[key]
	p.mu.Unlock()
	if !ok {
		c.py = p.Tools.ChoosePython(ctx, def, specs, io.Discard)
		if !deps.Satisfies(c.py.Version, specs) {
			c.unmet = fmt.Sprintf("this script asks for Python %s; none is installed, so it ran on %s", strings.Join(specs, ", "), c.py.Version)
		}
		p.mu.Lock()
		if p.chosen == nil {
			p.chosen = map[string]chosenPython{}
		}
		p.chosen[key] = c
		p.mu.Unlock()
	}
	if c.unmet != "" {
		fmt.Fprintf(logs, "Python %s was asked for, but no such interpreter is installed: running on %s (%s)\n", strings.Join(specs, ", "), c.py.Version, c.py.Path)
	} else if c.py.Path != def.Path {
		fmt.Fprintf(logs, "Python %s asked for: running on %s (%s)\n", strings.Join(specs, ", "), c.py.Version, c.py.Path)
	}
	return c.py, c.unmet
}

type chosenPython struct {
	py    deps.Python
	unmet string
}

// covers reports whether a stored lock still pins everything the script
// (and what it imports) asks for: an imported script that gained an
// import makes the importer resolve again.
func covers(lock deps.Lock, reqs deps.Requirements) bool {
	if reqs.Manual {
		return true // the user's list; the lock was made from it
	}
	for _, r := range reqs.List {
		if !lock.Has(r.Name) && r.Name != "wmill" {
			return false
		}
	}
	return true
}

// resolve turns requirements into a lock, once per set of requirements
// and interpreter however many jobs ask at once; a lock resolved before
// is reused without a network call. When the index cannot supply wmill,
// the lock goes without it and the built-in module stands in.
func (p *Packages) resolve(ctx context.Context, py deps.Python, reqs deps.Requirements, logs io.Writer) (deps.Lock, error) {
	lines := reqs.Lines()
	key := lockKey(py.Minor(), lines)
	memo := filepath.Join(p.Cache.Root, "locks", key)
	if b, err := os.ReadFile(memo); err == nil {
		return deps.ParseLock(string(b)), nil
	}
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*lockFlight{}
	}
	f, running := p.locks[key]
	if !running {
		f = &lockFlight{done: make(chan struct{})}
		p.locks[key] = f
	}
	p.mu.Unlock()
	if running {
		fmt.Fprintln(logs, "waiting for another job resolving the same requirements")
		select {
		case <-f.done:
			return f.lock, f.err
		case <-ctx.Done():
			return deps.Lock{}, ctx.Err()
		}
	}
	defer func() {
		p.mu.Lock()
		delete(p.locks, key)
		p.mu.Unlock()
		close(f.done)
	}()
	fmt.Fprintf(logs, "resolving %s with %s from %s\n", strings.Join(lines, ", "), py.Path, p.Tools.IndexURL())
	f.lock, f.err = p.Cache.Resolve(ctx, py, lines, logs)
	if f.err != nil && reqs.Has("wmill") && ctx.Err() == nil {
		// No index, an offline laptop, an index without wmill: the
		// built-in module stands in, and the rest must still resolve.
		fmt.Fprintln(logs, "wmill cannot be had from the index: using millrun's built-in wmill module")
		rest := reqs.Without("wmill")
		if len(rest.List) == 0 {
			f.lock, f.err = deps.NewLock(py.Minor(), nil), nil
		} else {
			f.lock, f.err = p.Cache.Resolve(ctx, py, rest.Lines(), logs)
		}
	}
	if f.err == nil {
		if err := writeAtomic(memo, f.lock.String()); err != nil {
			fmt.Fprintf(logs, "note: the lock is not kept for later runs: %v\n", err)
		}
	}
	return f.lock, f.err
}

func lockKey(minor string, lines []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "py %s\n", minor)
	for _, l := range lines {
		fmt.Fprintln(h, l)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// writeAtomic writes a file whole or not at all, read-only: a kept lock
// decides the packages of every later job with the same requirements.
func writeAtomic(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o400); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeLib writes into lib, a folder of the job's own, the workspace
// scripts the job imports (and the job's own script, so that `from .x`
// finds its siblings) as a package tree, f/folder/name.py, and, when
// wmill is true, the built-in wmill module. It says what main is
// imported as ("" for main.py) and whether it wrote anything. A job
// imports its own copies, fresh: nothing it writes there reaches
// another job, and a change to a library reaches the next run.
func (p *Packages) writeLib(lib string, spec Spec, mods []string, wmill bool) (module string, written bool, err error) {
	files := map[string][]byte{}
	if len(mods) > 0 {
		for _, m := range mods {
			files[modulePath(m)] = []byte(spec.Modules[m])
		}
		if spec.Path != "" && relativeFrom.MatchString(spec.Content) {
			files[modulePath(spec.Path)] = []byte(spec.Content)
			module = strings.ReplaceAll(strings.TrimSuffix(modulePath(spec.Path), ".py"), "/", ".")
		}
	}
	if wmill && p.Wmill != nil {
		files["wmill/__init__.py"] = p.Wmill
	}
	for name, content := range files {
		dir := filepath.Join(lib, filepath.FromSlash(path.Dir(name)))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", false, fmt.Errorf("write the imported scripts: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(name)), content, 0o600); err != nil {
			return "", false, fmt.Errorf("write the imported scripts: %w", err)
		}
	}
	return module, len(files) > 0, nil
}

// modulePath is where a workspace script lives in a module tree, as
// Windmill names it: each folder a package (f/my-folder → f/my_folder),
// the script a module.
func modulePath(scriptPath string) string {
	parts := strings.Split(scriptPath, "/")
	for i, part := range parts {
		parts[i] = identifier(part)
	}
	return strings.Join(parts, "/") + ".py"
}

func identifier(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' && i > 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteString("_")
			b.WriteRune(r)
		default:
			b.WriteString("_")
		}
	}
	return b.String()
}

// Dependencies resolves the lock a script runs with when it has none (or
// one that no longer pins everything it imports) and installs what the
// lock pins, logging what it fetches: a dependency job. It answers the
// lock to keep with the script's version, "" when the script needs no
// packages.
func (r *Runner) Dependencies(ctx context.Context, spec Spec, logs io.Writer) (string, error) {
	if l := LanguageNamed(spec.Language); l != nil && l.lock != nil {
		return l.lock(r, ctx, spec, logs)
	}
	return spec.Lock, nil
}

// NeedsDependencies reports whether a script imports packages or other
// workspace scripts, so that saving it starts a dependency job.
func (r *Runner) NeedsDependencies(spec Spec) bool {
	l := LanguageNamed(spec.Language)
	return l != nil && l.needsLock != nil && l.needsLock(r, spec)
}

// WorkspaceImports lists the workspace scripts (f/…, u/…) a script
// imports directly, for the caller to load into Spec.Modules.
func WorkspaceImports(language, path, content string) []string {
	if l := LanguageNamed(language); l != nil && l.imports != nil {
		return l.imports(path, content)
	}
	return nil
}
