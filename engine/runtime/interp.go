package runtime

import (
	"context"
	"os/exec"
	"path/filepath"
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

// Resolve finds interpreters on PATH once. A version manager's shim (pyenv,
// asdf) costs hundreds of milliseconds per start, so Python is asked for
// its real executable and that is what jobs run.
func Resolve(ctx context.Context) Interpreters {
	var in Interpreters
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if p, err := exec.LookPath("python3"); err == nil {
		in.Python = p
		if out, err := exec.CommandContext(ctx, p, "-c", "import sys; print(sys.executable); print(sys.version.split()[0])").Output(); err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) == 2 && filepath.IsAbs(lines[0]) {
				in.Python, in.PythonVersion = lines[0], lines[1]
			}
		}
	}
	if p, err := exec.LookPath("node"); err == nil {
		in.Node = p
		if out, err := exec.CommandContext(ctx, p, "-p", "process.execPath + '\\n' + process.version").Output(); err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) == 2 && filepath.IsAbs(lines[0]) {
				in.Node, in.NodeVersion = lines[0], lines[1]
			}
		}
	}
	if p, err := exec.LookPath("bun"); err == nil {
		in.Bun = p
	}
	if p, err := exec.LookPath("deno"); err == nil {
		in.Deno = p
	}
	if p, err := exec.LookPath("bash"); err == nil {
		in.Bash = p
	}
	return in
}
