//go:build linux || darwin

package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cold Bash jobs are forked from a bash started ahead, not spawned: most
// of a trivial Bash job's cost is the exec (the kernel loading bash and
// its libraries, bash initialising), and a fork of a running bash skips
// all of it (1.5 ms of CPU per job against 0.5 ms on the development VM).
//
// The job still gets a fresh shell, not a subshell of the server: the
// server forks a child that runs ./main.sh, a file without a #! line, so
// execve fails with ENOEXEC and bash runs the file itself in that child
// the way POSIX says: it throws the server's shell state away and starts
// over from the exported environment, as a new bash would. $$ is the
// job's own pid, nothing the server defined is visible, options are the
// defaults, and BASH_ENV runs first (it sets -e and pipefail, as the
// spawned command line does). Exec'd children see only what a spawned
// job's children see. What differs from a spawned run, on purpose: the
// script's parent is the server, not millrun; a first line starting with
// #! is a comment to bash either way, and is written with the ! replaced
// by a space so the kernel does not run another interpreter.
//
// A server runs one job at a time (a pool holds as many as jobs run at
// once), under job control (set -m), so every job is its own process
// group, as a spawned one is: killed as one on timeout and cancel, without
// the server. Each server has its own job folder, emptied between jobs
// (making and removing a folder per job cost more CPU than the fork saves
// on some file systems). The server forks the next job's process ahead,
// which waits for a line on fd 3; the server answers on fd 4: "p <pid>"
// once the job is in its folder with its output open and about to run
// main.sh, then "x <status>" when it ended. The job's stdout and stderr
// are a named pipe in the folder's private .millrun, opened by millrun
// before the request.
const bashServerScript = `set -m
while :; do
  ( IFS= read -r _ <&3 && cd -- "$1" && exec 0</dev/null 1>.millrun/out 2>&1 && printf 'p %s\n' "$BASHPID" >&4 && exec 3<&- 4>&- && . ./.millrun/env.sh && ./main.sh "$@" )
  printf 'x %s\n' "$?" >&4 || exit
done
`

// bashRC runs first in every forked job (its BASH_ENV): what a spawned
// job gets from its command line, bash -e -o pipefail.
const bashRC = "set -e -o pipefail\nunset BASH_ENV\n"

// forkedMarker is in every Bash server's starting environment, so in the
// /proc environ of everything forked from it without an exec: the sweep
// kills what carries it once it left its job's group and was abandoned
// (an exec'd process carries WM_JOB_ID instead). Jobs do not export it.
const forkedMarker = "MILLRUN_FORKED=bash"

// bashServer is one bash that forks one job at a time, in its job folder.
type bashServer struct {
	cmd    *exec.Cmd
	dir    string // its own folder: rc.sh, and job/
	jobDir string
	dirID  os.FileInfo // the job folder as made, to notice it replaced
	// main.sh is written only when the script changes, and env.sh stays
	// open and is written in place: creating or truncating a file per job
	// is a file system transaction on ext4. (main.sh cannot stay open for
	// writing: Linux refuses to run a file open for writing.)
	env     *os.File
	script  string      // what main.sh holds, "" when unknown
	mainID  os.FileInfo // main.sh as last written
	envSize int
	req     *os.File      // its fd 3
	rep     *os.File      // its fd 4
	lines   *bufio.Reader // over rep
	exited  chan struct{} // closed when the process has been waited for
	idleAt  time.Time     // when it went back to the pool
	stop    sync.Once
}

func startBashServer(r *Runner, bash, root string) (*bashServer, error) {
	dir, err := os.MkdirTemp(root, "millrun-bash-*")
	if err != nil {
		return nil, err
	}
	s := &bashServer{dir: dir, jobDir: filepath.Join(dir, "job"), exited: make(chan struct{})}
	if err := s.makeFolders(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	defer reqR.Close()
	defer repW.Close()
	s.cmd = exec.Command(bash, "--norc", "--noprofile", "-c", bashServerScript, "millrun-bash-server", s.jobDir)
	s.cmd.Env = append(append([]string{}, r.processEnv()...), forkedMarker)
	s.cmd.ExtraFiles = []*os.File{reqR, repW}
	s.cmd.Dir = dir
	// Its own process group: killing a job's group never reaches it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := children.start(s.cmd); err != nil { // low priority: the jobs inherit it
		os.RemoveAll(dir)
		reqW.Close()
		repR.Close()
		return nil, err
	}
	s.req, s.rep, s.lines = reqW, repR, bufio.NewReader(repR)
	go func() {
		_ = children.wait(s.cmd)
		close(s.exited)
	}()
	return s, nil
}

