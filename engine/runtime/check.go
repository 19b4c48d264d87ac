package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// CheckSyntax finds what would stop a script before its first line runs
// (Python's compile, bash -n, esbuild for TypeScript), so the editor can
// point at the line on save instead of the first run failing. It returns
// nil when the script parses, or when no checker is installed (the run
// will say that).
func (r *Runner) CheckSyntax(ctx context.Context, language, content string) (*SyntaxError, error) {
	l := LanguageNamed(language)
	if l == nil || l.check == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return l.check(r, ctx, content)
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
