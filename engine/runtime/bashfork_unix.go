//go:build linux || darwin

package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
// the server. It reads a job folder's name on fd 3 and answers on fd 4:
// "p <pid>" once the job has its folder and output and is about to run
// main.sh, then "x <status>" when it ended. The job's stdout and stderr
// are a named pipe in its private folder, opened by millrun before the
// request.
const bashServerScript = `set -m
while IFS= read -r d <&3; do
  ( cd -- "$1/$d" && exec 0</dev/null 1>.millrun/out 2>&1 && printf 'p %s\n' "$BASHPID" >&4 && exec 3<&- 4>&- && . ./.millrun/env.sh && ./main.sh "$@" )
  printf 'x %s\n' "$?" >&4
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

// bashServer is one bash that forks one job at a time.
type bashServer struct {
	cmd     *exec.Cmd
	dir     string // its folder, with the jobs' BASH_ENV file
	rc      string
	req     *os.File      // its fd 3
	rep     *os.File      // its fd 4
	lines   *bufio.Reader // over rep
	exited  chan struct{} // closed when the process has been waited for
	idleFor time.Time     // when it went back to the pool
	stop    sync.Once
}

func startBashServer(r *Runner, bash, root string) (*bashServer, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	defer reqR.Close()
	defer repW.Close()
	fail := func(err error) (*bashServer, error) {
		reqW.Close()
		repR.Close()
		return nil, err
	}
	dir, err := os.MkdirTemp(root, "millrun-bash-*")
	if err != nil {
		return fail(err)
	}
	rc := filepath.Join(dir, "rc.sh")
	if err := os.WriteFile(rc, []byte(bashRC), 0o600); err != nil {
		os.RemoveAll(dir)
		return fail(err)
	}
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", bashServerScript, "millrun-bash-server", root)
	cmd.Env = append(append([]string{}, r.processEnv()...), forkedMarker)
	cmd.ExtraFiles = []*os.File{reqR, repW}
	cmd.Dir = dir
	// Its own process group: killing a job's group never reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.procs.start(cmd); err != nil { // low priority: the jobs inherit it
		os.RemoveAll(dir)
		return fail(err)
	}
	s := &bashServer{cmd: cmd, dir: dir, rc: rc, req: reqW, rep: repR, lines: bufio.NewReader(repR), exited: make(chan struct{})}
	go func() {
		_ = r.procs.wait(cmd)
		close(s.exited)
	}()
	return s, nil
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
		_ = s.cmd.Process.Kill()
		s.req.Close()
		s.rep.Close()
		<-s.exited
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

// bashForker keeps idle Bash servers for the runner's bash, starts one in
// the background when none is free (the job meanwhile spawns, as it would
// without them), and stops those idle for long beyond the first.
type bashForker struct {
	mu       sync.Mutex
	idle     []*bashServer
	starting bool
	checked  bool // the first server answered its check job as bash should
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
	root := r.jobRoot()
	s, err := startBashServer(r, r.interp.Bash, root)
	p.mu.Lock()
	checked := p.checked
	p.mu.Unlock()
	if err == nil && !checked {
		if err = r.checkBashServer(s); err != nil {
			s.close()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starting = false
	if err != nil {
		p.failures++
		return
	}
	p.checked = true
	p.failures = 0
	if p.closed {
		go s.close()
		return
	}
	s.idleFor = time.Now()
	p.idle = append(p.idle, s)
}

// put gives a server back after a job.
func (p *bashForker) put(s *bashServer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !s.alive() {
		go s.close()
		return
	}
	s.idleFor = time.Now()
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
		if i < len(p.idle)-1 && time.Since(s.idleFor) >= bashIdleFor {
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

// jobRoot is where job folders are made.
func (r *Runner) jobRoot() string {
	if r.TempRoot != "" {
		return r.TempRoot
	}
	return os.TempDir()
}

// bashServer returns an idle Bash server, or nil to spawn the job.
func (r *Runner) bashServer() *bashServer {
	if r.NoForkServer || r.interp.Bash == "" {
		return nil
	}
	return r.bashfork.get(r)
}

// checkBashServer runs one job on a new server and checks that it ran as
// a fresh bash: its own $$, ./main.sh as $0, its arguments, its output.
// An old bash without $BASHPID, or job folders on a noexec file system,
// fail it, and cold Bash jobs keep spawning.
func (r *Runner) checkBashServer(s *bashServer) error {
	dir, err := r.newJobDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeBashJob(dir, `echo "$$ $0 $1 ${X_CHECK:-} ${MILLRUN_FORKED:-}"`, []string{"X_CHECK=1"}, "", []string{"a"}); err != nil {
		return err
	}
	var out strings.Builder
	pid, code, err := r.forkBash(context.Background(), s, dir, &out)
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("%d ./main.sh a 1 \n", pid); code != 0 || out.String() != want {
		return fmt.Errorf("bash cannot run jobs forked: exit %d, %q, want %q", code, out.String(), want)
	}
	return nil
}

// writeBashJob writes what a forked job reads: main.sh (executable, so
// that its execve fails with ENOEXEC rather than EACCES), the variables
// it exports and its arguments, and the named pipe of its output.
func writeBashJob(dir, content string, env []string, rc string, args []string) error {
	if strings.HasPrefix(content, "#!") {
		content = "# " + content[2:]
	}
	if err := os.WriteFile(filepath.Join(dir, "main.sh"), []byte(content), 0o700); err != nil {
		return fmt.Errorf("write main.sh: %w", err)
	}
	var b strings.Builder
	for _, kv := range env {
		b.WriteString("export " + shellQuote(kv) + "\n")
	}
	if rc != "" {
		b.WriteString("export " + shellQuote("BASH_ENV="+rc) + "\n")
	}
	// The server's own marker and what bash set for it are not the job's:
	// a spawned bash starts without them (SHLVL 1, no OLDPWD).
	b.WriteString("unset MILLRUN_FORKED OLDPWD SHLVL\n")
	b.WriteString(setPositional(args))
	out := filepath.Join(dir, ".millrun")
	if err := os.WriteFile(filepath.Join(out, "env.sh"), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write the job's environment: %w", err)
	}
	if err := syscall.Mkfifo(filepath.Join(out, "out"), 0o600); err != nil {
		return fmt.Errorf("make the job's output pipe: %w", err)
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// errNotForked: the server did not start the job (main.sh never ran and
// never will); it can be spawned instead.
var errNotForked = errors.New("the Bash server did not start the job")

// forkBash runs the job prepared in dir on s, copying its output to w. It
// returns the job's pid (its process group) and exit status. A cancelled
// ctx kills the job's group. errNotForked means the job can be spawned;
// any other error means it may have run and s is no longer usable.
func (r *Runner) forkBash(ctx context.Context, s *bashServer, dir string, w io.Writer) (int, int, error) {
	fifo := filepath.Join(dir, ".millrun", "out")
	out, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, 0, errNotForked
	}
	defer out.Close()
	if _, err := s.req.Write([]byte(filepath.Base(dir) + "\n")); err != nil {
		return 0, 0, s.fail(fifo, errNotForked)
	}
	kind, pid, err := s.report(time.Now().Add(5 * time.Second))
	switch {
	case err != nil:
		// No "p": main.sh has not run, and cannot once the server is
		// gone (the job's "p" would meet a closed pipe).
		return 0, 0, s.fail(fifo, errNotForked)
	case kind == 'x': // it could not enter its folder or open its output
		return 0, 0, errNotForked
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(w, out)
		close(copied)
	}()
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
	// Whatever the script left in its group dies with it, as for a
	// spawned job; what left the group is swept afterwards.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	// As exec's WaitDelay: a background child holding the output open
	// does not keep the job waiting.
	select {
	case <-copied:
	case <-time.After(outputGrace):
		out.Close()
		<-copied
	}
	if e.err != nil {
		s.close()
		return pid, 0, errors.New("the Bash server stopped while the job ran")
	}
	return pid, e.code, nil
}

// fail stops a server that cannot be trusted with another job, then lets
// a job that may still be opening its output through (it finds the
// server's pipe closed and ends before main.sh).
func (s *bashServer) fail(fifo string, err error) error {
	s.close()
	if f, e := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); e == nil {
		f.Close()
	}
	return err
}

// runBashForked runs a Bash job on a server, env being what the job
// exports beyond the runner's own environment. ok is false when the
// server did not start it (the caller spawns it instead).
func (r *Runner) runBashForked(ctx context.Context, s *bashServer, spec Spec, dir string, env, args []string, logs io.Writer, marker string) (Outcome, bool) {
	if err := writeBashJob(dir, spec.Content, env, s.rc, args); err != nil {
		r.bashfork.put(s)
		return Outcome{}, false
	}
	tail := &tailWriter{max: 4096}
	pid, code, err := r.forkBash(ctx, s, dir, io.MultiWriter(logs, tail))
	if errors.Is(err, errNotForked) {
		r.bashfork.put(s)
		return Outcome{}, false
	}
	defer r.cleanUp(dir, pid, marker)
	if err == nil {
		r.bashfork.put(s)
	}
	switch {
	case ctx.Err() != nil:
		return Outcome{}, true
	case err != nil:
		return Failure("ExecutionErr", err.Error()+"; it was not run again, retry it", nil), true
	case code != 0:
		return r.outcome(spec, dir, "", &forkExit{code: code}, tail.String()), true
	}
	return r.outcome(spec, dir, "", nil, tail.String()), true
}
