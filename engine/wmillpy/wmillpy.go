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
//   - Module() is the source of wmill/__init__.py. The runtime writes it
//     into the job's own fresh folder, only for a job that names wmill and
//     whose lock does not install Windmill's, and puts that folder after
//     the job's locked packages on its path. Never a folder shared by
//     jobs: the path's folders come before the standard library, and one
//     job's write there (a planted traceback.py, an edited module) would
//     reach every later job.
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
)

//go:embed wmill/__init__.py
var module []byte

// Module returns the module's source (wmill/__init__.py).
func Module() []byte { return bytes.Clone(module) }

// Version is the module's content hash (the first 16 hex digits of its
// SHA-256).
func Version() string {
	sum := sha256.Sum256(module)
	return hex.EncodeToString(sum[:8])
}
