package runtime

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Per language: how Bash gets its arguments, how TypeScript is started.

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

// typeScriptCommand prepares dir for a TypeScript run (on r.tsTarget):
// the bundle as main.mjs (see typescript.go), the wrapper beside it, the
// packages linked in.
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

// bashOptions are the shell options of every Bash job: on a spawned
// job's command line, set in a forked job's BASH_ENV. Windmill runs
// main.sh with `set -e` and nothing else: its wrapper's pipefail is the
// wrapper's own shell's, which main.sh (a new bash) does not inherit, so
// a pipeline is as good as its last command there and here.
var bashOptions = []string{"-e"}
