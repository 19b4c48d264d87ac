package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/millrun/millrun/engine/deps/npm"
)

// TypeScript, whichever runtime runs it: the script and the workspace
// scripts it imports are bundled into one ES module with esbuild; npm
// packages stay imports, resolved from the lock's folder in the package
// cache (engine/deps/npm) on Node and Bun, or as npm: specifiers on Deno.
// The bundle depends only on its inputs and is kept in memory by their
// hash: versions are immutable, so a warm path costs a stat.

// tsTarget is the runtime a bundle is made for.
type tsTarget int

const (
	tsNode tsTarget = iota
	tsBun
	tsDeno
)

func (t tsTarget) String() string {
	return [...]string{"Node", "Bun", "Deno"}[t]
}

// tsTarget is the runtime a script of lang runs on: Bun or Deno when
// installed (Bun unless the script is Deno's), else Node.
func (r *Runner) tsTarget(lang string) tsTarget {
	switch {
	case r.interp.Bun != "" && lang != "deno":
		return tsBun
	case r.interp.Deno != "":
		return tsDeno
	}
	return tsNode
}

// windmillClient is the package name scripts import Windmill's client by.
const windmillClient = "windmill-client"

// jobError is a failure before the script ran, with Windmill's error name.
type jobError struct{ name, msg string }

func (e *jobError) Error() string { return e.msg }

func compileError(format string, a ...any) error {
	return &jobError{"CompileError", fmt.Sprintf(format, a...)}
}

func dependencyError(err error) error {
	return &jobError{"DependencyError", err.Error()}
}

// tsFailure is the outcome of a TypeScript run that could not start.
func tsFailure(err error) Outcome {
	var je *jobError
	if errors.As(err, &je) {
		return Failure(je.name, je.msg, nil)
	}
	return Failure("CompileError", err.Error(), nil)
}

// tsState holds what TypeScript runs share.
type tsState struct {
	once sync.Once
	// urlImports makes bundles import packages by file URL instead of a
	// node_modules link in the job's folder: where links need privileges
	// (Windows), and in tests.
	urlImports bool
	// closures are guarded by the Runner's tsMu.
	closures map[string]tsClosure
}

func (r *Runner) settleTS() {
	r.ts.once.Do(func() {
		if goruntime.GOOS == "windows" {
			r.ts.urlImports = true
		}
	})
}

// NewNPMCache is a package cache in root for this runner's TypeScript
// jobs: npm beside the Node that runs them (a version manager's node has
// its own), Bun when installed, and the user's own npm configuration
// from env (their environment: HOME for ~/.npmrc, a registry mirror and
// its token, proxies, CA certificates), which installs see as npm itself
// would and jobs never do.
func (r *Runner) NewNPMCache(root string, env []string) *npm.Cache {
	c := &npm.Cache{Root: root, Bun: r.interp.Bun, NPM: r.findNPM()}
	c.Env = append(append([]string{}, r.processEnv()...), packageEnv(env)...)
	return c
}

