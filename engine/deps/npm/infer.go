// Package npm gives TypeScript scripts their npm packages the way Windmill
// does: a script's imports (with Windmill's `pkg@1.2.3` pins) become a
// package.json, resolved once into a lock in Windmill's text format
// (package.json, then "//bun.lock", then the lock text), and each lock is
// installed once into a shared cache folder that jobs read from. Relative
// imports (`./helpers`, `../x`, `/f/common/helpers.ts`) name workspace
// scripts; their own imports join the importer's lock.
package npm

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"
)

// Dep is one npm package a script needs.
type Dep struct {
	Name string
	// Version is what package.json asks for: a version, a range or a tag
	// ("latest" when the import pins none).
	Version string
}

func (d Dep) String() string { return d.Name + "@" + d.Version }

var (
	// npmName is what npm accepts as a package name (legacy capitals
	// included): no path, no leading dot or underscore.
	npmName = regexp.MustCompile(`^(?:@[a-z0-9][a-z0-9._~-]*/)?[A-Za-z0-9][A-Za-z0-9._~-]*$`)
	// registryVersion is a version, a range or a dist-tag: what is
	// fetched from the registry the user configured. Any other npm spec
	// has a ':' or a '/' (npm:alias, file:, link:, git+…, https:,
	// workspace:, user/repo).
	registryVersion = regexp.MustCompile(`^[A-Za-z0-9.^~<>=|*+ -]+$`)
)

// validName says whether npm would take name as a package name.
func validName(name string) bool {
	return len(name) <= 214 && npmName.MatchString(name) && name != "node_modules" && name != "favicon.ico"
}

// Check says why an import's package cannot go into package.json, nil
// when it can: its name is a package name and its pin a version, range
// or tag of the registry the user configured. An import pinning another
// source (`x@npm:other`, `x@file:..`, `x@git+https://…`) would let the
// script's text choose where code comes from, which is the user's
// configuration's to say; `file:..` even installed the cache's own
// folder.
func (d Dep) Check() error {
	why := ""
	switch {
	case !validName(d.Name):
		why = "is not an npm package name"
	case len(d.Version) > 256 || !registryVersion.MatchString(d.Version):
		why = "pins " + jsString(d.Version) + ", which is not a version, range or tag of your registry (an alias, a file, git or URL source cannot be imported)"
	default:
		return nil
	}
	return &Error{Kind: ErrInvalid, Package: d.String(), Msg: fmt.Sprintf("the import %s %s", jsString(d.String()), why)}
}

// Imports is what a script imports, by kind.
type Imports struct {
	// Packages are the npm packages, first import first; a package
	// imported with several pins keeps the lowest, as Windmill does.
	Packages []Dep
	// Relative are the workspace scripts imported, as written ("./x",
	// "/f/common/helpers.ts").
	Relative []string
}

// nameVersion is Windmill's import regex (loader_builder.bun.js): the
// package name (scoped or not), then an optional @version up to the first
// slash; the rest is a path inside the package.
var nameVersion = regexp.MustCompile(`^((?:@[^/@]+/[^/@]+)|(?:[^/@]+))(?:@([^/]+))?(.*)$`)

