package deps

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Source says where a requirement came from; it decides which of two
// requirements for one package wins (see Merge).
type Source int

const (
	// FromImport: inferred from an import statement.
	FromImport Source = iota
	// FromPin: `import x  # pin: x>=2`, or an #extra_requirements: line.
	FromPin
	// FromRepin: `import x  # repin: x==2.1`, or a line of the script's
	// own list (#requirements:, a PEP 723 block).
	FromRepin
)

// Requirement is one line for the resolver.
type Requirement struct {
	// Line is the requirement as the resolver reads it: "requests",
	// "pandas>=2", "psycopg[binary, pool]".
	Line string
	// Name is the PEP 503 normalized project name, the key by which a
	// pin replaces an inferred requirement.
	Name   string
	Source Source
	// Import is the module a table mapped to this package ("PIL" for
	// Pillow), for the dependency job's log; "" when not mapped.
	Import string
}

// Requirements is what a script asks for.
type Requirements struct {
	// List is sorted by Name, then Line.
	List []Requirement
	// Python holds the PEP 440 specifier sets the script asks of the
	// interpreter (`# py: >=3.12`, `# py312` → "==3.12.*", PEP 723's
	// requires-python), in the order written.
	Python []string
	// Relative lists the workspace scripts imported (f/folder/x,
	// u/user/x, and the targets of `.x` / `..x` imports), in order,
	// without repeats. They are needed to run the script in any case;
	// merge their requirements (Merge) only when Manual is false, as
	// Windmill does.
	Relative []string
	// Manual is true when #requirements: or a PEP 723 block replaced
	// inference: imports are not requirements then.
	Manual bool
	// Workspace names workspace dependency files referenced on the
	// marker line (`# requirements: default`, Windmill 1.586+); millrun
	// does not resolve them yet, so a caller can say so instead of
	// silently resolving nothing.
	Workspace []string
	// Rejected are the lines no installer may be given, each with where
	// it is and why; they are not in List. Err turns them into the
	// error a caller must stop on: resolving without them would install
	// something else than the script asks for.
	Rejected []Rejected
}

// Rejected is a requirement line Infer refused.
type Rejected struct {
	// Where is where the script says it: "#requirements: line 3", "the
	// PEP 723 dependencies", "the # pin: comment of `import x`".
	Where string
	Line  string
	Why   string
}

// Err is the script's rejected requirement lines as one *Error per line
// (joined), nil when none was rejected.
func (r Requirements) Err() error {
	var errs []error
	for _, x := range r.Rejected {
		errs = append(errs, &Error{Kind: ErrInvalid, Package: x.Line,
			Msg: fmt.Sprintf("the requirement %+q (%s) cannot be installed: %s", x.Line, x.Where, x.Why)})
	}
	return errors.Join(errs...)
}

