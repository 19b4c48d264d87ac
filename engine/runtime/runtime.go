// Package runtime runs one script as a child process: it prepares a fresh
// directory, spawns the language's interpreter in its own process group
// with a scrubbed environment, streams the logs, and collects the result.
// It knows nothing of HTTP or SQL. What differs by language, from the
// names a script's language is written with to how it starts, is one
// entry per language in its table (languages.go).
package runtime

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/millrun/millrun/engine/deps/npm"
)

//go:embed wrappers
var wrappers embed.FS

// Spec is one run.
type Spec struct {
	Language string
	// Path is the script's path (f/folder/name); relative imports are
	// relative to it. "" for a script that has none.
	Path    string
	Content string
	// Order lists main's parameters in signature order (from the schema).
	Order []string
	Args  map[string]json.RawMessage
	// Env is added to the scrubbed environment (WM_JOB_ID and the like).
	Env []string
	// Lock is the version's dependency lock in Windmill's text format
	// (Python: "# py: X.Y" then name==version lines; TypeScript:
	// package.json, then "//bun.lock", then the lock text); "" when the
	// script needs no packages.
	Lock string
	// Modules are the workspace scripts this one imports, directly or
	// through each other (f/common/db, u/me/helpers), by path, each the
	// content of its current version: what relative imports resolve to.
	Modules map[string]string
}

// Outcome is what a run produced. Result is the script's value on success,
// or Windmill's {"error": {...}} object on failure.
type Outcome struct {
	Result  json.RawMessage
	Success bool
}

// Failure builds a failed outcome with Windmill's error shape.
func Failure(name, message string, extra map[string]any) Outcome {
	e := map[string]any{"name": name, "message": message}
	for k, v := range extra {
		e[k] = v
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return Outcome{Result: b}
}

// Runner runs scripts. It is safe for concurrent use.
type Runner struct {
	// Owner marks every process the runner starts (MILLRUN_OWNER), so
	// that the next millrun on the same data folder can find and kill
	// what this one left running if it dies; "" marks nothing.
	Owner string
	// TempRoot holds the jobs' fresh directories; "" is the system's.
	// The next start on the same data folder empties it.
	TempRoot string

	// MaxResult caps a result's size in bytes (nil or 0: no cap).
	MaxResult func() int64
	// Packages gives scripts the packages and workspace scripts they
	// import; nil runs them with the interpreter's own packages only.
	Packages *Packages
	// NoForkServer makes every cold Python and Bash job spawn its own
	// interpreter (tests compare the two paths; where fork is missing it
	// is the only one).
	NoForkServer bool

	interp Interpreters
	procs  *procs
	// baseEnv is computed once: the parent's PATH, HOME and LANG.
	baseEnv []string

	// NPM installs TypeScript's npm packages, one folder per lock
	// (NewNPMCache); nil installs none, and scripts get only the built-in
	// windmill-client.
	NPM *npm.Cache

	tsMu    sync.Mutex
	tsCache map[string]string // bundle inputs' hash → bundle (typescript.go)
	ts      tsState

	pyfork   pyForker
	bashfork bashForker
	// life takes Start and Stop one at a time, so that a Stop returns
	// only once the fork servers have stopped, whoever else is stopping.
	life sync.Mutex

	measure sync.Once
	starts  atomic.Value // map[string]float64, see StartTimes

	cleanups sync.WaitGroup
	// spare holds job directories made ahead, off the path a caller waits
	// on: making one costs a tenth of a small script's whole run.
	spare chan string
}

// New returns a Runner using the given interpreters.
func New(interp Interpreters) *Runner {
	keepInheritedFromJobs()
	env := []string{}
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "USERPROFILE"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("PATH"); !ok {
		env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return &Runner{interp: interp, baseEnv: env, tsCache: map[string]string{}, procs: newProcs(), spare: make(chan string, 2)}
}

// ownerEnv names the variable that marks a millrun's processes.
const ownerEnv = "MILLRUN_OWNER"

// outputGrace is how long a job's output may keep flowing after its main
// process ended: a background child holding stdout open must not keep the
// job (and its sync caller) waiting.
const outputGrace = 250 * time.Millisecond

// processEnv is the scrubbed environment every process starts from.
func (r *Runner) processEnv() []string {
	if r.Owner == "" {
		return r.baseEnv
	}
	return append(append([]string{}, r.baseEnv...), ownerEnv+"="+r.Owner)
}

// Interpreters returns the resolved interpreter paths.
func (r *Runner) Interpreters() Interpreters { return r.interp }

// Run executes spec, writing stdout and stderr to logs. It returns when the
// process and its process group are gone; what it spawned outside the
// group is killed as Run returns (Stop waits for that). A cancelled ctx kills the
// process group; the caller decides how to word that (timeout or cancel).
// Results are compact JSON whatever the language wrote, as Windmill's are.
func (r *Runner) Run(ctx context.Context, spec Spec, logs io.Writer) Outcome {
	out := r.run(ctx, spec, logs)
	if len(out.Result) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, out.Result) == nil {
			out.Result = buf.Bytes()
		}
	}
	return out
}