func (r *Runner) findNPM() string {
	if r.interp.Node != "" {
		for _, name := range []string{"npm", "npm.cmd"} {
			p := filepath.Join(filepath.Dir(r.interp.Node), name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	p, _ := exec.LookPath("npm")
	return p
}

func packageEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		u := strings.ToUpper(k)
		switch {
		case u == "HOME", u == "USERPROFILE", strings.HasPrefix(u, "NPM_CONFIG_"), strings.HasPrefix(u, "BUN_CONFIG_"),
			u == "HTTP_PROXY", u == "HTTPS_PROXY", u == "NO_PROXY", u == "NODE_EXTRA_CA_CERTS",
			u == "SSL_CERT_FILE", u == "SSL_CERT_DIR", u == "XDG_CONFIG_HOME", u == "APPDATA", u == "LOCALAPPDATA":
			out = append(out, kv)
		}
	}
	return out
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// tsClosure is what a script reaches: its modules and npm packages.
type tsClosure struct {
	deps    []npm.Dep
	modules map[string]string
	err     error
}

// closure reads the script's imports and its modules', once per set of
// contents: scanning costs about a millisecond per run otherwise.
func (r *Runner) closure(scriptPath string, spec Spec) ([]npm.Dep, map[string]string, error) {
	key := bundleKey(spec.Content, spec.Modules, scriptPath, tsNode, tsPackages{}, false)
	r.tsMu.Lock()
	c, ok := r.ts.closures[key]
	r.tsMu.Unlock()
	if ok {
		return c.deps, c.modules, c.err
	}
	c.deps, c.modules, c.err = npm.Closure(scriptPath, spec.Content, func(p string) (string, bool) {
		m, ok := spec.Modules[p]
		return m, ok
	})
	r.tsMu.Lock()
	if r.ts.closures == nil || len(r.ts.closures) > 256 {
		r.ts.closures = map[string]tsClosure{}
	}
	r.ts.closures[key] = c
	r.tsMu.Unlock()
	return c.deps, c.modules, c.err
}

// tsProgram is a prepared TypeScript script.
type tsProgram struct {
	js string
	// nodeModules is the lock's installed packages ("" for none), linked
	// into the folder the bundle runs from.
	nodeModules string
}

// prepareTypeScript turns the script, its workspace imports and its
// packages into one module for target, installing the lock when it is not
// in the cache yet (its log goes to the job's).
func (r *Runner) prepareTypeScript(ctx context.Context, spec Spec, target tsTarget, logs io.Writer) (tsProgram, error) {
	r.settleTS()
	scriptPath := spec.Path
	if scriptPath == "" {
		scriptPath = envValue(spec.Env, "WM_JOB_PATH")
	}
	deps, modules, err := r.closure(scriptPath, spec)
	if err != nil {
		var ce *npm.CompileError
		switch {
		case errors.As(err, &ce) && ce.Path == "":
			return tsProgram{}, compileError("TypeScript does not compile: %s", err)
		case errors.As(err, &ce):
			return tsProgram{}, compileError("%s", err)
		}
		return tsProgram{}, &jobError{"ImportError", err.Error()}
	}
	pk, err := r.packagesFor(ctx, spec, deps, target, logs)
	if err != nil {
		return tsProgram{}, err
	}
	key := bundleKey(spec.Content, modules, scriptPath, target, pk, r.ts.urlImports)
	r.tsMu.Lock()
	js, ok := r.tsCache[key]
	r.tsMu.Unlock()
	if !ok {
		js, err = r.bundle(spec.Content, scriptPath, modules, target, pk)
		if err != nil {
			return tsProgram{}, err
		}
		r.tsMu.Lock()
		if len(r.tsCache) > 256 {
			clear(r.tsCache)
		}
		r.tsCache[key] = js
		r.tsMu.Unlock()
	}
	for _, n := range pk.notes {
		fmt.Fprintln(logs, n)
	}
	return tsProgram{js: js, nodeModules: pk.nodeModules}, nil
}

// tsPackages is where a run's npm imports come from.
type tsPackages struct {
	nodeModules string
	// versions are the exact versions installed or locked, by name
	// (Deno's npm: specifiers; the log's windmill-client line).
	versions map[string]string
	// builtinClient gives windmill-client imports millrun's own module.
	builtinClient bool
	// notes are the log lines each run repeats (which windmill-client).
	notes []string
}

func without(deps []npm.Dep, name string) []npm.Dep {
	var out []npm.Dep
	for _, d := range deps {
		if d.Name != name {
			out = append(out, d)
		}
	}
	return out
}

func hasDep(deps []npm.Dep, name string) bool {
	for _, d := range deps {
		if d.Name == name {
			return true
		}
	}
	return false
}

func (r *Runner) packagesFor(ctx context.Context, spec Spec, deps []npm.Dep, target tsTarget, logs io.Writer) (tsPackages, error) {
	pk := tsPackages{versions: map[string]string{}}
	if len(deps) == 0 {
		return pk, nil
	}
	// Deno and a pushed lock never reach npm.Cache.Resolve, which checks
	// the same: an import pins a version of the registry, or nothing.
	for _, d := range deps {
		if err := d.Check(); err != nil {
			return pk, dependencyError(err)
		}
	}
	wantsClient := hasDep(deps, windmillClient)
	var lock npm.Lock
	if spec.Lock != "" {
		l, err := npm.ParseLock(spec.Lock)
		if err != nil {
			return pk, dependencyError(fmt.Errorf("the script's lock: %w", err))
		}
		lock = l
		pk.versions = l.Versions()
	}
	reason := ""
	switch {
	case target == tsDeno:
		// Deno installs npm: specifiers itself, into its own cache.
		if spec.Lock == "" {
			for _, d := range deps {
				pk.versions[d.Name] = d.Version
			}
		}
		if _, ok := pk.versions[windmillClient]; !ok && wantsClient {
			reason = "the script's lock has no windmill-client"
		}
	default:
		c := r.NPM
		tool := npm.ToolNPM
		if target == tsBun {
			tool = npm.ToolBun
		}
		if c == nil {
			if rest := without(deps, windmillClient); len(rest) > 0 {
				return pk, dependencyError(fmt.Errorf("the script imports %s, and this millrun has no package cache", rest[0]))
			}
			reason = "this millrun has no package cache"
			break
		}
		var err error
		if spec.Lock != "" {
			pk.nodeModules, err = c.Install(ctx, lock, tool, logs)
		} else {
			lock, pk.nodeModules, err = c.Resolve(ctx, deps, tool, logs)
			pk.versions = lock.Versions()
		}
		var off *npm.Error
		if err != nil && ctx.Err() == nil && wantsClient && errors.As(err, &off) && off.Kind == npm.ErrOffline {
			// Offline, windmill-client is the one import that has a
			// stand-in; whatever else the script imports must be there
			// already (resolved before without it).
			reason = "the registry cannot be reached and windmill-client is not in the cache"
			rest := without(deps, windmillClient)
			if len(rest) == 0 {
				err = nil
			} else if l, nm, ok := c.Resolved(rest); ok && spec.Lock == "" {
				lock, pk.nodeModules, pk.versions, err = l, nm, l.Versions(), nil
			} else {
				err = &npm.Error{Kind: npm.ErrOffline, Package: rest[0].String(), Registry: off.Registry,
					Msg: fmt.Sprintf("offline: %s is not in the cache and the registry %s cannot be reached", rest[0], off.Registry)}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return pk, ctx.Err()
			}
			return pk, dependencyError(err)
		}
		if wantsClient && reason == "" && !installed(pk.nodeModules, windmillClient) {
			reason = "the script's lock has no windmill-client"
		}
		for _, d := range deps {
			if d.Name != windmillClient && !installed(pk.nodeModules, d.Name) {
				return pk, dependencyError(fmt.Errorf("the script imports %s, which its lock does not install: deploy the script again to update its lock", d.Name))
			}
		}
	}
	if wantsClient {
		if reason != "" {
			pk.builtinClient = true
			pk.notes = append(pk.notes, "windmill-client: millrun's built-in module ("+reason+")")
		} else {
			pk.notes = append(pk.notes, "windmill-client "+pk.versions[windmillClient]+" from the script's lock")
		}
	}
	return pk, nil
}

func installed(nodeModules, name string) bool {
	if nodeModules == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(nodeModules, filepath.FromSlash(name), "package.json"))
	return err == nil
}

func bundleKey(content string, modules map[string]string, scriptPath string, target tsTarget, pk tsPackages, urls bool) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s", len(s), s) }
	field(content)
	field(scriptPath)
	paths := make([]string, 0, len(modules))
	for p := range modules {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		field(p)
		field(modules[p])
	}
	field(target.String())
	field(pk.nodeModules)
	field(fmt.Sprint(pk.builtinClient, urls))
	names := make([]string, 0, len(pk.versions))
	for n := range pk.versions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		field(n + "@" + pk.versions[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

const (
	nsMain    = "millrun-main"
	nsModule  = "millrun-module"
	nsBuiltin = "millrun-builtin"
)

// fromPlugin marks the plugin's own resolutions.
var fromPlugin = &struct{ byMillrun bool }{true}

var missingExport = regexp.MustCompile(`No matching export in "` + nsBuiltin + `:windmill-client" for import "([^"]+)"`)

// bundle makes the one ES module a job imports.
func (r *Runner) bundle(content, scriptPath string, modules map[string]string, target tsTarget, pk tsPackages) (string, error) {
	entry := scriptPath
	if entry == "" {
		entry = "main"
	}
	client := wrapper("windmill_client.mjs")
	plugin := api.Plugin{Name: "millrun", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			if a.PluginData == fromPlugin {
				return api.OnResolveResult{}, nil // our own b.Resolve: esbuild's resolver answers
			}
			if a.Kind == api.ResolveEntryPoint {
				return api.OnResolveResult{Path: entry, Namespace: nsMain}, nil
			}
			spec := a.Path
			switch npm.Classify(spec) {
			case npm.KindRelative:
				importer := a.Importer
				if a.Namespace == nsMain {
					importer = scriptPath
				}
				p, err := npm.ModulePath(importer, spec)
				if err != nil {
					return api.OnResolveResult{}, err
				}
				if _, ok := modules[p]; !ok && p != scriptPath {
					return api.OnResolveResult{}, fmt.Errorf("the workspace has no script %s", p)
				}
				if p == scriptPath {
					return api.OnResolveResult{Path: entry, Namespace: nsMain}, nil
				}
				return api.OnResolveResult{Path: p, Namespace: nsModule}, nil
			case npm.KindBuiltin:
				if target == tsDeno && !strings.Contains(spec, ":") {
					spec = "node:" + spec // Deno wants the prefix
				}
				return api.OnResolveResult{Path: spec, External: true}, nil
			case npm.KindURL:
				return api.OnResolveResult{Path: spec, External: true}, nil
			}
			name, _, sub, ok := npm.SplitSpecifier(spec)
			if !ok {
				return api.OnResolveResult{}, fmt.Errorf("%q names no package", spec)
			}
			if name == windmillClient && pk.builtinClient {
				if sub != "" {
					return api.OnResolveResult{}, fmt.Errorf("millrun's built-in windmill-client has no %s", name+sub)
				}
				return api.OnResolveResult{Path: windmillClient, Namespace: nsBuiltin}, nil
			}
			switch {
			case target == tsDeno:
				v := pk.versions[name]
				if v == "" || v == "latest" {
					return api.OnResolveResult{Path: "npm:" + name + sub, External: true}, nil
				}
				return api.OnResolveResult{Path: "npm:" + name + "@" + v + sub, External: true}, nil
			case r.ts.urlImports:
				// Node's ES modules ignore NODE_PATH: without a link, an
				// import names the very file, found as Node would find it.
				res := b.Resolve(name+sub, api.ResolveOptions{ResolveDir: filepath.Dir(pk.nodeModules), Kind: a.Kind, PluginData: fromPlugin})
				if len(res.Errors) > 0 {
					return api.OnResolveResult{}, fmt.Errorf("%s: %s", name+sub, res.Errors[0].Text)
				}
				return api.OnResolveResult{Path: fileURL(res.Path), External: true}, nil
			}
			return api.OnResolveResult{Path: name + sub, External: true}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: nsMain}, func(api.OnLoadArgs) (api.OnLoadResult, error) {
			return api.OnLoadResult{Contents: &content, Loader: api.LoaderTS}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: nsModule}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			c := modules[a.Path]
			return api.OnLoadResult{Contents: &c, Loader: api.LoaderTS}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: nsBuiltin}, func(api.OnLoadArgs) (api.OnLoadResult, error) {
			return api.OnLoadResult{Contents: &client, Loader: api.LoaderJS}, nil
		})
	}}
	res := api.Build(api.BuildOptions{
		EntryPoints: []string{entry}, Bundle: true, Write: false, Outfile: "main.mjs",
		Format: api.FormatESModule, Platform: api.PlatformNode, Target: api.ES2022,
		Conditions: []string{"node"}, Sourcemap: api.SourceMapInline, LogLevel: api.LogLevelSilent,
		Plugins: []api.Plugin{plugin},
	})
	if len(res.Errors) > 0 {
		e := res.Errors[0]
		if m := missingExport.FindStringSubmatch(e.Text); m != nil {
			return "", &jobError{"ImportError", fmt.Sprintf("windmill-client's %s is not in millrun's built-in windmill-client (it stands in when the real package is not in the script's lock or cannot be installed)", m[1])}
		}
		where := ""
		if e.Location != nil {
			file := e.Location.File
			if i := strings.Index(file, ":"); i >= 0 {
				file = file[i+1:]
			}
			if file != entry {
				where = file + " "
			}
			where += fmt.Sprintf("line %d:%d: ", e.Location.Line, e.Location.Column)
		}
		return "", compileError("TypeScript does not compile: %s%s", where, e.Text)
	}
	return string(res.OutputFiles[0].Contents), nil
}

