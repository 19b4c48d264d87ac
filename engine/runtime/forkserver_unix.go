//go:build linux || darwin

package runtime

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// forkServer is one Python interpreter, started once, that forks a child
// per cold Python job (wrappers/python_fork.py): the interpreter's start
// (tens of milliseconds) is paid once instead of per job. It is reached
// only through a socketpair millrun holds.
type forkServer struct {
	cmd   *exec.Cmd
	conn  *net.UnixConn
	close func() // kills it; once

	reqMu sync.Mutex    // one fork request at a time: replies come in order
	taken chan struct{} // the server read the pending request, about to fork
	pids  chan int      // the pid answering the pending request
	gone  chan struct{} // closed when the server is dead

	mu      sync.Mutex
	waiters map[int]chan int // pid → its exit code
	early   map[int]int      // exits seen before their waiter (a fast child)
	dead    error            // set once the server is gone
}

// forkServerSlot reserves room in the server's starting environment for a
// job's marker (newJobKey), which each child writes there (see the server).
var forkServerSlot = "MILLRUN_JOB_SLOT=" + strings.Repeat("_", 48)

// startForkServer starts the server for interp with env (the scrubbed
// environment, marked as millrun's). It has no folder: its code and the
// wrapper's are its arguments, and its working folder is /.
func startForkServer(interp string, env []string) (*forkServer, error) {
	conn, theirs, err := socketPair("forkserver")
	if err != nil {
		return nil, err
	}
	defer theirs.Close()
	// Started as a spawned job's interpreter is (same flags, same site),
	// so a forked job sees the same modules a spawned one would.
	cmd := exec.Command(interp, "-u", "-c", wrapper("python_fork.py"), wrapper("python.py"))
	cmd.Dir = "/"
	cmd.Env = append(append([]string{}, env...), forkServerSlot, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	// Stdout and stderr stay nil, /dev/null: a pipe there is one more
	// thing its jobs could reopen through /proc/$PPID/fd.
	// A session of its own (each job then makes its own): no job can join
	// a group of millrun's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := children.start(cmd); err != nil { // low priority: its children, the jobs, inherit it
		conn.Close()
		return nil, err
	}
	fs := &forkServer{cmd: cmd, conn: conn, taken: make(chan struct{}, 1), pids: make(chan int, 1), gone: make(chan struct{}), waiters: map[int]chan int{}, early: map[int]int{}}
	fs.close = sync.OnceFunc(func() {
		fs.fail(errors.New("closed"))
		conn.Close()
		_ = cmd.Process.Kill()
		_ = children.wait(cmd)
	})
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hello struct {
		Ready bool `json:"ready"`
	}
	if err := readFrame(r, &hello); err != nil || !hello.Ready {
		fs.close()
		return nil, fmt.Errorf("the Python fork server did not start (Python 3.9 or newer is needed): %v", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go fs.read(r)
	return fs, nil
}

// socketPair returns millrun's end of a new socketpair, as a connection,
// and the end to hand a server. A server's channels are sockets because a
// socket, unlike a pipe, cannot be reopened through /proc/<pid>/fd by the
// jobs the server forks (its children, of the same user). Both ends close
// on exec from the start (under ForkLock, as os.Pipe does where it cannot
// ask the kernel): a job spawned by another goroutine in between would
// otherwise keep them. ExtraFiles hands the server its end all the same.
func socketPair(name string) (*net.UnixConn, *os.File, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), name), os.NewFile(uintptr(fds[1]), name+"-child")
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, nil, err
	}
	return c.(*net.UnixConn), theirs, nil
}