// Start lets a stopped runner start fork servers again. A new runner
// needs no Start: it runs jobs as soon as it is made, and starts its fork
// servers when jobs first need them.
func (r *Runner) Start(context.Context) error {
	r.life.Lock()
	defer r.life.Unlock()
	r.pyfork.reopen()
	r.bashfork.reopen()
	return nil
}

// Stop stops the fork servers, waits until what finished runs left
// behind is swept and their directories removed, and removes the
// directories made ahead. Jobs still run after it, each spawning its own
// interpreter, until Start.
func (r *Runner) Stop(context.Context) {
	r.life.Lock()
	defer r.life.Unlock()
	r.pyfork.stop()
	r.bashfork.stop()
	r.cleanups.Wait()
	r.procs.sweep(0) // what the servers' jobs left, the servers gone
	for {
		select {
		case dir := <-r.spare:
			os.RemoveAll(dir)
		default:
			return
		}
	}
}

func (r *Runner) jobDir() (string, error) {
	select {
	case dir := <-r.spare:
		if asMade(dir, ".millrun") && asMade(filepath.Join(dir, ".millrun")) {
			return dir, nil
		}
		go os.RemoveAll(dir)
	default:
	}
	return r.newJobDir()
}

// asMade reports whether a folder millrun made ahead still holds exactly
// what it made (names, sorted), and is still private and no symlink: a
// job running meanwhile, as the same user, could have left something in
// it for the job that takes it.
func asMade(dir string, names ...string) bool {
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		return false
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(names) {
		return false
	}
	for i, e := range entries {
		if e.Name() != names[i] {
			return false
		}
	}
	return true
}

// newJobDir makes a job's directory with its private .millrun folder
// (arguments and results the script is not meant to trip over).
func (r *Runner) newJobDir() (string, error) {
	dir, err := os.MkdirTemp(r.TempRoot, "millrun-job-*")
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(dir, ".millrun"), 0o700); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// makeSpare makes a job directory ahead for a later run, if none waits.
func (r *Runner) makeSpare() {
	if len(r.spare) == cap(r.spare) {
		return
	}
	dir, err := r.newJobDir()
	if err != nil {
		return // the run that needs one will say why
	}
	select {
	case r.spare <- dir:
	default:
		os.RemoveAll(dir)
	}
}

// cleanUp sweeps what a finished run left outside its process group and
// removes its directory, after the run's outcome is known: on this path
// the caller is waiting, and the sweep and the removal cost more than a
// small script's whole run. The job's process group is already dead; the
// sweep starts the moment the outcome is handed back.
func (r *Runner) cleanUp(dir string, pid int, live *liveJob) {
	r.procs.end(live)
	r.cleanups.Add(1)
	go func() {
		defer r.cleanups.Done()
		r.procs.sweep(pid)
		os.RemoveAll(dir)
		r.makeSpare()
	}()
}