func fileURL(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x → /C:/x
	}
	return "file://" + p
}

// linkPackages makes the lock's node_modules visible from dir, where the
// bundle runs: Node and Bun look for a bare import in node_modules up
// from the importing file. Removing dir removes the link, never the
// cache.
func linkPackages(dir, nodeModules string) error {
	if nodeModules == "" {
		return nil
	}
	if err := os.Symlink(nodeModules, filepath.Join(dir, "node_modules")); err != nil {
		return fmt.Errorf("cannot link the packages into the job's folder: %w", err)
	}
	return nil
}

// startTypeScript prepares the job's folder for a TypeScript run and
// gives it its arguments in main's order.
func (r *Runner) startTypeScript(ctx context.Context, job *coldJob) (*exec.Cmd, Outcome, bool) {
	cmd, env, err := r.typeScriptCommand(ctx, job.dir, job.spec, job.logs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, Outcome{}, false
		}
		return nil, tsFailure(err), false
	}
	job.env = append(job.env, env...)
	if err := writeJSON(filepath.Join(job.out, "args.json"), map[string]any{"args": job.args, "order": orderOrEmpty(job.spec.Order)}); err != nil {
		return nil, Failure("InternalError", err.Error(), nil), false
	}
	return cmd, Outcome{}, false
}