func readFrame(r io.Reader, v any) error {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return err
	}
	if n > 1<<20 {
		return errors.New("fork server message too large")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// read hands the server's answers out: pids to the pending request, exit
// codes to their jobs. When the server dies every waiting job learns it.
func (fs *forkServer) read(r io.Reader) {
	for {
		var m struct {
			Taken bool `json:"taken"`
			PID   *int `json:"pid"`
			Exit  *int `json:"exit"`
			Code  int  `json:"code"`
		}
		if err := readFrame(r, &m); err != nil {
			fs.fail(fmt.Errorf("the Python fork server stopped: %v", err))
			return
		}
		switch {
		case m.Taken:
			select { // buffered: one request is pending at most
			case fs.taken <- struct{}{}:
			case <-fs.gone:
				return
			}
		case m.PID != nil:
			fs.mu.Lock()
			if fs.dead != nil { // a request gave up on it; nobody waits
				fs.mu.Unlock()
				return
			}
			fs.waiters[*m.PID] = make(chan int, 1)
			if code, ok := fs.early[*m.PID]; ok {
				fs.waiters[*m.PID] <- code
				delete(fs.early, *m.PID)
			}
			fs.mu.Unlock()
			select {
			case fs.pids <- *m.PID:
			case <-fs.gone:
				return
			}
		case m.Exit != nil:
			fs.mu.Lock()
			if fs.dead == nil { // after fail, waiters' channels are closed
				if ch, ok := fs.waiters[*m.Exit]; ok {
					ch <- m.Code
				} else {
					fs.early[*m.Exit] = m.Code
				}
			}
			fs.mu.Unlock()
		}
	}
}

func (fs *forkServer) fail(err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.dead != nil {
		return
	}
	fs.dead = err
	for pid, ch := range fs.waiters {
		close(ch)
		delete(fs.waiters, pid)
	}
	close(fs.gone)
}

func (fs *forkServer) alive() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.dead == nil
}

// errMaybeStarted: the request reached the server, which then failed; the
// job may have begun, so it must not be started again by a spawn.
var errMaybeStarted = errors.New("the Python fork server stopped while starting the job")

// forked is a job child of the fork server.
type forked struct {
	fs   *forkServer
	pid  int
	exit chan int
}

// errNotAsked: the run was cancelled before its request was sent, so
// nothing was forked.
var errNotAsked = errors.New("cancelled before the fork server was asked")

// fork starts a child in dir with env, its stdin from /dev/null and its
// stdout and stderr on out, unless ctx is done before the request goes.
func (fs *forkServer) fork(ctx context.Context, dir string, env []string, out *os.File) (*forked, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	b, _ := json.Marshal(map[string]any{"cwd": dir, "env": env})
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	msg = append(msg, b...)
	fs.reqMu.Lock()
	defer fs.reqMu.Unlock()
	// Checked once the request's turn came: other jobs' forks go first.
	if ctx.Err() != nil {
		return nil, errNotAsked
	}
	if !fs.alive() {
		return nil, errors.New("the Python fork server is not running")
	}
	if _, _, err := fs.conn.WriteMsgUnix(msg, syscall.UnixRights(int(devnull.Fd()), int(out.Fd())), nil); err != nil {
		fs.fail(err)
		return nil, err
	}
	select {
	case <-fs.taken:
	case <-fs.gone:
		// The reader passes "taken" on before it sees the end, so a server
		// that died without taking the request forked nothing: spawn it.
		select {
		case <-fs.taken:
			return nil, errMaybeStarted
		default:
			return nil, errors.New("the Python fork server stopped before taking the job")
		}
	case <-time.After(5 * time.Second):
		fs.close() // stopped, or stuck: replaced
		return nil, errMaybeStarted
	}
	select {
	case <-fs.gone:
		return nil, errMaybeStarted
	case pid := <-fs.pids:
		fs.mu.Lock()
		ch := fs.waiters[pid]
		fs.mu.Unlock()
		if ch == nil { // the server died between forking and now
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			return nil, errMaybeStarted
		}
		return &forked{fs: fs, pid: pid, exit: ch}, nil
	case <-time.After(5 * time.Second):
		fs.close()
		return nil, errMaybeStarted
	}
}

// forkExit is a forked job's non-zero exit, worded as exec's.
type forkExit struct{ code int }