// SplitSpecifier splits a bare import ("lodash@4.17.21/fp") into the
// package name, the pinned version ("" for none) and the path inside the
// package ("/fp"); ok is false for what is no package name. A Deno-style
// "npm:" prefix is dropped.
func SplitSpecifier(spec string) (name, version, sub string, ok bool) {
	spec = strings.TrimPrefix(spec, "npm:")
	m := nameVersion.FindStringSubmatch(spec)
	if m == nil || m[1] == "" {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

// StripVersion removes the @version pin from a bare import, as Windmill
// does before running a script: "pkg@1.2.3/sub" → "pkg/sub".
func StripVersion(spec string) string {
	name, _, sub, ok := SplitSpecifier(spec)
	if !ok {
		return spec
	}
	return name + sub
}

// SpecKind sorts import specifiers.
type SpecKind int

const (
	// KindPackage is an npm package ("lodash", "@scope/x@1/sub", "npm:x").
	KindPackage SpecKind = iota
	// KindRelative is a workspace script ("./x", "../x", "/f/a/b").
	KindRelative
	// KindBuiltin is part of the runtime ("node:fs", "fs", "bun:sqlite").
	KindBuiltin
	// KindURL is loaded by URL (Deno's "jsr:", "https://…"): no package.
	KindURL
)

// Classify tells what an import specifier names.
func Classify(spec string) SpecKind {
	switch {
	case strings.HasPrefix(spec, "./"), strings.HasPrefix(spec, "../"), strings.HasPrefix(spec, "/"), spec == ".", spec == "..":
		return KindRelative
	case strings.HasPrefix(spec, "node:"), strings.HasPrefix(spec, "bun:"):
		return KindBuiltin
	case strings.HasPrefix(spec, "npm:"):
		return KindPackage
	case strings.Contains(spec, ":"):
		return KindURL // jsr:, https:, data:, file:
	}
	root, _, _ := strings.Cut(spec, "/")
	if NodeBuiltin(root) {
		// Windmill would add "fs": "latest" to the package.json (npm's
		// placeholder package); a lock must never depend on that.
		return KindBuiltin
	}
	return KindPackage
}

// builtins are Node's modules that need no "node:" prefix.
var builtins = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`assert async_hooks buffer child_process cluster console constants crypto
		dgram diagnostics_channel dns domain events fs http http2 https inspector module net os path
		perf_hooks process punycode querystring readline repl stream string_decoder sys timers tls
		trace_events tty url util v8 vm wasi worker_threads zlib`) {
		builtins[n] = true
	}
}

// NodeBuiltin reports whether name (without "node:") is one of Node's
// modules.
func NodeBuiltin(name string) bool { return builtins[name] }

// Scan reads a script's imports: static imports and re-exports,
// literal dynamic imports and require calls, as the TypeScript compiler
// keeps them (imports used only as types are not imports). The error is
// the script's first syntax error.
func Scan(content string) (Imports, error) {
	specs, err := scanSpecifiers(content)
	if err != nil {
		return Imports{}, err
	}
	var im Imports
	pins := newPinSet()
	seen := map[string]bool{}
	for _, s := range specs {
		switch Classify(s) {
		case KindPackage:
			name, version, _, ok := SplitSpecifier(s)
			if ok {
				pins.add(name, version)
			}
		case KindRelative:
			if !seen[s] {
				seen[s] = true
				im.Relative = append(im.Relative, s)
			}
		}
	}
	im.Packages = pins.deps()
	return im, nil
}

// Infer returns the npm packages a script imports, pins applied,
// unpinned ones as "latest"; a script that does not parse yields none.
func Infer(content string) []Dep {
	im, _ := Scan(content)
	return im.Packages
}

func scanSpecifiers(content string) ([]string, error) {
	var mu sync.Mutex
	var specs []string
	scan := api.Plugin{Name: "millrun-scan", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			if a.Kind == api.ResolveEntryPoint {
				return api.OnResolveResult{Path: "main.ts", Namespace: "millrun-scan"}, nil
			}
			mu.Lock()
			specs = append(specs, a.Path)
			mu.Unlock()
			return api.OnResolveResult{Path: a.Path, External: true}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "millrun-scan"}, func(api.OnLoadArgs) (api.OnLoadResult, error) {
			return api.OnLoadResult{Contents: &content, Loader: api.LoaderTS}, nil
		})
	}}
	res := api.Build(api.BuildOptions{
		EntryPoints: []string{"main.ts"}, Bundle: true, Write: false, Format: api.FormatESModule,
		Platform: api.PlatformNeutral, Target: api.ESNext, LogLevel: api.LogLevelSilent, Plugins: []api.Plugin{scan},
	})
	if len(res.Errors) > 0 {
		return nil, BuildError(res.Errors)
	}
	return specs, nil
}

// CompileError is a script that does not parse.
type CompileError struct {
	// Path is the imported workspace script at fault; "" for the script
	// itself.
	Path         string
	Line, Column int // Line 0: esbuild named no place
	Msg          string
}

func (e *CompileError) Error() string {
	s := e.Msg
	if e.Line > 0 {
		s = fmt.Sprintf("line %d:%d: %s", e.Line, e.Column, e.Msg)
	}
	if e.Path != "" {
		return e.Path + " does not compile: " + s
	}
	return s
}

// BuildError is esbuild's first error, with its place.
func BuildError(msgs []api.Message) error {
	e := &CompileError{Msg: msgs[0].Text}
	if l := msgs[0].Location; l != nil {
		e.Line, e.Column = l.Line, l.Column
	}
	return e
}