// typeScriptCommand prepares dir for a TypeScript run (on r.tsTarget):
// the bundle as main.mjs, the wrapper beside it, the packages linked in.
func (r *Runner) typeScriptCommand(ctx context.Context, dir string, spec Spec, logs io.Writer) (*exec.Cmd, []string, error) {
	target := r.tsTarget(spec.Language)
	var exe string
	var args []string
	switch {
	case target == tsBun:
		exe, args = r.interp.Bun, []string{"run", "wrapper.mjs"}
	case target == tsDeno:
		exe, args = r.interp.Deno, []string{"run", "-A", "wrapper.mjs"}
	case r.interp.Node != "":
		exe, args = r.interp.Node, []string{"wrapper.mjs"}
	default:
		return nil, nil, &jobError{"RuntimeMissing", "no TypeScript runtime: install Node.js, Bun or Deno and restart millrun"}
	}
	prog, err := r.prepareTypeScript(ctx, spec, target, logs)
	if err != nil {
		return nil, nil, err
	}
	if err := writeFiles(dir, map[string]string{"main.mjs": prog.js, "wrapper.mjs": wrapper("node.mjs")}); err != nil {
		return nil, nil, err
	}
	if !r.ts.urlImports {
		if err := linkPackages(dir, prog.nodeModules); err != nil {
			return nil, nil, err
		}
	}
	env := []string{"MILLRUN_MAIN=main.mjs"}
	if target == tsDeno {
		// Deno installs the npm: imports itself, from the user's registry.
		for _, k := range []string{"NPM_CONFIG_REGISTRY", "npm_config_registry"} {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, "NPM_CONFIG_REGISTRY="+v)
			}
		}
	}
	return exec.Command(exe, args...), env, nil
}