// makeFolders makes the BASH_ENV file and the job folder, with its
// private .millrun and the named pipe of the job's output.
func (s *bashServer) makeFolders() error {
	if err := os.WriteFile(filepath.Join(s.dir, "rc.sh"), []byte(bashRC), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.jobDir, ".millrun"), 0o700); err != nil {
		return err
	}
	if err := syscall.Mkfifo(filepath.Join(s.jobDir, ".millrun", "out"), 0o600); err != nil {
		return err
	}
	id, err := os.Lstat(s.jobDir)
	s.dirID = id
	return err
}

// openFiles opens env.sh afresh and forgets main.sh: a job may have
// replaced or changed them.
func (s *bashServer) openFiles() error {
	s.closeFiles()
	s.script, s.envSize = "", 0
	var err error
	s.env, err = os.OpenFile(filepath.Join(s.jobDir, ".millrun", "env.sh"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	return err
}

func (s *bashServer) closeFiles() {
	if s.env != nil {
		s.env.Close()
		s.env = nil
	}
}

func (s *bashServer) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *bashServer) close() {
	s.stop.Do(func() {
		// Its job's process, forked ahead or under way, is in a group of
		// its own: killing the server does not reach it.
		killChildren(s.cmd.Process.Pid)
		_ = s.cmd.Process.Kill()
		s.req.Close()
		s.rep.Close()
		<-s.exited
		s.closeFiles()
		os.RemoveAll(s.dir)
	})
}

// report reads the server's next line, "p <n>" or "x <n>".
func (s *bashServer) report(deadline time.Time) (byte, int, error) {
	_ = s.rep.SetReadDeadline(deadline)
	line, err := s.lines.ReadString('\n')
	if err != nil {
		return 0, 0, err
	}
	kind, num, ok := strings.Cut(strings.TrimSpace(line), " ")
	n, err := strconv.Atoi(num)
	if !ok || len(kind) != 1 || (kind[0] != 'p' && kind[0] != 'x') || err != nil {
		return 0, 0, fmt.Errorf("unexpected answer %q", line)
	}
	return kind[0], n, nil
}

// prepare writes what the next job reads: main.sh (executable, so that
// its execve fails with ENOEXEC rather than EACCES), unless it holds the
// script already, and env.sh, which exports the job's variables and sets
// its arguments. A first line starting with #! gets a space for its ! (bash
// reads it as a comment either way; the kernel would run the named
// interpreter instead).
func (s *bashServer) prepare(content string, env, args []string) error {
	if s.env == nil {
		if err := s.openFiles(); err != nil {
			return err
		}
	}
	if strings.HasPrefix(content, "#!") {
		content = "# " + content[2:]
	}
	if content != s.script {
		s.script = ""
		path := filepath.Join(s.jobDir, "main.sh")
		if err := os.WriteFile(path, []byte(content), 0o700); err != nil {
			return fmt.Errorf("write main.sh: %w", err)
		}
		id, err := os.Lstat(path)
		if err != nil {
			return err
		}
		s.script, s.mainID = content, id
	}
	var b strings.Builder
	for _, kv := range env {
		b.WriteString("export " + shellQuote(kv) + "\n")
	}
	b.WriteString("export " + shellQuote("BASH_ENV="+filepath.Join(s.dir, "rc.sh")) + "\n")
	// The server's own marker and what bash set for it are not the job's:
	// a spawned bash starts without them (SHLVL 1, no OLDPWD).
	b.WriteString("unset MILLRUN_FORKED OLDPWD SHLVL\n")
	b.WriteString(setPositional(args))
	// Shorter than the last one: blank lines fill the rest, which saves
	// truncating the file.
	for b.Len() < s.envSize {
		b.WriteString(strings.Repeat("\n", min(s.envSize-b.Len(), 256)))
	}
	if _, err := s.env.WriteAt([]byte(b.String()), 0); err != nil {
		return fmt.Errorf("write the job's environment: %w", err)
	}
	s.envSize = b.Len()
	return nil
}

// clean empties the job folder after a job (its process group dead and
// what left it swept) for the next one: what the job made goes; what
// millrun made stays if it is still what millrun made. It reports false
// when the folder cannot be trusted any more (the server is then closed).
func (s *bashServer) clean() bool {
	if id, err := os.Lstat(s.jobDir); err != nil || !os.SameFile(id, s.dirID) || id.Mode() != s.dirID.Mode() {
		return false // moved, replaced or opened up by the job
	}
	keep := map[string]fs.FileMode{"main.sh": 0, ".millrun": fs.ModeDir}
	if !emptyExcept(s.jobDir, keep) {
		return false
	}
	private := filepath.Join(s.jobDir, ".millrun")
	if id, err := os.Lstat(private); err != nil || !id.IsDir() || id.Mode().Perm() != 0o700 {
		return false
	}
	if !emptyExcept(private, map[string]fs.FileMode{"env.sh": 0, "out": fs.ModeNamedPipe}) {
		return false
	}
	if _, err := os.Lstat(filepath.Join(private, "out")); errors.Is(err, fs.ErrNotExist) {
		if syscall.Mkfifo(filepath.Join(private, "out"), 0o600) != nil {
			return false
		}
	}
	// main.sh and env.sh must still be the files millrun holds open.
	main, err1 := os.Lstat(filepath.Join(s.jobDir, "main.sh"))
	env, err2 := os.Lstat(filepath.Join(private, "env.sh"))
	if s.env == nil || err1 != nil || err2 != nil {
		return s.openFiles() == nil
	}
	if held, err := s.env.Stat(); err != nil || !os.SameFile(held, env) {
		return s.openFiles() == nil
	}
	if !os.SameFile(main, s.mainID) || main.Size() != s.mainID.Size() || !main.ModTime().Equal(s.mainID.ModTime()) || main.Mode() != s.mainID.Mode() {
		// Changed by the job: made afresh next time (a rewrite would keep
		// a mode the job set).
		return os.Remove(filepath.Join(s.jobDir, "main.sh")) == nil && s.openFiles() == nil
	}
	return true
}

// emptyExcept removes every entry of dir but those named in keep with the
// type keep gives them (a kept name of another type is removed too).
func emptyExcept(dir string, keep map[string]fs.FileMode) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if t, ok := keep[e.Name()]; ok && e.Type() == t {
			continue
		}
		if os.RemoveAll(filepath.Join(dir, e.Name())) != nil {
			return false
		}
	}
	return true
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// bashForker keeps idle Bash servers for the runner's bash, starts one in
// the background when none is free (the job meanwhile spawns, as it would
// without them), and stops those idle for long beyond the first.
type bashForker struct {
	mu       sync.Mutex
	idle     []*bashServer
	starting bool
	checked  bool // a server answered its check job as bash should
	failures int
	closed   bool
	reaping  bool
}

