//go:build linux || darwin

package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
// job's own pid, nothing the server defined is visible, and BASH_ENV runs
// first: the job's own job.sh, which exports its variables, sets the
// options a spawned job gets on its command line and its arguments (set
// --, so no argument goes through execve and its size limit), and unsets
// BASH_ENV. Exec'd children see only what a spawned job's children see.
// What differs from a spawned run, on purpose: the script's parent is the
// server, not millrun; a first line starting with #! is a comment to bash
// either way, and is written with the ! replaced by a space so the kernel
// does not run another interpreter.
//
// Nothing of one job reaches the next, by construction: each job has a
// folder of its own, made ahead and removed after its answer, holding
// only its main.sh; its job.sh is a file in memory made for it alone
// (memfd), and its output a pipe of its own, both millrun's descriptors,
// which the job opens as /proc/<millrun>/fd/<n> (a folder per job costs
// file system transactions, 0.1 ms and more each on the development VM's
// ext4, so the folder holds no more than it must). The server has no
// files, and is told a job's descriptors and folder through its control
// channel. A server runs one job at a time (a pool holds as many as jobs
// run at once), in a session of its own and under job control (set -m),
// so every job is its own process group, as a spawned one is: killed as
// one on timeout and cancel, without the server. The server forks the
// next job's process ahead, which waits for a line on fd 3; the server
// answers on fd 4: "p <pid> <folder>" once the job is in its folder with
// its output open and about to run main.sh, then "x <status>" when it
// ended. A folder is named by its base name in its server's parent
// folder ($2): bash reads a line from a socket or a pipe a byte per
// system call, 0.2 µs more each on a socket on the development VM, so the
// line is kept short.
//
// Fds 3 and 4 are one end of a socketpair, not pipes: any process of the
// user can reopen a pipe through /proc/<pid>/fd/<n>, and the job's parent
// is the server, so a job that wrote a line into /proc/$PPID/fd/3 had the
// server run a process of its choosing after it ended, as the server's
// own child, where no sweep looks and no timeout applies (and the next
// job on that server failed). A socket cannot be opened through /proc.
// Its other descriptors are /dev/null.
const bashServerScript = `set -m
unset OLDPWD SHLVL
while :; do
  ( IFS=' ' read -r o e d <&3 && cd -- "$2/$d" && exec 0</dev/null 1>"/proc/$1/fd/$o" 2>&1 && printf 'p %s %s\n' "$BASHPID" "$d" >&4 && exec 3<&- 4>&- && BASH_ENV="/proc/$1/fd/$e" ./main.sh )
  printf 'x %s\n' "$?" >&4 || exit
done
`

// bashServer is one bash that forks one job at a time.
type bashServer struct {
	cmd *exec.Cmd
	// parent holds its jobs' folders, one at a time: concurrent mkdirs in
	// one folder contend for its lock (on the development VM's ext4 that
	// cost more CPU than the mkdirs themselves); it holds nothing of the
	// server's.
	parent string
	next   string        // the next job's folder, made ahead
	ctl    *net.UnixConn // the other end of its fds 3 and 4
	lines  *bufio.Reader // over ctl
	exited chan struct{} // closed when the process has been waited for
	idleAt time.Time     // when it went back to the pool
	// retire: its answers can no longer be matched to its jobs; it is
	// closed once its job's outcome is read (closing removes the folders).
	retire bool
	stop   sync.Once
}

func startBashServer(r *Runner, bash string) (*bashServer, error) {
	parent, err := os.MkdirTemp(r.TempRoot, "millrun-bash-*")
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(parent); err == nil {
		parent = abs // the server, in /, finds its jobs' folders there
	}
	next, err := newBashJobDir(parent)
	if err != nil {
		os.RemoveAll(parent)
		return nil, err
	}
	s := &bashServer{parent: parent, next: next, exited: make(chan struct{})}
	ctl, theirs, err := socketPair("bash-server")
	if err != nil {
		os.RemoveAll(parent)
		return nil, err
	}
	defer theirs.Close()
	s.cmd = exec.Command(bash, "--norc", "--noprofile", "-c", bashServerScript, "millrun-bash-server", strconv.Itoa(os.Getpid()), parent)
	s.cmd.Env = r.processEnv()
	s.cmd.ExtraFiles = []*os.File{theirs, theirs} // requests in on 3, answers out on 4
	s.cmd.Dir = "/"                               // in no job's folder
	// A session of its own: its jobs can join no group of millrun's, and
	// what they leave is outside millrun's session, where sweeps look.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := children.start(s.cmd); err != nil { // low priority: the jobs inherit it
		os.RemoveAll(parent)
		ctl.Close()
		return nil, err
	}
	s.ctl, s.lines = ctl, bufio.NewReader(ctl)
	go func() {
		_ = children.wait(s.cmd)
		close(s.exited)
	}()
	return s, nil
}

