package deps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Python is an interpreter.
type Python struct {
	// Path is the real executable (sys.executable), not a version
	// manager's shim, which costs hundreds of milliseconds per start.
	Path string
	// Version is "3.11.7".
	Version string
}

// Minor is "3.11": packages are cached per minor version, since that is
// what compiled extensions and wheel tags depend on.
func (p Python) Minor() string {
	parts := strings.SplitN(p.Version, ".", 3)
	if len(parts) < 2 {
		return p.Version
	}
	return parts[0] + "." + parts[1]
}

type probeKey struct {
	path  string
	mtime time.Time
	size  int64
}

var probes sync.Map // probeKey → Python

// Probe asks an interpreter (a path, or a name on the tools' PATH) for
// its real executable and version. Answers are remembered per file, so
// asking again is a stat.
func (t Tools) Probe(ctx context.Context, path string) (Python, error) {
	if !strings.ContainsAny(path, `/\`) {
		if p := t.lookPath(path); p != "" {
			path = p
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Python{}, fmt.Errorf("no Python at %s", path)
	}
	key := probeKey{path, fi.ModTime(), fi.Size()}
	if v, ok := probes.Load(key); ok {
		return v.(Python), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-c", "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])")
	cmd.Env = t.env()
	out, err := cmd.Output()
	if err != nil {
		return Python{}, fmt.Errorf("%s does not run: %v", path, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return Python{}, fmt.Errorf("%s does not answer like Python", path)
	}
	p := Python{Path: strings.TrimSpace(lines[0]), Version: strings.TrimSpace(lines[1])}
	if p.Path == "" {
		p.Path = path
	}
	probes.Store(key, p)
	return p, nil
}

// Stdlib asks the interpreter for its standard library's module names
// (sys.stdlib_module_names, Python 3.10+), for Infer. Ask once per
// interpreter and keep the answer; on older interpreters, or when the
// interpreter cannot be run, the built-in list (3.10–3.13) is returned
// with the error.
func (t Tools) Stdlib(ctx context.Context, py Python) (func(module string) bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, "-c", "import sys; print('\\n'.join(sys.stdlib_module_names))")
	cmd.Env = t.env()
	out, err := cmd.Output()
	if err != nil {
		return builtinStdlib, fmt.Errorf("%s cannot list its standard library (Python 3.10+ can): %v", py.Path, err)
	}
	set := map[string]bool{}
	for _, n := range strings.Fields(string(out)) {
		set[n] = true
	}
	if len(set) == 0 {
		return builtinStdlib, errors.New("empty standard library list")
	}
	return func(m string) bool { return set[m] }, nil
}

// ChoosePython picks the interpreter for what a script or lock asks
// (PEP 440 specifier sets: `>=3.12`, `==3.11.*`; a lock's `# py: 3.11`
// is "==3.11.*"). The default wins when it satisfies them all; otherwise
// `pythonX.Y` on PATH and, with uv, `uv python find` are tried, and the
// match nearest the default (newer first) is taken. When none is
// installed the default runs it, and log says what was asked for.
func (t Tools) ChoosePython(ctx context.Context, def Python, specs []string, log io.Writer) Python {
	if len(specs) == 0 {
		return def
	}
	if ok, _ := matchesAll(def.Version, specs); ok {
		return def
	}
	var found []Python
	seen := map[string]bool{def.Path: true}
	consider := func(path string) {
		if path == "" || seen[path] {
			return
		}
		seen[path] = true
		p, err := t.Probe(ctx, path)
		if err != nil || seen[p.Path] && p.Path != path {
			return
		}
		seen[p.Path] = true
		if ok, _ := matchesAll(p.Version, specs); ok {
			found = append(found, p)
		}
	}
	for minor := 25; minor >= 8; minor-- {
		v := "3." + strconv.Itoa(minor)
		// Probing costs a start per interpreter; skip the minor versions
		// the specifiers already rule out.
		if ok, _ := matchesAll(v+".99", specs); !ok {
			if ok0, _ := matchesAll(v+".0", specs); !ok0 {
				continue
			}
		}
		consider(t.lookPath("python" + v))
	}
	if t.UV != "" {
		ctx2, cancel := context.WithTimeout(ctx, 20*time.Second)
		cmd := exec.CommandContext(ctx2, t.UV, "python", "find", strings.Join(specs, ","))
		cmd.Env = t.env()
		if out, err := cmd.Output(); err == nil {
			consider(strings.TrimSpace(string(out)))
		}
		cancel()
	}
	if len(found) == 0 {
		if log != nil {
			fmt.Fprintf(log, "Python %s was asked for, but no such interpreter is installed: running on %s (%s)\n", strings.Join(specs, ", "), def.Version, def.Path)
		}
		return def
	}
	defV := parseVersion(def.Version)
	slices.SortFunc(found, func(a, b Python) int {
		da, db := distance(parseVersion(a.Version), defV), distance(parseVersion(b.Version), defV)
		if da != db {
			return da - db
		}
		return -compareVersions(parseVersion(a.Version), parseVersion(b.Version))
	})
	if log != nil {
		fmt.Fprintf(log, "Python %s asked for: using %s (%s)\n", strings.Join(specs, ", "), found[0].Version, found[0].Path)
	}
	return found[0]
}

// Satisfies reports whether an interpreter version meets every
// specifier set (a specifier it cannot read does not).
func Satisfies(version string, specs []string) bool {
	ok, err := matchesAll(version, specs)
	return ok && err == nil
}

// distance orders candidates around the default's minor version, newer
// before older at the same distance (as Windmill leans to newer).
func distance(v, def []int) int {
	get := func(v []int, i int) int {
		if i < len(v) {
			return v[i]
		}
		return 0
	}
	d := (get(v, 0)-get(def, 0))*100 + get(v, 1) - get(def, 1)
	if d < 0 {
		return -2*d + 1
	}
	return 2 * d
}

// LockSpec is the specifier a lock's `# py: X.Y` asks for ("" when the
// lock does not say).
func LockSpec(l Lock) []string {
	if l.Python() == "" {
		return nil
	}
	return []string{"==" + l.Python() + ".*"}
}

// matchesAll checks a version against PEP 440 specifier sets. It knows
// what interpreter versions need: release numbers, the operators, and
// ".*"; a bare version ("3.12", as people write `# py: 3.12`) reads as
// "==3.12.*". An `==X.Y` without patch also matches any X.Y.z, since no
// one means "3.12.0 only" by it. A specifier it cannot read fails the
// match and is returned as the error.
func matchesAll(version string, specs []string) (bool, error) {
	v := parseVersion(version)
	for _, set := range specs {
		for _, clause := range strings.Split(set, ",") {
			clause = strings.TrimSpace(clause)
			if clause == "" {
				continue
			}
			ok, err := matchClause(v, clause)
			if err != nil {
				return false, err
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}

func matchClause(v []int, clause string) (bool, error) {
	op := ""
	for _, o := range []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(clause, o) {
			op = o
			break
		}
	}
	rest := strings.TrimSpace(clause[len(op):])
	wild := strings.HasSuffix(rest, ".*")
	rest = strings.TrimSuffix(rest, ".*")
	want := parseVersion(rest)
	if len(want) == 0 {
		return false, fmt.Errorf("cannot read the Python version %q", clause)
	}
	if op == "" || op == "===" {
		op, wild = "==", wild || len(want) <= 2
	}
	if op == "==" && len(want) <= 2 {
		wild = true
	}
	prefix := func() bool {
		for i, w := range want {
			x := 0
			if i < len(v) {
				x = v[i]
			}
			if x != w {
				return false
			}
		}
		return true
	}
	c := compareVersions(v, want)
	switch op {
	case "==":
		if wild {
			return prefix(), nil
		}
		return c == 0, nil
	case "!=":
		if wild {
			return !prefix(), nil
		}
		return c != 0, nil
	case "<=":
		return c <= 0, nil
	case ">=":
		return c >= 0, nil
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "~=":
		if len(want) < 2 {
			return false, fmt.Errorf("cannot read the Python version %q", clause)
		}
		upper := want[:len(want)-1]
		for i, u := range upper {
			x := 0
			if i < len(v) {
				x = v[i]
			}
			if x != u {
				return false, nil
			}
		}
		return c >= 0, nil
	}
	return false, fmt.Errorf("cannot read the Python version %q", clause)
}

// parseVersion reads the release numbers of "3.12.1" (a suffix such as
// "rc1" or "+local" ends it); nil when there are none.
func parseVersion(s string) []int {
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(s), ".") {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		out = append(out, n)
		if end < len(part) {
			break
		}
	}
	return out
}

func compareVersions(a, b []int) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