func (r *Runner) run(ctx context.Context, spec Spec, logs io.Writer) (outcome Outcome) {
	// A run cancelled or timed out before its process starts starts
	// nothing: started, then killed, a script still runs its first lines
	// (a forked Bash job runs main.sh before its "p" reply is read).
	if ctx.Err() != nil {
		return Outcome{}
	}
	lang := LanguageNamed(spec.Language)
	if lang == nil || lang.start == nil {
		return Failure("UnsupportedLanguage", fmt.Sprintf("language %q is not supported", spec.Language), nil)
	}
	if lang.forked != nil {
		if o, ok := lang.forked(r, ctx, spec, logs); ok {
			return o
		}
	}
	dir, err := r.jobDir()
	if err != nil {
		return Failure("InternalError", "cannot create the job directory: "+err.Error(), nil)
	}
	key := newJobKey()
	live := r.procs.begin(key)
	started := false
	defer func() {
		if !started {
			r.procs.end(live)
			os.RemoveAll(dir)
		}
	}()
	out := filepath.Join(dir, ".millrun")
	args := spec.Args
	if args == nil {
		args = map[string]json.RawMessage{}
	}

	env := append(append([]string{}, r.processEnv()...), spec.Env...)
	env = append(env, "TMPDIR="+dir, key)
	if lang.outcome == nil {
		env = append(env, "MILLRUN_OUT="+out)
	}
	job := &coldJob{spec: spec, dir: dir, out: out, args: args, env: env, live: live, logs: logs}
	defer func() {
		if job.amend != nil {
			outcome = job.amend(outcome)
		}
	}()
	cmd, o, ran := lang.start(r, ctx, job)
	if cmd == nil {
		started = ran
		return o
	}
	cmd.Dir = dir
	cmd.Env = job.env
	tail := &tailWriter{max: 4096}
	w := io.MultiWriter(logs, tail)
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.Stdin = nil
	setSession(cmd)
	cmd.WaitDelay = outputGrace

	// Preparing (packages, a compile) takes time a cancel can come in.
	if ctx.Err() != nil {
		return Outcome{}
	}
	if err := r.procs.start(cmd); err != nil {
		return Failure("ExecutionErr", "cannot start the interpreter: "+err.Error(), nil)
	}
	started = true
	r.procs.add(live, cmd.Process.Pid)
	defer r.cleanUp(dir, cmd.Process.Pid, live)
	waitErr := make(chan error, 1)
	go func() { waitErr <- r.procs.wait(cmd) }()
	var runErr error
	select {
	case runErr = <-waitErr:
	case <-ctx.Done():
		killProcessGroup(cmd)
		runErr = <-waitErr
	}
	// Whatever the script left behind dies with the job: its process group
	// (background children) now, then what left the group (setsid, double
	// forks) in cleanUp; otherwise it would hold pipes, run on after a
	// timeout or a cancel, and outlive millrun.
	killProcessGroup(cmd)
	if errors.Is(runErr, exec.ErrWaitDelay) {
		runErr = nil // it exited cleanly; only a leftover child held its output
	}
	if ctx.Err() != nil {
		return Outcome{}
	}
	return r.outcome(lang, dir, out, runErr, tail.String())
}

// jobRoot is where job folders are made.
func (r *Runner) jobRoot() string {
	if r.TempRoot != "" {
		return r.TempRoot
	}
	return os.TempDir()
}

// copyOutput copies a job's output from out to w in the background. The
// returned wait, called once the job's process ended, returns at the
// output's end, or outputGrace later (closing out), as exec's WaitDelay
// does: a background child holding the output open does not keep the job
// waiting.
func copyOutput(w io.Writer, out io.ReadCloser) (wait func()) {
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(w, out)
		close(copied)
	}()
	return func() {
		select {
		case <-copied:
		case <-time.After(outputGrace):
			out.Close()
			<-copied
		}
	}
}

func wrapper(name string) string {
	b, err := wrappers.ReadFile("wrappers/" + name)
	if err != nil {
		panic("missing embedded wrapper " + name) // a build defect, not input
	}
	return string(b)
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// tailWriter keeps the last max bytes written, for error messages and
// Bash's "last output line" result.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var kept []string
	for i := len(lines) - 1; i >= 0 && len(kept) < n; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			kept = append([]string{lines[i]}, kept...)
		}
	}
	return strings.Join(kept, "\n")
}

// StartTimes are the interpreters' measured start times (milliseconds),
// taken once in the background when first asked for (Settings); nil until
// then.
func (r *Runner) StartTimes() map[string]float64 {
	r.measure.Do(func() {
		go func() { r.starts.Store(StartTimes(context.Background(), r.Interpreters())) }()
	})
	m, _ := r.starts.Load().(map[string]float64)
	return m
}