// bashIdleFor is how long a Bash server beyond the first may stay idle:
// the pool grows to the number of Bash jobs that ran at once and shrinks
// back when the burst is over.
const bashIdleFor = time.Minute

// get returns an idle server, or nil: the caller spawns the job.
func (p *bashForker) get(r *Runner) *bashServer {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		s := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if s.alive() {
			return s
		}
		go s.close()
	}
	if p.starting || p.closed || p.failures >= 3 {
		return nil
	}
	p.starting = true
	go p.start(r)
	return nil
}

func (p *bashForker) start(r *Runner) {
	s, err := startBashServer(r, r.interp.Bash, r.jobRoot())
	p.mu.Lock()
	checked := p.checked
	p.mu.Unlock()
	if err == nil && !checked {
		if err = r.checkBashServer(s); err != nil {
			s.close()
		}
	}
	p.mu.Lock()
	p.starting = false
	if err != nil {
		p.failures++
		p.mu.Unlock()
		return
	}
	p.checked, p.failures = true, 0
	p.mu.Unlock()
	p.put(s)
}

// put gives a server back after a job.
func (p *bashForker) put(s *bashServer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !s.alive() {
		go s.close()
		return
	}
	s.idleAt = time.Now()
	p.idle = append(p.idle, s)
	if len(p.idle) > 1 && !p.reaping {
		p.reaping = true
		time.AfterFunc(bashIdleFor, p.reap)
	}
}

// reap stops the servers idle for bashIdleFor, keeping one.
func (p *bashForker) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reaping = false
	kept := p.idle[:0]
	for i, s := range p.idle { // oldest first
		if i < len(p.idle)-1 && time.Since(s.idleAt) >= bashIdleFor {
			go s.close()
			continue
		}
		kept = append(kept, s)
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	if len(p.idle) > 1 {
		p.reaping = true
		time.AfterFunc(bashIdleFor, p.reap)
	}
}

func (p *bashForker) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, s := range idle {
		s.close()
	}
}

// bashServer returns an idle Bash server, or nil to spawn the job.
func (r *Runner) bashServer() *bashServer {
	if r.NoForkServer || r.interp.Bash == "" {
		return nil
	}
	return r.bashfork.get(r)
}

// checkBashServer runs one job on a new server and checks that it ran as
// a fresh bash: its own $$, ./main.sh as $0, its arguments and variables,
// not the server's. An old bash without $BASHPID, or job folders on a
// noexec file system, fail it, and cold Bash jobs keep spawning.
func (r *Runner) checkBashServer(s *bashServer) error {
	if err := s.prepare(`echo "$$ $0 $1 ${X_CHECK:-} ${MILLRUN_FORKED:-}"`, []string{"X_CHECK=1"}, []string{"a"}); err != nil {
		return err
	}
	var out strings.Builder
	pid, code, err := r.forkBash(context.Background(), s, &out)
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("%d ./main.sh a 1 \n", pid); code != 0 || out.String() != want {
		return fmt.Errorf("bash cannot run jobs forked: exit %d, %q, want %q", code, out.String(), want)
	}
	if !s.clean() {
		return errors.New("the Bash server's job folder could not be emptied")
	}
	return nil
}

