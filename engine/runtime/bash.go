package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Bash's steps in the language table: how it gets its arguments, how it
// starts (forked, or spawned), how it is checked.

// bashOptions are the shell options of every Bash job: on a spawned
// job's command line, set in a forked job's BASH_ENV. Windmill runs
// main.sh with `set -e` and nothing else: its wrapper's pipefail is the
// wrapper's own shell's, which main.sh (a new bash) does not inherit, so
// a pipeline is as good as its last command there and here.
var bashOptions = []string{"-e"}

// setPositional is bash that sets the positional parameters to args.
func setPositional(args []string) string {
	var b strings.Builder
	b.WriteString("set --")
	for _, a := range args {
		b.WriteString(" '")
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteString("'")
	}
	b.WriteString("\n")
	return b.String()
}

// bashArgs passes arguments positionally: strings as they are, other
// values as JSON text, missing ones as "".
func bashArgs(order []string, args map[string]json.RawMessage) []string {
	out := make([]string, 0, len(order))
	for _, name := range order {
		v, ok := args[name]
		if !ok || string(v) == "null" {
			out = append(out, "")
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			out = append(out, s)
		} else {
			out = append(out, string(v))
		}
	}
	return out
}

// bashOnServer runs a Bash job on the Bash fork server, in a folder the
// server made ahead; ok is false when there is none or it did not start
// the job (then it is spawned).
func (r *Runner) bashOnServer(ctx context.Context, spec Spec, logs io.Writer) (Outcome, bool) {
	if srv := r.bashServer(); srv != nil {
		return r.runBashForked(ctx, srv, spec, logs)
	}
	return Outcome{}, false
}

// startBash writes main.sh and its positional arguments for a spawned
// bash.
func (r *Runner) startBash(ctx context.Context, job *coldJob) (*exec.Cmd, Outcome, bool) {
	if r.interp.Bash == "" {
		return nil, Failure("RuntimeMissing", "bash is not installed", nil), false
	}
	positional := bashArgs(job.spec.Order, job.args)
	// The script and its arguments go in private files, never on the
	// command line: /proc/<pid>/cmdline is readable by every local
	// user. Bash sets the positional parameters from BASH_ENV's file
	// before main.sh runs, and the file unsets BASH_ENV so that bash
	// processes the script starts do not take them too. The script is
	// ./main.sh to bash, in $0 and its errors, as on Windmill.
	if err := writeFiles(job.dir, map[string]string{"main.sh": job.spec.Content}); err != nil {
		return nil, Failure("InternalError", err.Error(), nil), false
	}
	if len(positional) > 0 {
		file := filepath.Join(job.out, "args.sh")
		if err := os.WriteFile(file, []byte(setPositional(positional)+"unset BASH_ENV\n"), 0o600); err != nil {
			return nil, Failure("InternalError", "cannot write the arguments: "+err.Error(), nil), false
		}
		job.env = append(job.env, "BASH_ENV="+file)
	}
	return exec.Command(r.interp.Bash, append(append([]string{}, bashOptions...), "./main.sh")...), Outcome{}, false
}

var bashLine = regexp.MustCompile(`line (\d+): (.*)`)

func (r *Runner) checkBash(ctx context.Context, content string) (*SyntaxError, error) {
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
}
