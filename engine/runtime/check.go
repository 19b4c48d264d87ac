package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/evanw/esbuild/pkg/api"
)

// pythonCheck compiles main.py without running it.
const pythonCheck = `import json, sys
src = sys.stdin.read()
try:
    compile(src, "main.py", "exec")
except (SyntaxError, ValueError) as e:  # ValueError: a NUL byte
    print(json.dumps({"line": getattr(e, "lineno", 0) or 0, "message": getattr(e, "msg", str(e))}))
`

var bashLine = regexp.MustCompile(`line (\d+): (.*)`)

// CheckSyntax finds what would stop a script before its first line runs
// (Python's compile, bash -n, esbuild for TypeScript), so the editor can
// point at the line on save instead of the first run failing. It returns
// nil when the script parses, or when no checker is installed (the run
// will say that).
func (r *Runner) CheckSyntax(ctx context.Context, language, content string) (*SyntaxError, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch {
	case language == Python:
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
	case language == Bash:
		if r.interp.Bash == "" {
			return nil, nil
		}
		cmd := exec.CommandContext(ctx, r.interp.Bash, "-n")
		cmd.Env = r.processEnv()
		cmd.Stdin = strings.NewReader(content)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			return nil, nil
		} else if _, exited := err.(*exec.ExitError); !exited {
			return nil, fmt.Errorf("bash -n: %w", err)
		}
		first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if m := bashLine.FindStringSubmatch(first); m != nil {
			n, _ := strconv.Atoi(m[1])
			return &SyntaxError{Line: n, Message: m[2]}, nil
		}
		return &SyntaxError{Message: first}, nil
	case IsTypeScript(language):
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
	return nil, nil
}

func (r *Runner) checkWith(ctx context.Context, content string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.processEnv()
	cmd.Stdin = strings.NewReader(content)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
