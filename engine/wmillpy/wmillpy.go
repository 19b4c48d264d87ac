// Package wmillpy carries millrun's built-in Python wmill module: the
// common calls of Windmill's Python client (get_variable, set_variable,
// get_resource, set_resource, get_state, set_state, run_script_by_path,
// run_script_async, run_script_by_path_async, get_result, get_job_status,
// get_workspace, whoami, get_root_job_id, get_state_path and their close
// siblings) written against millrun's Windmill-shaped API with the
// standard library only, so `import wmill` works on a laptop that cannot
// install Windmill's package.
//
// The contract with the runtime that uses it:
//
//   - Materialize(dir) writes dir/wmill/__init__.py and returns the folder
//     to put on a Python job's module path. Call it once per data folder
//     (it is cheap to call again: it writes only when the file differs
//     from this millrun's module, so a newer millrun replaces an older
//     one's file, atomically, and a running job never reads half a file).
//   - The folder goes at the END of the job's PYTHONPATH (after the job's
//     locked packages): where Windmill's wmill is installed, it wins, as
//     the issue asks ("where the index has it, wmill is a locked
//     requirement like any other").
//   - The module reads the job's environment as Windmill's does:
//     BASE_INTERNAL_URL (else WM_BASE_URL), WM_TOKEN, WM_WORKSPACE,
//     WM_JOB_ID, WM_JOB_PATH, WM_ROOT_FLOW_JOB_ID, WM_STATE_PATH_NEW (else
//     WM_STATE_PATH). The engine sets them all in every job.
//   - On import it writes one line to stderr, so the job's log says that
//     the built-in module was used. A name it lacks raises an error naming
//     it and saying how to get Windmill's package.
//
// An interpreter reads PYTHONPATH when it starts, so a job forked from a
// fork server started earlier needs the folder appended to sys.path in
// the child instead; and the fork server must not import wmill ahead of
// the job, or every job would get whichever it found.
package wmillpy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

//go:embed wmill/__init__.py
var module []byte

// Module returns the module's source (wmill/__init__.py).
func Module() []byte { return bytes.Clone(module) }

// Version is the module's content hash (the first 16 hex digits of its
// SHA-256): what Materialize compares.
func Version() string {
	sum := sha256.Sum256(module)
	return hex.EncodeToString(sum[:8])
}

// written remembers the folders this process has written or checked, so
// a runtime may call Materialize before every job at the cost of a stat
// (which still notices a file someone removed).
var written sync.Map // dir -> struct{}

// Materialize makes dir/wmill/__init__.py this millrun's module and
// returns dir, the folder to append to PYTHONPATH. dir is created (0700)
// if missing.
func Materialize(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("wmillpy: no folder given")
	}
	dir = filepath.Clean(dir)
	pkg := filepath.Join(dir, "wmill")
	file := filepath.Join(pkg, "__init__.py")
	if _, ok := written.Load(dir); ok {
		if fi, err := os.Stat(file); err == nil && fi.Size() == int64(len(module)) {
			return dir, nil
		}
	}
	if cur, err := os.ReadFile(file); err == nil && bytes.Equal(cur, module) {
		written.Store(dir, struct{}{})
		return dir, nil
	}
	if err := os.MkdirAll(pkg, 0o700); err != nil {
		return "", fmt.Errorf("wmillpy: create %s: %w", pkg, err)
	}
	// Written beside and renamed over: an interpreter importing the old
	// file meanwhile reads it whole, and a crash leaves no half file.
	tmp, err := os.CreateTemp(pkg, ".__init__.py.*")
	if err != nil {
		return "", fmt.Errorf("wmillpy: %w", err)
	}
	_, werr := tmp.Write(module)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("wmillpy: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("wmillpy: install %s: %w", file, err)
	}
	written.Store(dir, struct{}{})
	return dir, nil
}