// warmTypeScript is a warm worker's Node, which imports the bundle once.
func (r *Runner) warmTypeScript(ctx context.Context, dir string, spec Spec, logs io.Writer) (*exec.Cmd, []string, Outcome) {
	if r.interp.Node == "" {
		return nil, nil, Failure("RuntimeMissing", "warm TypeScript workers need Node.js", nil)
	}
	prog, err := r.prepareTypeScript(ctx, spec, tsNode, logs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, Outcome{}
		}
		return nil, nil, tsFailure(err)
	}
	if err := writeFiles(dir, map[string]string{"main.mjs": prog.js, "warm.mjs": wrapper("node_warm.mjs")}); err != nil {
		return nil, nil, Failure("InternalError", err.Error(), nil)
	}
	if !r.ts.urlImports {
		if err := linkPackages(dir, prog.nodeModules); err != nil {
			return nil, nil, Failure("InternalError", err.Error(), nil)
		}
	}
	return exec.Command(r.interp.Node, "warm.mjs"), []string{"MILLRUN_MAIN=main.mjs"}, Outcome{}
}

// checkTypeScript parses the script with esbuild, as the bundle will.
func (r *Runner) checkTypeScript(ctx context.Context, content string) (*SyntaxError, error) {
	res := api.Transform(content, api.TransformOptions{Loader: api.LoaderTS, Sourcefile: "main.ts"})
	if len(res.Errors) == 0 {
		return nil, nil
	}
	e := res.Errors[0]
	se := &SyntaxError{Message: e.Text}
	if e.Location != nil {
		se.Line = e.Location.Line
	}
	return se, nil
}