// Lines returns the requirement lines, sorted and without repeats: the
// resolver's input.
func (r Requirements) Lines() []string {
	out := make([]string, 0, len(r.List))
	for _, q := range r.List {
		out = append(out, q.Line)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Without drops the requirements for the named projects (any spelling):
// for a retry without wmill when the index has no wmill and the caller
// brings its own.
func (r Requirements) Without(names ...string) Requirements {
	drop := map[string]bool{}
	for _, n := range names {
		drop[NormalizeName(n)] = true
	}
	out := r
	out.List = nil
	for _, q := range r.List {
		if !drop[q.Name] {
			out.List = append(out.List, q)
		}
	}
	return out
}

// Has says whether a requirement names the project (any spelling).
func (r Requirements) Has(name string) bool {
	name = NormalizeName(name)
	for _, q := range r.List {
		if q.Name == name {
			return true
		}
	}
	return false
}

// Merge adds the requirements of imported scripts to a script's, with
// Windmill's precedence: for one package a repin beats a pin, which beats
// an inferred import; several pins from different scripts are all kept
// (the resolver must satisfy each, or says they conflict); the first
// repin met wins over later ones. Python specifiers accumulate, and
// relative paths are united.
func Merge(into Requirements, from ...Requirements) Requirements {
	out := into
	out.List = slices.Clone(into.List)
	out.Python = slices.Clone(into.Python)
	out.Relative = slices.Clone(into.Relative)
	out.Rejected = slices.Clone(into.Rejected)
	for _, f := range from {
		for _, q := range f.List {
			out.List = add(out.List, q, false)
		}
		out.Python = append(out.Python, f.Python...)
		out.Rejected = append(out.Rejected, f.Rejected...)
		for _, p := range f.Relative {
			if !slices.Contains(out.Relative, p) {
				out.Relative = append(out.Relative, p)
			}
		}
	}
	sortReqs(out.List)
	return out
}

// add inserts q following Merge's precedence; sameScript lets repins
// accumulate (one script's own #requirements: may name a package twice,
// `pandas>=2` and `pandas<3`).
func add(list []Requirement, q Requirement, sameScript bool) []Requirement {
	best := Source(-1)
	for _, e := range list {
		if e.Name == q.Name && e.Source > best {
			best = e.Source
		}
	}
	switch {
	case best < 0:
		return append(list, q)
	case q.Source > best:
		list = slices.DeleteFunc(list, func(e Requirement) bool { return e.Name == q.Name })
		return append(list, q)
	case q.Source < best:
		return list
	}
	switch q.Source {
	case FromImport:
		return list
	case FromRepin:
		if !sameScript {
			return list
		}
	}
	for _, e := range list {
		if e.Name == q.Name && e.Line == q.Line {
			return list
		}
	}
	return append(list, q)
}

func sortReqs(list []Requirement) {
	slices.SortStableFunc(list, func(a, b Requirement) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Line, b.Line)
	})
}

var (
	// A requirement line in a comment block: '#', at most one space, one
	// word (Windmill's `^#\s?(\S+)\s*$`); anything else ends the block.
	blockLine  = regexp.MustCompile(`^#\s?(\S+)\s*$`)
	pinComment = regexp.MustCompile(`(?:^|#)\s*(pin|repin):\s*(\S*)`)
	// The project name a requirement line starts with (PEP 508).
	reqName = regexp.MustCompile(`^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)`)
	nameRun = regexp.MustCompile(`[-_.]+`)
)

// NormalizeName is PEP 503's normalized form of a project name:
// lowercase, runs of '-', '_' and '.' as one '-'.
func NormalizeName(name string) string {
	return strings.ToLower(nameRun.ReplaceAllString(strings.TrimSpace(name), "-"))
}

// requirementName is the normalized project a requirement line names,
// or the whole line when it names none (a bare URL).
func requirementName(line string) string {
	if m := reqName.FindStringSubmatch(line); m != nil {
		return NormalizeName(m[1])
	}
	return strings.TrimSpace(line)
}