// newBashJobDir makes a forked Bash job's folder with its main.sh, empty
// (written on the reply path: a write costs a few microseconds, a create
// a file system transaction).
func newBashJobDir(parent string) (string, error) {
	dir, err := os.MkdirTemp(parent, "job-*")
	if err != nil {
		return "", err
	}
	// Executable, so that its execve fails with ENOEXEC, not EACCES.
	f, err := os.OpenFile(filepath.Join(dir, "main.sh"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, f.Close()
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
		s.ctl.Close()
		<-s.exited
		os.RemoveAll(s.parent)
	})
}

// report reads the server's next line, "p <pid> <folder>" or "x <n>".
func (s *bashServer) report(deadline time.Time) (kind byte, n int, dir string, err error) {
	_ = s.ctl.SetReadDeadline(deadline)
	line, err := s.lines.ReadString('\n')
	if err != nil {
		return 0, 0, "", err
	}
	k, rest, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	num, dir, _ := strings.Cut(rest, " ")
	n, err = strconv.Atoi(num)
	if !ok || len(k) != 1 || (k[0] != 'p' && k[0] != 'x') || err != nil {
		return 0, 0, "", fmt.Errorf("unexpected answer %q", line)
	}
	return k[0], n, dir, nil
}

// prepareBashJob writes what a forked job reads: main.sh, into its fresh
// folder, and its job.sh, its BASH_ENV, into a new file in memory. A first
// line starting with #! gets a space for its ! (bash reads it as a comment
// either way; the kernel would run the named interpreter instead).
func prepareBashJob(dir, content string, env, args []string) (*os.File, error) {
	if strings.HasPrefix(content, "#!") {
		content = "# " + content[2:]
	}
	if err := writeEmpty(filepath.Join(dir, "main.sh"), content); err != nil {
		return nil, fmt.Errorf("write main.sh: %w", err)
	}
	var b strings.Builder
	for _, kv := range env {
		b.WriteString("export " + shellQuote(kv) + "\n")
	}
	b.WriteString("set " + strings.Join(bashOptions, " ") + "\n")
	b.WriteString(setPositional(args))
	b.WriteString("unset BASH_ENV\n")
	f, err := memFile("job.sh", b.String())
	if err != nil {
		return nil, fmt.Errorf("write the job's environment: %w", err)
	}
	return f, nil
}

// writeEmpty writes content into a file millrun made empty.
func writeEmpty(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err != nil || st.Size() != 0 || !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("%s is not as millrun made it", path)
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
	// busy counts servers being started or stopped in the background:
	// stop waits for them, so nothing of a server (its folder, its
	// process) is left when the runner has stopped.
	busy   int
	idleCh *sync.Cond
}

// background runs f off the caller's goroutine, counted in busy; the
// caller holds p.mu.
func (p *bashForker) background(f func()) {
	if p.idleCh == nil {
		p.idleCh = sync.NewCond(&p.mu)
	}
	p.busy++
	go func() {
		f()
		p.mu.Lock()
		p.busy--
		p.idleCh.Broadcast()
		p.mu.Unlock()
	}()
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
		p.background(s.close)
	}
	if p.starting || p.closed || p.failures >= 3 {
		return nil
	}
	p.starting = true
	p.background(func() { p.start(r) })
	return nil
}

func (p *bashForker) start(r *Runner) {
	s, err := startBashServer(r, r.interp.Bash)
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
		p.background(s.close)
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
			p.background(s.close)
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

// reopen lets a stopped forker start servers again.
func (p *bashForker) reopen() {
	p.mu.Lock()
	p.closed = false
	p.mu.Unlock()
}

func (p *bashForker) stop() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, s := range idle {
		s.close()
	}
	// A server still starting is put back, and closed, when it is ready.
	p.mu.Lock()
	for p.busy > 0 {
		p.idleCh.Wait()
	}
	p.mu.Unlock()
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
	dir := s.next
	s.next = ""
	defer os.RemoveAll(dir)
	env, err := prepareBashJob(dir, `echo "$$ $0 $1 ${X_CHECK:-}"`, []string{"X_CHECK=1"}, []string{"a"})
	if err != nil {
		return err
	}
	defer env.Close()
	var out strings.Builder
	pid, code, err := r.forkBash(context.Background(), s, dir, env, &out)
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("%d ./main.sh a 1\n", pid); code != 0 || out.String() != want {
		return fmt.Errorf("bash cannot run jobs forked: exit %d, %q, want %q", code, out.String(), want)
	}
	s.next, err = newBashJobDir(s.parent)
	return err
}