// The engine's dependency work for TypeScript.

// typeScriptNeedsDependencies reports whether a script imports npm
// packages or workspace scripts: whether saving it starts a dependency
// job.
func typeScriptNeedsDependencies(spec Spec) bool {
	im, err := npm.Scan(spec.Content)
	return err == nil && (len(im.Packages) > 0 || len(im.Relative) > 0)
}

// typeScriptWorkspaceImports lists the workspace scripts a script imports
// directly, by path, for the caller to load into Spec.Modules.
func typeScriptWorkspaceImports(path, content string) []string {
	im, err := npm.Scan(content)
	if err != nil {
		return nil
	}
	var out []string
	for _, rel := range im.Relative {
		if p, err := npm.ModulePath(path, rel); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// typeScriptDependencies is a TypeScript dependency job: the lock the
// version keeps, its packages installed. A lock the version came with
// (wmill sync) is kept byte for byte when it covers the imports; with
// no packages and no lock it is Windmill's empty one. Every run asks
// (Runner.Dependencies): a kept lock costs a stat then. When only windmill-client
// cannot be fetched (offline), no lock is made yet ("", nil): runs use
// the built-in client meanwhile, and a later resolution makes the lock.
func (r *Runner) typeScriptDependencies(ctx context.Context, spec Spec, logs io.Writer) (string, error) {
	path := spec.Path
	if path == "" {
		path = envValue(spec.Env, "WM_JOB_PATH")
	}
	deps, _, err := r.closure(path, spec)
	var ce *npm.CompileError
	if errors.As(err, &ce) {
		// The run says it, as a CompileError pointing at the line.
		return spec.Lock, nil
	}
	if err != nil {
		return "", err
	}
	target := r.tsTarget(spec.Language)
	tool := npm.ToolNPM
	if target == tsBun {
		tool = npm.ToolBun
	}
	if spec.Lock != "" {
		if l, err := npm.ParseLock(spec.Lock); err == nil && lockCovers(l, deps) {
			// Deno installs its npm: imports itself, at the first run.
			if r.NPM != nil && target != tsDeno {
				if _, err := r.NPM.Install(ctx, l, tool, logs); err != nil {
					return "", err
				}
			}
			return spec.Lock, nil
		}
	}
	if len(deps) == 0 {
		return npm.NewLock(npm.PackageJSON(nil), "").String(), nil
	}
	if r.NPM == nil {
		return npm.NewLock(npm.PackageJSON(deps), "").String(), nil
	}
	l, _, err := r.NPM.Resolve(ctx, deps, tool, logs)
	var off *npm.Error
	if err != nil && errors.As(err, &off) && off.Kind == npm.ErrOffline && hasDep(deps, windmillClient) {
		fmt.Fprintf(logs, "windmill-client cannot be fetched (%s): no lock yet, runs use millrun's built-in windmill-client until one is made\n", err)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return l.String(), nil
}

// lockCovers reports whether the lock's package.json has every package
// the script imports.
func lockCovers(l npm.Lock, deps []npm.Dep) bool {
	have, err := l.Deps()
	if err != nil {
		return false
	}
	for _, d := range deps {
		if !hasDep(have, d.Name) {
			return false
		}
	}
	return true
}
