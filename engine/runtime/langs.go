package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
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

func (r *Runner) typeScriptCommand(dir string, spec Spec) (*exec.Cmd, []string, error) {
	wrap := wrapper("node.mjs")
	switch {
	case r.interp.Bun != "" && spec.Language != "deno":
		if err := writeFiles(dir, map[string]string{"main.ts": spec.Content, "wrapper.mjs": wrap}); err != nil {
			return nil, nil, err
		}
		return exec.Command(r.interp.Bun, "run", "wrapper.mjs"), []string{"MILLRUN_MAIN=main.ts"}, nil
	case r.interp.Deno != "":
		if err := writeFiles(dir, map[string]string{"main.ts": spec.Content, "wrapper.mjs": wrap}); err != nil {
			return nil, nil, err
		}
		return exec.Command(r.interp.Deno, "run", "-A", "wrapper.mjs"), []string{"MILLRUN_MAIN=main.ts"}, nil
	case r.interp.Node != "":
		js, err := r.stripTypes(spec.Content)
		if err != nil {
			return nil, nil, err
		}
		if err := writeFiles(dir, map[string]string{"main.mjs": js, "wrapper.mjs": wrap}); err != nil {
			return nil, nil, err
		}
		return exec.Command(r.interp.Node, "wrapper.mjs"), []string{"MILLRUN_MAIN=main.mjs"}, nil
	}
	return nil, nil, errors.New("no TypeScript runtime: install Node.js, Bun or Deno and restart millrun")
}

// stripTypes removes TypeScript syntax so Node can run the script. Results
// are cached by content: versions are immutable.
func (r *Runner) stripTypes(src string) (string, error) {
	sum := sha256.Sum256([]byte(src))
	key := hex.EncodeToString(sum[:8])
	r.tsMu.Lock()
	js, ok := r.tsCache[key]
	r.tsMu.Unlock()
	if ok {
		return js, nil
	}
	res := api.Transform(src, api.TransformOptions{Loader: api.LoaderTS, Format: api.FormatESModule, Target: api.ES2022, Sourcemap: api.SourceMapInline, Sourcefile: "main.ts"})
	if len(res.Errors) > 0 {
		var msgs []string
		for _, e := range res.Errors {
			loc := ""
			if e.Location != nil {
				loc = fmt.Sprintf("line %d:%d: ", e.Location.Line, e.Location.Column)
			}
			msgs = append(msgs, loc+e.Text)
		}
		return "", fmt.Errorf("TypeScript does not compile: %s", strings.Join(msgs, "; "))
	}
	r.tsMu.Lock()
	if len(r.tsCache) > 256 {
		clear(r.tsCache)
	}
	r.tsCache[key] = string(res.Code)
	r.tsMu.Unlock()
	return string(res.Code), nil
}

// bashOptions are the shell options of every Bash job: on a spawned
// job's command line, set in a forked job's BASH_ENV.
var bashOptions = []string{"-e", "-o", "pipefail"}
