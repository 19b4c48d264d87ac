package runtime

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Interpreters holds the real executables found for each language; empty
// means not installed. Versions are for display.
type Interpreters struct {
	Python        string `json:"python"`
	PythonVersion string `json:"python_version"`
	Node          string `json:"node"`
	NodeVersion   string `json:"node_version"`
	Bun           string `json:"bun"`
	Deno          string `json:"deno"`
	Bash          string `json:"bash"`
}

// Languages whose interpreter the user may choose (Settings), by the
// names Interpreters uses.
var Choosable = []string{"python", "node", "bun", "deno", "bash"}

// Resolve finds interpreters once: the path the user chose for a language
// (chosen, by the names in Choosable), else the one on PATH. A version
// manager's shim (pyenv, asdf) costs hundreds of milliseconds per start,
// so Python and Node are asked for their real executables and those are
// what jobs run.
func Resolve(ctx context.Context, chosen ...map[string]string) Interpreters {
	var in Interpreters
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pick := map[string]string{}
	for _, m := range chosen {
		for k, v := range m {
			pick[k] = v
		}
	}
	look := func(lang, name string) (string, error) {
		if p := pick[lang]; p != "" {
			return exec.LookPath(p) // an absolute path is checked as it is
		}
		return exec.LookPath(name)
	}
	if p, err := look("python", "python3"); err == nil {
		in.Python = p
		if out, err := exec.CommandContext(ctx, p, "-c", "import sys; print(sys.executable); print(sys.version.split()[0])").Output(); err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) == 2 && filepath.IsAbs(lines[0]) {
				in.Python, in.PythonVersion = lines[0], lines[1]
			}
		}
	}
	if p, err := look("node", "node"); err == nil {
		in.Node = p
		if out, err := exec.CommandContext(ctx, p, "-p", "process.execPath + '\\n' + process.version").Output(); err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) == 2 && filepath.IsAbs(lines[0]) {
				in.Node, in.NodeVersion = lines[0], lines[1]
			}
		}
	}
	if p, err := look("bun", "bun"); err == nil {
		in.Bun = p
	}
	if p, err := look("deno", "deno"); err == nil {
		in.Deno = p
	}
	if p, err := look("bash", "bash"); err == nil {
		in.Bash = p
	}
	resolveWindows(&in, pick)
	return in
}

// CheckChoice says what is wrong with a chosen interpreter path, or "".
func CheckChoice(lang, path string) string {
	if path == "" {
		return ""
	}
	if !filepath.IsAbs(path) {
		return lang + ": give the interpreter's full path (such as /usr/bin/python3)"
	}
	if _, err := exec.LookPath(path); err != nil {
		return lang + ": no executable at " + path
	}
	return ""
}

// StartTimes measures how long each found interpreter takes to start and
// do nothing, in milliseconds (the median of three): the floor of a cold
// run in that language, shown in Settings so a slow one (a version
// manager's shim, heavy site hooks) can be told from millrun.
func StartTimes(ctx context.Context, in Interpreters) map[string]float64 {
	runs := map[string][]string{}
	if in.Python != "" {
		runs["python"] = []string{in.Python, "-c", "pass"}
	}
	if in.Node != "" {
		runs["node"] = []string{in.Node, "-e", "0"}
	}
	if in.Bun != "" {
		runs["bun"] = []string{in.Bun, "-e", "0"}
	}
	if in.Deno != "" {
		runs["deno"] = []string{in.Deno, "eval", "0"}
	}
	if in.Bash != "" {
		runs["bash"] = []string{in.Bash, "-c", ":"}
	}
	out := map[string]float64{}
	for lang, argv := range runs {
		var times []time.Duration
		for range 3 {
			start := time.Now()
			if err := exec.CommandContext(ctx, argv[0], argv[1:]...).Run(); err != nil {
				break
			}
			times = append(times, time.Since(start))
		}
		if len(times) == 3 {
			slices.Sort(times)
			out[lang] = float64(times[1].Microseconds()) / 1000
		}
	}
	return out
}