// errNotForked: the server did not start the job (main.sh never ran and
// never will); it can be spawned instead. errMaybeForked: it may have, so
// it must not be spawned.
var (
	errNotForked   = errors.New("the Bash server did not start the job")
	errMaybeForked = errors.New("the Bash server did not answer as expected while starting the job")
)

// forkBash runs the job prepared in dir (a folder of s.parent), with env
// its job.sh, on s, copying its output to w. It returns the job's pid
// (its process group) and exit status. A cancelled ctx kills the job's
// group. Any error closes s; errNotForked means the job can be spawned,
// any other that it may have run.
func (r *Runner) forkBash(ctx context.Context, s *bashServer, dir string, env *os.File, w io.Writer) (int, int, error) {
	out, in, err := os.Pipe()
	if err != nil {
		s.close()
		return 0, 0, errNotForked
	}
	defer out.Close()
	// The job opens its end (through /proc) before it answers "p".
	_, err = fmt.Fprintf(s.ctl, "%d %d %s\n", in.Fd(), env.Fd(), filepath.Base(dir))
	kind, pid, got, rerr := s.report(time.Now().Add(5 * time.Second))
	in.Close()
	switch {
	case err != nil || errors.Is(rerr, io.EOF):
		// Nothing holds the server's end, and the job's process writes
		// "p" before it lets go of it: main.sh has not run.
		s.close()
		return 0, 0, errNotForked
	case rerr != nil || kind == 'x' || got != filepath.Base(dir):
		// No answer in time, or an answer out of turn (the job's process
		// could not enter its folder or open its output): it may be under
		// way, so it is not spawned too.
		s.close()
		return 0, 0, errMaybeForked
	}
	outputEnded := copyOutput(w, out)
	type exit struct {
		code int
		err  error
	}
	ended := make(chan exit, 1)
	go func() {
		kind, code, _, err := s.report(time.Time{})
		if err == nil && kind != 'x' {
			err = fmt.Errorf("unexpected answer %c", kind)
		}
		ended <- exit{code, err}
	}()
	e := awaitJob(ctx, pid, ended, s.close)
	// The server answers once it has reaped the job: a job still there
	// was stopped; the server's answers can no longer be matched to its
	// jobs.
	stray := e.err == nil && syscall.Kill(pid, 0) == nil
	// Whatever the script left in its group dies with it, as for a
	// spawned job; what left the group is swept afterwards.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	outputEnded()
	if e.err != nil {
		s.close()
		return pid, 0, errors.New("the Bash server stopped, or stopped answering, while the job ran")
	}
	s.retire = stray
	return pid, e.code, nil
}

// runBashForked runs a Bash job on s, in the folder s made ahead. ok is
// false when s did not start it (the caller spawns it instead).
func (r *Runner) runBashForked(ctx context.Context, s *bashServer, spec Spec, logs io.Writer) (Outcome, bool) {
	if ctx.Err() != nil {
		r.bashfork.put(s) // asked nothing: as it was, its next folder unused
		return Outcome{}, true
	}
	dir := s.next
	s.next = ""
	if !asMade(dir, "main.sh") {
		os.RemoveAll(dir)
		s.close()
		return Outcome{}, false
	}
	key := newJobKey()
	env := append(append([]string{}, spec.Env...), "TMPDIR="+dir, key)
	jobEnv, err := prepareBashJob(dir, spec.Content, env, bashArgs(spec.Order, spec.Args))
	if err != nil {
		os.RemoveAll(dir)
		s.close()
		return Outcome{}, false
	}
	// Everything the job starts is in its server's session, unless it
	// makes one of its own.
	live := r.procs.begin(key, s.cmd.Process.Pid)
	tail := &tailWriter{max: 4096}
	pid, code, err := r.forkBash(ctx, s, dir, jobEnv, io.MultiWriter(logs, tail))
	jobEnv.Close()
	if errors.Is(err, errNotForked) {
		r.procs.end(live)
		os.RemoveAll(dir)
		return Outcome{}, false
	}
	var out Outcome
	switch {
	case ctx.Err() != nil:
	case err != nil:
		out = Failure("ExecutionErr", err.Error()+"; it was not run again, retry it", nil)
	case code != 0:
		out = r.bashOutcome(dir, &forkExit{code: code}, tail.String())
	default:
		out = r.bashOutcome(dir, nil, tail.String())
	}
	r.procs.end(live)
	// As for a spawned job, the sweep and the folder's removal happen once
	// the caller has its answer; the server is free again after them,
	// with the next job's folder made.
	r.cleanups.Add(1)
	go func() {
		defer r.cleanups.Done()
		r.procs.sweep(pid)
		os.RemoveAll(dir)
		if err == nil && !s.retire && s.alive() {
			if next, e := newBashJobDir(s.parent); e == nil {
				s.next = next
				r.bashfork.put(s)
				return
			}
		}
		s.close()
	}()
	return out, true
}