// ModulePath is the workspace script a relative import names, seen from
// the importing script's path, Windmill's way: "./x" and "../x" relative to
// the importer's folder, "/f/a/b" from the workspace root, a ".ts"
// extension optional.
func ModulePath(importer, spec string) (string, error) {
	s := strings.TrimSuffix(spec, ".ts")
	var p string
	if strings.HasPrefix(s, "/") {
		p = path.Clean(s)[1:]
	} else {
		p = path.Join(path.Dir(importer), s)
	}
	if p == "" || p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%s (imported by %s) is outside the workspace", spec, orMain(importer))
	}
	return p, nil
}

func orMain(p string) string {
	if p == "" {
		return "the script"
	}
	return p
}

// ModuleLoader returns the content of a workspace script's current
// version; ok is false when there is no script at path.
type ModuleLoader func(path string) (content string, ok bool)

// Closure follows a script's relative imports through the workspace, and
// theirs: modules are the scripts reached, by path, and deps the npm
// packages all of them import (pins merged as Windmill merges them in
// one bundle).
func Closure(scriptPath, content string, load ModuleLoader) (deps []Dep, modules map[string]string, err error) {
	pins := newPinSet()
	modules = map[string]string{}
	type item struct{ path, content string }
	queue := []item{{scriptPath, content}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		specs, err := scanSpecifiers(it.content)
		if err != nil {
			var ce *CompileError
			if it.path != scriptPath && errors.As(err, &ce) {
				ce.Path = it.path
			}
			return nil, nil, err
		}
		for _, s := range specs {
			switch Classify(s) {
			case KindPackage:
				if name, version, _, ok := SplitSpecifier(s); ok {
					pins.add(name, version)
				}
			case KindRelative:
				p, err := ModulePath(it.path, s)
				if err != nil {
					return nil, nil, err
				}
				if _, done := modules[p]; done || p == scriptPath {
					continue
				}
				c, ok := load(p)
				if !ok {
					return nil, nil, fmt.Errorf("%s imports %q: the workspace has no script %s", orMain(it.path), s, p)
				}
				modules[p] = c
				queue = append(queue, item{p, c})
			}
		}
	}
	return pins.deps(), modules, nil
}

// pinSet collects the versions each package is imported with.
type pinSet struct {
	order    []string
	versions map[string][]string
}

func newPinSet() *pinSet { return &pinSet{versions: map[string][]string{}} }

func (p *pinSet) add(name, version string) {
	vs, ok := p.versions[name]
	if !ok {
		p.order = append(p.order, name)
	}
	if version != "" && !contains(vs, version) {
		vs = append(vs, version)
	}
	p.versions[name] = vs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *pinSet) deps() []Dep {
	out := make([]Dep, 0, len(p.order))
	for _, name := range p.order {
		vs := p.versions[name]
		v := "latest"
		if len(vs) > 0 {
			v = lowest(vs)
		}
		out = append(out, Dep{Name: name, Version: v})
	}
	return out
}

// lowest picks, among several pins of one package, the one with the
// lowest version once range operators are set aside (Windmill's
// reduceIntersect).
func lowest(vs []string) string {
	sorted := append([]string{}, vs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return compareVersions(strings.TrimLeft(sorted[i], "^~<>="), strings.TrimLeft(sorted[j], "^~<>=")) < 0
	})
	return sorted[0]
}

// compareVersions orders semver-like versions: numeric parts by number, a
// prerelease before its release; what is not a version sorts by text.
func compareVersions(a, b string) int {
	ca, pa, _ := strings.Cut(a, "-")
	cb, pb, _ := strings.Cut(b, "-")
	xa, xb := strings.Split(ca, "."), strings.Split(cb, ".")
	for i := 0; i < len(xa) || i < len(xb); i++ {
		var sa, sb string
		if i < len(xa) {
			sa = xa[i]
		}
		if i < len(xb) {
			sb = xb[i]
		}
		na, ea := strconv.Atoi(sa)
		nb, eb := strconv.Atoi(sb)
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				return cmpInt(na, nb)
			}
		case sa != sb:
			return strings.Compare(sa, sb)
		}
	}
	switch {
	case pa == pb:
		return 0
	case pa == "":
		return 1
	case pb == "":
		return -1
	}
	return strings.Compare(pa, pb)
}

func cmpInt(a, b int) int {
	if a < b {
		return -1
	}
	return 1
}