// Infer reads what a Python script asks for, the way Windmill reads it:
//
//   - a `#requirements:` block, or a PEP 723 `# /// script` block,
//     whichever comes first, lists the requirements and replaces
//     inference;
//   - otherwise each top-level import before `def main(` that is not in
//     the standard library becomes a requirement, through the mapping
//     table, and an `#extra_requirements:` block adds lines that pin
//     what the imports ask for.
//
// Only code before `def main(` is read, and only top-level statements,
// because that is Windmill's rule: a script whose lock is generated here
// gets the same packages when `wmill` regenerates its lock on a Windmill
// instance, so a script that works here keeps working there (an import
// inside main would install here and fail there). Imports inside
// try/if blocks are thereby optional, which is what such blocks are
// usually for.
//
// scriptPath ("f/folder/name") is needed for `.x` imports; isStdlib tells
// standard modules by their first segment (nil: the built-in list, see
// Stdlib for the interpreter's own).
func Infer(scriptPath, content string, isStdlib func(module string) bool) Requirements {
	if isStdlib == nil {
		isStdlib = builtinStdlib
	}
	var r Requirements
	r.Python = pythonAnnotations(content)
	lines := strings.Split(content, "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}

	for i, l := range lines {
		if l == "# /// script" {
			if deps, py, ok := pep723(lines[i+1:]); ok {
				r.Manual = true
				if py != "" {
					r.Python = append(r.Python, py)
				}
				for _, d := range deps {
					r.addLine(d, FromRepin, "a PEP 723 dependency")
				}
				sortReqs(r.List)
				r.Relative = relativeImports(scriptPath, content)
				return r
			}
			continue
		}
		if rest, ok := markerRest(l, "requirements:"); ok {
			r.Manual = true
			r.Workspace = workspaceRefs(rest)
			for k, d := range block(lines[i+1:]) {
				r.addLine(d, FromRepin, fmt.Sprintf("#requirements: line %d", i+2+k))
			}
			sortReqs(r.List)
			r.Relative = relativeImports(scriptPath, content)
			return r
		}
	}

	for i, l := range lines {
		if rest, ok := markerRest(l, "extra_requirements:"); ok {
			r.Workspace = workspaceRefs(rest)
			for k, d := range block(lines[i+1:]) {
				r.addLine(d, FromPin, fmt.Sprintf("#extra_requirements: line %d", i+2+k))
			}
			break
		}
	}
	for _, st := range topLevelStatements(beforeMain(content)) {
		imps, ok := parseImport(st.text)
		if !ok {
			continue
		}
		var pinned bool
		if m := pinComment.FindStringSubmatch(st.comment); m != nil && m[2] != "" {
			for _, imp := range imps {
				if imp.level == 0 && !isWorkspaceRoot(imp.module) {
					pinned = true
				}
			}
			if pinned {
				src := FromPin
				if m[1] == "repin" {
					src = FromRepin
				}
				r.addLine(m[2], src, fmt.Sprintf("the # %s: comment of `%s`", m[1], st.text))
			}
		}
		for _, imp := range imps {
			for _, p := range relativePaths(scriptPath, imp) {
				if !slices.Contains(r.Relative, p) {
					r.Relative = append(r.Relative, p)
				}
			}
			if pinned || imp.level > 0 || isWorkspaceRoot(imp.module) {
				continue
			}
			root, _, _ := strings.Cut(imp.module, ".")
			if root == "" || isStdlib(root) {
				continue
			}
			modules := []string{imp.module}
			if imp.from && isNamespace(imp.module) && len(imp.names) > 0 && imp.names[0] != "*" {
				modules = modules[:0]
				for _, n := range imp.names {
					modules = append(modules, imp.module+"."+n)
				}
			}
			for _, m := range modules {
				dist, mapped := packageFor(m)
				if _, err := parseRequirement(dist); err != nil {
					r.Rejected = append(r.Rejected, Rejected{Where: "`import " + m + "`", Line: dist,
						Why: "the import names no project pip can install (" + err.Error() + "): name its package in #requirements:"})
					continue
				}
				q := Requirement{Line: dist, Name: requirementName(dist), Source: FromImport}
				if mapped {
					q.Import = m
				}
				r.List = add(r.List, q, true)
			}
		}
	}
	sortReqs(r.List)
	return r
}

// addLine adds one line the script wrote, if it is a PEP 508
// requirement and nothing more. A resolver option (--index-url …) is
// refused, not dropped as Windmill drops it: the index is the user's
// configuration, and a script that wanted another one would otherwise
// quietly get a same-named package from the user's index.
func (r *Requirements) addLine(line string, src Source, where string) {
	req, err := parseRequirement(line)
	if err != nil {
		r.Rejected = append(r.Rejected, Rejected{Where: where, Line: line, Why: err.Error()})
		return
	}
	r.List = add(r.List, Requirement{Line: strings.TrimSpace(line), Name: req.key, Source: src}, true)
}

// markerRest matches `#marker` or `# marker` at the very start of a line
// (also with '-' for '_'), returning what follows the marker.
func markerRest(line, marker string) (string, bool) {
	for _, m := range []string{marker, strings.ReplaceAll(marker, "_", "-")} {
		for _, p := range []string{"#", "# "} {
			if rest, ok := strings.CutPrefix(line, p+m); ok {
				return rest, true
			}
		}
	}
	return "", false
}

func workspaceRefs(rest string) []string {
	var out []string
	for _, f := range strings.Split(rest, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// block returns the requirement lines that follow a marker line.
func block(lines []string) []string {
	var out []string
	for _, l := range lines {
		m := blockLine.FindStringSubmatch(l)
		if m == nil {
			break
		}
		out = append(out, m[1])
	}
	return out
}

// beforeMain is the code Windmill reads for imports: up to the first
// "def main(" (textually, as Windmill splits it).
func beforeMain(content string) string {
	if i := strings.Index(content, "def main("); i >= 0 {
		return content[:i]
	}
	return content
}

func isWorkspaceRoot(module string) bool {
	root, _, _ := strings.Cut(module, ".")
	return root == "f" || root == "u"
}

// relativeImports lists the workspace scripts a script imports, for
// scripts whose requirements are manual.
func relativeImports(scriptPath, content string) []string {
	var out []string
	for _, st := range topLevelStatements(beforeMain(content)) {
		imps, _ := parseImport(st.text)
		for _, imp := range imps {
			for _, p := range relativePaths(scriptPath, imp) {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// relativePaths turns an import of workspace code into script paths.
// `from f.folder.x import y` and `import u.user.x` name f/folder/x and
// u/user/x; `.x` and `..x` are relative to the script's folder (script
// f/foo/bar: `.baz` → f/foo/baz, `..foo.bar` → f/foo/bar). Where the
// module is a folder (`from f.folder import x`, `from . import x`), the
// imported names are the scripts: Windmill's parser would look for a
// script at the folder's path and find none.
func relativePaths(scriptPath string, imp pyImport) []string {
	var base []string
	switch {
	case imp.level > 0:
		segs := strings.Split(strings.Trim(scriptPath, "/"), "/")
		if scriptPath == "" || imp.level >= len(segs) {
			return nil
		}
		base = segs[:len(segs)-imp.level]
	case isWorkspaceRoot(imp.module):
	default:
		return nil
	}
	if imp.module != "" {
		base = append(slices.Clone(base), strings.Split(imp.module, ".")...)
	}
	if len(base) >= 3 || !imp.from {
		if len(base) < 3 {
			return nil
		}
		return []string{strings.Join(base, "/")}
	}
	var out []string
	for _, n := range imp.names {
		if n != "*" {
			out = append(out, strings.Join(append(slices.Clone(base), n), "/"))
		}
	}
	return out
}

// annotationWord is a word Windmill's annotation parser knows; a leading
// comment line counts only when all its words are such words.
var (
	annotationWords = map[string]bool{
		"no_cache": true, "no_postinstall": true, "py_select_latest": true,
		"skip_result_postprocessing": true, "no_uv": true, "no_uv_install": true,
		"no_uv_compile": true, "sandbox": true, "docker": true,
	}
	pyAlias   = regexp.MustCompile(`^py3(\d{1,2})$`)
	wordRegex = regexp.MustCompile(`\w+`)
)

// pythonAnnotations reads the interpreter asked for in the leading
// comment lines: `# py: >=3.12` and `# py312`.
func pythonAnnotations(content string) []string {
	var out []string
	for _, l := range strings.Split(content, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if !strings.HasPrefix(l, "#") {
			break
		}
		if rest, ok := strings.CutPrefix(l, "# py:"); ok {
			out = appendSpec(out, rest)
			continue
		}
		if rest, ok := strings.CutPrefix(l, "#py:"); ok {
			out = appendSpec(out, rest)
			continue
		}
		words := wordRegex.FindAllString(l, -1)
		var specs []string
		known := len(words) > 0
		for _, w := range words {
			if m := pyAlias.FindStringSubmatch(w); m != nil {
				specs = append(specs, "==3."+m[1]+".*")
			} else if !annotationWords[w] {
				known = false
			}
		}
		if known {
			out = append(out, specs...)
		}
	}
	return out
}

func appendSpec(out []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		out = append(out, s)
	}
	return out
}