// errNotForked: the server did not start the job (main.sh never ran and
// never will); it can be spawned instead. errMaybeForked: it may have, so
// it must not be spawned.
var (
	errNotForked   = errors.New("the Bash server did not start the job")
	errMaybeForked = errors.New("the Bash server did not answer as expected while starting the job")
)

// forkBash runs the job prepared in s's folder, copying its output to w.
// It returns the job's pid (its process group) and exit status. A
// cancelled ctx kills the job's group. errNotForked means the job can be
// spawned; any other error means it may have run, and s is closed.
func (r *Runner) forkBash(ctx context.Context, s *bashServer, w io.Writer) (int, int, error) {
	fifo := filepath.Join(s.jobDir, ".millrun", "out")
	out, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, 0, errNotForked
	}
	defer out.Close()
	if _, err := s.req.Write([]byte("\n")); err != nil {
		return 0, 0, s.fail(fifo, errNotForked)
	}
	kind, pid, err := s.report(time.Now().Add(5 * time.Second))
	switch {
	case errors.Is(err, io.EOF):
		// Nothing holds the pipe, and the job's process writes "p" before
		// it lets go of it: main.sh has not run.
		return 0, 0, s.fail(fifo, errNotForked)
	case err != nil || kind == 'x':
		// No answer in time, or an answer out of turn (the job's process
		// could not enter its folder, or an earlier job wrote into the
		// server's pipe): it may be under way, so it is not spawned too.
		return 0, 0, s.fail(fifo, errMaybeForked)
	}
	outputEnded := copyOutput(w, out)
	type exit struct {
		code int
		err  error
	}
	ended := make(chan exit, 1)
	go func() {
		kind, code, err := s.report(time.Time{})
		if err == nil && kind != 'x' {
			err = fmt.Errorf("unexpected answer %c", kind)
		}
		ended <- exit{code, err}
	}()
	var e exit
	select {
	case e = <-ended:
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		e = <-ended
	}
	// The server answers once it has reaped the job: a job still there
	// was stopped, or wrote an answer into the server's pipe itself; the
	// server's answers can no longer be matched to its jobs.
	stray := e.err == nil && syscall.Kill(pid, 0) == nil
	// Whatever the script left in its group dies with it, as for a
	// spawned job; what left the group is swept afterwards.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	outputEnded()
	if e.err != nil {
		s.close()
		return pid, 0, errors.New("the Bash server stopped while the job ran")
	}
	if stray {
		s.close()
	}
	return pid, e.code, nil
}

// fail closes a server that cannot be trusted with another job, then lets
// a job that may still be opening its output through (it finds the
// server's pipe closed and ends before main.sh).
func (s *bashServer) fail(fifo string, err error) error {
	s.close()
	if f, e := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); e == nil {
		f.Close()
	}
	return err
}

// runBashForked runs a Bash job on s. ok is false when s did not start it
// (the caller spawns it instead).
func (r *Runner) runBashForked(ctx context.Context, s *bashServer, spec Spec, logs io.Writer) (Outcome, bool) {
	env := append(append([]string{}, spec.Env...), "TMPDIR="+s.jobDir)
	if err := s.prepare(spec.Content, env, bashArgs(spec.Order, spec.Args)); err != nil {
		s.close()
		return Outcome{}, false
	}
	tail := &tailWriter{max: 4096}
	pid, code, err := r.forkBash(ctx, s, io.MultiWriter(logs, tail))
	if errors.Is(err, errNotForked) {
		r.bashfork.put(s)
		return Outcome{}, false
	}
	var out Outcome
	switch {
	case ctx.Err() != nil:
	case err != nil:
		out = Failure("ExecutionErr", err.Error()+"; it was not run again, retry it", nil)
	case code != 0:
		out = r.bashOutcome(s.jobDir, &forkExit{code: code}, tail.String())
	default:
		out = r.bashOutcome(s.jobDir, nil, tail.String())
	}
	// As for a spawned job, the sweep and the cleaning happen once the
	// caller has its answer; the server is free again after them.
	r.cleanups.Add(1)
	go func() {
		defer r.cleanups.Done()
		if pid != 0 {
			r.procs.sweep(pid, jobMarker(spec.Env))
		}
		if err == nil && s.alive() && s.clean() {
			r.bashfork.put(s)
		} else {
			s.close()
		}
	}()
	return out, true
}
