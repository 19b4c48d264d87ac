package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/millrun/millrun/engine/deps"
)

// Python's steps in the language table.

const missingPython = "python3 is not installed: install it (Debian: apt-get install python3) and restart millrun"

// startPython writes main.py and its arguments and puts the script's
// packages on its path, then runs it on the fork server when the server
// runs the interpreter the script needs, else spawned.
func (r *Runner) startPython(ctx context.Context, job *coldJob) (*exec.Cmd, Outcome, bool) {
	if r.interp.Python == "" {
		return nil, Failure("RuntimeMissing", missingPython, nil), false
	}
	if err := writeFiles(job.dir, map[string]string{"main.py": job.spec.Content}); err != nil {
		return nil, Failure("InternalError", err.Error(), nil), false
	}
	if err := writeJSON(filepath.Join(job.out, "args.json"), job.args); err != nil {
		return nil, Failure("InternalError", err.Error(), nil), false
	}
	job.env = append(job.env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	interp := r.interp.Python
	if r.Packages != nil {
		plan, _, err := r.Packages.planPython(ctx, r.interp.Python, job.spec, filepath.Join(job.out, "lib"), job.logs)
		if err != nil {
			return nil, Failure("DependenciesError", err.Error(), nil), false
		}
		job.env = append(job.env, plan.env()...)
		interp = plan.Interp
		if unmet := plan.Unmet; unmet != "" {
			// Newer syntax on an older interpreter reads as a plain
			// syntax error; say what the script asked for.
			job.amend = func(o Outcome) Outcome { return noteVersion(o, unmet) }
		}
	}
	// The fork server is the default interpreter, already started.
	if srv := r.forkServer(); srv != nil && interp == r.interp.Python {
		if o, ok := r.runForked(ctx, srv, job.spec, job.dir, job.out, job.env, job.logs, job.live); ok {
			return nil, o, true
		}
		if ctx.Err() != nil {
			return nil, Outcome{}, false // the server was not asked: nothing started
		}
	}
	// Spawned: the wrapper is a file beside main.py (the fork server
	// holds its own copy).
	if err := writeFiles(job.dir, map[string]string{"wrapper.py": wrapper("python.py")}); err != nil {
		return nil, Failure("InternalError", err.Error(), nil), false
	}
	return exec.Command(interp, "-u", "wrapper.py"), Outcome{}, false
}

// warmPython is a warm worker's interpreter, which imports main.py once.
func (r *Runner) warmPython(ctx context.Context, dir string, spec Spec, logs io.Writer) (*exec.Cmd, []string, Outcome) {
	if r.interp.Python == "" {
		return nil, nil, Failure("RuntimeMissing", "python3 is not installed", nil)
	}
	if err := writeFiles(dir, map[string]string{"main.py": spec.Content, "warm.py": wrapper("python_warm.py")}); err != nil {
		return nil, nil, Failure("InternalError", err.Error(), nil)
	}
	interp := r.interp.Python
	var env []string
	if r.Packages != nil {
		plan, _, err := r.Packages.planPython(ctx, r.interp.Python, spec, filepath.Join(dir, ".millrun", "lib"), logs)
		if err != nil {
			return nil, nil, Failure("DependenciesError", err.Error(), nil)
		}
		interp = plan.Interp
		env = append(env, plan.env()...)
	}
	return exec.Command(interp, "-u", "warm.py"), append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"), Outcome{}
}

// pythonCheck compiles main.py without running it.
const pythonCheck = `import json, sys
src = sys.stdin.read()
try:
    compile(src, "main.py", "exec")
except (SyntaxError, ValueError) as e:  # ValueError: a NUL byte
    print(json.dumps({"line": getattr(e, "lineno", 0) or 0, "message": getattr(e, "msg", str(e))}))
`

func (r *Runner) checkPython(ctx context.Context, content string) (*SyntaxError, error) {
	if r.interp.Python == "" {
		return nil, nil
	}
	out, err := r.checkWith(ctx, content, r.interp.Python, "-I", "-c", pythonCheck)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	var se SyntaxError
	if err := json.Unmarshal(out, &se); err != nil {
		return nil, fmt.Errorf("python3's syntax check printed %q", out)
	}
	return &se, nil
}

// emptyPythonLock is Windmill's lock of a script without packages: the
// Python it runs on.
func (r *Runner) emptyPythonLock() string {
	if v := pythonMinor(r.interp.PythonVersion); v != "" {
		return "# py: " + v
	}
	return ""
}

// pythonMinor is "3.11" of "3.11.2".
func pythonMinor(v string) string {
	parts := strings.SplitN(strings.TrimSpace(v), ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// pythonImports lists the workspace scripts a Python script imports.
func pythonImports(path, content string) []string {
	return deps.Infer(path, content, nil).Relative
}

// needsPythonLock reports whether a Python script imports packages or
// workspace scripts.
func (r *Runner) needsPythonLock(spec Spec) bool {
	if r.Packages == nil {
		return false
	}
	reqs := deps.Infer(spec.Path, spec.Content, nil)
	// A refused line too: the dependency job says what is wrong with it.
	return len(reqs.List) > 0 || len(reqs.Relative) > 0 || len(reqs.Rejected) > 0
}

// lockPython resolves a Python script's lock and installs what it pins.
func (r *Runner) lockPython(ctx context.Context, spec Spec, logs io.Writer) (string, error) {
	if r.Packages == nil {
		return spec.Lock, nil
	}
	if r.interp.Python == "" {
		return "", errors.New(missingPython)
	}
	_, lock, err := r.Packages.planPython(ctx, r.interp.Python, spec, "", logs)
	if err != nil {
		return "", err
	}
	return lock.String(), nil
}