func (e *forkExit) Error() string {
	if e.code < 0 {
		return fmt.Sprintf("signal: %s", syscall.Signal(-e.code))
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *forkExit) ExitCode() int { return e.code }

// wait returns when the child has ended: nil, its exit, or the server's
// death (the child is then killed, as its end can no longer be known).
func (f *forked) wait() error {
	code, ok := <-f.exit
	f.fs.mu.Lock()
	delete(f.fs.waiters, f.pid)
	f.fs.mu.Unlock()
	if !ok {
		_ = syscall.Kill(-f.pid, syscall.SIGKILL)
		return errors.New("the Python fork server stopped while the job ran")
	}
	if code != 0 {
		return &forkExit{code: code}
	}
	return nil
}

// pyForker keeps the fork server of the runner's Python, restarting it
// when it died, and starting it in the background so no job waits for it.
type pyForker struct {
	mu       sync.Mutex
	srv      *forkServer
	starting bool
	failures int
	closed   bool
}

// get returns a running server, or nil (the caller spawns the job as
// before) while one starts or when it cannot.
func (p *pyForker) get(interp string, env []string) *forkServer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil && p.srv.alive() {
		return p.srv
	}
	if p.srv != nil {
		go p.srv.close()
		p.srv = nil
	}
	if p.starting || p.closed || p.failures >= 3 {
		return nil
	}
	p.starting = true
	go func() {
		srv, err := startForkServer(interp, env)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.starting = false
		if err != nil {
			p.failures++
			return
		}
		if p.closed {
			go srv.close()
			return
		}
		p.srv = srv
	}()
	return nil
}

// reopen lets a stopped forker start servers again.
func (p *pyForker) reopen() {
	p.mu.Lock()
	p.closed = false
	p.mu.Unlock()
}

func (p *pyForker) stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv, p.closed = nil, true
	p.mu.Unlock()
	if srv != nil {
		srv.close()
	}
}

// forkServer returns the running fork server for the runner's Python, or
// nil to spawn the job as before (it is starting, cannot start here, or
// the runner does not use one).
func (r *Runner) forkServer() *forkServer {
	if r.NoForkServer {
		return nil
	}
	return r.pyfork.get(r.interp.Python, r.processEnv())
}

// runForked runs a prepared Python job as a child of srv, with the rules
// of a spawned one: one pipe for its output, its own session and process
// group killed on cancel and at the end, what it left swept. ok is false
// when the server could not fork it (the caller spawns it instead).
func (r *Runner) runForked(ctx context.Context, srv *forkServer, spec Spec, dir, out string, env []string, logs io.Writer, live *liveJob) (Outcome, bool) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return Outcome{}, false
	}
	f, err := srv.fork(ctx, dir, env, pw)
	pw.Close()
	if err != nil {
		pr.Close()
		if errors.Is(err, errMaybeStarted) {
			// Started twice would be worse than failed once.
			r.cleanUp(dir, 0, live)
			return Failure("ExecutionErr", err.Error()+"; it was not run again, retry it", nil), true
		}
		return Outcome{}, false
	}
	r.procs.add(live, f.pid)
	defer r.cleanUp(dir, f.pid, live)
	tail := &tailWriter{max: 4096}
	outputEnded := copyOutput(io.MultiWriter(logs, tail), pr)
	waitErr := make(chan error, 1)
	go func() { waitErr <- f.wait() }()
	runErr := awaitJob(ctx, f.pid, waitErr, srv.close)
	_ = syscall.Kill(-f.pid, syscall.SIGKILL)
	outputEnded()
	pr.Close()
	if ctx.Err() != nil {
		return Outcome{}, true
	}
	return r.fileOutcome(out, runErr, tail.String()), true // Python's wrapper writes its result to a file
}

// serverGrace is how long a fork server may take to report its job's end
// once the job's process is dead (it exited, or was killed on cancel or
// timeout): a server that takes longer was stopped, or is stuck, and is
// killed, which ends the wait.
const serverGrace = 5 * time.Second

// awaitJob waits for ended, a fork server's report that its job pid ended.
// When ctx is done it kills the job's group, and pid itself: a forked
// Python child makes its group (setsid) only once it runs, after the
// server replied, so a cancel right after the reply finds no group to
// kill (issue 30: such jobs ran to their end); and a job may have left
// its group. Should the report not come within serverGrace of the job's
// death, it calls hung, which must make ended deliver.
func awaitJob[T any](ctx context.Context, pid int, ended <-chan T, hung func()) T {
	tick := time.NewTicker(serverGrace / 10)
	defer tick.Stop()
	done := ctx.Done()
	var dead time.Time
	for {
		select {
		case v := <-ended:
			return v
		case <-done:
			done = nil
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			dead = time.Now()
		case <-tick.C:
			if dead.IsZero() && exitedUnreaped(pid) {
				dead = time.Now()
			}
			if !dead.IsZero() && time.Since(dead) >= serverGrace {
				hung()
				hung = func() {}
			}
		}
	}
}
